package plugin

import (
	"strings"
	"testing"

	rampv1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// kubectl ramp abort waits out the rollback it asked for: a status that
// took the abort but still shows the routes moving (phase Progressing with
// the abort as reason) is not "ignored", as it was read before (a CI run
// caught the controller between the two writes).
func TestAbortSettled(t *testing.T) {
	const value = "error budget (at 2026-12-02T02:56:31.155Z)"
	ro := func(phase rampv1.Phase, spent, reason string) *rampv1.Rollout {
		return &rampv1.Rollout{Status: rampv1.RolloutStatus{Phase: phase, AbortReason: reason, StableColor: rampv1.Blue,
			StableRevision: "abc", Controls: &rampv1.ControlsStatus{Abort: spent}}}
	}
	settled := abortSettled(value)
	for name, tc := range map[string]struct {
		now     *rampv1.Rollout
		done    bool
		message string
		err     string
	}{
		"not seen yet":                 {ro(rampv1.PhaseProgressing, "", ""), false, "", ""},
		"taken, routes still moving":   {ro(rampv1.PhaseProgressing, value, value), false, "", ""},
		"rolled back":                  {ro(rampv1.PhaseRolledBack, value, value), true, "rolled back: all traffic to blue", ""},
		"spent with nothing in flight": {ro(rampv1.PhaseHealthy, value, ""), true, "", "the controller ignored ramp.dev/abort: nothing is in flight"},
	} {
		t.Run(name, func(t *testing.T) {
			done, msg, err := settled(nil, tc.now)
			if done != tc.done || !strings.HasPrefix(msg, tc.message) || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("settled = %t, %q, %v; want %t, %q, %q", done, msg, err, tc.done, tc.message, tc.err)
			}
		})
	}
}
