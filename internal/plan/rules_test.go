package plan

import (
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

const (
	second = time.Second
	minute = time.Minute
)

// The rules of progress of DESIGN.md, one named case each. The spec is
// newSpec(): four replicas, steps 1, 5, 25, 50, 100 (canary pods 1, 1, 1, 2,
// 4), two metrics checked every minute, progressDeadline 10m.
func TestNextRulesOfProgress(t *testing.T) {
	runCases(t, map[string]nextCase{
		"first version deploys blue and sends it all traffic": {
			prev: &v1.RolloutStatus{},
			obs: Observations{Now: t0, Revision: revA,
				Route: rt(1, 1)}, // weights the user left unset
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA,
				Actions: []Action{setW(v1.Green, 0), apply(v1.Blue, 4)}},
			msg: "deploying the first version to blue",
		},
		"first version is Progressing until blue is ready": {
			prev: mod(healthy(), func(s *v1.RolloutStatus) { s.Phase = v1.PhaseProgressing }),
			obs:  mod2(observe(30*second, revA, Deployment{}, routeTo(0)), func(o *Observations) { o.Blue = dep(revA, 4, 3) }),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA},
			msg:  "waiting for blue pods: 3/4 ready",
		},
		"first version turns Healthy once blue is ready": {
			prev: mod(healthy(), func(s *v1.RolloutStatus) { s.Phase = v1.PhaseProgressing }),
			obs:  observe(time.Minute, revA, Deployment{}, routeTo(0)),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: revA},
			msg:  "blue (rev-a) serves all traffic",
		},
		"a new revision starts at step 0 and deploys the canary color": {
			prev: healthy(),
			obs:  observe(0, revB, Deployment{}, routeTo(0)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				WaitingForPodsSince: ts(0),
				Actions:             []Action{apply(v1.Green, 1)}, RequeueAfter: 10 * minute},
			msg: "waiting for green pods: 0/1 ready for 1%",
		},
		// A step's weight is written first and counts as in effect only once
		// the routes are observed carrying it: then its clock starts.
		"step 0's weight is written once the canary is ready": {
			prev: mod(pending(0, 0), func(s *v1.RolloutStatus) { s.WaitingForPodsSince = ts(0) }),
			obs:  observe(30*second, revB, dep(revB, 1, 1), routeTo(0)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				Actions: []Action{setW(v1.Green, 1)}},
			msg:      "step 0/5: 0% to green in effect, setting 1%",
			noEvents: []string{"StepStarted"},
		},
		"step 0 starts when the routes are observed carrying its weight": {
			prev: pending(0, 0),
			obs:  observe(31*second, revB, dep(revB, 1, 1), routeTo(1)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CanaryWeight: 1, StepStartedAt: mts(31 * second), RequeueAfter: minute},
			msg:    "step 0/5: 1% to green",
			events: []string{"StepStarted"},
		},
		"a step's weight waits for the ready pods it needs": {
			prev: checked(pending(3, 25), v1.CheckPassed, 2*minute, "error-rate", "latency"),
			obs:  observe(2*minute, revB, dep(revB, 2, 1), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 25, WaitingForPodsSince: ts(2 * minute),
				Actions: []Action{apply(v1.Green, 4)}, RequeueAfter: minute},
			msg: "waiting for green pods: 1/2 ready for 50%",
		},
		"waiting for pods asks to look again at the deadline": {
			spec: newSpec(withoutAnalysis),
			prev: mod(pending(3, 25), func(s *v1.RolloutStatus) { s.WaitingForPodsSince = ts(2 * minute) }),
			obs:  observe(5*minute, revB, dep(revB, 2, 1), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 25, WaitingForPodsSince: ts(2 * minute),
				Actions: []Action{apply(v1.Green, 4)}, RequeueAfter: 7 * minute},
		},
		// A rollback is two-phase: the route write first, the canary scaled
		// down once the routes are seen carrying 0 %.
		"canary pods not ready within progressDeadline roll back": {
			prev: mod(pending(3, 25), func(s *v1.RolloutStatus) { s.WaitingForPodsSince = ts(2 * minute) }),
			obs:  observe(12*minute, revB, dep(revB, 4, 1), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, RollbackReason: "canary pods not ready within progressDeadline 10m0s",
				Actions: []Action{rollbackW(v1.Green)}, RequeueAfter: second},
			msg:    "rolling back: canary pods not ready within progressDeadline 10m0s; waiting for the routes to carry 0% to green",
			events: []string{"RolledBack"},
		},
		"a rollback whose route does not carry 0% yet writes it again": {
			prev: rollingBackAt(3, "canary pods not ready within progressDeadline 10m0s"),
			obs:  observe(12*minute+second, revB, dep(revB, 4, 1), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, RollbackReason: "canary pods not ready within progressDeadline 10m0s",
				Actions: []Action{rollbackW(v1.Green)}, RequeueAfter: second},
			msg:      "rolling back: canary pods not ready",
			noEvents: []string{"RolledBack"},
		},
		"a rollback is RolledBack and scales the canary down once the routes carry 0%": {
			prev: rollingBackAt(3, "canary pods not ready within progressDeadline 10m0s"),
			obs:  observe(12*minute+second, revB, dep(revB, 4, 1), routeTo(0)),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, Actions: []Action{scale(v1.Green, 0)}},
			msg: "rolled back: canary pods not ready within progressDeadline 10m0s",
		},
		"a rollback whose routes carry 0% already is RolledBack in the deciding call": {
			prev: mod(pending(0, 0), func(s *v1.RolloutStatus) { s.WaitingForPodsSince = ts(0) }),
			obs:  observe(10*minute, revB, dep(revB, 1, 0), routeTo(0)),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				Actions: []Action{scale(v1.Green, 0)}},
			msg: "rolled back: canary pods not ready within progressDeadline 10m0s",
		},
		"a canary with no ready pods while carrying weight rolls back": {
			prev: flying(2, 25, 0),
			obs:  observe(30*second, revB, dep(revB, 2, 0), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, RollbackReason: "green has no ready pods at 25%",
				Actions: []Action{rollbackW(v1.Green)}, RequeueAfter: second},
			msg: "rolling back: green has no ready pods at 25%",
		},
		"a canary whose status lags neither rolls back nor raises its weight": {
			prev: checked(mod(pending(3, 25), func(s *v1.RolloutStatus) { s.WaitingForPodsSince = ts(2 * minute) }),
				v1.CheckPassed, 3*minute, "error-rate", "latency"),
			obs: observe(3*minute, revB, mod2(dep(revB, 4, 0), func(d *Deployment) { d.Generation = 2 }),
				routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 25, WaitingForPodsSince: ts(2 * minute), RequeueAfter: minute},
		},
		"the last check passing writes the next step's weight in the same call": {
			prev: flying(2, 25, 0),
			obs:  withChecks(observe(minute, revB, dep(revB, 2, 2), routeTo(25)), results(v1.CheckPassed, "0.001")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 25,
				Actions: []Action{setW(v1.Green, 50), apply(v1.Green, 4)}, RequeueAfter: minute},
			msg:      "step 3/5: 25% to green in effect, setting 50%",
			noEvents: []string{"StepStarted"},
		},
		"the next step starts once the routes are seen carrying its weight": {
			prev: checked(pending(3, 25), v1.CheckPassed, minute, "error-rate", "latency"),
			obs:  observe(minute+2*second, revB, dep(revB, 4, 2), routeTo(50)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 50, StepStartedAt: mts(minute + 2*second), RequeueAfter: minute},
			msg:    "step 3/5: 50% to green",
			events: []string{"StepStarted"},
		},
		"checks passed in an earlier call advance once the hold ends": {
			spec: newSpec(withSteps(step(10), held(50, 90*second), step(100))),
			prev: checked(flying(1, 50, 0), v1.CheckPassed, minute, "error-rate", "latency"),
			obs:  observe(90*second, revB, dep(revB, 4, 4), routeTo(50)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 50,
				Actions: []Action{setW(v1.Green, 100)}, RequeueAfter: 30 * second},
			msg: "step 2/3: 50% to green in effect, setting 100%",
		},
		"a hold not passed keeps the step until the next check": {
			spec: newSpec(withSteps(step(10), held(50, 150*second), step(100))),
			prev: flying(1, 50, 0),
			obs:  withChecks(observe(minute, revB, dep(revB, 4, 4), routeTo(50)), results(v1.CheckPassed, "0")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 1, CanaryWeight: 50, StepStartedAt: mts(0), RequeueAfter: minute},
		},
		"a hold not passed asks to look again at its end when that comes first": {
			spec: newSpec(withSteps(step(10), held(50, 90*second), step(100))),
			prev: flying(1, 50, 0),
			obs:  withChecks(observe(minute, revB, dep(revB, 4, 4), routeTo(50)), results(v1.CheckPassed, "0")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 1, CanaryWeight: 50, StepStartedAt: mts(0), RequeueAfter: 30 * second},
		},
		"a metric without a pass at this step keeps the step": {
			prev: checked(checked(flying(2, 25, 0), v1.CheckPassed, -30*second, "latency"), v1.CheckPassed, 90*second, "error-rate"),
			obs:  observe(100*second, revB, dep(revB, 2, 2), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 25, StepStartedAt: mts(0), RequeueAfter: 20 * second},
		},
		"without analysis a step advances on its hold alone": {
			spec: newSpec(withoutAnalysis),
			prev: flying(0, 1, 0),
			obs:  observe(minute, revB, dep(revB, 1, 1), routeTo(1)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 1, CanaryWeight: 1, Actions: []Action{setW(v1.Green, 5)}},
			msg: "step 1/5: 1% to green in effect, setting 5%",
		},
		"a deployment that is as planned is not written": {
			prev: flying(3, 50, 0),
			obs:  observe(30*second, revB, dep(revB, 4, 4), routeTo(50)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 50, StepStartedAt: mts(0), RequeueAfter: 30 * second},
		},
		"a canary with other replicas than planned is applied": {
			prev: flying(3, 50, 0),
			obs:  observe(30*second, revB, dep(revB, 3, 3), routeTo(50)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 50, StepStartedAt: mts(0),
				Actions: []Action{apply(v1.Green, 4)}, RequeueAfter: 30 * second},
		},
		"a stable color with other replicas is scaled, not applied": {
			prev: flying(3, 50, 0),
			obs:  mod2(observe(30*second, revB, dep(revB, 4, 4), routeTo(50)), func(o *Observations) { o.Blue = dep(revA, 2, 2) }),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 50, StepStartedAt: mts(0),
				Actions: []Action{scale(v1.Blue, 4)}, RequeueAfter: 30 * second},
		},
		"a check due now with none run asks to look again after MinRequeue": {
			prev: flying(2, 25, 0),
			obs:  observe(minute, revB, dep(revB, 2, 2), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 25, StepStartedAt: mts(0), RequeueAfter: MinRequeue},
		},
	})
}

