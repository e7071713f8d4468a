package plan

import (
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func check(metric string, phase v1.CheckPhase, value, msg string) Check {
	return Check{Metric: metric, Phase: phase, Value: value, Message: msg}
}

// One check per metric at step 2 (25 %, one canary pod needed, two ready).
func atStep2(d time.Duration, cs ...Check) Observations {
	return withChecks(observe(d, revB, dep(revB, 2, 2), routeTo(25)), cs)
}

func failed(n int32) func(*v1.RolloutStatus) {
	return func(s *v1.RolloutStatus) { s.Analysis.FailedChecks = n }
}

func errorSince(d time.Duration) func(*v1.RolloutStatus) {
	return func(s *v1.RolloutStatus) { s.Analysis.ErrorSince = ts(d) }
}

// Check results: Failed beyond failureLimit rolls back; Inconclusive and
// Error hold (phase Paused) and never count as failed; Error past
// progressDeadline rolls back. A rollback writes 0 % canary first and stays
// Progressing until the routes are seen carrying it (see the rules of
// progress); the observed route here still carries the step's weight.
func TestNextCheckResults(t *testing.T) {
	passed := check("latency", v1.CheckPassed, "0.1", "")
	rolledBack := func(step, failedChecks int32, errSince *time.Duration, reason string) want {
		w := want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
			CurrentStep: step, FailedChecks: failedChecks, RollbackReason: reason,
			Actions: []Action{rollbackW(v1.Green)}, RequeueAfter: second}
		if errSince != nil {
			w.ErrorSince = ts(*errSince)
		}
		return w
	}
	atWeight := func(phase v1.Phase, step, weight int32, started time.Duration, failedChecks int32, actions ...Action) want {
		return want{Phase: phase, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
			CurrentStep: step, CanaryWeight: weight, StepStartedAt: mts(started), FailedChecks: failedChecks,
			Actions: actions, RequeueAfter: minute}
	}
	oneMinute, ninetySeconds := minute, 90*second

	runCases(t, map[string]nextCase{
		"a failed check with failureLimit 0 rolls back at once, naming metric and value": {
			prev: flying(2, 25, 0),
			obs:  atStep2(minute, check("error-rate", v1.CheckFailed, "0.05", "0.05 > max 0.01"), passed),
			want: rolledBack(2, 1, nil, "error-rate = 0.05: 0.05 > max 0.01"),
			msg:  "rolling back: error-rate = 0.05: 0.05 > max 0.01",
		},
		"failureLimit 1: the first failure holds the step": {
			spec: newSpec(withFailureLimit(1)),
			prev: flying(2, 25, 0),
			obs:  atStep2(minute, check("error-rate", v1.CheckFailed, "0.05", "0.05 > max 0.01"), passed),
			want: atWeight(v1.PhaseProgressing, 2, 25, 0, 1),
		},
		"failureLimit 1: the second failure rolls back": {
			spec: newSpec(withFailureLimit(1)),
			prev: mod(flying(2, 25, 0), failed(1)),
			obs:  atStep2(minute, check("error-rate", v1.CheckFailed, "0.05", "0.05 > max 0.01"), passed),
			want: rolledBack(2, 2, nil, "error-rate = 0.05: 0.05 > max 0.01"),
			msg:  "error-rate = 0.05",
		},
		"failureLimit 1: a pass after the tolerated failure advances": {
			spec: newSpec(withFailureLimit(1)),
			prev: mod(checked(flying(2, 25, 0), v1.CheckFailed, minute, "error-rate"), failed(1)),
			obs:  atStep2(2*minute, check("error-rate", v1.CheckPassed, "0", ""), passed),
			want: mod2(atWeight(v1.PhaseProgressing, 3, 25, 0, 1, setW(v1.Green, 50), apply(v1.Green, 4)),
				func(w *want) { w.StepStartedAt = nil }), // 50 % is in effect once observed
			msg: "setting 50%",
		},
		"an inconclusive check holds with phase Paused and the reason, counting no failure": {
			prev:     flying(2, 25, 0),
			obs:      atStep2(minute, check("error-rate", v1.CheckInconclusive, "", "no data"), passed),
			want:     atWeight(v1.PhasePaused, 2, 25, 0, 0),
			msg:      "held: error-rate Inconclusive: no data",
			pausedBy: v1.ReasonChecksUndecided,
		},
		"an error check holds with phase Paused and the reason, counting no failure": {
			prev: flying(2, 25, 0),
			obs:  atStep2(minute, check("error-rate", v1.CheckError, "", "prometheus unreachable"), passed),
			want: mod2(atWeight(v1.PhasePaused, 2, 25, 0, 0),
				func(w *want) { w.ErrorSince = ts(minute) }),
			msg:      "held: error-rate Error: prometheus unreachable",
			pausedBy: v1.ReasonChecksUndecided,
		},
		"an error not yet past progressDeadline asks to look again at the deadline": {
			prev: mod(checked(flying(2, 25, 0), v1.CheckError, 11*minute, "error-rate", "latency"), errorSince(90*second)),
			obs:  atStep2(11*minute + 10*second),
			want: mod2(atWeight(v1.PhasePaused, 2, 25, 0, 0),
				func(w *want) { w.ErrorSince, w.RequeueAfter = ts(90*second), 20*second }),
		},
		"an error lasting past progressDeadline rolls back": {
			prev: mod(checked(flying(2, 25, 0), v1.CheckError, 10*minute, "error-rate", "latency"), errorSince(minute)),
			obs:  atStep2(11*minute, check("error-rate", v1.CheckError, "", "timeout"), passed),
			want: rolledBack(2, 0, &oneMinute, "checks answered Error for longer than progressDeadline 10m0s"),
			msg:  "checks answered Error for longer than progressDeadline 10m0s",
		},
		"an error past progressDeadline rolls back without a check in this call": {
			prev: mod(checked(flying(2, 25, 0), v1.CheckError, 11*minute, "error-rate"), errorSince(90*second)),
			obs:  atStep2(11*minute + 30*second),
			want: rolledBack(2, 0, &ninetySeconds, "checks answered Error for longer than progressDeadline 10m0s"),
		},
		"a pass after errors clears errorSince and advances": {
			prev: mod(checked(flying(2, 25, 0), v1.CheckError, minute, "error-rate", "latency"), errorSince(minute)),
			obs:  atStep2(2*minute, check("error-rate", v1.CheckPassed, "0", ""), passed),
			want: mod2(atWeight(v1.PhaseProgressing, 3, 25, 0, 0, setW(v1.Green, 50), apply(v1.Green, 4)),
				func(w *want) { w.StepStartedAt = nil }),
			msg: "setting 50%",
		},
		"inconclusive long past progressDeadline still holds": {
			prev: checked(flying(2, 25, 0), v1.CheckInconclusive, 29*minute, "error-rate", "latency"),
			obs:  atStep2(30*minute, check("error-rate", v1.CheckInconclusive, "", "no data"), passed),
			want: atWeight(v1.PhasePaused, 2, 25, 0, 0),
			msg:  "no data",
		},
	})
}

