package plan

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

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
	return observe(d, revB, dep(revB, 4, 4), rt(0, 100))
}

// Template changes, promotion and scale-down, route repair and invalid input.
func TestNextLifecycle(t *testing.T) {
	stepThree := func(d time.Duration, ready int32, r Route) Observations { // step 3 is 50 %: two pods
		return observe(d, revB, dep(revB, 4, ready), r)
	}
	// Step 3 (50 %) was in effect; the routes no longer carry it, so its
	// clock is stopped until they do again.
	atFifty := func(waiting *metav1.Time, requeue time.Duration, actions ...Action) want {
		return want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
			CurrentStep: 3, CanaryWeight: 50, WaitingForPodsSince: waiting,
			Actions: actions, RequeueAfter: requeue}
	}
	problem := "spec.selector: does not match spec.template.metadata.labels"
	frozen := func(st *v1.RolloutStatus) want {
		return want{Phase: v1.PhaseFailed, StableColor: st.StableColor, StableRevision: st.StableRevision,
			CanaryRevision: st.CanaryRevision, CurrentStep: st.CurrentStep, CanaryWeight: st.CanaryWeight,
			StepStartedAt: st.StepStartedAt}
	}
	held := func(started *metav1.MicroTime, heldSince time.Duration, requeue time.Duration, actions ...Action) want {
		return want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
			CurrentStep: 2, CanaryWeight: 25, StepStartedAt: started, HeldSince: ts(heldSince),
			Actions: actions, RequeueAfter: requeue}
	}
	withProblem := func(o Observations) Observations {
		o.SpecProblems = []string{problem}
		return o
	}

	runCases(t, map[string]nextCase{
		"a template change in flight takes the canary off traffic first and restarts at step 0": {
			prev: mod(checked(flying(3, 50, 0), v1.CheckPassed, minute, "error-rate", "latency"), failed(1)),
			// the checks of this call measured the abandoned canary
			obs: withChecks(observe(5*minute, revC, dep(revB, 4, 4), routeTo(50)), results(v1.CheckFailed, "1")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revC,
				WaitingForPodsSince: ts(5 * minute),
				// The new revision replaces green's pods only once the
				// routes are seen sending green nothing.
				Actions: []Action{setW(v1.Green, 0)}, RequeueAfter: 10 * minute},
		},
		"after a template change in flight, the new revision is deployed once the canary is off traffic": {
			prev: mod(flying(0, 0, 0), func(s *v1.RolloutStatus) {
				s.CanaryRevision, s.StepStartedAt, s.WaitingForPodsSince = revC, nil, ts(5*minute)
			}),
			obs: observe(5*minute+second, revC, dep(revB, 4, 4), routeTo(0)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revC,
				WaitingForPodsSince: ts(5 * minute),
				Actions:             []Action{apply(v1.Green, 1)}, RequeueAfter: 10*minute - second},
		},
		"a template change back to the stable revision sends all traffic to stable at once": {
			prev: flying(3, 50, 0),
			obs:  observe(5*minute, revA, dep(revB, 2, 2), routeTo(50)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CurrentStep: 3,
				Actions: []Action{setW(v1.Green, 0)}}, // green keeps its pods while it gets traffic
			msg:    "sending all traffic to blue (rev-a)",
			events: []string{"ReturnedToStable"},
		},
		"back at the stable revision, the old canary is scaled down once the routes carry 0% to it": {
			prev: mod(healthy(), func(s *v1.RolloutStatus) { s.Phase, s.CurrentStep = v1.PhaseProgressing, 3 }),
			obs:  observe(5*minute+second, revA, dep(revB, 2, 2), routeTo(0)),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: revA, CurrentStep: 3,
				Actions: []Action{scale(v1.Green, 0)}},
			msg: "blue (rev-a) serves all traffic",
		},
		"a template change back to stable after a rollback": {
			prev: rolledBackB(),
			obs:  observe(5*minute, revA, dep(revB, 0, 0), routeTo(0)),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: revA, CurrentStep: 2,
				AbortReason: "bad"},
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
				ScaleDownAt: ts(90 * second), RequeueAfter: 30 * second},
			msg: "green (rev-b) serves all traffic",
		},
		"scaleDownDelay 0 scales the old color down in the promoting call": {
			spec: newSpec(func(s *v1.RolloutSpec) { s.ScaleDownDelay = dur(0) }),
			prev: flying(4, 100, 0),
			obs:  withChecks(observe(minute, revB, dep(revB, 4, 4), routeTo(100)), results(v1.CheckPassed, "0")),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: revB, CurrentStep: 4,
				Actions: []Action{scale(v1.Blue, 0)}},
		},
		"the old color keeps its pods until scaleDownAt": {
			prev: promotedB(),
			obs:  greenStable(70 * second),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: revB, CurrentStep: 4,
				ScaleDownAt: ts(90 * second), RequeueAfter: 20 * second},
		},
		"the old color is scaled to zero once scaleDownAt has passed": {
			prev: promotedB(),
			obs:  greenStable(90 * second),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: revB, CurrentStep: 4,
				Actions: []Action{scale(v1.Blue, 0)}},
		},
		"the old color keeps its pods past scaleDownAt while the routes still send it traffic": {
			prev: promotedB(),
			obs:  observe(90*second, revB, dep(revB, 4, 4), routeTo(90)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Green, StableRevision: revB, CurrentStep: 4,
				ScaleDownAt: ts(90 * second), Actions: []Action{setW(v1.Blue, 0)}},
			msg: "sending all traffic to green (rev-b)",
		},
		"a route carrying more canary weight than decided is set back at once": {
			prev:   flying(3, 50, 0),
			obs:    stepThree(30*second, 1, routeTo(80)),
			want:   atFifty(ts(30*second), 10*minute, setW(v1.Green, 50)),
			events: []string{"StepInterrupted"},
		},
		"a route carrying less canary weight is raised once the canary is ready": {
			prev:   flying(3, 50, 0),
			obs:    stepThree(30*second, 2, routeTo(10)),
			want:   atFifty(nil, 0, setW(v1.Green, 50)),
			events: []string{"StepInterrupted"},
		},
		"a route carrying less canary weight is not raised while the canary lacks pods": {
			prev:   flying(3, 50, 0),
			obs:    stepThree(30*second, 1, routeTo(10)),
			want:   atFifty(ts(30*second), 10*minute),
			events: []string{"StepInterrupted"},
		},
		"a repaired step starts its clock again once the routes carry it": {
			prev:   mod(flying(3, 50, 0), func(s *v1.RolloutStatus) { s.StepStartedAt = nil }),
			obs:    stepThree(40*second, 2, routeTo(50)),
			want:   mod2(atFifty(nil, minute), func(w *want) { w.StepStartedAt = mts(40 * second) }),
			events: []string{"StepStarted"},
		},
		"routes that disagree go to the stable color while the canary lacks pods": {
			prev: flying(3, 50, 0),
			obs:  stepThree(30*second, 1, Route{Rules: []Weights{{Blue: 50, Green: 50}, {Blue: 100, Green: 0}}}),
			// Any uniform weight above 0 raises the second rule, and the canary
			// lacks the pods for 50 %: only 0 lowers every rule.
			want:   atFifty(ts(30*second), 10*minute, setW(v1.Green, 0)),
			events: []string{"StepInterrupted"},
		},
		"routes that disagree get the decided weight when the canary is ready": {
			prev:   flying(3, 50, 0),
			obs:    stepThree(30*second, 2, Route{Rules: []Weights{{Blue: 50, Green: 50}, {Blue: 100, Green: 0}}}),
			want:   atFifty(nil, 0, setW(v1.Green, 50)),
			events: []string{"StepInterrupted"},
		},
		"route drift while healthy is set back, Progressing until the routes carry it": {
			prev: healthy(),
			obs:  observe(0, revA, Deployment{}, routeTo(30)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA,
				Actions: []Action{setW(v1.Green, 0)}},
			msg: "sending all traffic to blue (rev-a)",
		},
		// A problem in flight holds the rollout (Paused), it does not freeze it.
		"a spec problem holds the rollout in flight at its weight": {
			prev:     flying(2, 25, 0),
			obs:      withProblem(observe(30*second, revB, dep(revB, 2, 2), routeTo(25))),
			want:     held(mts(0), 30*second, 30*second),
			msg:      "held: " + problem,
			pausedBy: v1.ReasonInvalid,
		},
		"a spec problem in flight does not advance on passing checks": {
			prev:     flying(2, 25, 0),
			obs:      withChecks(withProblem(observe(minute, revB, dep(revB, 2, 2), routeTo(25))), results(v1.CheckPassed, "0")),
			want:     held(mts(0), minute, minute),
			pausedBy: v1.ReasonInvalid,
		},
		"a spec problem in flight still lowers a drifted route and restarts the step": {
			prev:     flying(2, 25, 0),
			obs:      withProblem(observe(30*second, revB, dep(revB, 2, 2), routeTo(60))),
			want:     held(nil, 30*second, 10*minute, setW(v1.Green, 25)),
			events:   []string{"StepInterrupted"},
			pausedBy: v1.ReasonInvalid,
		},
		"a spec problem in flight does not write the next step's weight": {
			prev:     pending(3, 25),
			obs:      withProblem(observe(30*second, revB, dep(revB, 4, 4), routeTo(25))),
			want:     mod2(held(nil, 30*second, 10*minute), func(w *want) { w.CurrentStep = 3 }),
			pausedBy: v1.ReasonInvalid,
		},
		"a problem that went away no longer holds": {
			prev: mod(flying(2, 25, 0), func(s *v1.RolloutStatus) { s.Phase, s.HeldSince = v1.PhasePaused, ts(10*second) }),
			obs:  observe(30*second, revB, dep(revB, 2, 2), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 25, StepStartedAt: mts(0), RequeueAfter: 30 * second},
		},
		"a spec problem with nothing in flight fails and moves nothing": {
			prev: healthy(),
			obs:  withProblem(observe(0, revA, dep(revB, 4, 4), routeTo(30))),
			want: frozen(healthy()),
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

// Invalid input shows as condition Valid False with the problem as its
// message. With nothing in flight the phase is Failed, its message the
// problem, and nothing moves; in flight the rollout is held (Paused, reason
// Invalid) at its weight and heldSince is set.
func TestNextInvalidCondition(t *testing.T) {
	cases := map[string]struct {
		mutate  func(*Observations)
		reason  string
		message string
	}{
		"spec problem": {func(o *Observations) { o.SpecProblems = []string{"spec.x: bad", "spec.y: bad"} },
			v1.ReasonInvalidSpec, "spec.x: bad"},
		"route problem": {func(o *Observations) { o.Route.Problem = "httpRoutes: shop not found" },
			v1.ReasonInvalidRoute, "httpRoutes: shop not found"},
		"foreign object": {func(o *Observations) {
			o.Problems = []Problem{{Reason: v1.ReasonForeignObject, Message: "Service shop-green exists and is not Ramp's"}}
		}, v1.ReasonForeignObject, "Service shop-green exists and is not Ramp's"},
		"refused object": {func(o *Observations) {
			o.Problems = []Problem{{Reason: v1.ReasonRefused, Message: "Deployment shop-green: spec.template: invalid"}}
		}, v1.ReasonRefused, "Deployment shop-green: spec.template: invalid"},
	}
	for name, tc := range cases {
		t.Run(name+" with nothing in flight", func(t *testing.T) {
			o := mod2(observe(minute, revB, Deployment{}, routeTo(0)), tc.mutate)
			o.Generation = 3
			d := Next(newSpec(), healthy(), o)
			c := condition(d, v1.ConditionValid)
			if c.Status != metav1.ConditionFalse || c.Reason != tc.reason || c.Message != tc.message || c.ObservedGeneration != 3 {
				t.Errorf("Valid = %s/%s %q (generation %d); want False/%s %q (generation 3)", c.Status, c.Reason, c.Message, c.ObservedGeneration, tc.reason, tc.message)
			}
			if d.Status.Phase != v1.PhaseFailed || d.Status.Message != tc.message {
				t.Errorf("phase %s %q, want Failed with the problem", d.Status.Phase, d.Status.Message)
			}
			if len(d.Actions) != 0 || d.RequeueAfter != 0 {
				t.Errorf("actions %+v, requeue %s; want none", d.Actions, d.RequeueAfter)
			}
			if s := condition(d, v1.ConditionStalled); s.Status != metav1.ConditionTrue {
				t.Errorf("Stalled = %s, want True", s.Status)
			}
		})
		t.Run(name+" in flight", func(t *testing.T) {
			o := mod2(observe(30*second, revB, dep(revB, 2, 2), routeTo(25)), tc.mutate)
			d := Next(newSpec(), flying(2, 25, 0), o)
			c := condition(d, v1.ConditionValid)
			if c.Status != metav1.ConditionFalse || c.Reason != tc.reason || c.Message != tc.message {
				t.Errorf("Valid = %s/%s %q; want False/%s %q", c.Status, c.Reason, c.Message, tc.reason, tc.message)
			}
			p := condition(d, v1.ConditionPaused)
			if d.Status.Phase != v1.PhasePaused || p.Status != metav1.ConditionTrue || p.Reason != v1.ReasonInvalid ||
				!strings.Contains(d.Status.Message, tc.message) {
				t.Errorf("phase %s %q, Paused %s/%s; want Paused, reason Invalid, naming the problem", d.Status.Phase, d.Status.Message, p.Status, p.Reason)
			}
			if h := d.Status.HeldSince; h == nil || !h.Time.Equal(t0.Add(30*second)) {
				t.Errorf("heldSince %v, want t0+30s", h)
			}
			if s := condition(d, v1.ConditionStalled); s.Status != metav1.ConditionFalse {
				t.Errorf("Stalled = %s, want False: a held rollout still rolls back by itself", s.Status)
			}
			for _, a := range d.Actions {
				if a.Kind != SetWeights || a.Weight != 25 {
					t.Errorf("action %+v while the route carries the step", a)
				}
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

// A Rollout without status whose color Deployments exist (re-created after
// an orphaning delete, or its status lost) adopts what serves: the color
// with most of the route's traffic, unless it has no ready pods and the
// other has some. It writes the route to that color only when it has ready
// pods, and scales nothing.
func TestNextAdoption(t *testing.T) {
	none := &v1.RolloutStatus{}
	world := func(blue, green Deployment, r Route) Observations {
		return Observations{Now: t0, Revision: revB, Generation: 1, Blue: blue, Green: green, Route: r}
	}
	adopted := func(c v1.Color, rev string, actions ...Action) want {
		return want{Phase: v1.PhaseProgressing, StableColor: c, StableRevision: rev, Actions: actions, RequeueAfter: MinRequeue}
	}
	runCases(t, map[string]nextCase{
		"green ready with the route at 0/100 is adopted as stable and not scaled": {
			prev:   none,
			obs:    world(Deployment{}, dep(revB, 4, 4), rt(0, 100)),
			want:   adopted(v1.Green, revB),
			msg:    "adopted green (rev-b)",
			events: []string{"Adopted"},
		},
		"of two colors the one with the traffic is adopted; the other keeps its pods": {
			prev:   none,
			obs:    world(dep(revA, 4, 4), dep(revB, 4, 4), rt(0, 100)),
			want:   adopted(v1.Green, revB),
			events: []string{"Adopted"},
		},
		"a color with the traffic but no ready pods loses to one with ready pods, which gets the traffic": {
			prev:   none,
			obs:    world(dep(revA, 4, 4), dep(revB, 4, 0), rt(0, 100)),
			want:   adopted(v1.Blue, revA, setW(v1.Green, 0)),
			events: []string{"Adopted"},
		},
		"an adopted color without ready pods gets no route write": {
			prev:   none,
			obs:    world(Deployment{}, dep(revB, 4, 0), rt(10, 90)),
			want:   adopted(v1.Green, revB),
			events: []string{"Adopted"},
		},
		"an adopted color with ready pods and a split route gets all the traffic": {
			prev:   none,
			obs:    world(dep(revA, 4, 4), dep(revB, 4, 4), rt(30, 70)),
			want:   adopted(v1.Green, revB, setW(v1.Blue, 0)),
			events: []string{"Adopted"},
		},
		"after adoption the template at the adopted revision is steady": {
			prev: mod(&v1.RolloutStatus{}, func(s *v1.RolloutStatus) {
				s.Phase, s.StableColor, s.StableRevision = v1.PhaseProgressing, v1.Green, revB
			}),
			obs:  world(Deployment{}, dep(revB, 4, 4), rt(0, 100)),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: revB},
			msg:  "green (rev-b) serves all traffic",
		},
		"no status and no Deployment is a first version, not an adoption": {
			prev: none,
			obs:  world(Deployment{}, Deployment{}, rt(0, 100)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revB,
				Actions: []Action{setW(v1.Green, 0), apply(v1.Blue, 4)}},
			noEvents: []string{"Adopted"},
		},
	})
}

// After a promotion with spec.postPromotion, a breach switches back to the
// old color, which is only ever scaled (never given the promoted template),
// in two phases like any rollback.
func TestNextSwitchBack(t *testing.T) {
	spec := newSpec(func(s *v1.RolloutSpec) {
		s.PostPromotion = &v1.PostPromotion{Hold: metav1.Duration{Duration: 10 * minute}}
	})
	watching := func() *v1.RolloutStatus { // revB promoted to green at t0, revA still on blue
		return mod(promotedB(), func(s *v1.RolloutStatus) {
			s.PreviousRevision, s.PostPromotionUntil, s.ScaleDownAt = revA, ts(10*minute), ts(10*minute)
			s.Analysis = &v1.AnalysisStatus{}
		})
	}
	failing := func(blue Deployment) Observations {
		o := withChecks(observe(2*minute, revB, dep(revB, 4, 4), rt(0, 100)), results(v1.CheckFailed, "1"))
		o.Blue = blue
		return o
	}
	reason := "after promotion: error-rate = 1: error-rate Failed"
	switchedBack := func(s *v1.RolloutStatus) {
		s.StableColor, s.StableRevision, s.CanaryRevision = v1.Blue, revA, revB
		s.PostPromotionUntil, s.ScaleDownAt, s.Phase, s.RollbackReason = nil, nil, v1.PhaseProgressing, reason
		s.Analysis.FailedChecks = 2
	}
	runCases(t, map[string]nextCase{
		"a breach in the watch switches the route back first": {
			spec: spec,
			prev: watching(),
			obs:  failing(dep(revA, 4, 4)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 4, FailedChecks: 2, RollbackReason: reason,
				Actions: []Action{rollbackW(v1.Green)}, RequeueAfter: second},
			msg:    "rolling back: " + reason,
			events: []string{"RolledBack"},
		},
		"the switch-back is RolledBack and scales the promoted color down once the route carries 0% to it": {
			spec: spec,
			prev: mod(watching(), switchedBack),
			obs:  mod2(observe(2*minute+second, revB, dep(revB, 4, 4), rt(100, 0))),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 4, FailedChecks: 2, Actions: []Action{scale(v1.Green, 0)}},
			msg: "rolled back: " + reason,
		},
		"a switch-back to an old color running another revision is impossible and touches nothing": {
			spec: spec,
			prev: watching(),
			obs:  failing(dep(revC, 4, 4)),
			// Nothing to switch back to: no check of the watch is scheduled,
			// only blue's scale-down.
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: revB, CurrentStep: 4,
				ScaleDownAt: ts(10 * minute), FailedChecks: 2, RequeueAfter: 8 * minute},
			events: []string{"SwitchBackImpossible"},
		},
	})

	// The old color without ready pods: it is scaled up (only scaled: its
	// template is the old revision's), and nothing else is written to it.
	for name, tc := range map[string]struct {
		blue    Deployment
		actions []Action
	}{
		"a switch-back with the old color scaled to zero scales it up, never applies it": {dep(revA, 0, 0), []Action{scale(v1.Blue, 4)}},
		"a switch-back with the old color's pods not ready writes nothing to it":         {dep(revA, 4, 0), nil},
	} {
		t.Run(name, func(t *testing.T) {
			d := Next(spec, watching(), failing(tc.blue))
			if !reflect.DeepEqual(d.Actions, tc.actions) && (len(d.Actions) != 0 || len(tc.actions) != 0) {
				t.Errorf("actions %+v, want %+v", d.Actions, tc.actions)
			}
			if d.Status.StableColor != v1.Green || d.Status.StableRevision != revB || d.Status.RollbackReason != "" || !hasEvent(d, "SwitchBackWaiting") {
				t.Errorf("stable %s (%s), rollback %q, events %+v; want green still stable, waiting to switch back", d.Status.StableColor, d.Status.StableRevision, d.Status.RollbackReason, d.Events)
			}
		})
	}
}

// Conditions follow kstatus: Ready only when the spec's revision serves all
// traffic, Reconciling while the Rollout is neither Ready nor Stalled (in
// flight, rolling back, waiting to start, pods coming up), Stalled
// when nothing moves without a person or a new revision. Every condition
// carries the Rollout's generation.
func TestNextConditions(t *testing.T) {
	type conds struct{ ready, reconciling, stalled metav1.ConditionStatus }
	T, F := metav1.ConditionTrue, metav1.ConditionFalse
	gen := func(o Observations) Observations { o.Generation = 7; return o }
	cases := map[string]struct {
		prev *v1.RolloutStatus
		obs  Observations
		want conds
	}{
		"healthy at the spec's revision": {healthy(), gen(observe(0, revA, Deployment{}, routeTo(0))), conds{T, F, F}},
		"in flight":                      {flying(2, 25, 0), gen(observe(30*second, revB, dep(revB, 2, 2), routeTo(25))), conds{F, T, F}},
		"rolling back":                   {rollingBackAt(2, "x"), gen(observe(30*second, revB, dep(revB, 2, 2), routeTo(25))), conds{F, T, F}},
		"rolled back":                    {rollingBackAt(2, "x"), gen(observe(30*second, revB, dep(revB, 2, 2), routeTo(0))), conds{F, F, T}},
		"a new revision waiting for a window": {healthy(), mod2(gen(observe(0, revB, Deployment{}, routeTo(0))),
			func(o *Observations) { o.WindowClosed = "deny window" }), conds{F, T, F}},
		// The stable color at the spec's revision with 2 of its 4 pods
		// ready (the first version coming up, a scale-up): not done yet.
		"healthy with pods not ready yet": {healthy(), mod2(gen(observe(0, revA, Deployment{}, routeTo(0))),
			func(o *Observations) { o.Blue = dep(revA, 4, 2) }), conds{F, T, F}},
		"invalid with nothing in flight": {healthy(), mod2(gen(observe(0, revA, Deployment{}, routeTo(0))),
			func(o *Observations) { o.SpecProblems = []string{"spec.x: bad"} }), conds{F, F, T}},
		"invalid in flight is held, not stalled": {flying(2, 25, 0), mod2(gen(observe(30*second, revB, dep(revB, 2, 2), routeTo(25))),
			func(o *Observations) { o.SpecProblems = []string{"spec.x: bad"} }), conds{F, T, F}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := Next(newSpec(), tc.prev, tc.obs)
			got := conds{condition(d, v1.ConditionReady).Status, condition(d, v1.ConditionReconciling).Status, condition(d, v1.ConditionStalled).Status}
			if got != tc.want {
				t.Errorf("Ready/Reconciling/Stalled = %v, want %v (phase %s: %s)", got, tc.want, d.Status.Phase, d.Status.Message)
			}
			for _, c := range d.Status.Conditions {
				if c.ObservedGeneration != 7 {
					t.Errorf("condition %s has observedGeneration %d, want 7", c.Type, c.ObservedGeneration)
				}
			}
		})
	}
}

func TestCanaryReplicas(t *testing.T) {
	n := intstr.FromInt32
	p := intstr.FromString
	cases := map[string]struct {
		replicas int32
		step     v1.Step
		want     int32
	}{
		"the weight alone":                          {10, v1.Step{Weight: 5}, 1},
		"a count above the weight's":                {10, v1.Step{Weight: 1, Replicas: ptr.To(n(3))}, 3},
		"a percentage of spec.replicas":             {10, v1.Step{Weight: 1, Replicas: ptr.To(p("50%"))}, 5},
		"a percentage rounds up":                    {3, v1.Step{Weight: 1, Replicas: ptr.To(p("50%"))}, 2},
		"never fewer than the weight needs":         {10, v1.Step{Weight: 80, Replicas: ptr.To(n(2))}, 8},
		"a weight 0 preview at full size":           {6, v1.Step{Weight: 0, Replicas: ptr.To(p("100%"))}, 6},
		"a weight 0 preview without replicas":       {6, v1.Step{Weight: 0}, 1},
		"a count is capped at the CRD's maximum":    {10, v1.Step{Weight: 1, Replicas: ptr.To(n(1 << 20))}, 10000},
		"a malformed percentage keeps the weight's": {10, v1.Step{Weight: 50, Replicas: ptr.To(p("half"))}, 5},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec := newSpec(func(s *v1.RolloutSpec) { s.Replicas = &tc.replicas })
			if got := CanaryReplicas(spec, tc.step); got != tc.want {
				t.Errorf("CanaryReplicas = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestStepReplicas walks a step whose canary scale is independent of its
// weight: the canary gets the step's pods, and the weight is set only once
// they are ready.
func TestStepReplicas(t *testing.T) {
	half := intstr.FromString("50%")
	spec := newSpec(withSteps(v1.Step{Weight: 1, Replicas: &half}, step(5), step(100)), func(s *v1.RolloutSpec) { *s.Replicas = 10 })
	d := Next(spec, healthy(), observe(0, revB, Deployment{}, routeTo(0)))
	if !slices.Contains(d.Actions, apply(v1.Green, 5)) {
		t.Fatalf("actions %v, want the canary applied with 5 pods (50%% of 10)", d.Actions)
	}
	d = Next(spec, &d.Status, observe(time.Second, revB, dep(revB, 5, 3), routeTo(0)))
	if slices.Contains(d.Actions, setW(v1.Green, 1)) || !strings.Contains(d.Status.Message, "3/5 ready") {
		t.Fatalf("actions %v, message %q: 1%% set before the step's 5 pods are ready", d.Actions, d.Status.Message)
	}
	d = Next(spec, &d.Status, observe(2*time.Second, revB, dep(revB, 5, 5), routeTo(0)))
	if !slices.Contains(d.Actions, setW(v1.Green, 1)) {
		t.Fatalf("actions %v, want 1%% once 5 pods are ready", d.Actions)
	}
}
