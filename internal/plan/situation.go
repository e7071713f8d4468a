package plan

import (
	"fmt"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// Situation is the typed state of a Rollout's world that picks the rules
// Next applies.
type Situation string

const (
	// SituationInvalid: a spec, route or object problem, nothing in flight.
	SituationInvalid Situation = "Invalid"
	// SituationFirstVersion: no status and no color Deployment: deploy blue.
	SituationFirstVersion Situation = "FirstVersion"
	// SituationAdopting: no status, but color Deployments exist (a Rollout
	// re-created after an orphan delete, or a lost status): adopt them.
	SituationAdopting Situation = "Adopting"
	// SituationSteady: the template is the stable revision.
	SituationSteady Situation = "Steady"
	// SituationWatching: steady, with checks watching the last promotion.
	SituationWatching Situation = "Watching"
	// SituationRollingBack: a rollback is decided and the routes do not
	// carry 0 % canary yet.
	SituationRollingBack Situation = "RollingBack"
	// SituationRolledBack: the template is the revision last rolled back.
	SituationRolledBack Situation = "RolledBack"
	// SituationWaitingForWindow: a new revision waits for a deploy window.
	SituationWaitingForWindow Situation = "WaitingForWindow"
	// SituationAwaitingProof: a new revision waits for the upstream proof
	// spec.promotion.requires asks for, or for the last run's record.
	SituationAwaitingProof Situation = "AwaitingProof"
	// SituationStarting: a new revision starts at step 0.
	SituationStarting Situation = "Starting"
	// SituationInFlight: the canary revision moves through its steps (or
	// holds on a problem that appeared in flight).
	SituationInFlight Situation = "InFlight"
)

// Classify names the situation of a Rollout from its status and what was
// observed. The order of the cases is their precedence.
func Classify(spec *v1.RolloutSpec, st *v1.RolloutStatus, obs Observations) Situation {
	invalid := len(obs.SpecProblems) > 0 || len(obs.Problems) > 0 || obs.Route.Problem != "" || startBlocked(st, obs) != ""
	switch {
	case st.StableRevision == "" && (obs.Blue.Exists || obs.Green.Exists):
		if invalid {
			return SituationInvalid
		}
		return SituationAdopting
	case st.StableRevision == "":
		if invalid {
			return SituationInvalid
		}
		if proofBlocked(obs) != "" {
			return SituationAwaitingProof // production takes only proven images, its first one too
		}
		return SituationFirstVersion
	case st.RollbackReason != "":
		return SituationRollingBack // a rollback never waits for a fix
	case inFlight(st) && (obs.Revision == st.CanaryRevision || invalid):
		return SituationInFlight // a problem in flight holds, it does not freeze
	case invalid:
		return SituationInvalid
	case obs.Revision == st.StableRevision && st.PostPromotionUntil != nil:
		return SituationWatching
	case obs.Revision == st.StableRevision:
		return SituationSteady
	case st.Phase == v1.PhaseRolledBack && obs.Revision == st.CanaryRevision:
		return SituationRolledBack
	case !inFlight(st) && obs.WindowClosed != "":
		return SituationWaitingForWindow
	case proofBlocked(obs) != "":
		return SituationAwaitingProof
	default:
		return SituationStarting
	}
}

// adopt takes over what a Rollout without status finds: the color that
// serves (most of the traffic, with ready pods) becomes stable with the
// revision its Deployment runs. Nothing moves in this decision but the
// status; the next one carries on from the adopted state.
func (m *machine) adopt() {
	stable := m.servingColor()
	d := m.obs.Deployment(stable)
	m.st.StableColor = stable
	m.st.StableRevision = d.Revision
	if m.st.StableRevision == "" {
		m.st.StableRevision = "adopted"
	}
	m.st.CanaryRevision = ""
	m.clearFlight()
	m.st.CurrentStep = 0
	m.st.Phase = v1.PhaseProgressing
	m.st.Message = fmt.Sprintf("adopted %s (%s) as the serving color", stable, m.st.StableRevision)
	m.event(false, "Adopted", "%s (%s) serves: adopted it as stable; %s", stable, m.st.StableRevision, m.obs.Route.summary())
	if n, _ := d.ReadyFor(d.Revision); n > 0 {
		m.setWeight(stable.Other(), 0, false) // ready pods: all traffic to them
	}
	m.after(MinRequeue)
	for _, c := range m.ctl.ignored("the Rollout is adopting what it found") {
		m.event(true, "ControlIgnored", "%s", c)
	}
}

// servingColor is the color a Rollout without status adopts as stable: the
// one the routes send most traffic to, unless it has no ready pods and the
// other has some; blue when nothing tells.
func (m *machine) servingColor() v1.Color {
	ready := func(c v1.Color) int32 {
		d := m.obs.Deployment(c)
		n, _ := d.ReadyFor(d.Revision)
		return n
	}
	blue, green := m.obs.Route.Share(v1.Blue), m.obs.Route.Share(v1.Green)
	pick := v1.Blue
	switch {
	case green > blue:
		pick = v1.Green
	case green == blue && ready(v1.Green) > ready(v1.Blue):
		pick = v1.Green
	case !m.obs.Blue.Exists:
		pick = v1.Green
	}
	if ready(pick) == 0 && ready(pick.Other()) > 0 {
		pick = pick.Other()
	}
	return pick
}

func (r Route) summary() string {
	if len(r.Rules) == 0 {
		return "no route observed"
	}
	return fmt.Sprintf("routes carry blue %d / green %d", r.Rules[0].Blue, r.Rules[0].Green)
}
