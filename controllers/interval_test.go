package controllers_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// TestPerMetricInterval: a metric with an interval of its own is asked on
// its own cadence (and at the first check of each step), while the others
// go on every analysis interval.
func TestPerMetricInterval(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("cadence", "cadence:v1")
	maxSlow := 1.0
	ro.Spec.Analysis.Metrics = append(ro.Spec.Analysis.Metrics, v1.Metric{
		Name:     "slow",
		Query:    `ramp_test_slow{namespace="{{ .Namespace }}",service="{{ .CanaryService }}",window="{{ .Interval }}"}`,
		Max:      &maxSlow,
		Interval: &metav1.Duration{Duration: 4 * time.Second},
	})
	ro.Spec.Steps = []v1.Step{{Weight: 20, Hold: &metav1.Duration{Duration: 9 * time.Second}}, {Weight: 100}}
	f.healthy(ro)
	f.setImage("cadence", "cadence:v2")
	f.eventually(30*time.Second, "promoted", func() bool {
		ro := f.get("cadence")
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableColor == v1.Green
	}, func() string { return f.get("cadence").Status.Message })
	fast := prom.QueriesOf(f.ns, "cadence-green", errorMetric)
	slow := prom.QueriesOf(f.ns, "cadence-green", "ramp_test_slow")
	t.Logf("a 9s step and the last: error-rate asked %d times, slow (4s) %d times", fast, slow)
	// The 9s step: at 1s, 5s and 9s (at most one more, rounds come late);
	// the last step: its first round.
	if slow < 3 || slow > 6 || fast < 2*slow {
		t.Errorf("error-rate asked %d times, slow %d: want slow on its 4s cadence (3 to 6 times), error-rate every second", fast, slow)
	}
}
