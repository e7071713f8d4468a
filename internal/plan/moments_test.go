package plan

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func pausedBy(st v1.RolloutStatus, reason, msg string) v1.RolloutStatus {
	st.Phase = v1.PhasePaused
	st.Conditions = []metav1.Condition{{Type: v1.ConditionPaused, Status: metav1.ConditionTrue, Reason: reason, Message: msg}}
	return st
}

func TestMoments(t *testing.T) {
	healthy := v1.RolloutStatus{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: "r1"}
	flying := v1.RolloutStatus{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: "r1", CanaryRevision: "r2", CurrentStep: 1, CanaryWeight: 10}
	gate := pausedBy(flying, v1.ReasonGate, "step 1 waits for ramp.dev/promote")
	window := pausedBy(flying, v1.ReasonDeployWindow, "deploy window: deny")
	waiting := pausedBy(v1.RolloutStatus{StableColor: v1.Blue, StableRevision: "r1"}, v1.ReasonDeployWindow, "deploy window: deny")
	byAnnotation := pausedBy(flying, v1.ReasonPausedByAnnotation, "ramp.dev/pause")
	rollingBack := flying
	rollingBack.RollbackReason, rollingBack.CanaryWeight = "error-rate = 0.4", 0
	rolledBack := flying
	rolledBack.Phase, rolledBack.CanaryWeight, rolledBack.Message = v1.PhaseRolledBack, 0, "rolled back: error-rate = 0.4"
	promotedSt := v1.RolloutStatus{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: "r2", PreviousRevision: "r1", CurrentStep: 1}
	step2 := flying
	step2.CurrentStep = 2
	gate2 := pausedBy(step2, v1.ReasonGate, "step 2 waits")
	failed := v1.RolloutStatus{Phase: v1.PhaseFailed, Message: "bad query"}
	retried := flying
	retried.Controls = &v1.ControlsStatus{Retry: "1"}
	rolledBackRetried := rolledBack
	rolledBackRetried.Controls = &v1.ControlsStatus{Retry: "1"}
	switchedBack := v1.RolloutStatus{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: "r1", CanaryRevision: "r2", Message: "rolled back: after promotion: error-rate"}

	for name, tc := range map[string]struct {
		prev, st v1.RolloutStatus
		want     []string
	}{
		"nothing changes":          {healthy, healthy, nil},
		"rollout starts":           {healthy, flying, []string{"RolloutStarted/r2/0"}},
		"a gate waits":             {flying, gate, []string{"AwaitingApproval/r2/1"}},
		"still at the gate":        {gate, gate, nil},
		"the next gate":            {gate, gate2, []string{"AwaitingApproval/r2/2"}},
		"a window holds in flight": {flying, window, []string{"DeployWindow/r2/1"}},
		"a window holds the start": {healthy, waiting, []string{"DeployWindow/r3/0"}},
		"a gate after a window":    {window, gate, []string{"AwaitingApproval/r2/1"}},
		"an annotation is no gate": {flying, byAnnotation, nil},
		"rolling back is not yet":  {flying, rollingBack, nil},
		"rolled back":              {rollingBack, rolledBack, []string{"RolledBack/r2/1"}},
		"rolled back from a gate":  {gate, rolledBack, []string{"RolledBack/r2/1"}},
		"promoted":                 {flying, promotedSt, []string{"Promoted/r2/1"}},
		"switched back":            {promotedSt, switchedBack, []string{"RolledBack/r2/0"}},
		"returned to stable":       {rolledBack, healthy, nil},
		"failed":                   {healthy, failed, []string{"Failed/r3/0"}},
		"a retry starts again":     {rolledBack, retried, []string{"RolloutStarted/r2/0/340ca71c"}},
		"a retry rolls back again": {retried, rolledBackRetried, []string{"RolledBack/r2/1/340ca71c"}},
	} {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, m := range Moments(&tc.prev, &tc.st, "r3") {
				got = append(got, m.Key())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Moments = %v, want %v", got, tc.want)
			}
		})
	}
}

// A moment carries what its notification says.
func TestMomentFields(t *testing.T) {
	flying := v1.RolloutStatus{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: "r1", CanaryRevision: "r2", CurrentStep: 1, CanaryWeight: 10}
	gate := pausedBy(flying, v1.ReasonGate, "step 1 waits for ramp.dev/promote")
	got := Moments(&flying, &gate, "r2")
	want := Moment{Kind: v1.MomentAwaitingApproval, Revision: "r2", Step: 1, Weight: 10, Reason: "step 1 waits for ramp.dev/promote"}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("Moments = %+v, want %+v", got, want)
	}
	rb := flying
	rb.Phase, rb.CanaryWeight, rb.Message = v1.PhaseRolledBack, 0, "rolled back: aborted by ramp.dev/abort: bad deploy"
	if got := Moments(&flying, &rb, "r2"); len(got) != 1 || got[0].Reason != "aborted by ramp.dev/abort: bad deploy" || got[0].Weight != 0 {
		t.Fatalf("rollback moment %+v", got)
	}
}
