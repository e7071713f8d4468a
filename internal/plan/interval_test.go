package plan

import (
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// A metric with an interval of its own: the rounds come on the shortest
// interval, the slow metric is asked at the first round of each step and
// then every 5 minutes, and its Error goes on counting between its checks.
func TestPerMetricInterval(t *testing.T) {
	spec := newSpec(withMetric(func(m *v1.Metric) { m.Interval = dur(5 * minute) }),
		withSteps(step(1), step(5), held(25, time.Hour), step(50), step(100)))
	if g := checkGrid(spec, nil); g != minute {
		t.Fatalf("grid %s, want the analysis interval 1m", g)
	}
	fast := newSpec(withMetric(func(m *v1.Metric) { m.Interval = dur(20 * time.Second) }))
	if g := checkGrid(fast, nil); g != 20*time.Second {
		t.Fatalf("grid %s, want the metric's 20s", g)
	}

	st := flying(2, 25, 0)
	var asked [][]string
	var ds []Decision
	for i := 1; i <= 11; i++ {
		now := t0.Add(time.Duration(i) * minute).Add(300 * time.Millisecond) // a round comes a little late
		due := DueMetrics(spec, st, now)
		var checks []Check
		var names []string
		for _, name := range []string{"error-rate", "latency"} {
			if !due[name] {
				continue
			}
			names = append(names, name)
			c := check(name, v1.CheckPassed, "0", "")
			if name == "error-rate" {
				c = check(name, v1.CheckError, "", "query: connection refused")
			}
			checks = append(checks, c)
		}
		asked = append(asked, names)
		o := withChecks(observe(time.Duration(i)*minute, revB, dep(revB, 2, 2), routeTo(25)), checks)
		o.Now = now
		d := Next(spec, st, o)
		ds = append(ds, d)
		st = &d.Status
		if st.RollbackReason != "" {
			break
		}
	}
	for i, names := range asked {
		slow := i == 0 || i == 5 || i == 10 // minutes 1, 6 and 11
		if got := len(names) == 2; got != slow {
			t.Errorf("round %d asked %v, want error-rate only at minutes 1, 6 and 11", i+1, names)
		}
	}
	for i, d := range ds[:len(ds)-1] {
		if d.Status.Analysis.ErrorSince == nil {
			t.Errorf("round %d: ErrorSince cleared while error-rate's last check is an Error", i+1)
		}
	}
	// Errors since minute 1, progressDeadline 10 min: the rollback comes at
	// minute 11, the round that asks error-rate again.
	if last := ds[len(ds)-1].Status; last.RollbackReason == "" || len(ds) != 11 {
		t.Errorf("after %d rounds rollback %q; want one at the 11th", len(ds), last.RollbackReason)
	}
}
