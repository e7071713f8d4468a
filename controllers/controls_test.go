package controllers_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// ramp.dev/pause holds the weight while checks go on, and a breach still
// rolls back; removing it resumes.
func TestPauseHoldsButBreachStillRollsBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("pause", "pause:v1"))
	f.setImage("pause", "pause:v2")
	f.eventually(20*time.Second, "the 5% step", func() bool { _, g := f.weights("pause"); return g == 5 })
	f.annotate("pause", v1.AnnotationPause, "true")
	f.eventually(5*time.Second, "phase Paused", func() bool { return f.phase("pause") == v1.PhasePaused })
	_, held := f.weights("pause")
	checks := f.get("pause").Status.Analysis.LastCheckAt
	time.Sleep(3 * time.Second) // three intervals
	if _, g := f.weights("pause"); g != held {
		t.Fatalf("paused rollout moved from %d%% to %d%%", held, g)
	}
	if now := f.get("pause").Status.Analysis.LastCheckAt; now == nil || !now.After(checks.Time) {
		t.Fatalf("checks stopped while paused (last check %v, before %v)", now, checks)
	}
	if msg := f.get("pause").Status.Message; !strings.Contains(msg, v1.AnnotationPause) {
		t.Errorf("message %q does not say the rollout is paused by the annotation", msg)
	}

	f.annotate("pause", v1.AnnotationPause, "")
	f.eventually(5*time.Second, "resumed to the next step", func() bool { _, g := f.weights("pause"); return g > held })

	f.annotate("pause", v1.AnnotationPause, "true")
	f.eventually(5*time.Second, "paused again", func() bool { return f.phase("pause") == v1.PhasePaused })
	prom.Set(f.ns, "pause-green", errorMetric, testenv.Answer{Value: 0.5})
	f.eventually(3*time.Second, "rollback while paused", func() bool { _, g := f.weights("pause"); return g == 0 })
	// RolledBack is reported once the routes are seen carrying 0 %.
	f.eventually(2*time.Second, "phase RolledBack", func() bool { return f.phase("pause") == v1.PhaseRolledBack })
}

// ramp.dev/promote passes a pause gate exactly once per value.
func TestPromotePassesGateOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("gate", "gate:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 10}, {Weight: 50, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.healthy(ro)
	f.setImage("gate", "gate:v2")
	f.eventually(20*time.Second, "waiting at the gate", func() bool {
		st := f.get("gate").Status
		return st.Phase == v1.PhasePaused && st.CanaryWeight == 50 && strings.Contains(st.Message, v1.AnnotationPromote)
	})
	time.Sleep(2 * time.Second)
	if _, g := f.weights("gate"); g != 50 {
		t.Fatalf("gate did not hold: green %d%%", g)
	}
	f.annotate("gate", v1.AnnotationPromote, "first")
	f.eventually(10*time.Second, "promoted past the gate", func() bool { return f.get("gate").Status.StableColor == v1.Green })

	// The same value does not pass the gate of the next rollout.
	f.setImage("gate", "gate:v3")
	f.eventually(20*time.Second, "v3 waiting at the gate", func() bool {
		st := f.get("gate").Status
		return st.Phase == v1.PhasePaused && st.CanaryWeight == 50
	})
	time.Sleep(2 * time.Second)
	if st := f.get("gate").Status; st.StableColor != v1.Green || st.CanaryWeight != 50 {
		t.Fatalf("the old promote value passed a new gate: %+v", st)
	}
	f.annotate("gate", v1.AnnotationPromote, "second")
	f.eventually(10*time.Second, "v3 promoted", func() bool { return f.get("gate").Status.StableColor == v1.Blue })
}

