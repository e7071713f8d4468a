package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
)

// Answer is what the scripted Prometheus answers to one query.
type Answer struct {
	// Value is the number answered, unless NoData or Fail is set.
	Value float64
	// NoData answers an empty vector.
	NoData bool
	// Fail answers HTTP 503 with a Prometheus error body.
	Fail bool
}

// FakeProm is a scripted stand-in for Prometheus's HTTP query API, for
// envtest suites only (the end-to-end suite runs the real Prometheus). It
// answers each instant query by the namespace and service named in the
// query's label matchers (`namespace="..."`, `service="..."`) and the name of
// the metric queried; unscripted queries answer 0.
type FakeProm struct {
	*httptest.Server
	mu      sync.Mutex
	answers map[string]Answer
	queries atomic.Int64
	byName  map[string]int64
}

var (
	nsRe     = regexp.MustCompile(`namespace="([^"]*)"`)
	svcRe    = regexp.MustCompile(`service="([^"]*)"`)
	metricRe = regexp.MustCompile(`^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)
)

// StartFakeProm starts the scripted Prometheus.
func StartFakeProm() *FakeProm {
	f := &FakeProm{answers: map[string]Answer{}, byName: map[string]int64{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

func key(ns, svc, metric string) string { return ns + "/" + svc + "/" + metric }

// Set scripts the answer for metric queried for service in namespace.
func (f *FakeProm) Set(namespace, service, metric string, a Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[key(namespace, service, metric)] = a
}

// QueriesOf is the number of queries of metric for namespace and service
// answered so far.
func (f *FakeProm) QueriesOf(namespace, service, metric string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byName[key(namespace, service, metric)]
}

// Queries is the number of queries answered so far.
func (f *FakeProm) Queries() int64 { return f.queries.Load() }

func (f *FakeProm) serve(w http.ResponseWriter, r *http.Request) {
	f.queries.Add(1)
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.Form.Get("query")
	var ns, svc, metric string
	if m := nsRe.FindStringSubmatch(q); m != nil {
		ns = m[1]
	}
	if m := svcRe.FindStringSubmatch(q); m != nil {
		svc = m[1]
	}
	if m := metricRe.FindStringSubmatch(q); m != nil {
		metric = m[1]
	}
	f.mu.Lock()
	a := f.answers[key(ns, svc, metric)]
	f.byName[key(ns, svc, metric)]++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if a.Fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": "unavailable", "error": "scripted failure"})
		return
	}
	result := []any{}
	if !a.NoData {
		result = append(result, map[string]any{
			"metric": map[string]string{"service": svc},
			"value":  []any{1.7e9, strconv.FormatFloat(a.Value, 'g', -1, 64)},
		})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "success",
		"data":   map[string]any{"resultType": "vector", "result": result},
	})
}

// String names the server for messages.
func (f *FakeProm) String() string { return fmt.Sprintf("fake prometheus at %s", f.URL) }
