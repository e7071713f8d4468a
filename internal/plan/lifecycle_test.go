package plan

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// promotedB is revB just promoted to green at t0+1m30s-scaleDownDelay.
func promotedB() *v1.RolloutStatus {
	return mod(healthy(), func(s *v1.RolloutStatus) {
		s.StableColor, s.StableRevision, s.CurrentStep, s.ScaleDownAt = v1.Green, revB, 4, ts(90*second)
	})
}

// greenStable is the world after promotedB: blue still has its pods.
func greenStable(d time.Duration) Observations {
	return observe(d, revB, dep(revB, 4, 4), Route{Blue: 0, Green: 100, Uniform: true})
}

// Template changes, promotion and scale-down, route repair and invalid input.
func TestNextLifecycle(t *testing.T) {
	toStable := []Action{setW(v1.Green, 0), apply(v1.Blue, 4), scale(v1.Green, 0)}
	stepThree := func(d time.Duration, ready int32, r Route) Observations { // step 3 is 50 %: two pods
		return observe(d, revB, dep(revB, 4, ready), r)
	}
	atFifty := func(waiting *metav1.Time, requeue time.Duration, actions ...Action) want {
		return want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
			CurrentStep: 3, CanaryWeight: 50, StepStartedAt: mts(0), WaitingForPodsSince: waiting,
			Actions: actions, RequeueAfter: requeue}
	}
	problem := "spec.selector: does not match spec.template.metadata.labels"
	frozen := func(st *v1.RolloutStatus) want {
		return want{Phase: v1.PhaseFailed, StableColor: st.StableColor, StableRevision: st.StableRevision,
			CanaryRevision: st.CanaryRevision, CurrentStep: st.CurrentStep, CanaryWeight: st.CanaryWeight,
			StepStartedAt: st.StepStartedAt}
	}

	runCases(t, map[string]nextCase{
		"a template change in flight takes the canary off traffic first and restarts at step 0": {
			prev: mod(checked(flying(3, 50, 0), v1.CheckPassed, minute, "error-rate", "latency"), failed(1)),
			// the checks of this call measured the abandoned canary
			obs: withChecks(observe(5*minute, revC, dep(revB, 4, 4), routeTo(50)), results(v1.CheckFailed, "1")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revC,
				WaitingForPodsSince: ts(5 * minute),
				Actions:             []Action{setW(v1.Green, 0), apply(v1.Green, 1)}, RequeueAfter: 10 * minute},
		},
		"a template change back to the stable revision returns to stable at once": {
			prev: flying(3, 50, 0),
			obs:  observe(5*minute, revA, dep(revB, 2, 2), routeTo(50)),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: revA, CurrentStep: 3,
				Actions: toStable},
			msg: "blue (rev-a) serves all traffic",
		},
		"a template change back to stable after a rollback": {
			prev: rolledBackB(),
			obs:  observe(5*minute, revA, dep(revB, 0, 0), routeTo(0)),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: revA, CurrentStep: 2,
				AbortReason: "bad", Actions: []Action{apply(v1.Blue, 4)}},
		},
		"a new template after a rollback starts at step 0": {
			prev: rolledBackB(),
			obs:  observe(5*minute, revC, dep(revB, 0, 0), routeTo(0)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revC,
				WaitingForPodsSince: ts(5 * minute), Actions: []Action{apply(v1.Green, 1)}, RequeueAfter: 10 * minute},
		},
		"the last step passing promotes: the stable color flips": {
			prev: flying(4, 100, 0),
			obs:  withChecks(observe(minute, revB, dep(revB, 4, 4), routeTo(100)), results(v1.CheckPassed, "0")),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: revB, CurrentStep: 4,
				ScaleDownAt: ts(90 * second), Actions: []Action{apply(v1.Green, 4)}, RequeueAfter: 30 * second},
			msg: "green (rev-b) serves all traffic",
		},
		"scaleDownDelay 0 scales the old color down in the promoting call": {
			spec: newSpec(func(s *v1.RolloutSpec) { s.ScaleDownDelay = dur(0) }),
			prev: flying(4, 100, 0),
			obs:  withChecks(observe(minute, revB, dep(revB, 4, 4), routeTo(100)), results(v1.CheckPassed, "0")),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: revB, CurrentStep: 4,
				Actions: []Action{apply(v1.Green, 4), scale(v1.Blue, 0)}},
		},
		"the old color keeps its pods until scaleDownAt": {
			prev: promotedB(),
			obs:  greenStable(70 * second),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: revB, CurrentStep: 4,
				ScaleDownAt: ts(90 * second), Actions: []Action{apply(v1.Green, 4)}, RequeueAfter: 20 * second},
		},
		"the old color is scaled to zero once scaleDownAt has passed": {
			prev: promotedB(),
			obs:  greenStable(90 * second),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: revB, CurrentStep: 4,
				Actions: []Action{apply(v1.Green, 4), scale(v1.Blue, 0)}},
		},
		"a route carrying more canary weight than decided is set back at once": {
			prev: flying(3, 50, 0),
			obs:  stepThree(30*second, 1, routeTo(80)),
			want: atFifty(nil, 30*second, setW(v1.Green, 50), apply(v1.Green, 4)),
		},
		"a route carrying less canary weight is raised once the canary is ready": {
			prev: flying(3, 50, 0),
			obs:  stepThree(30*second, 2, routeTo(10)),
			want: atFifty(nil, 30*second, setW(v1.Green, 50), apply(v1.Green, 4)),
		},
		"a route carrying less canary weight is not raised while the canary lacks pods": {
			prev: flying(3, 50, 0),
			obs:  stepThree(30*second, 1, routeTo(10)),
			want: atFifty(ts(30*second), 30*second, apply(v1.Green, 4)),
		},
		"routes that disagree go to the stable color while the canary lacks pods": {
			prev: flying(3, 50, 0),
			obs:  stepThree(30*second, 1, Route{Blue: 50, Green: 50}),
			want: atFifty(ts(30*second), 30*second, setW(v1.Green, 0), apply(v1.Green, 4)),
		},
		"routes that disagree get the decided weight when the canary is ready": {
			prev: flying(3, 50, 0),
			obs:  stepThree(30*second, 2, Route{Blue: 50, Green: 50}),
			want: atFifty(nil, 30*second, setW(v1.Green, 50), apply(v1.Green, 4)),
		},
		"route drift while healthy is set back": {
			prev: healthy(),
			obs:  observe(0, revA, Deployment{}, routeTo(30)),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: revA,
				Actions: []Action{setW(v1.Green, 0), apply(v1.Blue, 4)}},
		},
		"a spec problem fails the rollout in flight and moves nothing": {
			prev: flying(2, 25, 0),
			obs:  mod2(observe(minute, revB, dep(revB, 2, 2), routeTo(60)), func(o *Observations) { o.SpecProblems = []string{problem} }),
			want: frozen(flying(2, 25, 0)),
			msg:  problem,
		},
		"a route problem fails a new revision and moves nothing": {
			prev: healthy(),
			obs:  mod2(observe(0, revB, Deployment{}, routeTo(0)), func(o *Observations) { o.Route.Problem = "no backendRef shop-green" }),
			want: frozen(healthy()),
			msg:  "no backendRef shop-green",
		},
	})
}