// ramp.dev/promote-full skips the remaining steps once.
func TestPromoteFull(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("full", "full:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 10, Hold: &metav1.Duration{Duration: time.Hour}}, {Weight: 100}}
	f.healthy(ro)
	rec := f.recordWeights("full", v1.Green)
	f.setImage("full", "full:v2")
	f.eventually(20*time.Second, "the 10% step", func() bool { _, g := f.weights("full"); return g == 10 })
	f.annotate("full", v1.AnnotationPromoteFull, "now")
	f.eventually(10*time.Second, "promoted", func() bool { return f.get("full").Status.StableColor == v1.Green })
	f.eventually(time.Second, "the recorder seeing green at 100%", func() bool {
		w := rec.Weights()
		return len(w) > 0 && w[len(w)-1] == 100
	})
	rec.Stop()
	if got := rec.Weights(); got[len(got)-1] != 100 {
		t.Fatalf("weights %v, want to end at 100", got)
	}
}

// Prometheus answering errors, or no data, holds the rollout without
// promoting; it goes on when checks pass again.
func TestUndecidedChecksHold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer testenv.Answer
		phase  v1.CheckPhase
	}{
		{"error", testenv.Answer{Fail: true}, v1.CheckError},
		{"nodata", testenv.Answer{NoData: true}, v1.CheckInconclusive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			name := "undecided-" + tc.name
			f.healthy(f.rollout(name, "u:v1"))
			f.setImage(name, "u:v2")
			f.eventually(20*time.Second, "the 5% step", func() bool { _, g := f.weights(name); return g == 5 })
			prom.Set(f.ns, name+"-green", errorMetric, tc.answer)
			f.eventually(5*time.Second, "held", func() bool {
				st := f.get(name).Status
				return st.Phase == v1.PhasePaused && st.Analysis.Metrics[0].Phase == tc.phase
			})
			_, held := f.weights(name)
			time.Sleep(3 * time.Second)
			st := f.get(name).Status
			if _, g := f.weights(name); g != held || st.StableColor != v1.Blue || st.Phase != v1.PhasePaused {
				t.Fatalf("undecided checks moved the rollout: green %d%% (held %d), stable %s, phase %s", g, held, st.StableColor, st.Phase)
			}
			if !strings.Contains(st.Message, string(tc.phase)) {
				t.Errorf("message %q does not give the reason", st.Message)
			}
			prom.Set(f.ns, name+"-green", errorMetric, testenv.Answer{Value: 0})
			f.eventually(20*time.Second, "promotion once checks pass", func() bool { return f.get(name).Status.StableColor == v1.Green })
		})
	}
}

// A template change in flight abandons the canary and starts again at step 0.
func TestTemplateChangeInFlightRestarts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("restart", "r:v1"))
	f.setImage("restart", "r:v2")
	f.eventually(20*time.Second, "the 25% step", func() bool { _, g := f.weights("restart"); return g == 25 })
	v2 := f.get("restart").Status.CanaryRevision
	rec := f.recordWeights("restart", v1.Green)
	f.setImage("restart", "r:v3")
	f.eventually(10*time.Second, "v3 at step 0", func() bool {
		st := f.get("restart").Status
		return st.CanaryRevision != v2 && st.CurrentStep == 0 && st.CanaryWeight == 1
	})
	f.eventually(20*time.Second, "v3 promoted", func() bool { return f.get("restart").Status.StableColor == v1.Green })
	rec.Stop()
	got := rec.Weights()
	if len(got) < 3 || got[0] != 25 || got[1] != 0 || got[2] != 1 {
		t.Fatalf("green weights after the change %v, want 25, 0, 1, ...", got)
	}

	// A change back to the stable revision returns to stable at once.
	f.setImage("restart", "r:v4")
	f.eventually(20*time.Second, "v4 at 5%", func() bool { b, _ := f.weights("restart"); return b == 5 })
	f.setImage("restart", "r:v3")
	f.eventually(3*time.Second, "back to stable", func() bool {
		b, g := f.weights("restart")
		return b == 0 && g == 100 && f.phase("restart") == v1.PhaseHealthy
	})
}

// A controller stopped mid-rollout and started again continues from the
// same step, and traffic never moves backwards.
func TestControllerRestartContinues(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("crash", "c:v1"))
	rec := f.recordWeights("crash", v1.Green)
	f.setImage("crash", "c:v2")
	f.eventually(20*time.Second, "the 25% step", func() bool { _, g := f.weights("crash"); return g == 25 })
	f.stopManager()
	step := f.get("crash").Status.CurrentStep
	time.Sleep(3 * time.Second)
	if _, g := f.weights("crash"); g != 25 {
		t.Fatalf("weight moved while the controller was stopped: %d", g)
	}
	f.startManager()
	f.eventually(5*time.Second, "the next step", func() bool { return f.get("crash").Status.CurrentStep > step })
	f.eventually(20*time.Second, "promotion", func() bool { return f.get("crash").Status.StableColor == v1.Green })
	rec.Stop()
	got := rec.Weights()
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("traffic moved backwards across the restart: %v", got)
		}
	}
}
