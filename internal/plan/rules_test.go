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
				Route: Route{Blue: 1, Green: 1, Uniform: true}}, // weights the user left unset
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA,
				Actions: []Action{setW(v1.Green, 0), apply(v1.Blue, 4)}},
			msg: "deploying the first version to blue",
		},
		"first version is Progressing until blue is ready": {
			prev: mod(healthy(), func(s *v1.RolloutStatus) { s.Phase = v1.PhaseProgressing }),
			obs:  mod2(observe(30*second, revA, Deployment{}, routeTo(0)), func(o *Observations) { o.Blue = dep(revA, 4, 3) }),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA,
				Actions: []Action{apply(v1.Blue, 4)}},
			msg: "waiting for blue pods: 3/4 ready",
		},
		"first version turns Healthy once blue is ready": {
			prev: mod(healthy(), func(s *v1.RolloutStatus) { s.Phase = v1.PhaseProgressing }),
			obs:  observe(time.Minute, revA, Deployment{}, routeTo(0)),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: revA,
				Actions: []Action{apply(v1.Blue, 4)}},
			msg: "blue (rev-a) serves all traffic",
		},
		"a new revision starts at step 0 and deploys the canary color": {
			prev: healthy(),
			obs:  observe(0, revB, Deployment{}, routeTo(0)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				WaitingForPodsSince: ts(0),
				Actions:             []Action{apply(v1.Green, 1)}, RequeueAfter: 10 * minute},
			msg: "waiting for green pods: 0/1 ready for 1%",
		},
		"step 0's weight is set once the canary is ready": {
			prev: mod(flying(0, 0, 0), func(s *v1.RolloutStatus) { s.StepStartedAt, s.WaitingForPodsSince = nil, ts(0) }),
			obs:  observe(30*second, revB, dep(revB, 1, 1), routeTo(0)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CanaryWeight: 1, StepStartedAt: mts(30 * second),
				Actions: []Action{setW(v1.Green, 1), apply(v1.Green, 1)}, RequeueAfter: minute},
			msg: "step 0/5: 1% to green",
		},
		"a step's weight waits for the ready pods it needs": {
			prev: checked(flying(3, 25, 0), v1.CheckPassed, 2*minute, "error-rate", "latency"),
			obs:  observe(2*minute, revB, dep(revB, 2, 1), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 25, StepStartedAt: mts(0), WaitingForPodsSince: ts(2 * minute),
				Actions: []Action{apply(v1.Green, 4)}, RequeueAfter: minute},
			msg: "waiting for green pods: 1/2 ready for 50%",
		},
		"waiting for pods asks to look again at the deadline": {
			spec: newSpec(withoutAnalysis),
			prev: mod(flying(3, 25, 0), func(s *v1.RolloutStatus) { s.WaitingForPodsSince = ts(2 * minute) }),
			obs:  observe(5*minute, revB, dep(revB, 2, 1), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 25, StepStartedAt: mts(0), WaitingForPodsSince: ts(2 * minute),
				Actions: []Action{apply(v1.Green, 4)}, RequeueAfter: 7 * minute},
		},
		"canary pods not ready within progressDeadline roll back": {
			prev: mod(flying(3, 25, 0), func(s *v1.RolloutStatus) { s.WaitingForPodsSince = ts(2 * minute) }),
			obs:  observe(12*minute, revB, dep(revB, 4, 1), routeTo(25)),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, Actions: []Action{rollbackW(v1.Green), scale(v1.Green, 0)}},
			msg: "canary pods not ready within progressDeadline 10m0s",
		},
		"a canary with no ready pods while carrying weight rolls back": {
			prev: flying(2, 25, 0),
			obs:  observe(30*second, revB, dep(revB, 2, 0), routeTo(25)),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, Actions: []Action{rollbackW(v1.Green), scale(v1.Green, 0)}},
			msg: "green has no ready pods at 25%",
		},
		"a canary whose status lags neither rolls back nor raises its weight": {
			prev: checked(mod(flying(3, 25, 0), func(s *v1.RolloutStatus) { s.WaitingForPodsSince = ts(2 * minute) }),
				v1.CheckPassed, 3*minute, "error-rate", "latency"),
			obs: observe(3*minute, revB, mod2(dep(revB, 4, 0), func(d *Deployment) { d.Generation = 2 }),
				routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 25, StepStartedAt: mts(0), WaitingForPodsSince: ts(2 * minute),
				Actions: []Action{apply(v1.Green, 4)}, RequeueAfter: minute},
		},
		"the last check passing sets the next step's weight in the same call": {
			prev: flying(2, 25, 0),
			obs:  withChecks(observe(minute, revB, dep(revB, 2, 2), routeTo(25)), results(v1.CheckPassed, "0.001")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 3, CanaryWeight: 50, StepStartedAt: mts(minute),
				Actions: []Action{setW(v1.Green, 50), apply(v1.Green, 4)}, RequeueAfter: minute},
			msg: "step 3/5: 50% to green",
		},
		"checks passed in an earlier call advance once the hold ends": {
			spec: newSpec(withSteps(step(10), held(50, 90*second), step(100))),
			prev: checked(flying(1, 50, 0), v1.CheckPassed, minute, "error-rate", "latency"),
			obs:  observe(90*second, revB, dep(revB, 4, 4), routeTo(50)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 100, StepStartedAt: mts(90 * second),
				Actions: []Action{setW(v1.Green, 100), apply(v1.Green, 4)}, RequeueAfter: minute},
		},
		"a hold not passed keeps the step until the next check": {
			spec: newSpec(withSteps(step(10), held(50, 150*second), step(100))),
			prev: flying(1, 50, 0),
			obs:  withChecks(observe(minute, revB, dep(revB, 4, 4), routeTo(50)), results(v1.CheckPassed, "0")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 1, CanaryWeight: 50, StepStartedAt: mts(0),
				Actions: []Action{apply(v1.Green, 4)}, RequeueAfter: minute},
		},
		"a hold not passed asks to look again at its end when that comes first": {
			spec: newSpec(withSteps(step(10), held(50, 90*second), step(100))),
			prev: flying(1, 50, 0),
			obs:  withChecks(observe(minute, revB, dep(revB, 4, 4), routeTo(50)), results(v1.CheckPassed, "0")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 1, CanaryWeight: 50, StepStartedAt: mts(0),
				Actions: []Action{apply(v1.Green, 4)}, RequeueAfter: 30 * second},
		},
		"a metric without a pass at this step keeps the step": {
			prev: checked(checked(flying(2, 25, 0), v1.CheckPassed, -30*second, "latency"), v1.CheckPassed, 90*second, "error-rate"),
			obs:  observe(100*second, revB, dep(revB, 2, 2), routeTo(25)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, CanaryWeight: 25, StepStartedAt: mts(0),
				Actions: []Action{apply(v1.Green, 2)}, RequeueAfter: 20 * second},
		},
		"without analysis a step advances on its hold alone": {
			spec: newSpec(withoutAnalysis),
			prev: flying(0, 1, 0),
			obs:  observe(minute, revB, dep(revB, 1, 1), routeTo(1)),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 1, CanaryWeight: 5, StepStartedAt: mts(minute),
				Actions: []Action{setW(v1.Green, 5), apply(v1.Green, 1)}, RequeueAfter: minute},
		},
	})
}
