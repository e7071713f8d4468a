package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"
)

// benchMetric is the series every Rollout's error-rate query reads.
const benchMetric = "ramp_bench_error_ratio"

// prom is the scripted Prometheus: it answers a healthy error rate for
// every canary, and a breaching one for a rollout once breach(name) was
// called. It counts the queries of each (rollout, metric) and remembers
// when each rollout was first answered a breaching value.
type prom struct {
	*httptest.Server
	mu        sync.Mutex
	counting  bool
	queries   map[string]int // rollout/metric -> queries while counting
	before    int            // queries before counting started
	breaching map[string]bool
	firstFail map[string]time.Time
}

var (
	svcRe    = regexp.MustCompile(`service="([^"]*)"`)
	metricRe = regexp.MustCompile(`^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`)
)

func startProm() *prom {
	p := &prom{queries: map[string]int{}, breaching: map[string]bool{}, firstFail: map[string]time.Time{}}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

// count starts counting queries per rollout and metric.
func (p *prom) count() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counting = true
}

// breach makes the canary of rollout answer a breaching value from now on.
func (p *prom) breach(rollout string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.breaching[rollout] = true
}

func (p *prom) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	_ = r.ParseForm()
	q := r.Form.Get("query")
	var svc, metric string
	if m := svcRe.FindStringSubmatch(q); m != nil {
		svc = m[1]
	}
	if m := metricRe.FindStringSubmatch(q); m != nil {
		metric = m[1]
	}
	rollout := strings.TrimSuffix(strings.TrimSuffix(svc, "-green"), "-blue")
	value := "0.001"
	p.mu.Lock()
	if p.counting {
		p.queries[rollout+"/"+metric]++
	} else {
		p.before++
	}
	if p.breaching[rollout] && strings.HasSuffix(svc, "-green") {
		value = "0.5"
		if _, ok := p.firstFail[rollout]; !ok {
			p.firstFail[rollout] = now
		}
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "success",
		"data": map[string]any{"resultType": "vector", "result": []any{map[string]any{
			"metric": map[string]string{"service": svc},
			"value":  []any{float64(now.Unix()), value},
		}}},
	})
}

// snapshot copies the counters.
func (p *prom) snapshot() (queries map[string]int, before int, firstFail map[string]time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	queries = make(map[string]int, len(p.queries))
	for k, v := range p.queries {
		queries[k] = v
	}
	firstFail = make(map[string]time.Time, len(p.firstFail))
	for k, v := range p.firstFail {
		firstFail[k] = v
	}
	return queries, p.before, firstFail
}

// hangingProm is a Prometheus that never answers: its handler returns only
// when the request's context ends (the client gave up) or the server is
// closed. It counts the queries it was asked.
type hangingProm struct {
	*httptest.Server
	done     chan struct{}
	mu       sync.Mutex
	counting bool
	queries  int // queries received while counting
	before   int // queries received before counting started
}

func startHangingProm() *hangingProm {
	h := &hangingProm{done: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		if h.counting {
			h.queries++
		} else {
			h.before++
		}
		h.mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-h.done:
		}
	}))
	return h
}

func (h *hangingProm) count() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counting = true
}

func (h *hangingProm) snapshot() (queries, before int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.queries, h.before
}

// Close releases the hanging handlers, then closes the server (which waits
// for them).
func (h *hangingProm) Close() {
	close(h.done)
	h.Server.CloseClientConnections()
	h.Server.Close()
}
