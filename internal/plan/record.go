package plan

import (
	"fmt"
	"hash/fnv"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// maxRecordName bounds a Verification's name (a DNS subdomain).
const maxRecordName = 253

// RecordName is the name of the Verification of the run of revision that
// started at started: the same after any restart, a new one for every run.
func RecordName(rollout, revision string, started metav1.Time) string {
	suffix := fmt.Sprintf("-%s-%d", revision, started.Unix())
	if len(rollout)+len(suffix) <= maxRecordName {
		return rollout + suffix
	}
	h := fnv.New32a()
	h.Write([]byte(rollout))
	return fmt.Sprintf("%s-%08x%s", rollout[:maxRecordName-len(suffix)-9], h.Sum32(), suffix)
}

// Record is the status.verification next carries: the record of the run in
// flight or last finished, decided from the status a decision wrote (next,
// which carries the record of the status it was decided from). A run's record starts with the run (Running, in
// status only), gathers the digests its pods were seen running, its checks
// and approvers, and ends Passed (promoted; after its postPromotion watch
// when there is one, Watching until then) or Failed (rolled back). The
// controller writes it as a Verification once it is no longer Running.
func Record(rollout string, next *v1.RolloutStatus, obs Observations) *v1.VerificationRecord {
	cur := next.Verification.DeepCopy() // the last decision's, with the approvers this one kept (keepApprovers)
	now := metav1.NewTime(obs.Now)
	if next.CanaryStartedAt != nil && inFlight(next) && (cur == nil || cur.Record.Revision != next.CanaryRevision ||
		cur.Record.StartedAt == nil || !cur.Record.StartedAt.Equal(next.CanaryStartedAt)) {
		started := *next.CanaryStartedAt
		cur = &v1.VerificationRecord{
			Name: RecordName(rollout, next.CanaryRevision, started),
			Record: v1.VerificationSpec{
				Rollout: rollout, Environment: obs.Environment, Revision: next.CanaryRevision,
				Outcome: v1.VerificationRunning, StartedAt: &started, Upstream: obs.Proof.Upstream,
			},
		}
		if obs.Proof.Missing != "" && obs.Proof.Override != "" {
			cur.Record.Override = &v1.ProofOverride{Reason: clip(obs.Proof.Override, 1024), Missing: clip(obs.Proof.Missing, 2048)}
		}
	}
	if cur == nil {
		return nil
	}
	r := &cur.Record
	if r.Outcome != v1.VerificationRunning && r.Outcome != v1.VerificationWatching {
		return cur // a finished record never changes
	}
	gather(r, next)
	rolledBack := next.CanaryRevision == r.Revision && (next.RollbackReason != "" || next.Phase == v1.PhaseRolledBack)
	switch {
	case rolledBack:
		r.Outcome = v1.VerificationFailed
		r.Reason = clip(next.RollbackReason, 1024)
		if r.Reason == "" {
			r.Reason = clip(next.Message, 1024)
		}
		r.FinishedAt = &now
	case r.Outcome == v1.VerificationRunning && next.StableRevision == r.Revision && !inFlight(next):
		r.PromotedAt = &now
		if next.PostPromotionUntil != nil {
			r.Outcome = v1.VerificationWatching
			r.Reason = "promoted; watching until " + next.PostPromotionUntil.UTC().Format("2006-01-02T15:04:05Z")
		} else {
			r.Outcome = v1.VerificationPassed
			r.Reason = "promoted"
			r.FinishedAt = &now
		}
	case r.Outcome == v1.VerificationWatching && next.StableRevision == r.Revision && next.PostPromotionUntil == nil:
		r.Outcome = v1.VerificationPassed
		r.Reason = "promoted; the watch after promotion passed"
		r.WatchEndedAt, r.FinishedAt = &now, &now
	}
	return cur
}

// gather copies into r what next shows of its run: the digests its ready
// pods were seen running, the last check of each metric, and every user
// whose approval it counted.
func gather(r *v1.VerificationSpec, next *v1.RolloutStatus) {
	for _, ci := range next.Images {
		if ci.Revision == r.Revision && ci.Pods > 0 && len(ci.Containers) > 0 {
			r.Images = slices.Clone(ci.Containers)
			break
		}
	}
	if a := next.Analysis; a != nil && len(a.Metrics) > 0 && (next.CanaryRevision == r.Revision || next.StableRevision == r.Revision) {
		checks := make([]v1.RecordedCheck, 0, len(a.Metrics))
		for _, ms := range a.Metrics {
			if len(checks) == 64 {
				break
			}
			checks = append(checks, v1.RecordedCheck{Name: ms.Name, Phase: ms.Phase, Value: clip(ms.Value, 256), StableValue: clip(ms.StableValue, 256)})
		}
		r.Checks = checks
	}
	// Approvals of a gate that passed were added by keepApprovers before
	// the decision dropped them; these are the gate's still waiting.
	if next.CanaryRevision == r.Revision {
		addApprovers(r, next.Approvals)
	}
}

// keepApprovers adds the approvals of the step in flight to its run's
// record before a decision drops them (the gate passed, the run ended):
// the record names everyone whose approval counted.
func (m *machine) keepApprovers() {
	rec := m.st.Verification
	if rec == nil || rec.Record.Revision != m.st.CanaryRevision || rec.Record.Outcome != v1.VerificationRunning || len(m.st.Approvals) == 0 {
		return
	}
	rec = rec.DeepCopy()
	addApprovers(&rec.Record, m.st.Approvals)
	m.st.Verification = rec
}

func addApprovers(r *v1.VerificationSpec, approvals []v1.Approval) {
	for _, ap := range approvals {
		if len(r.Approvers) < 32 && !slices.ContainsFunc(r.Approvers, func(x v1.Approval) bool { return x.User == ap.User }) {
			r.Approvers = append(r.Approvers, ap)
		}
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
