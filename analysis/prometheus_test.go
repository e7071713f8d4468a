package analysis_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/ramp-dev/ramp/analysis"
	"github.com/ramp-dev/ramp/api/v1alpha1"
)

// Bodies as Prometheus writes them for /api/v1/query.
const (
	bodyOneSample = `{"status":"success","data":{"resultType":"vector","result":[` +
		`{"metric":{"service":"shop-green"},"value":[1764064800.123,"0.002"]}]}}`
	bodyEmpty = `{"status":"success","data":{"resultType":"vector","result":[]}}`
	bodyThree = `{"status":"success","data":{"resultType":"vector","result":[` +
		`{"metric":{"pod":"a"},"value":[1764064800.123,"0.1"]},` +
		`{"metric":{"pod":"b"},"value":[1764064800.123,"0.2"]},` +
		`{"metric":{"pod":"c"},"value":[1764064800.123,"0.3"]}]}}`
	bodyScalar = `{"status":"success","data":{"resultType":"scalar","result":[1764064800.123,"0.5"]}}`
	bodyMatrix = `{"status":"success","data":{"resultType":"matrix","result":[` +
		`{"metric":{"service":"shop-green"},"values":[[1764064740,"0.001"],[1764064800,"0.002"]]}]}}`
	bodyString = `{"status":"success","data":{"resultType":"string","result":[1764064800.123,"hello"]}}`
	bodyNaN    = `{"status":"success","data":{"resultType":"vector","result":[` +
		`{"metric":{},"value":[1764064800.123,"NaN"]}]}}`
	bodyScalarNaN = `{"status":"success","data":{"resultType":"scalar","result":[1764064800.123,"NaN"]}}`
	bodyInf       = `{"status":"success","data":{"resultType":"vector","result":[` +
		`{"metric":{},"value":[1764064800.123,"+Inf"]}]}}`
	bodyHistogram = `{"status":"success","data":{"resultType":"vector","result":[` +
		`{"metric":{},"histogram":[1764064800.123,{"count":"3","sum":"1.5","buckets":[[0,"0","1","3"]]}]}]}}`
	bodyWarnings = `{"status":"success","warnings":["PromQL info: metric might not be a counter"],` +
		`"data":{"resultType":"vector","result":[{"metric":{},"value":[1764064800.123,"0.004"]}]}}`
	bodyBadData = `{"status":"error","errorType":"bad_data",` +
		`"error":"invalid parameter \"query\": 1:5: parse error: unexpected end of input"}`
	bodyExecution = `{"status":"error","errorType":"execution",` +
		`"error":"query processing would load too many samples into memory in query execution"}`
)

// answer is what the fake answers to one query.
type answer struct {
	status int
	body   string
	delay  time.Duration // wait this long (or until the client gives up) first
}

// request is what the fake received.
type request struct {
	path, method, query, timeout, auth string
}

// fakeProm is a scripted stand-in for Prometheus's HTTP API.
type fakeProm struct {
	*httptest.Server
	mu       sync.Mutex
	answers  map[string]answer // by query text; "" answers any other query
	received []request
}

func newFakeProm(t *testing.T, answers map[string]answer) *fakeProm {
	t.Helper()
	f := &fakeProm{answers: answers}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeProm) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	q := r.Form.Get("query")
	f.mu.Lock()
	f.received = append(f.received, request{
		path: r.URL.Path, method: r.Method, query: q,
		timeout: r.Form.Get("timeout"), auth: r.Header.Get("Authorization"),
	})
	a, ok := f.answers[q]
	if !ok {
		a = f.answers[""]
	}
	f.mu.Unlock()
	if !strings.HasSuffix(r.URL.Path, "/api/v1/query") {
		http.NotFound(w, r)
		return
	}
	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if a.status == 0 {
		a.status = http.StatusOK
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func (f *fakeProm) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.received...)
}

func isShape(want analysis.ShapeError) func(error) bool {
	return func(err error) bool {
		var se *analysis.ShapeError
		return errors.As(err, &se) && *se == want
	}
}

func isAPIError(typ promv1.ErrorType) func(error) bool {
	return func(err error) bool {
		var pe *promv1.Error
		return errors.As(err, &pe) && pe.Type == typ
	}
}

