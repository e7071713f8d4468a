package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"

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
				return control{}, exitf(ExitNotDone, "%s has approved the gate of step %s already; approvals: %s", user, st.StepProgress, approvalsLine(ro))
			}
			value := rampv1.ApprovalValue(st.CanaryRevision, st.CurrentStep, user)
			return control{key: rampv1.ApprovalKey(user), value: &value, settled: func(_, now *rampv1.Rollout) (bool, string, error) {
				n := &now.Status
				switch {
				case n.CanaryRevision == st.CanaryRevision && n.CurrentStep == st.CurrentStep && n.Phase != rampv1.PhaseRolledBack:
					if slices.Contains(approvers(n), user) {
						return true, fmt.Sprintf("approval of %s recorded", user), nil
					}
					return false, "", nil
				case n.CanaryRevision == st.CanaryRevision && n.CurrentStep > st.CurrentStep && n.Phase != rampv1.PhaseRolledBack,
					n.StableRevision == st.CanaryRevision:
					return true, fmt.Sprintf("approval of %s opened the gate of step %s", user, st.StepProgress), nil
				}
				return true, "", fmt.Errorf("the rollout left the gate of step %s (phase %s) before the controller recorded the approval of %s", st.StepProgress, n.Phase, user)
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
	case int32(len(st.Approvals)) >= steps[st.CurrentStep].Pause.Approvals:
		return exitf(ExitNotDone, "nothing to approve: the gate of step %s is open already, approved by %s", st.StepProgress, strings.Join(approvers(st), ", "))
	}
	return nil
}
