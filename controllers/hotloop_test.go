package controllers_test

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// reconciles is controller-runtime's count of the rollout controller's
// reconciles in this process.
func reconciles(t *testing.T) float64 {
	t.Helper()
	mfs, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range mf.Metric {
			if label(m, "controller") == "rollout" {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// The watch after a promotion, with Prometheus erring past progressDeadline,
// used to ask to look again 1 ms later, forever: about 1,000 reconciles a
// second. Not parallel: the reconcile count is the process's, and parallel
// tests wait until the sequential ones are done.
func TestWatchWithErrorsDoesNotSpin(t *testing.T) {
	f := newFixture(t)
	ro := f.rollout("spin", "spin:v1")
	ro.Spec.PostPromotion = &v1.PostPromotion{Hold: metav1.Duration{Duration: 10 * time.Minute}}
	f.healthy(ro)
	f.setImage("spin", "spin:v2")
	f.eventually(30*time.Second, "promoted, watching", func() bool {
		st := f.get("spin").Status
		return st.StableColor == v1.Green && st.PostPromotionUntil != nil
	})
	// A Prometheus that refuses connections answers Error at once, and a
	// deadline of 1s is soon past. (Set only now: a 1s deadline during the
	// rollout would roll back on a busy machine where a step's pods take
	// longer than that.)
	f.update("spin", func(ro *v1.Rollout) {
		ro.Spec.Analysis.Prometheus.Address = "http://127.0.0.1:1"
		ro.Spec.ProgressDeadline = &metav1.Duration{Duration: time.Second}
	})
	f.eventually(10*time.Second, "checks erring", func() bool {
		a := f.get("spin").Status.Analysis
		return a != nil && a.ErrorSince != nil
	})
	time.Sleep(2 * time.Second) // past progressDeadline
	before := reconciles(t)
	time.Sleep(3 * time.Second)
	n := reconciles(t) - before
	t.Logf("%v reconciles in 3s", n)
	if n > 20 { // one check a second (interval 1s) and its results: well under 20
		t.Fatalf("%v reconciles in 3s of a watch with erring checks: a loop", n)
	}
}
