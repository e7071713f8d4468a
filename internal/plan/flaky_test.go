package plan

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// run feeds Next one error-rate result a minute (latency passes) from a
// canary at 25 % on step 2, and returns the decisions.
func run(spec *v1.RolloutSpec, results ...Check) []Decision {
	st := flying(2, 25, 0)
	var out []Decision
	for i, c := range results {
		c.Metric = "error-rate"
		d := Next(spec, st, atStep2(time.Duration(i+1)*minute, c, check("latency", v1.CheckPassed, "0.001", "")))
		out = append(out, d)
		st = &d.Status
		if st.RollbackReason != "" || st.CurrentStep != 2 {
			break
		}
	}
	return out
}

func withMetric(change func(*v1.Metric)) func(*v1.RolloutSpec) {
	return func(s *v1.RolloutSpec) { change(&s.Analysis.Metrics[0]) }
}

var (
	bad   = check("", v1.CheckFailed, "0.05", "0.05 > max 0.01")
	good  = check("", v1.CheckPassed, "0", "0 <= max 0.01")
	empty = check("", v1.CheckInconclusive, "", "no data: empty vector (noData: hold)")
	down  = check("", v1.CheckError, "", "query: connection refused")
)

// consecutiveFailures: only N failed checks in a row roll back; a pass in
// between starts the count again; the failures that do not count hold the
// step and say so.
func TestConsecutiveFailures(t *testing.T) {
	three := newSpec(withMetric(func(m *v1.Metric) { m.ConsecutiveFailures = 3 }))

	ds := run(three, bad, bad, bad)
	if last := ds[len(ds)-1].Status; len(ds) != 3 || last.RollbackReason != "error-rate = 0.05: 0.05 > max 0.01" || last.Analysis.FailedChecks != 1 {
		t.Fatalf("three failures in a row: after %d checks rollback %q, failed checks %d; want a rollback at the third", len(ds), last.RollbackReason, last.Analysis.FailedChecks)
	}
	for i, d := range ds[:2] {
		st := d.Status
		if st.Phase != v1.PhasePaused || st.Analysis.FailedChecks != 0 || !strings.Contains(st.Message, "error-rate Failed") || !strings.Contains(st.Message, " of 3 in a row") {
			t.Errorf("failure %d: phase %s, failed checks %d, message %q; want held, counting nothing, saying %d of 3", i+1, st.Phase, st.Analysis.FailedChecks, st.Message, i+1)
		}
	}

	// A long step, so that the pass does not end it.
	long := newSpec(withMetric(func(m *v1.Metric) { m.ConsecutiveFailures = 3 }),
		withSteps(step(1), step(5), held(25, time.Hour), step(50), step(100)))
	ds = run(long, bad, bad, good, bad, bad)
	for i, d := range ds {
		if d.Status.RollbackReason != "" || d.Status.Analysis.FailedChecks != 0 {
			t.Errorf("flaky, check %d: rollback %q, failed checks %d; want neither", i+1, d.Status.RollbackReason, d.Status.Analysis.FailedChecks)
		}
	}
	if ms := metricStatus(ds[len(ds)-1].Status.Analysis, "error-rate"); ms.FailuresInARow != 2 {
		t.Errorf("failures in a row = %d, want 2 (the pass reset the count)", ms.FailuresInARow)
	}

	// The default counts every failure, as before.
	if ds := run(newSpec(), bad); ds[0].Status.RollbackReason == "" {
		t.Error("consecutiveFailures unset: one failure did not roll back")
	}
}

