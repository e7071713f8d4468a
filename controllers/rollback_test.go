package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// An error rate above max at the 25 % step sends the route back to 100 %
// stable within one interval, scales the canary to zero, and says why.
func TestBreachRollsBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("cart", "cart:v1"))
	f.toStep("cart", "cart:v2", 25)

	prom.Set(f.ns, "cart-green", errorMetric, testenv.Answer{Value: 0.2})
	breachAt := time.Now()
	// The first check at 25 % is due one hold (1s) after the step's stored
	// start; the breach must be acted on within one interval of the later
	// of that and the breach itself.
	due := f.get("cart").Status.StepStartedAt.Add(time.Second)
	f.eventually(5*time.Second, "route back at 100% blue", func() bool { b, g := f.weights("cart"); return b == 100 && g == 0 })
	from := breachAt
	if due.After(from) {
		from = due
	}
	if took := time.Since(from); took > 1500*time.Millisecond {
		t.Errorf("route back at 100%% stable %s after the breach could first be seen, want within one interval (1s) and a little", took)
	}
	f.eventually(5*time.Second, "phase RolledBack", func() bool { return f.phase("cart") == v1.PhaseRolledBack })
	f.eventually(5*time.Second, "green scaled to zero", func() bool { return f.replicas("cart-green") == 0 })

	ro := f.get("cart")
	if ro.Status.StableColor != v1.Blue || ro.Status.CanaryWeight != 0 {
		t.Errorf("stable %s, canary weight %d; want blue and 0", ro.Status.StableColor, ro.Status.CanaryWeight)
	}
	var failed *v1.MetricStatus
	for i := range ro.Status.Analysis.Metrics {
		if ro.Status.Analysis.Metrics[i].Name == "error-rate" {
			failed = &ro.Status.Analysis.Metrics[i]
		}
	}
	if failed == nil || failed.Phase != v1.CheckFailed || failed.Value != "0.2" {
		t.Fatalf("status.analysis.metrics = %+v, want error-rate Failed with value 0.2", ro.Status.Analysis.Metrics)
	}
	if !strings.Contains(ro.Status.Message, "error-rate") || !strings.Contains(ro.Status.Message, "0.2") {
		t.Errorf("status.message %q does not name the metric and its value", ro.Status.Message)
	}
	if n := f.replicas("cart-blue"); n != 4 {
		t.Errorf("blue has %d replicas after the rollback, want 4", n)
	}
	f.eventually(5*time.Second, "a RolledBack event", func() bool { return f.hasEvent("cart", "RolledBack", "error-rate") })

	// The rolled-back revision does not start again by itself.
	time.Sleep(2 * time.Second)
	if _, g := f.weights("cart"); g != 0 || f.phase("cart") != v1.PhaseRolledBack {
		t.Fatalf("rolled-back revision moved again: green=%d phase=%s", g, f.phase("cart"))
	}
}

// toStep sets the Rollout's image and waits until the step of weight is in
// effect.
func (f *fixture) toStep(name, image string, weight int32) {
	f.t.Helper()
	f.setImage(name, image)
	f.eventually(20*time.Second, fmt.Sprintf("the %d%% step in effect", weight), func() bool {
		st := f.get(name).Status
		return st.CanaryWeight == weight && st.StepStartedAt != nil
	})
}

// hasEvent reports whether an event with reason and a note containing text
// was recorded for the Rollout.
func (f *fixture) hasEvent(rollout, reason, text string) bool {
	var list eventsv1.EventList
	if err := f.c.List(f.ctx, &list, client.InNamespace(f.ns)); err != nil {
		f.t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.Regarding.Name == rollout && e.Regarding.Kind == "Rollout" && e.Reason == reason && strings.Contains(e.Note, text) {
			return true
		}
	}
	return false
}

// ramp.dev/abort rolls back at once and keeps the reason; ramp.dev/retry
// starts the same revision again from step 0.
func TestAbortAndRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("abort", "abort:v1"))
	f.setImage("abort", "abort:v2")
	f.eventually(20*time.Second, "the 5% step", func() bool { _, g := f.weights("abort"); return g == 5 })

	f.annotate("abort", v1.AnnotationAbort, "wrong config map")
	f.eventually(5*time.Second, "rolled back", func() bool { return f.phase("abort") == v1.PhaseRolledBack })
	// The decision is written to status first, then the route follows.
	f.eventually(time.Second, "green at 0% after abort", func() bool { _, g := f.weights("abort"); return g == 0 })
	ro := f.get("abort")
	if ro.Status.AbortReason != "wrong config map" || !strings.Contains(ro.Status.Message, "wrong config map") {
		t.Errorf("abort reason not kept: abortReason=%q message=%q", ro.Status.AbortReason, ro.Status.Message)
	}
	f.eventually(5*time.Second, "green scaled to zero", func() bool { return f.replicas("abort-green") == 0 })

	f.annotate("abort", v1.AnnotationRetry, "1")
	f.eventually(10*time.Second, "the retry at step 0", func() bool {
		st := f.get("abort").Status
		return st.Phase == v1.PhaseProgressing && st.CurrentStep == 0 && st.CanaryWeight == 1
	})
	// The abort value was acted on once: the retried rollout goes on to promotion.
	f.eventually(20*time.Second, "promotion after retry", func() bool { return f.get("abort").Status.StableColor == v1.Green })
}
