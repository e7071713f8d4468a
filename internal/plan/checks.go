package plan

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// recordChecks writes this reconcile's check results into status and
// returns a breach (a failed check beyond failureLimit) as a reason, or "".
func (m *machine) recordChecks() string {
	if m.spec.Analysis == nil || m.obs.Checks == nil {
		return ""
	}
	if m.st.Analysis == nil {
		m.st.Analysis = &v1.AnalysisStatus{}
	}
	a := m.st.Analysis
	now := m.now()
	checkedAt := metav1.NewMicroTime(m.obs.Now)
	a.LastCheckAt = &checkedAt
	anyError := false
	breach := ""
	// The metrics checked now (the spec's and the snapshot's), listed once.
	metrics := Metrics(m.spec, &m.st)
	byName := make(map[string]*v1.Metric, len(metrics))
	for i := range metrics {
		byName[metrics[i].Metric.Name] = &metrics[i].Metric
	}
	for _, c := range m.obs.Checks {
		ms := metricStatus(a, c.Metric)
		sm := byName[c.Metric]
		c = m.inconclusiveLimit(sm, ms, c)
		ms.Phase, ms.Value, ms.Message, ms.StableValue = c.Phase, c.Value, c.Message, c.StableValue
		checked := checkedAt
		ms.CheckedAt = &checked
		switch c.Phase {
		case v1.CheckPassed:
			ms.LastPassedAt = &checked
			ms.FailuresInARow = 0
		case v1.CheckFailed:
			ms.FailuresInARow++
			need := consecutiveFailures(sm)
			if ms.FailuresInARow < need {
				// Not a failure yet: the step holds (see checksPassedSince).
				m.event(false, "CheckFailed", "%s = %s: %s (%d of %d failed checks in a row)", c.Metric, c.Value, c.Message, ms.FailuresInARow, need)
				continue
			}
			a.FailedChecks++
			m.event(true, "CheckFailed", "%s = %s: %s (failed checks %d, limit %d)", c.Metric, c.Value, c.Message, a.FailedChecks, m.spec.Analysis.FailureLimit)
			if a.FailedChecks > m.spec.Analysis.FailureLimit && breach == "" {
				breach = fmt.Sprintf("%s = %s: %s", c.Metric, c.Value, c.Message)
				if c.Value == "" {
					breach = fmt.Sprintf("%s: %s", c.Metric, c.Message)
				}
			}
		case v1.CheckError:
			anyError = true
		}
	}
	// A metric on a slower interval than this round keeps its last result:
	// its Error goes on counting, or Errors could outlast progressDeadline
	// by falling between its checks.
	inRound := map[string]bool{}
	for _, c := range m.obs.Checks {
		inRound[c.Metric] = true
	}
	for _, s := range metrics {
		if ms := findMetricStatus(a, s.Metric.Name); s.Metric.Job == nil && !inRound[s.Metric.Name] && ms != nil && ms.Phase == v1.CheckError {
			anyError = true
		}
	}
	switch {
	case anyError && a.ErrorSince == nil:
		a.ErrorSince = &now
		m.event(true, "CheckError", "%s", errorSummary(m.obs.Checks))
	case !anyError:
		a.ErrorSince = nil
	}
	// Forget metrics that left the spec (and the snapshot of templates).
	kept := a.Metrics[:0]
	for _, ms := range a.Metrics {
		if byName[ms.Name] != nil {
			kept = append(kept, ms)
		}
	}
	a.Metrics = kept
	return breach
}

// consecutiveFailures is how many failed checks in a row make a failure.
func consecutiveFailures(sm *v1.Metric) int32 {
	if sm == nil || sm.ConsecutiveFailures < 1 {
		return 1
	}
	return sm.ConsecutiveFailures
}

