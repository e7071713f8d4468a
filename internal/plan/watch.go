package plan

import (
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// watchAfterPromotion keeps checking the promoted color for
// spec.postPromotion.hold while the old color keeps its pods. It reports
// whether it switched back.
func (m *machine) watchAfterPromotion() bool {
	breach := m.recordChecks()
	if a := m.st.Analysis; breach == "" && a != nil && m.spec.Analysis != nil && a.FailedChecks > m.spec.Analysis.FailureLimit {
		// A breach stays one until the switch back happened.
		breach = "failed checks beyond failureLimit during the watch after promotion"
	}
	if breach == "" && m.st.AbortReason != "" && m.prev.Controls != nil && m.st.Controls.Abort == m.prev.Controls.Abort && m.prev.AbortReason != "" {
		breach = "aborted by " + v1.AnnotationAbort + ": " + m.st.AbortReason // waiting to switch back
	}
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
// rolled back. The old color is only ever scaled, never given the promoted
// template.
func (m *machine) switchBack(reason string) bool {
	bad, good := m.st.StableColor, m.st.StableColor.Other()
	gd := m.obs.Deployment(good)
	if !gd.Exists || gd.Revision != m.st.PreviousRevision {
		m.event(true, "SwitchBackImpossible", "cannot switch back: %s no longer runs %s (%s)", good, m.st.PreviousRevision, reason)
		m.st.PostPromotionUntil = nil // nothing to watch for: the old color is gone
		return false
	}
	ready, known := gd.ReadyFor(m.st.PreviousRevision)
	if !known || ready == 0 {
		// Nothing to switch to yet: bring the old color's pods back first.
		m.scale(good, m.spec.DesiredReplicas())
		m.event(true, "SwitchBackWaiting", "cannot switch back yet: %s has no ready pods of %s (%s)", good, m.st.PreviousRevision, reason)
		m.after(m.spec.AnalysisInterval())
		return false
	}
	m.route, m.deploy = nil, nil
	m.event(true, "RolledBack", "switched back to %s (%s) during the watch after promotion: %s", good, m.st.PreviousRevision, reason)
	m.st.StableColor = good
	m.st.CanaryRevision = m.st.StableRevision
	m.st.StableRevision = m.st.PreviousRevision
	m.st.PostPromotionUntil = nil
	m.st.ScaleDownAt = nil
	m.clearFlight()
	m.st.RollbackReason = "after promotion: " + reason
	m.setWeightForce(bad, 0, true)
	m.rollingBack()
	return true
}
