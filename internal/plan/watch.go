package plan

import (
	"fmt"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// watchAfterPromotion keeps checking the promoted color for
// spec.postPromotion.hold while the old color keeps its pods. It reports
// whether it switched back.
func (m *machine) watchAfterPromotion() bool {
	breach := m.recordChecks()
	if reason, ok := m.ctl.abortReason(); ok {
		m.st.AbortReason = reason
		breach = "aborted by " + v1.AnnotationAbort + ": " + reason
	}
	if breach != "" {
		return m.switchBack(breach)
	}
	if !m.obs.Now.Before(m.st.PostPromotionUntil.Time) {
		m.event(false, "PostPromotionPassed", "checks passed through the watch after promoting %s", m.st.StableRevision)
		m.st.PostPromotionUntil = nil
		return false
	}
	m.requeueChecks()
	return false
}

// switchBack returns all traffic to the color that served before the last
// promotion, which still has its pods; the promoted revision counts as
// rolled back.
func (m *machine) switchBack(reason string) bool {
	bad, good := m.st.StableColor, m.st.StableColor.Other()
	ready, known := m.obs.Deployment(good).ReadyFor(m.st.PreviousRevision)
	if !known || ready == 0 {
		// Nothing to switch to yet: bring the old color back up first.
		m.apply(good, m.spec.DesiredReplicas())
		m.event(true, "SwitchBackWaiting", "cannot switch back yet: %s has no ready pods of %s (%s)", good, m.st.PreviousRevision, reason)
		m.after(m.spec.AnalysisInterval())
		return false
	}
	m.route, m.deploy = nil, nil
	m.setWeightForce(bad, 0, true)
	m.scale(bad, 0)
	m.scale(good, m.spec.DesiredReplicas())
	m.event(true, "RolledBack", "switched back to %s (%s) during the watch after promotion: %s", good, m.st.PreviousRevision, reason)
	m.st.StableColor = good
	m.st.CanaryRevision = m.st.StableRevision
	m.st.StableRevision = m.st.PreviousRevision
	m.st.PostPromotionUntil = nil
	m.st.ScaleDownAt = nil
	m.clearFlight()
	m.st.Phase = v1.PhaseRolledBack
	m.st.Message = fmt.Sprintf("rolled back after promotion: %s", reason)
	return true
}