// The closed loop: what a step does follows what the routes and the
// Deployments were observed carrying, not what an earlier reconcile wrote.
func TestNextClosedLoop(t *testing.T) {
	problem := "spec.analysis.metrics[0].query: parse error"
	withProblem := func(o Observations) Observations {
		o.SpecProblems = []string{problem}
		return o
	}
	rejected := func(r Route) Route {
		r.Rejected = "parent gateway/shop: Accepted=False (NotAllowedByListeners)"
		return r
	}
	gatedAt25 := newSpec(withSteps(step(10), gate(25), step(100)))

	runCases(t, map[string]nextCase{
		// (a) A written weight is not in effect until the routes carry it.
		"a written step weight whose route write did not take does not start the step": {
			prev: checked(pending(3, 25), v1.CheckPassed, minute, "error-rate", "latency"),
			obs:  observe(minute+second, revB, dep(revB, 4, 4), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 25, Actions: []Action{setW(v1.Green, 50)}, RequeueAfter: 59 * second},
			msg:      "25% to green in effect, setting 50%",
			noEvents: []string{"StepStarted"},
		},
		"a written last step whose route write did not take never promotes, however long it waits": {
			prev: checked(pending(4, 50), v1.CheckPassed, 3*time.Hour, "error-rate", "latency"),
			obs:  withChecks(observe(3*time.Hour+minute, revB, dep(revB, 4, 4), routeTo(50)), results(v1.CheckPassed, "0")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 4, CanaryWeight: 50, Actions: []Action{setW(v1.Green, 100)}, RequeueAfter: minute},
			noEvents: []string{"StepStarted", "Promoted"},
		},
		"without analysis a written step whose route write did not take never advances": {
			spec: newSpec(withoutAnalysis),
			prev: pending(2, 5),
			obs:  observe(5*time.Hour, revB, dep(revB, 2, 2), routeTo(5)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 5, Actions: []Action{setW(v1.Green, 25)}},
		},

		// (b) Routes that do not carry what is in effect are repaired.
		"a route at blue 0 / green 0 while healthy is repaired to 100/0": {
			prev: healthy(),
			obs:  observe(minute, revA, Deployment{}, rt(0, 0)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA,
				Actions: []Action{setW(v1.Green, 0)}},
			msg: "sending all traffic to blue (rev-a)",
		},
		"a route at blue 0 / green 25 at a gate is repaired to 75/25 and the step's clock restarts": {
			spec: gatedAt25,
			prev: checked(flying(1, 25, 0), v1.CheckPassed, 4*minute, "error-rate", "latency"),
			obs:  withChecks(observe(5*minute, revB, dep(revB, 4, 4), rt(0, 25)), results(v1.CheckPassed, "0")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 1, CanaryWeight: 25, Actions: []Action{setW(v1.Green, 25)}, RequeueAfter: minute},
			events: []string{"StepInterrupted"},
		},
		"the repaired gate step starts again once 75/25 is observed, its checks from before not counting": {
			spec: gatedAt25,
			prev: checked(pending(1, 25), v1.CheckPassed, 5*minute, "error-rate", "latency"),
			obs:  withAnn(observe(5*minute+second, revB, dep(revB, 4, 4), rt(75, 25)), v1.AnnotationPromote, "p1"),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 1, CanaryWeight: 25, StepStartedAt: mts(5*minute + second), GatePassed: true,
				RequeueAfter: minute},
			events: []string{"StepStarted", "GatePassed"},
		},

		// (c) A route a gateway rejects carries nothing.
		"a gateway rejecting the route holds the step, naming the parent": {
			prev:     flying(2, 25, 0),
			obs:      observe(30*second, revB, dep(revB, 2, 2), rejected(routeTo(25))),
			want:     want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, CurrentStep: 2, CanaryWeight: 25},
			msg:      "held: parent gateway/shop: Accepted=False",
			events:   []string{"StepInterrupted"},
			pausedBy: v1.ReasonRouteNotInEffect,
		},
		"a written step whose route a gateway rejects does not start": {
			prev:     pending(3, 25),
			obs:      observe(30*second, revB, dep(revB, 4, 4), rejected(routeTo(50))),
			want:     want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, CurrentStep: 3, CanaryWeight: 25},
			msg:      "parent gateway/shop",
			noEvents: []string{"StepStarted"},
			pausedBy: v1.ReasonRouteNotInEffect,
		},
		"a written step a gateway has not reported on yet does not start": {
			prev:     pending(3, 25),
			obs:      observe(30*second, revB, dep(revB, 4, 4), mod2(routeTo(50), func(r *Route) { r.Pending = "parent gateway/shop: generation 3 not observed yet" })),
			want:     want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, CurrentStep: 3, CanaryWeight: 25},
			msg:      "50% written: parent gateway/shop: generation 3 not observed yet",
			noEvents: []string{"StepStarted"},
		},
		"without a rejection the written step starts as usual": {
			prev: pending(3, 25),
			obs:  observe(30*second, revB, dep(revB, 4, 4), routeTo(50)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 50, StepStartedAt: mts(30 * second), RequeueAfter: minute},
			events: []string{"StepStarted"},
		},
		"without a rejection the step in effect goes on": {
			prev: flying(2, 25, 0),
			obs:  observe(30*second, revB, dep(revB, 2, 2), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 25, StepStartedAt: mts(0), RequeueAfter: 30 * second},
			noEvents: []string{"StepInterrupted"},
		},
		"a steady rollout whose route a gateway rejects is not Healthy": {
			prev: healthy(),
			obs:  observe(minute, revA, Deployment{}, rejected(routeTo(0))),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA},
			msg:  "not in effect: parent gateway/shop",
		},

		"a route problem in flight holds the rollout and stops the step's clock": {
			prev:     flying(2, 25, 0),
			obs:      observe(30*second, revB, dep(revB, 2, 2), mod2(routeTo(25), func(r *Route) { r.Problem = "httpRoute shop: rule 1 has no backendRef shop-green" })),
			want:     want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, CurrentStep: 2, CanaryWeight: 25, HeldSince: ts(30 * second), RequeueAfter: 10 * minute},
			msg:      "rule 1 has no backendRef shop-green",
			events:   []string{"StepInterrupted"},
			pausedBy: v1.ReasonInvalid,
		},

		// (d) A problem that appears in flight holds the rollout; everything
		// that rolls back still does.
		"a spec problem in flight still records checks: a failure within failureLimit counts": {
			spec: newSpec(withFailureLimit(1)),
			prev: flying(2, 25, 0),
			obs: withChecks(withProblem(observe(minute, revB, dep(revB, 2, 2), routeTo(25))),
				[]Check{check("error-rate", v1.CheckFailed, "0.05", "0.05 > max 0.01"), check("latency", v1.CheckPassed, "0", "")}),
			want: want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 25, StepStartedAt: mts(0), FailedChecks: 1, HeldSince: ts(minute),
				RequeueAfter: minute},
			msg:      "held: " + problem,
			events:   []string{"CheckFailed"},
			pausedBy: v1.ReasonInvalid,
		},
		"a spec problem in flight: a failed check rolls back": {
			prev: flying(2, 25, 0),
			obs: withChecks(withProblem(observe(minute, revB, dep(revB, 2, 2), routeTo(25))),
				[]Check{check("error-rate", v1.CheckFailed, "0.05", "0.05 > max 0.01"), check("latency", v1.CheckPassed, "0", "")}),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, FailedChecks: 1, RollbackReason: "error-rate = 0.05: 0.05 > max 0.01",
				Actions: []Action{rollbackW(v1.Green)}, RequeueAfter: second},
			msg: "rolling back: error-rate = 0.05",
		},
		"a spec problem in flight: an abort acts at once": {
			prev: flying(2, 25, 0),
			obs:  withAnn(withProblem(observe(30*second, revB, dep(revB, 2, 2), routeTo(25))), v1.AnnotationAbort, "stop"),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, AbortReason: "stop", RollbackReason: "aborted by ramp.dev/abort: stop",
				Actions: []Action{rollbackW(v1.Green)}, RequeueAfter: second},
			noEvents: []string{"ControlIgnored"},
		},
		"a spec problem in flight: a canary without ready pods rolls back": {
			prev: flying(2, 25, 0),
			obs:  withProblem(observe(30*second, revB, dep(revB, 2, 0), routeTo(25))),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, RollbackReason: "green has no ready pods at 25%",
				Actions: []Action{rollbackW(v1.Green)}, RequeueAfter: second},
		},
		"a spec problem in flight not yet past progressDeadline asks to look again at it": {
			prev: mod(checked(flying(2, 25, 0), v1.CheckPassed, 10*minute, "error-rate", "latency"),
				func(s *v1.RolloutStatus) { s.Phase, s.HeldSince = v1.PhasePaused, ts(50*second) }),
			obs: withProblem(observe(10*minute+30*second, revB, dep(revB, 2, 2), routeTo(25))),
			want: want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 25, StepStartedAt: mts(0), HeldSince: ts(50 * second),
				RequeueAfter: 20 * second},
			pausedBy: v1.ReasonInvalid,
		},
		"a spec problem in flight held past progressDeadline rolls back": {
			prev: mod(flying(2, 25, 0), func(s *v1.RolloutStatus) { s.Phase, s.HeldSince = v1.PhasePaused, ts(minute) }),
			obs:  withProblem(observe(11*minute, revB, dep(revB, 2, 2), routeTo(25))),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, RollbackReason: "held by a problem for longer than progressDeadline 10m0s: " + problem,
				Actions: []Action{rollbackW(v1.Green)}, RequeueAfter: second},
			msg: "rolling back: held by a problem",
		},
		"a spec problem in flight: a promote passes the gate, the problem still holds": {
			spec: newSpec(withSteps(step(10), gate(50), step(100))),
			prev: flying(1, 50, 0),
			obs: withAnn(withChecks(withProblem(observe(minute, revB, dep(revB, 4, 4), routeTo(50))), results(v1.CheckPassed, "0")),
				v1.AnnotationPromote, "p1"),
			want: want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 1, CanaryWeight: 50, StepStartedAt: mts(0), GatePassed: true, HeldSince: ts(minute),
				RequeueAfter: minute},
			events:   []string{"GatePassed"},
			noEvents: []string{"ControlIgnored"},
			pausedBy: v1.ReasonInvalid,
		},
		"a rollback under way goes on through a spec problem": {
			prev: rollingBackAt(2, "aborted by ramp.dev/abort: stop"),
			obs:  withProblem(observe(minute, revB, dep(revB, 2, 2), routeTo(0))),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, Actions: []Action{scale(v1.Green, 0)}},
			msg: "rolled back: aborted by ramp.dev/abort: stop",
		},

		// (g) A canary whose template was edited by hand runs something that
		// was not checked: it is applied again and its step starts over.
		"a hand-edited canary is applied again and its step's clock stops": {
			prev: flying(2, 25, 0),
			obs:  observe(30*second, revB, mod2(dep(revB, 2, 2), func(d *Deployment) { d.Drifted = true }), routeTo(25)),
			want: want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 25, Actions: []Action{apply(v1.Green, 2)}},
			msg:    "template was edited",
			events: []string{"StepInterrupted"},
		},
		"the repaired canary's step starts again once it is no longer drifted": {
			prev: mod(pending(2, 25), func(s *v1.RolloutStatus) { s.WaitingForPodsSince = ts(30 * second) }),
			obs:  observe(50*second, revB, dep(revB, 2, 2), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 25, StepStartedAt: mts(50 * second), RequeueAfter: minute},
			events: []string{"StepStarted"},
		},
		"a hand-edited stable color is applied again while steady": {
			prev: healthy(),
			obs:  mod2(observe(minute, revA, Deployment{}, routeTo(0)), func(o *Observations) { o.Blue.Drifted = true }),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: revA,
				Actions: []Action{apply(v1.Blue, 4)}},
		},
	})
}