// Invalid input shows as condition Valid False with the message.
func TestNextInvalidCondition(t *testing.T) {
	cases := map[string]struct {
		mutate func(*Observations)
		reason string
	}{
		"spec problem":  {func(o *Observations) { o.SpecProblems = []string{"spec.x: bad", "spec.y: bad"} }, "InvalidSpec"},
		"route problem": {func(o *Observations) { o.Route.Problem = "httpRoutes: shop not found" }, "InvalidRoute"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := Next(newSpec(), flying(2, 25, 0), mod2(observe(minute, revB, dep(revB, 2, 2), routeTo(25)), tc.mutate))
			c := condition(d, v1.ConditionValid)
			if c.Status != metav1.ConditionFalse || c.Reason != tc.reason || c.Message != d.Status.Message || c.Message == "" {
				t.Errorf("Valid = %s/%s %q, message %q; want False/%s with the message", c.Status, c.Reason, c.Message, d.Status.Message, tc.reason)
			}
			if len(d.Actions) != 0 || d.RequeueAfter != 0 {
				t.Errorf("actions %+v, requeue %s; want none", d.Actions, d.RequeueAfter)
			}
		})
	}
}

// Without spec.steps the weights are 1, 5, 25, 50, 100.
func TestDefaultSteps(t *testing.T) {
	var weights []int32
	for _, s := range newSpec().EffectiveSteps() {
		weights = append(weights, s.Weight)
	}
	if want := []int32{1, 5, 25, 50, 100}; !reflect.DeepEqual(weights, want) {
		t.Fatalf("default weights %v, want %v", weights, want)
	}
	d := Next(newSpec(), healthy(), observe(0, revB, Deployment{}, routeTo(0)))
	if d.Status.StepProgress != "0/5" {
		t.Errorf("stepProgress %q, want 0/5", d.Status.StepProgress)
	}
}