// Inconclusive is bounded: after inconclusiveLimit.after (the progress
// deadline without one) the check is judged as the limit's then says;
// Errors in between do not restart the clock, a decided check does.
func TestInconclusiveLimit(t *testing.T) {
	failAfter5 := newSpec(withMetric(func(m *v1.Metric) {
		m.InconclusiveLimit = &v1.InconclusiveLimit{After: *dur(5 * minute), Then: v1.InconclusiveFail}
		m.ConsecutiveFailures = 3 // the limit's failure counts at once
	}))
	ds := run(failAfter5, empty, empty, down, empty, empty, empty, empty)
	last := ds[len(ds)-1].Status
	if len(ds) != 6 || !strings.Contains(last.RollbackReason, "Inconclusive for 5m0s (inconclusiveLimit: fail)") {
		t.Fatalf("after %d checks rollback %q; want a rollback at the 6th check, 5 min after the first Inconclusive", len(ds), last.RollbackReason)
	}
	for i, d := range ds[:5] {
		if d.Status.RollbackReason != "" || d.Status.Phase != v1.PhasePaused {
			t.Errorf("check %d: phase %s rollback %q, want held", i+1, d.Status.Phase, d.Status.RollbackReason)
		}
	}

	passAfter2 := newSpec(withMetric(func(m *v1.Metric) {
		m.InconclusiveLimit = &v1.InconclusiveLimit{After: *dur(2 * minute), Then: v1.InconclusivePass}
	}))
	ds = run(passAfter2, empty, empty, empty)
	if last := ds[len(ds)-1].Status; last.RollbackReason != "" || last.CurrentStep != 3 {
		t.Errorf("then: pass: step %d rollback %q, want the step passed at the third check", last.CurrentStep, last.RollbackReason)
	}

	// A decided check restarts the clock.
	failAfter5.Steps = []v1.Step{step(1), step(5), held(25, time.Hour), step(50), step(100)}
	ds = run(failAfter5, empty, empty, empty, empty, bad, empty, empty, empty, empty)
	for i, d := range ds {
		if d.Status.RollbackReason != "" {
			t.Errorf("check %d rolled back (%q): the Failed check at 5 min restarted the clock", i+1, d.Status.RollbackReason)
		}
	}

	// Without a limit: the progress deadline (10 min here), then fail.
	results := make([]Check, 12)
	for i := range results {
		results[i] = empty
	}
	ds = run(newSpec(), results...)
	if len(ds) != 11 || !strings.Contains(ds[len(ds)-1].Status.RollbackReason, "Inconclusive for 10m0s") {
		t.Errorf("default limit: after %d checks rollback %q, want one at the 11th (10 min after the first)", len(ds), ds[len(ds)-1].Status.RollbackReason)
	}
}

// At a 0 % step the canary gets no traffic: a check that cannot decide
// passes (saying why) instead of holding the step until its limit fails
// it; a Failed answer still fails, and at a step with traffic Inconclusive
// still holds.
func TestInconclusiveAtZeroPercent(t *testing.T) {
	spec := newSpec(withSteps(v1.Step{Weight: 0}, step(100)))
	st := flying(0, 0, 0)
	d := Next(spec, st, withChecks(observe(minute, revB, dep(revB, 4, 4), routeTo(0)), []Check{
		check("error-rate", v1.CheckInconclusive, "", "no data: empty vector (noData: hold)"),
		check("latency", v1.CheckInconclusive, "", "too few samples: 0 < min 100"),
	}))
	if d.Status.RollbackReason != "" || d.Status.Phase == v1.PhasePaused {
		t.Fatalf("phase %s, rollback %q, message %q: want the 0 %% step passed", d.Status.Phase, d.Status.RollbackReason, d.Status.Message)
	}
	if ms := metricStatus(d.Status.Analysis, "error-rate"); ms.Phase != v1.CheckPassed || !strings.Contains(ms.Message, "0 % step: nothing to judge without traffic") {
		t.Errorf("error-rate %s %q, want Passed saying why", ms.Phase, ms.Message)
	}
	if d.Status.CurrentStep != 1 {
		t.Errorf("step %d, want 1: the 0 %% step is done", d.Status.CurrentStep)
	}

	d = Next(spec, flying(0, 0, 0), withChecks(observe(minute, revB, dep(revB, 4, 4), routeTo(0)), []Check{
		check("error-rate", v1.CheckFailed, "0.5", "0.5 > max 0.01"),
		check("latency", v1.CheckInconclusive, "", "no data"),
	}))
	if d.Status.Phase != v1.PhaseRolledBack {
		t.Errorf("a Failed answer at 0 %%: phase %s, want RolledBack", d.Status.Phase)
	}

	ds := run(newSpec(), empty)
	if ds[0].Status.Phase != v1.PhasePaused {
		t.Errorf("at 25 %% an Inconclusive check: phase %s, want held", ds[0].Status.Phase)
	}
}
