package controllers_test

import (
	"slices"
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// A healthy v2 walks 1, 5, 25, 50, 100 % with every check passing, becomes
// stable on green, and blue is scaled to zero only after scaleDownDelay.
func TestPromotionWalksDefaultSteps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("shop", "shop:v1"))
	if b, g := f.weights("shop"); b != 100 || g != 0 {
		t.Fatalf("first version: route carries blue=%d green=%d, want 100/0", b, g)
	}

	rec := f.recordWeights("shop", v1.Green)
	f.setImage("shop", "shop:v2")
	f.eventually(30*time.Second, "promotion to green", func() bool {
		st := f.get("shop").Status
		return st.StableColor == v1.Green && st.Phase == v1.PhaseHealthy
	})
	promotedAt := time.Now()
	rec.Stop()

	if got, want := rec.Weights(), []int32{0, 1, 5, 25, 50, 100}; !slices.Equal(got, want) {
		t.Fatalf("green weights seen on the route: %v, want %v", got, want)
	}
	f.expectPassedAndPromoted("shop")
	if b, g := f.weights("shop"); b != 0 || g != 100 {
		t.Fatalf("after promotion the route carries blue=%d green=%d, want 0/100", b, g)
	}
	if n := f.replicas("shop-green"); n != 4 {
		t.Errorf("green has %d replicas, want 4", n)
	}
	// The old color keeps its pods for scaleDownDelay (2s), then goes to zero.
	if n := f.replicas("shop-blue"); n != 4 && time.Since(promotedAt) < time.Second {
		t.Errorf("blue scaled to %d right after promotion, want 4 until scaleDownDelay", n)
	}
	f.eventually(10*time.Second, "blue scaled to zero", func() bool { return f.replicas("shop-blue") == 0 })
	if waited := time.Since(promotedAt); waited < time.Second {
		t.Errorf("blue scaled to zero %s after promotion, before scaleDownDelay 2s", waited)
	}
}

// expectPassedAndPromoted checks that every metric of the promoted Rollout
// name ended Passed and that its revision is stable, none canary.
func (f *fixture) expectPassedAndPromoted(name string) {
	f.t.Helper()
	ro := f.get(name)
	for _, m := range ro.Status.Analysis.Metrics {
		if m.Phase != v1.CheckPassed {
			f.t.Errorf("metric %s ended %s, want Passed", m.Name, m.Phase)
		}
	}
	if ro.Status.CanaryRevision != "" || ro.Status.StableRevision == "" {
		f.t.Errorf("after promotion: stable %q canary %q", ro.Status.StableRevision, ro.Status.CanaryRevision)
	}
}
