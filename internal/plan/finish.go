package plan

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// finish derives phase, message, step progress and conditions, and
// assembles the decision.
func (m *machine) finish() Decision {
	st := &m.st
	if inFlight(st) && st.Phase != v1.PhaseFailed {
		st.StepProgress = fmt.Sprintf("%d/%d", st.CurrentStep, len(m.steps))
		if m.held != "" {
			st.Phase = v1.PhasePaused
			st.Message = fmt.Sprintf("step %s: %d%% to %s, held: %s", st.StepProgress, st.CanaryWeight, st.StableColor.Other(), m.held)
		} else {
			st.Phase = v1.PhaseProgressing
			st.Message = fmt.Sprintf("step %s: %d%% to %s%s", st.StepProgress, st.CanaryWeight, st.StableColor.Other(), checkSummary(st.Analysis))
			if m.waiting != "" {
				st.Message = fmt.Sprintf("step %s: %s", st.StepProgress, m.waiting)
			}
		}
		if m.prev.Phase != st.Phase && st.Phase == v1.PhasePaused {
			m.event(false, "Paused", "%s", m.held)
		}
	} else if !inFlight(st) {
		st.StepProgress = ""
	}
	m.conditions()
	actions := append(append([]Action{}, m.route...), m.deploy...)
	actions = append(actions, m.jobActions()...)
	return Decision{Status: *st, Actions: actions, Events: m.events, RequeueAfter: m.requeue}
}

func checkSummary(a *v1.AnalysisStatus) string {
	if a == nil || len(a.Metrics) == 0 {
		return ""
	}
	parts := make([]string, 0, len(a.Metrics))
	for _, ms := range a.Metrics {
		if ms.Message != "" {
			parts = append(parts, ms.Name+" "+ms.Message)
		} else {
			parts = append(parts, fmt.Sprintf("%s %s %s", ms.Name, ms.Phase, ms.Value))
		}
	}
	return ", " + strings.Join(parts, ", ")
}

func (m *machine) conditions() {
	st := &m.st
	set := func(t string, ok bool, reason, msg string) {
		status := metav1.ConditionFalse
		if ok {
			status = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: t, Status: status, Reason: reason, Message: msg,
			ObservedGeneration: m.obs.Generation, LastTransitionTime: m.now(),
		})
	}
	if m.invalid != "" {
		set(v1.ConditionValid, false, m.invalidReason(), m.invalid)
	} else {
		set(v1.ConditionValid, true, v1.ReasonValid, "the spec and its routes can be steered")
	}
	flying := inFlight(st)
	switch {
	case flying:
		set(v1.ConditionProgressing, true, "Progressing", st.Message)
	case st.RollbackReason != "":
		set(v1.ConditionProgressing, true, "RollingBack", st.Message)
	case st.Phase == v1.PhaseRolledBack:
		set(v1.ConditionProgressing, false, "RolledBack", st.Message)
	case m.situation == SituationAwaitingProof:
		set(v1.ConditionProgressing, false, v1.ReasonProofMissing, st.Message)
	default:
		set(v1.ConditionProgressing, false, "Idle", "nothing in flight")
	}
	heldBy := m.heldBy
	if st.Phase != v1.PhasePaused {
		heldBy = v1.ReasonNotHeld
	}
	set(v1.ConditionPaused, st.Phase == v1.PhasePaused, heldBy, m.held)
	stableReady, _ := m.obs.Deployment(st.StableColor).ReadyFor(st.StableRevision)
	ready := st.StableRevision != "" && stableReady >= m.spec.DesiredReplicas()
	msg := fmt.Sprintf("%s has %d/%d ready pods", st.StableColor, stableReady, m.spec.DesiredReplicas())
	reason := string(st.Phase)
	if reason == "" {
		reason = "Unknown"
	}
	// Ready only when the stable color serves all traffic with the spec's
	// revision: not in flight, not after a rollback.
	servesSpec := st.Phase == v1.PhaseHealthy && st.StableRevision == m.obs.Revision
	set(v1.ConditionReady, ready && servesSpec, reason, msg)
	stalled := m.invalid != "" && !flying || st.Phase == v1.PhaseRolledBack || st.Phase == v1.PhaseFailed
	// Reconciling is True whenever the Rollout is neither where its spec
	// wants it (Ready) nor stuck (Stalled): in flight, rolling back, and
	// also the first version or a scale-up whose pods are not all ready
	// yet. kstatus (kubectl wait, Helm --wait, Flux) reads "not Reconciling,
	// not Stalled" as done.
	reconciling := flying || st.RollbackReason != "" || !stalled && !(ready && servesSpec)
	rmsg := st.Message
	if !flying && st.RollbackReason == "" && rmsg == "" {
		rmsg = msg
	}
	set(v1.ConditionReconciling, reconciling, reason, rmsg)
	set(v1.ConditionStalled, stalled, reason, st.Message)
}

// invalidReason is the Valid condition's reason for m.invalid.
func (m *machine) invalidReason() string {
	switch {
	case len(m.obs.SpecProblems) > 0:
		return v1.ReasonInvalidSpec
	case len(m.obs.Problems) > 0:
		return m.obs.Problems[0].Reason
	case m.templateBlocked():
		return v1.ReasonTemplateUnresolved
	}
	return v1.ReasonInvalidRoute
}
