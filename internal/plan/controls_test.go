package plan

import (
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// rolledBackB is revB rolled back at step 2 by ramp.dev/abort "bad".
func rolledBackB() *v1.RolloutStatus {
	return mod(flying(2, 0, 0), func(s *v1.RolloutStatus) {
		s.Phase, s.StepStartedAt, s.AbortReason, s.Controls.Abort = v1.PhaseRolledBack, nil, "bad", "bad"
	})
}

// The SRE controls: ramp.dev/pause, promote, promote-full, abort and retry.
func TestNextControls(t *testing.T) {
	gated := newSpec(withSteps(step(10), gate(50), step(100)))
	atGate := func(d time.Duration) Observations { // checks of the gate step (50 %) pass
		return withChecks(observe(d, revB, dep(revB, 4, 4), routeTo(50)), results(v1.CheckPassed, "0"))
	}
	inFlight := func(phase v1.Phase, step, weight int32, started time.Duration, requeue time.Duration, actions ...Action) want {
		return want{Phase: phase, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
			CurrentStep: step, CanaryWeight: weight, StepStartedAt: mts(started), Actions: actions, RequeueAfter: requeue}
	}
	passing := func(d time.Duration) Observations { return atStep2(d, results(v1.CheckPassed, "0")...) }
	// A rollback writes 0 % canary first; the canary is scaled down once the
	// routes are seen carrying it (the routes here still carry the step).
	rollingBack := func(step int32, reason string, failedChecks int32) want {
		return want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
			CurrentStep: step, FailedChecks: failedChecks, RollbackReason: reason,
			Actions: []Action{rollbackW(v1.Green)}, RequeueAfter: second}
	}

	runCases(t, map[string]nextCase{
		"pause holds the weight when the step would advance": {
			prev:     flying(2, 25, 0),
			obs:      withAnn(passing(minute), v1.AnnotationPause, "true"),
			want:     inFlight(v1.PhasePaused, 2, 25, 0, minute),
			msg:      "held: paused by ramp.dev/pause",
			pausedBy: v1.ReasonPausedByAnnotation,
		},
		"pause holds a step's weight that is not set yet": {
			prev: checked(pending(3, 25), v1.CheckPassed, 2*minute, "error-rate", "latency"),
			obs:  withAnn(observe(2*minute, revB, dep(revB, 2, 2), routeTo(25)), v1.AnnotationPause, "true"),
			want: mod2(inFlight(v1.PhasePaused, 3, 25, 0, minute, apply(v1.Green, 4)),
				func(w *want) { w.StepStartedAt = nil }),
			msg:      "paused by ramp.dev/pause",
			pausedBy: v1.ReasonPausedByAnnotation,
		},
		"pause \"false\" does not hold": {
			prev: flying(2, 25, 0),
			obs:  withAnn(passing(minute), v1.AnnotationPause, "false"),
			want: mod2(inFlight(v1.PhaseProgressing, 3, 25, 0, minute, setW(v1.Green, 50), apply(v1.Green, 4)),
				func(w *want) { w.StepStartedAt = nil }),
			msg: "setting 50%",
		},
		"a breach rolls back while paused": {
			prev: flying(2, 25, 0),
			obs:  withAnn(atStep2(minute, results(v1.CheckFailed, "0.5")...), v1.AnnotationPause, "true"),
			want: rollingBack(2, "error-rate = 0.5: error-rate Failed", 2),
			msg:  "rolling back: error-rate = 0.5",
		},
		"a gate waits after the hold, naming ramp.dev/promote": {
			spec:     gated,
			prev:     flying(1, 50, 0),
			obs:      atGate(minute),
			want:     inFlight(v1.PhasePaused, 1, 50, 0, minute),
			msg:      "step 1 waits for ramp.dev/promote",
			pausedBy: v1.ReasonGate,
		},
		"a gate is no reason to hold during the hold": {
			spec: gated,
			prev: flying(1, 50, 0),
			obs:  observe(30*second, revB, dep(revB, 4, 4), routeTo(50)),
			want: inFlight(v1.PhaseProgressing, 1, 50, 0, 30*second),
		},
		"a new promote value passes the gate": {
			spec: gated,
			prev: flying(1, 50, 0),
			obs:  withAnn(atGate(minute), v1.AnnotationPromote, "p1"),
			want: mod2(inFlight(v1.PhaseProgressing, 2, 50, 0, minute, setW(v1.Green, 100)),
				func(w *want) { w.StepStartedAt = nil }),
			msg:    "setting 100%",
			events: []string{"GatePassed"},
		},
		"a promote value acted on already does not pass the gate": {
			spec: gated,
			prev: mod(flying(1, 50, 0), func(s *v1.RolloutStatus) { s.Controls.Promote = "p1" }),
			obs:  withAnn(atGate(minute), v1.AnnotationPromote, "p1"),
			want: inFlight(v1.PhasePaused, 1, 50, 0, minute),
			msg:  "waits for ramp.dev/promote",
		},
		"promote-full jumps to the last step and writes 100%": {
			prev: flying(1, 5, 0),
			obs:  withAnn(observe(30*second, revB, dep(revB, 4, 4), routeTo(5)), v1.AnnotationPromoteFull, "now"),
			want: mod2(inFlight(v1.PhaseProgressing, 4, 5, 0, 0, setW(v1.Green, 100)),
				func(w *want) { w.StepStartedAt = nil }),
			msg:    "step 4/5: 5% to green in effect, setting 100%",
			events: []string{"PromoteFull"},
		},
		"promote-full promotes once 100% is in effect": {
			prev: mod(pending(4, 5), func(s *v1.RolloutStatus) { s.PromoteFull, s.Controls.PromoteFull = true, "now" }),
			obs:  withAnn(observe(31*second, revB, dep(revB, 4, 4), routeTo(100)), v1.AnnotationPromoteFull, "now"),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: revB, CurrentStep: 4,
				ScaleDownAt: ts(61 * second), RequeueAfter: 30 * second},
			msg:    "green (rev-b) serves all traffic",
			events: []string{"StepStarted", "Promoted"},
		},
		"promote-full waits for the pods that 100% needs": {
			prev: flying(1, 5, 0),
			obs:  withAnn(observe(30*second, revB, dep(revB, 2, 2), routeTo(5)), v1.AnnotationPromoteFull, "now"),
			want: mod2(inFlight(v1.PhaseProgressing, 4, 5, 0, 10*minute, apply(v1.Green, 4)),
				func(w *want) { w.StepStartedAt, w.WaitingForPodsSince = nil, ts(30*second) }),
			msg: "waiting for green pods: 2/4 ready for 100%",
		},
		"abort rolls back and keeps the reason": {
			prev: flying(2, 25, 0),
			obs:  withAnn(observe(30*second, revB, dep(revB, 2, 2), routeTo(25)), v1.AnnotationAbort, "latency regression"),
			want: mod2(rollingBack(2, "aborted by ramp.dev/abort: latency regression", 0),
				func(w *want) { w.AbortReason = "latency regression" }),
			msg: "rolling back: aborted by ramp.dev/abort: latency regression",
		},
		"an abort value acted on already does nothing": {
			prev: mod(flying(2, 25, 0), func(s *v1.RolloutStatus) { s.Controls.Abort = "latency regression" }),
			obs:  withAnn(observe(30*second, revB, dep(revB, 2, 2), routeTo(25)), v1.AnnotationAbort, "latency regression"),
			want: inFlight(v1.PhaseProgressing, 2, 25, 0, 30*second),
		},
		"retry restarts a rolled-back revision at step 0 (the old abort value stays spent)": {
			prev: rolledBackB(),
			obs: withAnn(observe(5*minute, revB, dep(revB, 0, 0), routeTo(0)),
				v1.AnnotationRetry, "r1", v1.AnnotationAbort, "bad"),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				WaitingForPodsSince: ts(5 * minute), Actions: []Action{apply(v1.Green, 1)}, RequeueAfter: 10 * minute},
		},
		"without retry a rolled-back revision stays off traffic": {
			prev: rolledBackB(),
			obs:  observe(5*minute, revB, dep(revB, 2, 2), routeTo(10)),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, AbortReason: "bad", Actions: []Action{rollbackW(v1.Green)}},
		},
		"a rolled-back canary is scaled down once the routes carry 0% to it": {
			prev: rolledBackB(),
			obs:  observe(5*minute, revB, dep(revB, 2, 2), routeTo(0)),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, AbortReason: "bad", Actions: []Action{scale(v1.Green, 0)}},
		},
		"a retry value acted on already does nothing": {
			prev: mod(rolledBackB(), func(s *v1.RolloutStatus) { s.Controls.Retry = "r1" }),
			obs:  withAnn(observe(5*minute, revB, dep(revB, 0, 0), routeTo(0)), v1.AnnotationRetry, "r1"),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				CurrentStep: 2, AbortReason: "bad"},
		},
		"controls while nothing is in flight are spent and ignored": {
			prev: healthy(),
			obs: withAnn(observe(0, revA, Deployment{}, routeTo(0)),
				v1.AnnotationAbort, "x", v1.AnnotationRetry, "y", v1.AnnotationPromote, "z"),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: revA},
		},
	})
}

// Each one-shot value is recorded in status.controls when it is seen, so that
// it acts once, also across restarts.
func TestNextRecordsControlValues(t *testing.T) {
	o := withAnn(observe(30*second, revB, dep(revB, 2, 2), routeTo(25)),
		v1.AnnotationPromote, "p", v1.AnnotationPromoteFull, "", v1.AnnotationRetry, "r")
	d := Next(newSpec(), flying(2, 25, 0), o)
	// An empty value acts once too; it is recorded as "(empty)".
	want := v1.ControlsStatus{Promote: "p", PromoteFull: emptyValue, Retry: "r"}
	if d.Status.Controls == nil || *d.Status.Controls != want {
		t.Fatalf("controls = %+v, want %+v", d.Status.Controls, want)
	}
	ignored := 0
	for _, e := range d.Events {
		if e.Reason == "ControlIgnored" && e.Warning {
			ignored++
		}
	}
	if ignored != 2 {
		t.Errorf("%d ControlIgnored warnings, want 2 (promote without a gate, retry in flight): %+v", ignored, d.Events)
	}
}