// inconclusiveLimit passes an Inconclusive check at a 0 % step, keeps the
// time ms has answered Inconclusive in a row
// and, once that reaches the metric's inconclusiveLimit (the progress
// deadline without one), turns an Inconclusive check into the limit's
// judgement: Failed by default, counted at once however many failures in a
// row the metric asks for; or Passed. A decided check (Passed or Failed)
// ends the run; an Error does not, so that answers alternating between no
// data and errors cannot hold a rollout forever either.
func (m *machine) inconclusiveLimit(sm *v1.Metric, ms *v1.MetricStatus, c Check) Check {
	switch c.Phase {
	case v1.CheckPassed, v1.CheckFailed:
		ms.InconclusiveSince = nil
		return c
	case v1.CheckError:
		return c
	}
	if m.st.CanaryWeight == 0 && inFlight(&m.st) && !Watching(&m.st) {
		// A 0 % step (a preview, blue-green's smoke test) sends the canary
		// no traffic: a query that cannot decide has nothing to judge, and
		// holding would only wait for the limit. Answers it has are judged.
		ms.InconclusiveSince = nil
		c.Phase = v1.CheckPassed
		c.Message += " (0 % step: nothing to judge without traffic)"
		return c
	}
	if ms.InconclusiveSince == nil {
		since := m.now()
		ms.InconclusiveSince = &since
	}
	after, then := m.spec.Deadline(), v1.InconclusiveFail
	if sm != nil && sm.InconclusiveLimit != nil {
		after = sm.InconclusiveLimit.After.Duration
		if sm.InconclusiveLimit.Then == v1.InconclusivePass {
			then = v1.InconclusivePass
		}
	}
	if m.obs.Now.Sub(ms.InconclusiveSince.Time) < after {
		return c
	}
	c.Message = fmt.Sprintf("%s, Inconclusive for %s (inconclusiveLimit: %s)", c.Message, after, then)
	if then == v1.InconclusivePass {
		c.Phase = v1.CheckPassed
		return c
	}
	c.Phase = v1.CheckFailed
	ms.FailuresInARow = max(ms.FailuresInARow, consecutiveFailures(sm)-1)
	return c
}

func errorSummary(checks []Check) string {
	for _, c := range checks {
		if c.Phase == v1.CheckError {
			return fmt.Sprintf("%s: %s", c.Metric, c.Message)
		}
	}
	return ""
}

// MetricStatusOf is the last check of the metric of that name in st, or
// nil.
func MetricStatusOf(st *v1.RolloutStatus, name string) *v1.MetricStatus {
	if st == nil || st.Analysis == nil {
		return nil
	}
	return findMetricStatus(st.Analysis, name)
}

// findMetricStatus is the status of the metric of that name, or nil.
func findMetricStatus(a *v1.AnalysisStatus, name string) *v1.MetricStatus {
	for i := range a.Metrics {
		if a.Metrics[i].Name == name {
			return &a.Metrics[i]
		}
	}
	return nil
}

func metricStatus(a *v1.AnalysisStatus, name string) *v1.MetricStatus {
	for i := range a.Metrics {
		if a.Metrics[i].Name == name {
			return &a.Metrics[i]
		}
	}
	a.Metrics = append(a.Metrics, v1.MetricStatus{Name: name})
	return &a.Metrics[len(a.Metrics)-1]
}

// checksPassedSince reports whether the last check of every metric passed
// and ran at or after t. When the last check of some metric could not
// decide (Inconclusive or Error), why says so: the rollout holds.
func (m *machine) checksPassedSince(t time.Time) (ok bool, why string) {
	if m.spec.Analysis == nil {
		return true, ""
	}
	ok = true
	for _, s := range Metrics(m.spec, &m.st) {
		sm := s.Metric
		if sm.Job != nil {
			continue // a Job gates its steps' weight (see jobGate), not their end
		}
		var ms *v1.MetricStatus
		if m.st.Analysis != nil {
			for i := range m.st.Analysis.Metrics {
				if m.st.Analysis.Metrics[i].Name == sm.Name {
					ms = &m.st.Analysis.Metrics[i]
				}
			}
		}
		// A check at the very moment the weight was set ran before it.
		if ms == nil || ms.CheckedAt == nil || !ms.CheckedAt.Time.After(t) {
			ok = false
			continue
		}
		switch ms.Phase {
		case v1.CheckPassed:
		case v1.CheckInconclusive, v1.CheckError:
			ok = false
			if why == "" {
				why = fmt.Sprintf("%s %s: %s", sm.Name, ms.Phase, ms.Message)
			}
		case v1.CheckFailed:
			// A failure that does not count yet (consecutiveFailures).
			ok = false
			if need := consecutiveFailures(&sm); why == "" && ms.FailuresInARow < need {
				why = fmt.Sprintf("%s Failed %d of %d in a row: %s", sm.Name, ms.FailuresInARow, need, ms.Message)
			}
		default:
			ok = false
		}
	}
	return ok, why
}