func TestPrometheusQuery(t *testing.T) {
	const query = `sum(rate(http_requests_total{service="shop-green"}[1m]))`
	isNoData := func(err error) bool { return errors.Is(err, analysis.ErrNoData) }
	tests := map[string]struct {
		answer    answer
		want      analysis.Sample
		wantErr   func(error) bool
		phase     v1alpha1.CheckPhase // judged against max 0.01, noData hold
		wantInMsg string
	}{
		"vector of one sample": {answer: answer{body: bodyOneSample},
			want: analysis.Sample{Value: 0.002, Raw: "0.002"}, phase: v1alpha1.CheckPassed, wantInMsg: "0.002 <= max 0.01"},
		"scalar": {answer: answer{body: bodyScalar},
			want: analysis.Sample{Value: 0.5, Raw: "0.5"}, phase: v1alpha1.CheckFailed, wantInMsg: "0.5 > max 0.01"},
		"+Inf is a number": {answer: answer{body: bodyInf},
			want: analysis.Sample{Value: math.Inf(1), Raw: "+Inf"}, phase: v1alpha1.CheckFailed, wantInMsg: "+Inf > max 0.01"},
		"warnings are ignored": {answer: answer{body: bodyWarnings},
			want: analysis.Sample{Value: 0.004, Raw: "0.004"}, phase: v1alpha1.CheckPassed},
		"empty vector is no data": {answer: answer{body: bodyEmpty},
			wantErr: isNoData, phase: v1alpha1.CheckInconclusive, wantInMsg: "no data: empty vector (noData: hold)"},
		"NaN is no data": {answer: answer{body: bodyNaN},
			wantErr: isNoData, phase: v1alpha1.CheckInconclusive, wantInMsg: "no data: NaN (noData: hold)"},
		"scalar NaN is no data": {answer: answer{body: bodyScalarNaN},
			wantErr: isNoData, phase: v1alpha1.CheckInconclusive},
		"several series": {answer: answer{body: bodyThree},
			wantErr: isShape(analysis.ShapeError{Type: model.ValVector, Series: 3}),
			phase:   v1alpha1.CheckError, wantInMsg: "query: answered 3 series, want 1"},
		"matrix": {answer: answer{body: bodyMatrix},
			wantErr: isShape(analysis.ShapeError{Type: model.ValMatrix}),
			phase:   v1alpha1.CheckError, wantInMsg: "query: answered a matrix, want one number"},
		"string": {answer: answer{body: bodyString},
			wantErr: isShape(analysis.ShapeError{Type: model.ValString}),
			phase:   v1alpha1.CheckError, wantInMsg: "answered a string"},
		"native histogram": {answer: answer{body: bodyHistogram},
			wantErr: isShape(analysis.ShapeError{Type: model.ValVector, Series: 1, Histogram: true}),
			phase:   v1alpha1.CheckError, wantInMsg: "native histogram"},
		"bad_data": {answer: answer{status: http.StatusBadRequest, body: bodyBadData},
			wantErr: isAPIError(promv1.ErrBadData), phase: v1alpha1.CheckError, wantInMsg: "query: bad_data: invalid parameter"},
		"execution error": {answer: answer{status: http.StatusUnprocessableEntity, body: bodyExecution},
			wantErr: isAPIError(promv1.ErrExec), phase: v1alpha1.CheckError, wantInMsg: "too many samples"},
		"HTTP 503": {answer: answer{status: http.StatusServiceUnavailable, body: "Service Unavailable\n"},
			wantErr: isAPIError(promv1.ErrServer), phase: v1alpha1.CheckError, wantInMsg: "server error: 503"},
		"slower than the timeout": {answer: answer{body: bodyOneSample, delay: 10 * time.Second},
			wantErr: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
			phase:   v1alpha1.CheckError, wantInMsg: "query: timed out after 200ms"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeProm(t, map[string]answer{query: tc.answer})
			p, err := analysis.NewPrometheus(srv.URL, 200*time.Millisecond, "s3cret")
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			got, err := p.Query(t.Context(), query)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("query took %s, want it bounded by the 200ms timeout", took)
			}
			if tc.wantErr != nil {
				if err == nil || !tc.wantErr(err) {
					t.Fatalf("Query error = %v (%T), not the one wanted", err, err)
				}
			} else if err != nil {
				t.Fatalf("Query: %v", err)
			} else if got != tc.want {
				t.Errorf("Query = %+v, want %+v", got, tc.want)
			}

			r := analysis.Judge(v1alpha1.Metric{Name: "error-rate", Max: new(0.01)}, got, err)
			if r.Phase != tc.phase || !strings.Contains(r.Message, tc.wantInMsg) {
				t.Errorf("Judge = %+v, want phase %s and a message containing %q", r, tc.phase, tc.wantInMsg)
			}

			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("server received %d requests, want 1: %+v", len(reqs), reqs)
			}
			want := request{path: "/api/v1/query", method: http.MethodPost, query: query, timeout: "200ms", auth: "Bearer s3cret"}
			if reqs[0] != want {
				t.Errorf("server received %+v, want %+v", reqs[0], want)
			}
		})
	}
}

func TestPrometheusConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()

	p, err := analysis.NewPrometheus(addr, time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Query(t.Context(), "vector(1)")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Query error = %v, want connection refused", err)
	}
	r := analysis.Judge(v1alpha1.Metric{Name: "up", Min: new(1.0)}, analysis.Sample{}, err)
	if r.Phase != v1alpha1.CheckError || !strings.HasPrefix(r.Message, "query: Post ") ||
		!strings.HasSuffix(r.Message, "connection refused") {
		t.Errorf("Judge = %+v, want Error with message %q", r, "query: Post ...: connection refused")
	}
}

func TestPrometheusCallerCancels(t *testing.T) {
	srv := newFakeProm(t, map[string]answer{"": {body: bodyOneSample, delay: 10 * time.Second}})
	p, err := analysis.NewPrometheus(srv.URL, time.Minute, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = p.Query(ctx, "vector(1)")
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timed out after") {
		t.Fatalf("Query error = %v, want the caller's deadline, not the provider's timeout", err)
	}
}

func TestPrometheusAddress(t *testing.T) {
	srv := newFakeProm(t, map[string]answer{"": {body: bodyScalar}})
	p, err := analysis.NewPrometheus(srv.URL+"/prometheus/", time.Second, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Query(t.Context(), "vector(0.5)"); err != nil {
		t.Fatalf("Query: %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 || reqs[0].path != "/prometheus/api/v1/query" || reqs[0].auth != "" {
		t.Errorf("server received %+v, want one request to /prometheus/api/v1/query without Authorization", reqs)
	}
}

func TestNewPrometheusRefuses(t *testing.T) {
	tests := map[string]struct {
		address string
		timeout time.Duration
		want    string
	}{
		"empty":          {address: "", timeout: time.Second, want: "want an http or https URL"},
		"no scheme":      {address: "prometheus:9090", timeout: time.Second, want: "want an http or https URL"},
		"host only":      {address: "prometheus.monitoring", timeout: time.Second, want: "want an http or https URL"},
		"other scheme":   {address: "ftp://prometheus:9090", timeout: time.Second, want: "want an http or https URL"},
		"no host":        {address: "http://", timeout: time.Second, want: "want an http or https URL"},
		"unparsable":     {address: "http://prom:9090/%zz", timeout: time.Second, want: "invalid URL escape"},
		"zero timeout":   {address: "http://prom:9090", timeout: 0, want: "must be positive"},
		"negative limit": {address: "http://prom:9090", timeout: -time.Second, want: "must be positive"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := analysis.NewPrometheus(tc.address, tc.timeout, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewPrometheus(%q, %s) = %v, %v; want an error containing %q", tc.address, tc.timeout, p, err, tc.want)
			}
		})
	}
}

func TestPrometheusFactory(t *testing.T) {
	f := analysis.NewPrometheusFactory()
	get := func(address string, timeout time.Duration, token string) analysis.Provider {
		t.Helper()
		p, err := f.Provider(analysis.Connection{Address: address, Timeout: timeout, BearerToken: token})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := get("http://prom:9090", 10*time.Second, "t1")
	if b := get("http://prom:9090", 10*time.Second, "t1"); b != a {
		t.Error("same settings made a second provider, want the first reused")
	}
	for _, other := range []analysis.Provider{
		get("http://prom:9090", 10*time.Second, "t2"),
		get("http://prom:9090", 5*time.Second, "t1"),
		get("http://other:9090", 10*time.Second, "t1"),
	} {
		if other == a {
			t.Error("different settings shared a provider")
		}
	}
	for _, other := range []analysis.Connection{
		{Address: "http://prom:9090", Timeout: 10 * time.Second, BasicAuth: &analysis.BasicAuth{Username: "u", Password: "t1"}},
		{Address: "http://prom:9090", Timeout: 10 * time.Second, BearerToken: "t1", Headers: map[string]string{"X-Scope-OrgID": "a"}},
	} {
		if p, err := f.Provider(other); err != nil || p == a {
			t.Errorf("%+v: provider %v, %v; want a provider of its own", other.Headers, p, err)
		}
	}
	if _, err := f.Provider(analysis.Connection{Address: "prom:9090", Timeout: time.Second}); err == nil {
		t.Error("a bad address made a provider, want an error")
	}

	var wg sync.WaitGroup
	got := make([]analysis.Provider, 16)
	for i := range got {
		wg.Go(func() {
			got[i], _ = f.Provider(analysis.Connection{Address: "http://concurrent:9090", Timeout: time.Second})
		})
	}
	wg.Wait()
	for _, p := range got {
		if p == nil || p != got[0] {
			t.Fatal("concurrent calls for the same settings got different providers")
		}
	}
}
