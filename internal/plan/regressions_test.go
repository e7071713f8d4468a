package plan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// Regressions found by the table and fuzz tests, one named case each.
func TestRegressions(t *testing.T) {
	t.Run("a rolled-back revision stays off traffic across a passing route problem", func(t *testing.T) {
		prev := flying(2, 0, 0)
		prev.Phase, prev.StepStartedAt = v1.PhaseRolledBack, nil
		o := observe(time.Minute, revB, dep(revB, 0, 0), routeTo(0))
		o.Route.Problem = "route gone"
		d1 := Next(newSpec(), prev, o)
		if d1.Status.Phase != v1.PhaseRolledBack {
			t.Fatalf("phase %s during the problem, want RolledBack kept", d1.Status.Phase)
		}
		d2 := Next(newSpec(), &d1.Status, observe(2*time.Minute, revB, dep(revB, 2, 2), routeTo(0)))
		for _, a := range d2.Actions {
			if a.Kind == SetWeights && a.Weight > 0 || a.Kind == ApplyDeployment && a.Color == v1.Green {
				t.Fatalf("the rolled-back revision came back: %+v", d2.Actions)
			}
		}
	})
	t.Run("a rollout in flight leaves Failed once its problem is fixed", func(t *testing.T) {
		prev := flying(1, 5, 0)
		prev.Phase = v1.PhaseFailed
		d := Next(newSpec(), prev, observe(10*time.Second, revB, dep(revB, 1, 1), routeTo(5)))
		if d.Status.Phase != v1.PhaseProgressing {
			t.Fatalf("phase %s, want Progressing", d.Status.Phase)
		}
	})
	t.Run("a pause longer than progressDeadline with ready pods does not roll back", func(t *testing.T) {
		prev := flying(0, 0, 0)
		prev.StepStartedAt = nil
		prev.WaitingForPodsSince = ts(0)
		o := withAnn(observe(11*time.Minute, revB, dep(revB, 1, 1), routeTo(0)), v1.AnnotationPause, "true")
		d := Next(newSpec(), prev, o)
		if d.Status.Phase == v1.PhaseRolledBack || d.Status.WaitingForPodsSince != nil {
			t.Fatalf("phase %s, waiting since %v: a pause is not a wait for pods", d.Status.Phase, d.Status.WaitingForPodsSince)
		}
	})
	t.Run("waiting for pods ends once the route carries the weight", func(t *testing.T) {
		prev := flying(1, 50, 0)
		prev.WaitingForPodsSince = ts(time.Minute)
		d := Next(newSpec(withSteps(step(10), held(50, time.Hour), step(100))), prev, observe(2*time.Minute, revB, dep(revB, 2, 2), routeTo(0)))
		if d.Status.WaitingForPodsSince != nil {
			t.Fatalf("still waiting for pods since %v after the route was repaired", d.Status.WaitingForPodsSince)
		}
	})
	t.Run("a check from before the weight was set does not pass the step", func(t *testing.T) {
		spec := newSpec(withSteps(step(10), held(50, 30*time.Second), step(100)))
		prev := checked(flying(1, 50, time.Minute), v1.CheckPassed, time.Minute, "error-rate", "latency")
		d := Next(spec, prev, observe(90*time.Second, revB, dep(revB, 2, 2), routeTo(50)))
		if d.Status.CurrentStep != 1 {
			t.Fatalf("advanced to step %d without a check at 50%%", d.Status.CurrentStep)
		}
	})
	t.Run("a route edited ahead of the canary's pods is drift, not a step in effect", func(t *testing.T) {
		// Found by FuzzNext (testdata 795b2566dba7c6d9): promote-full jumped
		// to 100 %, the canary was being scaled up (its status lagging, 3 of
		// 10 ready) and a hand edit sent 100 % to it. That counted as the
		// weight written, and the canary was promoted with 3 pods for all
		// traffic while the old color was scaled away.
		spec := newSpec(func(s *v1.RolloutSpec) { *s.Replicas = 10 })
		prev := flying(4, 0, 0)
		prev.StepStartedAt = nil
		lagging := dep(revB, 10, 3)
		lagging.Replicas, lagging.UpdatedReplicas, lagging.Generation = 3, 3, 2
		d := Next(spec, prev, observe(time.Minute, revB, lagging, routeTo(100)))
		if d.Status.StableColor != v1.Blue || d.Status.StepStartedAt != nil {
			t.Fatalf("status %+v: 100%% counted in effect with 3 of 10 canary pods ready", d.Status)
		}
		if !slices.Contains(d.Actions, setW(v1.Green, 0)) {
			t.Fatalf("actions %v, want the drift taken back to the weight in effect (0%%)", d.Actions)
		}
	})
	t.Run("a first step of weight 0 waits for its pods, then starts", func(t *testing.T) {
		spec := newSpec(withSteps(step(0), step(100)))
		d := Next(spec, healthy(), observe(0, revB, Deployment{}, routeTo(0)))
		if d.Status.CanaryRevision != revB || d.Status.StepStartedAt != nil || d.Status.WaitingForPodsSince == nil {
			t.Fatalf("status %+v, want step 0 waiting for the canary's pods", d.Status)
		}
		if !strings.Contains(d.Status.Message, "waiting for green pods: 0/1") {
			t.Fatalf("message %q does not say it waits for pods", d.Status.Message)
		}
		d = Next(spec, &d.Status, observe(time.Second, revB, dep(revB, 1, 1), routeTo(0)))
		if d.Status.StepStartedAt == nil || d.Status.CanaryWeight != 0 || d.Status.CurrentStep != 0 {
			t.Fatalf("status %+v, want step 0 at 0%% started once its pod is ready", d.Status)
		}
	})
	t.Run("a step with the weight of the last one still holds on its own", func(t *testing.T) {
		spec := newSpec(withSteps(step(25), held(25, 10*time.Minute), step(100)))
		prev := flying(0, 25, 0)
		d := Next(spec, prev, withChecks(observe(time.Minute, revB, dep(revB, 4, 4), routeTo(25)), results(v1.CheckPassed, "0")))
		if d.Status.CurrentStep != 1 || d.Status.StepStartedAt == nil || !d.Status.StepStartedAt.Time.Equal(t0.Add(time.Minute)) {
			t.Fatalf("step %d started %v, want step 1 started at t0+1m", d.Status.CurrentStep, d.Status.StepStartedAt)
		}
	})
	t.Run("a promote given while the gate step waits for pods is kept", func(t *testing.T) {
		spec := newSpec(withSteps(step(10), gate(50), step(100)))
		prev := flying(1, 10, 0)
		prev.StepStartedAt = nil
		d1 := Next(spec, prev, withAnn(observe(time.Minute, revB, dep(revB, 2, 1), routeTo(10)), v1.AnnotationPromote, "go"))
		if !d1.Status.GatePassed {
			t.Fatalf("promote not recorded on the gate")
		}
		d2 := Next(spec, &d1.Status, withAnn(observe(2*time.Minute, revB, dep(revB, 2, 2), routeTo(10)), v1.AnnotationPromote, "go"))
		if !d2.Status.GatePassed || len(d2.Actions) == 0 || d2.Actions[0] != setW(v1.Green, 50) {
			t.Fatalf("gate passed %v, actions %+v: the promote was lost when the weight was written", d2.Status.GatePassed, d2.Actions)
		}
		d3 := Next(spec, &d2.Status, withAnn(observe(2*time.Minute+time.Second, revB, dep(revB, 2, 2), routeTo(50)), v1.AnnotationPromote, "go"))
		if !d3.Status.GatePassed || d3.Status.CanaryWeight != 50 || d3.Status.StepStartedAt == nil {
			t.Fatalf("gate passed %v at %d%% (started %v): the promote was lost when the weight took effect", d3.Status.GatePassed, d3.Status.CanaryWeight, d3.Status.StepStartedAt)
		}
	})
	t.Run("an empty abort acts once", func(t *testing.T) {
		o := withAnn(observe(10*time.Second, revB, dep(revB, 1, 1), routeTo(5)), v1.AnnotationAbort, "")
		d := Next(newSpec(), flying(1, 5, 0), o)
		if d.Status.RollbackReason == "" || d.Status.AbortReason != "no reason given" || len(d.Actions) == 0 || d.Actions[0] != rollbackW(v1.Green) {
			t.Fatalf("rollback %q, abort reason %q, actions %+v; want a rollback with no reason given", d.Status.RollbackReason, d.Status.AbortReason, d.Actions)
		}
		o.Route = routeTo(0)
		d2 := Next(newSpec(), &d.Status, o)
		if d2.Status.Phase != v1.PhaseRolledBack || d2.Status.AbortReason != "no reason given" || hasEvent(d2, "ControlIgnored") {
			t.Fatalf("phase %s reason %q events %+v, want RolledBack with no reason given, the abort spent", d2.Status.Phase, d2.Status.AbortReason, d2.Events)
		}
	})
	t.Run("an abort during a route problem acts at once and completes once the route carries 0%", func(t *testing.T) {
		o := withAnn(observe(10*time.Second, revB, dep(revB, 1, 1), routeTo(5)), v1.AnnotationAbort, "stop")
		o.Route.Problem = "route gone"
		d1 := Next(newSpec(), flying(1, 5, 0), o)
		if d1.Status.RollbackReason == "" || len(d1.Actions) == 0 || d1.Actions[0] != rollbackW(v1.Green) {
			t.Fatalf("rollback %q, actions %+v: the abort must not wait for the route problem", d1.Status.RollbackReason, d1.Actions)
		}
		o.Route = routeTo(0) // the steerable rules carry the rollback; the problem is fixed
		d2 := Next(newSpec(), &d1.Status, o)
		if d2.Status.Phase != v1.PhaseRolledBack || d2.Status.AbortReason != "stop" {
			t.Fatalf("phase %s %q, want RolledBack by the abort", d2.Status.Phase, d2.Status.AbortReason)
		}
	})
	t.Run("an abort with only a spec problem rolls back at once", func(t *testing.T) {
		o := withAnn(observe(10*time.Second, revB, dep(revB, 1, 1), routeTo(5)), v1.AnnotationAbort, "stop")
		o.SpecProblems = []string{"spec.analysis.metrics[0].query: bad"}
		d := Next(newSpec(), flying(1, 5, 0), o)
		if d.Status.RollbackReason == "" || len(d.Actions) == 0 || d.Actions[0] != rollbackW(v1.Green) {
			t.Fatalf("rollback %q actions %+v, want a rollback", d.Status.RollbackReason, d.Actions)
		}
	})
	t.Run("a step started between microseconds lasts its hold once stored, and no longer", func(t *testing.T) {
		prev := flying(0, 0, 0)
		prev.StepStartedAt = nil
		set := 400*time.Millisecond + 1234*time.Nanosecond // when the routes are seen carrying 1 %
		d := Next(newSpec(), prev, observe(set, revB, dep(revB, 1, 1), routeTo(1)))
		got := d.Status.StepStartedAt
		if got == nil || !got.Time.Equal(t0.Add(400*time.Millisecond+2*time.Microsecond)) {
			t.Fatalf("stepStartedAt %v, want t0+400.002ms: metav1.MicroTime keeps microseconds, so the start rounds up", got)
		}
		b, err := json.Marshal(d.Status)
		if err != nil {
			t.Fatal(err)
		}
		var stored v1.RolloutStatus
		if err := json.Unmarshal(b, &stored); err != nil {
			t.Fatal(err)
		}
		at, _ := NextCheckAt(newSpec(), &stored)
		held := at.Sub(t0.Add(set))
		if held < time.Minute || held > time.Minute+time.Microsecond {
			t.Fatalf("first check %s after the weight was observed, want the hold (1m) and at most 1µs more", held)
		}
	})
	t.Run("a switch-back that waits for the old color's pods is not forgotten", func(t *testing.T) {
		spec := newSpec(func(s *v1.RolloutSpec) {
			s.PostPromotion = &v1.PostPromotion{Hold: metav1.Duration{Duration: 10 * time.Minute}}
		})
		st := promotedB()
		st.PreviousRevision, st.PostPromotionUntil, st.ScaleDownAt = revA, ts(10*time.Minute), ts(10*time.Minute)
		st.Analysis = &v1.AnalysisStatus{}
		var problems []string
		// blue was scaled to zero by hand; an abort asks to switch back.
		for i, blue := range []Deployment{dep(revA, 0, 0), dep(revA, 4, 0), dep(revA, 4, 4)} {
			o := withAnn(observe(2*time.Minute+time.Duration(i)*time.Second, revB, dep(revB, 4, 4), rt(0, 100)), v1.AnnotationAbort, "stop")
			o.Blue = blue
			d := Next(spec, st, o)
			for _, a := range d.Actions {
				if a.Color == v1.Blue && (a.Kind == ApplyDeployment || a.Kind == ScaleDeployment && a.Replicas == 0) {
					problems = append(problems, fmt.Sprintf("call %d: %+v on the color to switch back to", i, a))
				}
			}
			st = &d.Status
		}
		if st.StableColor != v1.Blue || st.RollbackReason == "" && st.Phase != v1.PhaseRolledBack {
			problems = append(problems, fmt.Sprintf("stable %s, phase %s: the abort was spent while blue had no ready pods and never acted", st.StableColor, st.Phase))
		}
		for _, p := range problems {
			t.Error(p)
		}
	})
}
