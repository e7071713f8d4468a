package controllers_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ramp-dev/ramp/internal/testenv"
)

// The controller's metrics endpoint shows each rollout's step, weight,
// checks and results as they happen, and forgets a deleted Rollout.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	f := newFixtureWithMetrics(t, addr)
	ro := f.rollout("dash", "dash:v1")
	f.healthy(ro)
	scrape := func() map[string]*dto.MetricFamily { return scrapeMetrics(t, "http://"+addr+"/metrics") }
	sel := map[string]string{"namespace": f.ns, "rollout": "dash"}

	f.eventually(5*time.Second, "info series Healthy on blue", func() bool {
		return value(scrape(), "ramp_rollout_info", with(sel, "phase", "Healthy", "stable_color", "blue")) == 1
	})
	mf := scrape()
	if v := value(mf, "ramp_rollout_steps", sel); v != 5 {
		t.Errorf("ramp_rollout_steps = %v, want 5", v)
	}
	if v := value(mf, "ramp_analysis_threshold", with(sel, "metric", "error-rate", "bound", "max")); v != 0.01 {
		t.Errorf("ramp_analysis_threshold{bound=max} = %v, want 0.01", v)
	}

	// Watch the weight gauge through a promotion.
	var weights []float64
	f.setImage("dash", "dash:v2")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mf := scrape()
		w := value(mf, "ramp_rollout_canary_weight", sel)
		if n := len(weights); n == 0 || weights[n-1] != w {
			weights = append(weights, w)
		}
		if value(mf, "ramp_rollouts_finished_total", with(sel, "result", "promoted")) == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !isSubsequence([]float64{1, 5, 25, 50, 100}, weights) {
		t.Fatalf("ramp_rollout_canary_weight went %v, want the steps 1, 5, 25, 50, 100 in order", weights)
	}
	mf = scrape()
	if v := value(mf, "ramp_rollout_info", with(sel, "phase", "Healthy", "stable_color", "green")); v != 1 {
		t.Errorf("info series after promotion = %v, want 1 with stable_color green", v)
	}
	if n := countSeries(mf, "ramp_rollout_info", sel); n != 1 {
		t.Errorf("%d info series for one rollout, want 1", n)
	}
	if v := value(mf, "ramp_analysis_checks_total", with(sel, "metric", "error-rate", "result", "passed")); v < 5 {
		t.Errorf("passed checks = %v, want at least one per step (5)", v)
	}
	if v := value(mf, "ramp_analysis_value", with(sel, "metric", "error-rate")); v != 0 {
		t.Errorf("ramp_analysis_value = %v, want 0", v)
	}
	if c := histCount(mf, "ramp_rollout_step_duration_seconds", sel); c < 5 {
		t.Errorf("step durations observed %d, want one per finished step (5)", c)
	}

	// A breach: the rollback is counted and its latency observed.
	f.setImage("dash", "dash:v3")
	f.eventually(20*time.Second, "the 5% step", func() bool { b, _ := f.weights("dash"); return b == 5 })
	prom.Set(f.ns, "dash-blue", errorMetric, testenv.Answer{Value: 0.3})
	f.eventually(5*time.Second, "rolled_back counted", func() bool {
		return value(scrape(), "ramp_rollouts_finished_total", with(sel, "result", "rolled_back")) == 1
	})
	// The decision is counted when written; the latency once the route is.
	f.eventually(2*time.Second, "the rollback latency observed", func() bool {
		return histCount(scrape(), "ramp_rollback_seconds", sel) == 1
	})
	mf = scrape()
	if s := histSum(mf, "ramp_rollback_seconds", sel); s <= 0 || s > 1 {
		t.Errorf("rollback took %vs from the failing check to the route write, want (0, 1]", s)
	}
	if v := value(mf, "ramp_analysis_value", with(sel, "metric", "error-rate")); v != 0.3 {
		t.Errorf("ramp_analysis_value = %v, want the breaching 0.3", v)
	}
	if v := value(mf, "ramp_analysis_checks_total", with(sel, "metric", "error-rate", "result", "failed")); v != 1 {
		t.Errorf("failed checks = %v, want 1", v)
	}
	// The phase is RolledBack once the routes are seen carrying 0 %.
	f.eventually(2*time.Second, "the info series with phase RolledBack", func() bool {
		return value(scrape(), "ramp_rollout_info", with(sel, "phase", "RolledBack")) == 1
	})

	// Deleting the Rollout removes its series.
	if err := f.c.Delete(f.ctx, f.get("dash")); err != nil {
		t.Fatal(err)
	}
	f.eventually(5*time.Second, "series of the deleted rollout gone", func() bool {
		mf := scrape()
		for name := range mf {
			if strings.HasPrefix(name, "ramp_") && countSeries(mf, name, sel) > 0 {
				return false
			}
		}
		return true
	})
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return mf
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func matches(m *dto.Metric, sel map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := sel[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(sel)
}

// value is the gauge or counter value of the one series matching sel, -1 when none.
func value(mf map[string]*dto.MetricFamily, name string, sel map[string]string) float64 {
	for _, m := range mf[name].GetMetric() {
		if matches(m, sel) {
			if m.Gauge != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

func countSeries(mf map[string]*dto.MetricFamily, name string, sel map[string]string) int {
	n := 0
	for _, m := range mf[name].GetMetric() {
		if matches(m, sel) {
			n++
		}
	}
	return n
}

func histCount(mf map[string]*dto.MetricFamily, name string, sel map[string]string) uint64 {
	for _, m := range mf[name].GetMetric() {
		if matches(m, sel) {
			return m.GetHistogram().GetSampleCount()
		}
	}
	return 0
}

func histSum(mf map[string]*dto.MetricFamily, name string, sel map[string]string) float64 {
	for _, m := range mf[name].GetMetric() {
		if matches(m, sel) {
			return m.GetHistogram().GetSampleSum()
		}
	}
	return 0
}

// isSubsequence reports whether want appears in got in order.
func isSubsequence(want, got []float64) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
