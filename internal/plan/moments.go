package plan

import (
	"fmt"
	"hash/fnv"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// Moment is a moment of a rollout that people are told about, as a
// written status shows it.
type Moment struct {
	Kind v1.NotificationMoment
	// Revision is the revision the moment is about: the canary's, the one
	// waiting to start, or the promoted one.
	Revision string
	// Step is the step index; Weight the percent of traffic on Revision.
	Step, Weight int32
	// Reason says why: what a hold waits for, why it rolled back.
	Reason string
	// Attempt tells apart the attempts of one revision (ramp.dev/retry).
	Attempt string
}

// Key identifies the moment within its Rollout: a moment is notified once.
func (m Moment) Key() string {
	k := v1.NotificationKey(m.Kind, m.Revision, m.Step)
	if m.Attempt != "" {
		k += "/" + m.Attempt
	}
	return k
}

// Moments returns the moments st shows and prev did not, in the order they
// happened: decided on what a status shows (st must be the status written),
// never on what a decision intends. revision is the template's.
func Moments(prev, st *v1.RolloutStatus, revision string) []Moment {
	attempt := ""
	if st.Controls != nil && st.Controls.Retry != "" {
		// A revision started again by ramp.dev/retry goes through the same
		// steps again: its moments are new ones.
		h := fnv.New32a()
		_, _ = h.Write([]byte(st.Controls.Retry))
		attempt = fmt.Sprintf("%08x", h.Sum32())
	}
	var out []Moment
	add := func(m Moment) {
		m.Attempt = attempt
		out = append(out, m)
	}
	switch {
	case st.Phase == v1.PhaseFailed && prev.Phase != v1.PhaseFailed:
		add(Moment{Kind: v1.MomentFailed, Revision: revision, Reason: st.Message})
	case st.Phase == v1.PhaseRolledBack && prev.Phase != v1.PhaseRolledBack:
		add(Moment{Kind: v1.MomentRolledBack, Revision: st.CanaryRevision, Step: st.CurrentStep, Reason: strings.TrimPrefix(st.Message, "rolled back: ")})
	case promoted(prev, st):
		add(Moment{Kind: v1.MomentPromoted, Revision: st.StableRevision, Step: prev.CurrentStep, Weight: 100})
	}
	if inFlight(st) && st.Phase != v1.PhaseFailed && (!inFlight(prev) || prev.CanaryRevision != st.CanaryRevision) {
		add(Moment{Kind: v1.MomentRolloutStarted, Revision: st.CanaryRevision})
	}
	if h, ok := heldMoment(st, revision); ok {
		if p, was := heldMoment(prev, revision); !was || p.Kind != h.Kind || p.Revision != h.Revision || p.Step != h.Step {
			add(h)
		}
	}
	return out
}

// promoted reports whether st shows the canary of prev become stable.
func promoted(prev, st *v1.RolloutStatus) bool {
	return st.StableRevision != "" && prev.StableRevision != "" && st.StableRevision != prev.StableRevision &&
		prev.CanaryRevision == st.StableRevision && st.StableColor != prev.StableColor
}

// heldMoment is the gate or deploy window st shows holding a rollout.
func heldMoment(st *v1.RolloutStatus, revision string) (Moment, bool) {
	if st.Phase != v1.PhasePaused {
		return Moment{}, false
	}
	c := meta.FindStatusCondition(st.Conditions, v1.ConditionPaused)
	if c == nil || c.Status != "True" {
		return Moment{}, false
	}
	m := Moment{Revision: st.CanaryRevision, Step: st.CurrentStep, Weight: st.CanaryWeight, Reason: c.Message}
	if m.Revision == "" {
		m.Revision = revision // waiting for a window to start
	}
	switch c.Reason {
	case v1.ReasonGate:
		m.Kind = v1.MomentAwaitingApproval
	case v1.ReasonDeployWindow:
		m.Kind = v1.MomentDeployWindow
	default:
		return Moment{}, false
	}
	return m, true
}
