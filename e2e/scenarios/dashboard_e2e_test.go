//go:build e2e

package scenarios

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/ramp-dev/ramp/analysis"
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/e2e/harness"
	"github.com/ramp-dev/ramp/e2e/stack"
	"github.com/ramp-dev/ramp/e2e/timeline"
	"github.com/ramp-dev/ramp/internal/metrics"
)

// TestG_DashboardAndTimelines: the real Prometheus scrapes the controller
// through one promotion and one rollback; every query of every dashboard
// panel then returns the series it should, the weight series shows the
// steps 1, 5, 25, 50, 100 in order, and a PNG timeline of each is drawn
// from Prometheus's data beside RESULTS.md.
func TestG_DashboardAndTimelines(t *testing.T) {
	e := setup(t)
	e.deployV1()
	promoStart := time.Now()
	e.deploy(stack.Version{Tag: "v2"})
	e.waitFor(3*time.Minute, "v2 promoted to green", promoted(v1.Green))
	promoEnd := time.Now().Add(3 * time.Second)
	time.Sleep(6 * time.Second) // scale-down delay, and a few scrapes
	backStart := time.Now()
	e.deploy(stack.Version{Tag: "v3", ErrorRate: "0.1"})
	e.waitFor(3*time.Minute, "v3 rolled back", func(ro *v1.Rollout) bool { return ro.Status.Phase == v1.PhaseRolledBack })
	time.Sleep(4 * time.Second)
	backEnd := time.Now()

	c, err := promapi.NewClient(promapi.Config{Address: e.s.Prometheus.URL()})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(c)
	sel := fmt.Sprintf(`namespace=%q,rollout=%q`, e.s.Namespace, e.s.Name)

	// The weight series walks the steps in order.
	weights := rangeValues(t, e.ctx, api, "ramp_rollout_canary_weight{"+sel+"}", promoStart, promoEnd)
	if !subsequence([]float64{1, 5, 25, 50, 100}, dedupe(weights)) {
		t.Errorf("ramp_rollout_canary_weight over the promotion: %v, want the steps 1, 5, 25, 50, 100 in order", dedupe(weights))
	}

	// Every panel query returns data for this rollout over the run.
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "charts", "ramp", "dashboards", "*.json"))
	if len(files) == 0 {
		t.Fatal("no dashboards in charts/ramp/dashboards")
	}
	rng := fmt.Sprintf("%ds", int(time.Since(promoStart).Seconds())+30)
	for _, f := range files {
		qs, err := metrics.DashboardQueries(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			expr := metrics.Substitute(q.Expr, e.s.Namespace, e.s.Name, rng)
			v, _, _, err := api.Query(e.ctx, expr, time.Now())
			if err != nil {
				t.Errorf("panel %q %s: %s: %v", q.Panel, q.RefID, expr, err)
				continue
			}
			vec, ok := v.(model.Vector)
			if !ok || len(vec) == 0 {
				t.Errorf("panel %q %s: %s returned no series", q.Panel, q.RefID, expr)
				continue
			}
			numbers := 0
			for _, s := range vec {
				if !math.IsNaN(float64(s.Value)) {
					numbers++
				}
			}
			if numbers == 0 {
				t.Errorf("panel %q %s: %s returned only NaN: %v", q.Panel, q.RefID, expr, vec)
			}
			e.logf("panel %q %s: %d series, e.g. %s", q.Panel, q.RefID, len(vec), vec[0])
		}
	}
	// The finished counter says one promotion and one rollback, and the
	// dashboard's increase() over the run sees both.
	for result, want := range map[string]float64{"promoted": 1, "rolled_back": 1} {
		got := instant(t, e.ctx, api, fmt.Sprintf(`ramp_rollouts_finished_total{%s,result=%q}`, sel, result))
		if got != want {
			t.Errorf("ramp_rollouts_finished_total{result=%s} = %v, want %v", result, got, want)
		}
		inc := instant(t, e.ctx, api, fmt.Sprintf(`increase(ramp_rollouts_finished_total{%s,result=%q}[%s])`, sel, result, rng))
		if inc < 0.5 {
			t.Errorf("increase of %s over the run = %v, want about 1", result, inc)
		}
	}
	p99 := instant(t, e.ctx, api, fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (increase(ramp_rollback_seconds_bucket{%s}[%s])))`, sel, rng))
	if math.IsNaN(p99) || p99 <= 0 || p99 > 1 {
		t.Errorf("rollback latency p99 from Prometheus = %v s, want within (0, 1]", p99)
	}
	e.logf("rollback latency p99 as the dashboard computes it: %.3f s", p99)
	report.note("g. dashboards", fmt.Sprintf("Prometheus scraped ramp-controller through a promotion and a rollback; every query of every dashboard panel returned numbers; the weight series went %v; rollback latency p99 as the dashboard computes it: %.3f s", dedupe(weights), p99))

	// Timelines from Prometheus's data: the weight the controller exported,
	// the error rate the analysis query measures at the gateway for the
	// canary's Service, and the rollback where the exported weight fell to 0.
	for _, tl := range []struct {
		file, title string
		from, to    time.Time
		canary      v1.Color
		rollback    bool
	}{
		{"timeline-promotion.png", "v2 promoted: canary weight and error rate (from Prometheus)", promoStart, promoEnd, v1.Green, false},
		{"timeline-rollback.png", "v3 (10 % 5xx) rolled back: canary weight and error rate (from Prometheus)", backStart, backEnd, v1.Blue, true},
	} {
		errQuery, err := analysis.Render(stack.ErrorRateQuery, analysis.Vars{
			Namespace: e.s.Namespace, Rollout: e.s.Name, CanaryService: e.s.Name + "-" + string(tl.canary),
			StableService: e.s.Name + "-" + string(tl.canary.Other()), Interval: analysis.PromDuration(stack.AnalysisInterval),
		})
		if err != nil {
			t.Fatal(err)
		}
		data := timeline.Timeline{
			Title:     tl.title,
			Weight:    rangePoints(t, e.ctx, api, "ramp_rollout_canary_weight{"+sel+"}", tl.from, tl.to),
			ErrorRate: rangePoints(t, e.ctx, api, errQuery, tl.from, tl.to),
			Threshold: instant(t, e.ctx, api, `ramp_analysis_threshold{`+sel+`,metric="error-rate",bound="max"}`),
		}
		if tl.rollback {
			up := false
			for _, p := range data.Weight {
				if p.V > 0 {
					up = true
				} else if up {
					data.RollbackAt = p.T
					break
				}
			}
			if data.RollbackAt.IsZero() {
				t.Errorf("%s: the weight series never fell back to 0", tl.file)
			}
		}
		if len(data.Weight) == 0 || len(data.ErrorRate) == 0 {
			t.Errorf("%s: no data from Prometheus (weight %d, error rate %d samples)", tl.file, len(data.Weight), len(data.ErrorRate))
			continue
		}
		path := filepath.Join(root, "e2e", tl.file)
		if err := timeline.Render(path, data, 1000, 600); err != nil {
			t.Errorf("%s: %v", tl.file, err)
			continue
		}
		e.logf("wrote %s (%d weight, %d error-rate samples)", path, len(data.Weight), len(data.ErrorRate))
		report.mu.Lock()
		report.timelines = append(report.timelines, tl.file)
		report.mu.Unlock()
	}
}

func rangeValues(t *testing.T, ctx context.Context, api promv1.API, q string, from, to time.Time) []float64 {
	var out []float64
	for _, p := range rangePoints(t, ctx, api, q, from, to) {
		out = append(out, p.V)
	}
	return out
}

func rangePoints(t *testing.T, ctx context.Context, api promv1.API, q string, from, to time.Time) []timeline.Point {
	t.Helper()
	v, _, _, err := api.QueryRange(ctx, q, promv1.Range{Start: from, End: to, Step: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("query_range %s: %v", q, err)
	}
	m, ok := v.(model.Matrix)
	if !ok || len(m) == 0 {
		return nil
	}
	var out []timeline.Point
	for _, s := range m[0].Values {
		if math.IsNaN(float64(s.Value)) { // 0/0: no canary traffic in the window
			continue
		}
		out = append(out, timeline.Point{T: s.Timestamp.Time(), V: float64(s.Value)})
	}
	return out
}

func instant(t *testing.T, ctx context.Context, api promv1.API, q string) float64 {
	t.Helper()
	v, _, _, err := api.Query(ctx, q, time.Now())
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) == 0 {
		return -1
	}
	return float64(vec[0].Value)
}

func dedupe(vs []float64) []float64 {
	var out []float64
	for _, v := range vs {
		if n := len(out); n == 0 || out[n-1] != v {
			out = append(out, v)
		}
	}
	return out
}

func subsequence(want, got []float64) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
