package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func sample() (*v1.Rollout, *v1.RolloutStatus) {
	max := 0.01
	ro := &v1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "shop"}}
	ro.Spec.Analysis = &v1.Analysis{Metrics: []v1.Metric{{Name: "error-rate", Max: &max}}}
	st := &v1.RolloutStatus{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: "a", CanaryRevision: "b", CurrentStep: 2, CanaryWeight: 25,
		Analysis: &v1.AnalysisStatus{Metrics: []v1.MetricStatus{{Name: "error-rate", Phase: v1.CheckPassed, Value: "0.002"}}}}
	return ro, st
}

// The metrics follow Prometheus's naming and help conventions.
func TestPromlint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	ro, st := sample()
	m.Observe(ro, st)
	m.Check(ro, "error-rate", v1.CheckPassed)
	m.StepFinished(ro, 3e9)
	m.Finished(ro, "promoted")
	m.RolledBack(ro, 5e6)
	m.Notification("sent")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	if len(mfs) != 12 {
		t.Errorf("%d metric families, want the 11 of DESIGN.md and ramp_notifications_total", len(mfs))
	}
	for result, want := range map[string]float64{"sent": 1, "failed": 0, "dropped": 0} {
		if got := testutil.ToFloat64(m.notifications.WithLabelValues(result)); got != want {
			t.Errorf("ramp_notifications_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}

// A change of phase or revision leaves one info series; Forget leaves none.
func TestInfoSeriesAndForget(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	ro, st := sample()
	m.Observe(ro, st)
	st.Phase = v1.PhaseProgressing
	m.Observe(ro, st)
	if n := testutil.CollectAndCount(m.info); n != 1 {
		t.Fatalf("%d info series after a phase change, want 1", n)
	}
	if v := testutil.ToFloat64(m.weight.WithLabelValues("shop", "shop")); v != 25 {
		t.Errorf("canary weight %v, want 25", v)
	}
	if v := testutil.ToFloat64(m.value.WithLabelValues("shop", "shop", "error-rate")); v != 0.002 {
		t.Errorf("analysis value %v, want 0.002", v)
	}
	m.Forget("shop", "shop")
	for name, c := range map[string]prometheus.Collector{"info": m.info, "weight": m.weight, "value": m.value, "threshold": m.threshold} {
		if n := testutil.CollectAndCount(c); n != 0 {
			t.Errorf("%s: %d series after Forget, want 0", name, n)
		}
	}
	if _, err := New(reg); err != nil {
		t.Errorf("registering twice: %v", err)
	}
}