// Checks are due on the grid stepStartedAt + k*interval, also after a
// controller downtime, and only while a weight is in effect.
func TestNextCheckAt(t *testing.T) {
	lastCheck := func(st *v1.RolloutStatus, d time.Duration) *v1.RolloutStatus {
		st.Analysis.LastCheckAt = mts(d)
		return st
	}
	rolledBack := mod(flying(2, 25, 0), func(s *v1.RolloutStatus) { s.Phase = v1.PhaseRolledBack })
	cases := map[string]struct {
		spec    *v1.RolloutSpec
		st      *v1.RolloutStatus
		now     time.Duration
		next    time.Duration
		planned bool
		due     bool
	}{
		"one interval after the weight took effect": {st: flying(2, 25, 0), now: 59 * second, next: minute, planned: true},
		"due when the interval has passed":          {st: flying(2, 25, 0), now: minute, next: minute, planned: true, due: true},
		"a check of the step before counts not":     {st: lastCheck(flying(2, 25, 3*minute), 2*minute), now: 3 * minute, next: 4 * minute, planned: true},
		"the step started in the call that checked": {st: lastCheck(flying(2, 25, 3*minute), 3*minute), now: 3 * minute, next: 4 * minute, planned: true},
		"on the grid after a check":                 {st: lastCheck(flying(2, 25, 0), minute), now: 90 * second, next: 2 * minute, planned: true},
		"a late check keeps the grid":               {st: lastCheck(flying(2, 25, 0), 80*second), now: 90 * second, next: 2 * minute, planned: true},
		"after a controller downtime: due at once":  {st: lastCheck(flying(2, 25, 0), minute), now: 5*minute + 30*second, next: 2 * minute, planned: true, due: true},
		"after the downtime's check: back on grid":  {st: lastCheck(flying(2, 25, 0), 5*minute+30*second), now: 5*minute + 31*second, next: 6 * minute, planned: true},
		"the interval of the spec": {spec: newSpec(func(s *v1.RolloutSpec) { s.Analysis.Interval = dur(30 * second) }),
			st: lastCheck(flying(2, 25, 0), 70*second), now: 80 * second, next: 90 * second, planned: true},
		"no weight in effect yet": {st: mod(flying(0, 0, 0), func(s *v1.RolloutStatus) { s.StepStartedAt = nil })},
		"nothing in flight":       {st: healthy()},
		"rolled back":             {st: rolledBack},
		"no analysis":             {spec: newSpec(withoutAnalysis), st: flying(2, 25, 0)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec := tc.spec
			if spec == nil {
				spec = newSpec()
			}
			at, ok := NextCheckAt(spec, tc.st)
			if ok != tc.planned || (ok && !at.Equal(t0.Add(tc.next))) {
				t.Errorf("NextCheckAt = t0+%s, %v; want t0+%s, %v", at.Sub(t0), ok, tc.next, tc.planned)
			}
			if due := ChecksDue(spec, tc.st, t0.Add(tc.now)); due != tc.due {
				t.Errorf("ChecksDue at t0+%s = %v, want %v", tc.now, due, tc.due)
			}
		})
	}
}
