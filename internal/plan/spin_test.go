package plan

import (
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// looks counts the reconciles a world asks for over span when nothing
// outside changes: each decision's actions are applied (unless lose) and the
// clock moves to the requeue it asked for.
func (w *world) looks(span time.Duration, lose bool) int {
	end := w.obs.Now.Add(span)
	n := 0
	for w.obs.Now.Before(end) && n < 10000 {
		d := Next(w.spec, &w.st, w.observation())
		if !lose {
			w.act(d.Actions)
		}
		w.st = *d.Status.DeepCopy()
		n++
		if d.RequeueAfter == 0 {
			break
		}
		w.obs.Now = w.obs.Now.Add(d.RequeueAfter)
	}
	return n
}

// No stuck state the plan can reach asks to look again often: over a
// minute of nothing changing, a Rollout is looked at a bounded number of
// times (at most a few per check interval), never in a loop.
func TestStuckStatesRequeueSlowly(t *testing.T) {
	promoted := func(t *testing.T, w *world) {
		w.run(t, 5)
		w.obs.Revision = revB
		for i := 0; w.st.StableColor != v1.Green; i++ {
			if i > 100 {
				t.Fatalf("not promoted: %s", w.st.Message)
			}
			w.settle()
			d, changed := w.reconcileCount()
			if changed == 0 {
				w.obs.Now = w.obs.Now.Add(d.RequeueAfter)
			}
		}
	}
	inFlight := func(t *testing.T, w *world) {
		w.run(t, 5)
		w.obs.Revision = revB
		w.settle()
		for range 6 {
			w.settle()
			w.reconcile()
		}
	}
	for name, tc := range map[string]struct {
		spec  *v1.RolloutSpec
		setup func(*testing.T, *world)
		lose  bool
	}{
		"watch after promotion, Prometheus erring past progressDeadline": {
			spec: newSpec(func(s *v1.RolloutSpec) {
				s.PostPromotion = &v1.PostPromotion{Hold: *dur(time.Hour)}
				s.ProgressDeadline = dur(time.Second)
			}),
			setup: func(t *testing.T, w *world) {
				promoted(t, w)
				w.answer = [2]v1.CheckPhase{v1.CheckError, v1.CheckError}
				w.obs.Now = w.obs.Now.Add(time.Minute)
			},
		},
		"paused by annotation": {setup: func(t *testing.T, w *world) { inFlight(t, w); w.obs.Annotations[v1.AnnotationPause] = "true" }},
		"at a gate":            {spec: newSpec(withSteps(gate(10), step(100))), setup: inFlight},
		"checks inconclusive": {setup: func(t *testing.T, w *world) {
			inFlight(t, w)
			w.answer = [2]v1.CheckPhase{v1.CheckInconclusive, v1.CheckPassed}
		}},
		"a gateway rejecting the route": {setup: func(t *testing.T, w *world) {
			inFlight(t, w)
			w.obs.Route.Rejected = "parent gw: Accepted=False"
		}},
		"a spec problem in flight": {setup: func(t *testing.T, w *world) { inFlight(t, w); w.obs.SpecProblems = []string{"spec.x: bad"} }},
		"a rollback whose route writes fail": {setup: func(t *testing.T, w *world) {
			inFlight(t, w)
			w.obs.Annotations[v1.AnnotationAbort] = "stop"
		}, lose: true},
		"waiting for canary pods that never come": {setup: func(t *testing.T, w *world) {
			w.run(t, 5)
			w.obs.Revision = revB
			w.reconcile()
			w.ready(v1.Green, 0)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			spec := tc.spec
			if spec == nil {
				spec = newSpec()
			}
			w := newWorld(spec)
			tc.setup(t, w)
			if n := w.looks(time.Minute, tc.lose); n > 90 {
				t.Errorf("%d looks in a minute of nothing changing (phase %s: %s)", n, w.st.Phase, w.st.Message)
			}
		})
	}
}