func TestReplicasFor(t *testing.T) {
	cases := map[string]struct{ replicas, weight, want int32 }{
		"1% of 4 is at least one pod":    {4, 1, 1},
		"5% of 4":                        {4, 5, 1},
		"25% of 4 is exactly one":        {4, 25, 1},
		"50% of 4":                       {4, 50, 2},
		"100% of 4":                      {4, 100, 4},
		"33% of 10 rounds up":            {10, 33, 4},
		"50% of 3 rounds up":             {3, 50, 2},
		"1% of 200":                      {200, 1, 2},
		"1% of 201 rounds up":            {201, 1, 3},
		"0% still needs one pod":         {4, 0, 1},
		"100% of the largest replicas":   {10000, 100, 10000},
		"99% of the largest rounds up":   {10000, 99, 9900},
		"1% of one replica":              {1, 1, 1},
		"100% of one replica":            {1, 100, 1},
		"no overflow near the int32 max": {1 << 30, 100, 1 << 30},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := ReplicasFor(tc.replicas, tc.weight); got != tc.want {
				t.Errorf("ReplicasFor(%d, %d) = %d, want %d", tc.replicas, tc.weight, got, tc.want)
			}
		})
	}
}

func TestDeploymentReadyFor(t *testing.T) {
	cases := map[string]struct {
		d     Deployment
		ready int32
		known bool
	}{
		"missing":                    {Deployment{}, 0, true},
		"of another revision":        {dep(revA, 4, 4), 0, true},
		"all ready":                  {dep(revB, 4, 4), 4, true},
		"some ready":                 {dep(revB, 4, 3), 3, true},
		"status behind its spec":     {mod2(dep(revB, 4, 4), func(d *Deployment) { d.Generation = 2 }), 0, false},
		"old pods remain: count new": {mod2(dep(revB, 4, 4), func(d *Deployment) { d.Replicas, d.UpdatedReplicas = 5, 2 }), 1, true},
		"old pods remain, few ready": {mod2(dep(revB, 4, 2), func(d *Deployment) { d.Replicas, d.UpdatedReplicas = 5, 2 }), 0, true},
		"more ready than updated":    {mod2(dep(revB, 4, 4), func(d *Deployment) { d.UpdatedReplicas = 4; d.Replicas = 4; d.ReadyReplicas = 6 }), 4, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ready, known := tc.d.ReadyFor(revB)
			if ready != tc.ready || known != tc.known {
				t.Errorf("ReadyFor = %d, %v; want %d, %v", ready, known, tc.ready, tc.known)
			}
		})
	}
}
