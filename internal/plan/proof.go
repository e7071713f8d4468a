package plan

import (
	"fmt"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// proofBlocked says why a new revision may not start on the proof of its
// images: the last run's record is not written yet, or the upstream proof
// spec.promotion.requires asks for is missing (and no override lets it
// start). "" when it may start.
func proofBlocked(obs Observations) string {
	switch {
	case obs.RecordPending != "":
		return "the record of the last run is not written yet: " + obs.RecordPending
	case obs.Proof.Missing != "" && obs.Proof.Override == "":
		return "promotion.requires: " + obs.Proof.Missing
	}
	return ""
}

// waitForProof keeps a new revision (the first version too) from starting
// until its proof is there; the stable color goes on serving. A canary in flight that the new
// revision replaces is abandoned (all traffic back to stable), as a start
// would abandon it.
func (m *machine) waitForProof() {
	why := proofBlocked(m.obs)
	if m.st.StableRevision == "" {
		// The first version: nothing is deployed, nothing serves yet.
		m.st.Phase = v1.PhasePaused
		m.hold(v1.ReasonProofMissing, why)
		m.st.Message = fmt.Sprintf("first version %s waits: %s", m.obs.Revision, why)
		if m.prev.Message != m.st.Message {
			m.event(true, v1.ReasonProofMissing, "%s", m.st.Message)
		}
		if !m.obs.Proof.RecheckAt.IsZero() {
			m.until(m.obs.Proof.RecheckAt)
		}
		return
	}
	if inFlight(&m.st) {
		m.event(false, "Restarted", "template changed in flight: %s abandoned, %s waits for its proof", m.st.CanaryRevision, m.obs.Revision)
	}
	m.waitToStart(v1.ReasonProofMissing, why, m.obs.Proof.RecheckAt)
	if m.prev.Message != m.st.Message {
		m.event(true, v1.ReasonProofMissing, "%s", m.st.Message)
	}
}
