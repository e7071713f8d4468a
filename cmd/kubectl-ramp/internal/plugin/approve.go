package plugin

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	rampv1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func newApproveCommand(o *Options) *cobra.Command {
	cmd := controlCommand(o, "approve NAME", "Approve the gate the rollout waits at, as the user the API server knows you as",
		func(ctx context.Context, s *session, ro *rampv1.Rollout) (control, error) {
			user, err := s.whoAmI(ctx)
			if err != nil {
				return control{}, err
			}
			if err := approvable(ro); err != nil {
				return control{}, err
			}
			st := &ro.Status
			if slices.Contains(approvers(st), user) {
				return control{}, exitf(ExitNotDone, "%s has approved the gate of step %s already (%s)", user, st.StepProgress, approvalsLine(ro))
			}
			value := rampv1.ApprovalValue(st.CanaryRevision, st.CurrentStep, user)
			return control{key: rampv1.ApprovalKey(user), value: &value, settled: func(_, now *rampv1.Rollout) (bool, string, error) {
				if slices.Contains(approvers(&now.Status), user) {
					return true, fmt.Sprintf("approval of %s recorded", user), nil
				}
				if now.Status.CanaryRevision != st.CanaryRevision || now.Status.CurrentStep != st.CurrentStep {
					return true, "", fmt.Errorf("the rollout moved on before the controller recorded the approval of %s", user)
				}
				return false, "", nil
			}}, nil
		})
	return cmd
}

// approvable says why nothing waits at a gate with approvals, or nil.
func approvable(ro *rampv1.Rollout) error {
	st := &ro.Status
	steps := ro.Spec.EffectiveSteps()
	switch {
	case !inFlight(st) || st.Phase == rampv1.PhaseFailed:
		return exitf(ExitNotDone, "nothing to approve: rollout %s has nothing in flight (phase %s)", ro.Name, orDash(string(st.Phase)))
	case st.CurrentStep < 0 || int(st.CurrentStep) >= len(steps) || steps[st.CurrentStep].Pause == nil:
		return exitf(ExitNotDone, "nothing to approve: step %s of rollout %s has no gate", st.StepProgress, ro.Name)
	case steps[st.CurrentStep].Pause.Approvals == 0:
		return exitf(ExitNotDone, "nothing to approve: the gate of step %s takes %s, not approvals (kubectl ramp promote %s)", st.StepProgress, rampv1.AnnotationPromote, ro.Name)
	case st.GatePassed:
		return exitf(ExitNotDone, "nothing to approve: the gate of step %s is open already", st.StepProgress)
	}
	return nil
}
