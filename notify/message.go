package notify

import "time"

// Schema names the version of the generic JSON document.
const Schema = "ramp.dev/notification/v1"

// Message is one moment of one Rollout, as the generic JSON format writes it.
type Message struct {
	// Schema is always Schema.
	Schema string `json:"schema"`
	// Moment is RolloutStarted, AwaitingApproval, DeployWindow, RolledBack,
	// Promoted or Failed.
	Moment string `json:"moment"`
	// Rollout names the Rollout.
	Rollout Rollout `json:"rollout"`
	// Revision is the revision the moment is about (the canary's, or the
	// promoted one).
	Revision string `json:"revision,omitempty"`
	// StableRevision is the revision serving when the moment was seen.
	StableRevision string `json:"stableRevision,omitempty"`
	// Step is the step index, Steps the number of steps.
	Step  int32 `json:"step"`
	Steps int32 `json:"steps"`
	// Weight is the canary weight in effect, in percent.
	Weight int32 `json:"weight"`
	// Message is the Rollout's status message at the moment.
	Message string `json:"message"`
	// Reason says why: what a hold waits for, why a rollback happened.
	Reason string `json:"reason,omitempty"`
	// Checks are the last check of each metric of the revision.
	Checks []Check `json:"checks"`
	// Time is when the status showed the moment.
	Time time.Time `json:"time"`
}

// Rollout names a Rollout.
type Rollout struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
}

// Check is the last check of one metric with its bounds.
type Check struct {
	Name    string   `json:"name"`
	Phase   string   `json:"phase,omitempty"`
	Value   string   `json:"value,omitempty"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Message string   `json:"message,omitempty"`
}

// Bound writes the check's bounds: "max 0.01", "min 1, max 2".
func (c Check) Bound() string {
	switch {
	case c.Min != nil && c.Max != nil:
		return "min " + num(*c.Min) + ", max " + num(*c.Max)
	case c.Min != nil:
		return "min " + num(*c.Min)
	case c.Max != nil:
		return "max " + num(*c.Max)
	}
	return ""
}

// Failed returns the checks whose last result is Failed.
func (m *Message) Failed() []Check {
	var out []Check
	for _, c := range m.Checks {
		if c.Phase == "Failed" {
			out = append(out, c)
		}
	}
	return out
}
