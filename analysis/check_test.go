package analysis_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-dev/ramp/analysis"
	"github.com/ramp-dev/ramp/api/v1alpha1"
)

func TestCheckAgainstPrometheus(t *testing.T) {
	const (
		errorRate = `sum(rate(http_requests_total{namespace="shop",service="shop-green",code=~"5.."}[1m30s]))`
		latency   = `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="shop-green"}[1m30s])))`
		traffic   = `sum(rate(http_requests_total{service="shop-green",revision="7f5c8d6b4"}[1m30s]))`
		stable    = `up{service="shop-blue",color="blue",step="2"}`
	)
	srv := newFakeProm(t, map[string]answer{
		errorRate: {body: bodyOneSample},
		latency:   {body: bodyScalar},
		traffic:   {body: bodyEmpty},
		stable:    {body: bodyThree},
	})
	metrics := []v1alpha1.Metric{
		{Name: "error-rate", Max: new(0.01),
			Query: `sum(rate(http_requests_total{namespace="{{ .Namespace }}",service="{{ .CanaryService }}",code=~"5.."}[{{ .Interval }}]))`},
		{Name: "p99-latency", Max: new(0.25),
			Query: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{ .CanaryService }}"}[{{ .Interval }}])))`},
		{Name: "traffic", Min: new(1.0), NoData: v1alpha1.NoDataFail,
			Query: `sum(rate(http_requests_total{service="{{ .CanaryService }}",revision="{{ .CanaryRevision }}"}[{{ .Interval }}]))`},
		{Name: "broken", Max: new(1.0), Query: `{{ .Canary }}`},
		{Name: "stable-up", Min: new(1.0),
			Query: `up{service="{{ .StableService }}",color="{{ .StableColor }}",step="{{ .Step }}"}`},
	}
	p, err := analysis.NewPrometheus(srv.URL, time.Second, "tok")
	if err != nil {
		t.Fatal(err)
	}

	got := analysis.Check(t.Context(), p, metrics, shopVars, true)

	want := []struct {
		phase v1alpha1.CheckPhase
		value string
		msg   string
	}{
		{v1alpha1.CheckPassed, "0.002", "0.002 <= max 0.01"},
		{v1alpha1.CheckFailed, "0.5", "0.5 > max 0.25"},
		{v1alpha1.CheckFailed, "", "no data: empty vector (noData: fail)"},
		{v1alpha1.CheckError, "", "render: template: broken:1:3: executing"},
		{v1alpha1.CheckError, "", "query: answered 3 series, want 1"},
	}
	if len(got) != len(want) {
		t.Fatalf("Check returned %d results, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		if r.Metric != metrics[i].Name || r.Phase != w.phase || r.Value != w.value || !strings.HasPrefix(r.Message, w.msg) {
			t.Errorf("result %d = %+v, want metric %s, phase %s, value %q, message starting %q",
				i, r, metrics[i].Name, w.phase, w.value, w.msg)
		}
	}

	var queries []string
	for _, r := range srv.requests() {
		queries = append(queries, r.query)
		if r.auth != "Bearer tok" {
			t.Errorf("query %q came with Authorization %q, want %q", r.query, r.auth, "Bearer tok")
		}
	}
	slices.Sort(queries)
	wantQueries := []string{errorRate, latency, traffic, stable}
	slices.Sort(wantQueries)
	if !slices.Equal(queries, wantQueries) {
		t.Errorf("server received queries\n  %q\nwant one each of\n  %q", queries, wantQueries)
	}
}

// barrierProvider answers only once n queries are in flight together.
type barrierProvider struct {
	n       int
	mu      sync.Mutex
	waiting int
	all     chan struct{}
}

func (b *barrierProvider) Query(ctx context.Context, query string) (analysis.Sample, error) {
	b.mu.Lock()
	b.waiting++
	if b.waiting == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
		return analysis.Sample{Value: 1, Raw: "1"}, nil
	case <-ctx.Done():
		return analysis.Sample{}, ctx.Err()
	}
}

func TestCheckRunsQueriesTogether(t *testing.T) {
	metrics := make([]v1alpha1.Metric, 8)
	for i := range metrics {
		metrics[i] = v1alpha1.Metric{Name: string(rune('a' + i)), Query: "vector(1)", Max: new(1.0)}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	got := analysis.Check(ctx, &barrierProvider{n: len(metrics), all: make(chan struct{})}, metrics, shopVars, true)
	for i, r := range got {
		if r.Phase != v1alpha1.CheckPassed || r.Metric != metrics[i].Name {
			t.Errorf("result %d = %+v, want %s Passed (queries not run at once?)", i, r, metrics[i].Name)
		}
	}
}

func TestCheckHonoursContext(t *testing.T) {
	metrics := []v1alpha1.Metric{{Name: "a", Query: "vector(1)", Max: new(1.0)}}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// Never answers unless two queries arrive: only ctx can end it.
	got := analysis.Check(ctx, &barrierProvider{n: 2, all: make(chan struct{})}, metrics, shopVars, true)
	if got[0].Phase != v1alpha1.CheckError || !strings.Contains(got[0].Message, "context canceled") {
		t.Errorf("result = %+v, want Error from the canceled context", got[0])
	}
}

func TestCheckNoMetrics(t *testing.T) {
	if got := analysis.Check(t.Context(), nil, nil, shopVars, true); len(got) != 0 {
		t.Errorf("Check of no metrics = %+v, want none", got)
	}
}
