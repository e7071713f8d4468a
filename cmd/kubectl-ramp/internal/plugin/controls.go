package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rampv1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

const defaultWait = 10 * time.Second

// control is one annotation write and how to tell what the controller did
// with it.
type control struct {
	key   string
	value *string // nil removes the annotation
	// settled reports, from the Rollout as it was before the write and as
	// it is now, whether the controller has dealt with the write; then
	// what it did, or an error saying it ignored the write.
	settled func(before, now *rampv1.Rollout) (done bool, did string, err error)
}

// addWait adds --wait to a control command.
func addWait(cmd *cobra.Command, wait *time.Duration) {
	cmd.Flags().DurationVar(wait, "wait", defaultWait, "how long to wait for the controller to act; 0 does not wait")
}

// runControl writes the control's annotation and waits for the controller
// to deal with it, then prints what it did and where the rollout stands.
func (o *Options) runControl(ctx context.Context, s *session, before *rampv1.Rollout, ctl control, wait time.Duration, out io.Writer) error {
	name := before.Name
	if err := s.annotate(ctx, name, ctl.key, ctl.value); err != nil {
		return err
	}
	if ctl.value == nil {
		fmt.Fprintf(out, "rollout %s/%s: %s removed\n", s.ns, name, ctl.key)
	} else {
		fmt.Fprintf(out, "rollout %s/%s: %s=%q\n", s.ns, name, ctl.key, *ctl.value)
	}
	if wait <= 0 {
		return nil
	}
	poll := min(o.poll(), 250*time.Millisecond)
	deadline := time.Now().Add(wait)
	for {
		now, err := s.rollout(ctx, name)
		if err != nil {
			return err
		}
		if done, did, err := ctl.settled(before, now); done {
			if err != nil {
				writeResult(out, now)
				return &ExitError{Code: ExitNotDone, Err: err}
			}
			fmt.Fprintf(out, "controller: %s\n", did)
			writeResult(out, now)
			return nil
		}
		if time.Now().After(deadline) {
			writeResult(out, now)
			return exitf(ExitNotDone, "the controller did not act on %s within %s (is ramp-controller running and watching namespace %s?)", ctl.key, wait, s.ns)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// writeResult writes where the rollout stands after a control.
func writeResult(out io.Writer, ro *rampv1.Rollout) {
	st := &ro.Status
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "  phase:\t%s\n", orDash(string(st.Phase)))
	if inFlight(st) {
		fmt.Fprintf(tw, "  step:\t%s\n", orDash(st.StepProgress))
		fmt.Fprintf(tw, "  weight:\t%s to %s\n", weightBar(st.CanaryWeight), st.StableColor.Other())
	} else {
		fmt.Fprintf(tw, "  stable:\t%s\n", stableOf(st))
	}
	if s := approvalsLine(ro); s != "" {
		fmt.Fprintf(tw, "  approvals:\t%s\n", s)
	}
	fmt.Fprintf(tw, "  message:\t%s\n", orDash(st.Message))
	_ = tw.Flush()
}

// controlCommand builds a command that reads the Rollout, lets build make
// the control from it, and runs it.
func controlCommand(o *Options, use, short string, build func(ctx context.Context, s *session, ro *rampv1.Rollout) (control, error)) *cobra.Command {
	wait := new(time.Duration)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := o.session()
			if err != nil {
				return err
			}
			ro, err := s.rollout(ctx, args[0])
			if err != nil {
				return err
			}
			ctl, err := build(ctx, s, ro)
			if err != nil {
				return err
			}
			return o.runControl(ctx, s, ro, ctl, *wait, cmd.OutOrStdout())
		},
	}
	addWait(cmd, wait)
	return cmd
}

func ptr(s string) *string { return &s }

// pausedBy reports whether the Paused condition is true, and its message.
func pausedBy(ro *rampv1.Rollout) (bool, string) {
	c := meta.FindStatusCondition(ro.Status.Conditions, rampv1.ConditionPaused)
	if c == nil || c.Status != metav1.ConditionTrue {
		return false, ""
	}
	return true, c.Message
}

func newPauseCommand(o *Options) *cobra.Command {
	cmd := controlCommand(o, "pause NAME", "Hold a rollout at its weight (ramp.dev/pause=true); checks go on and a breach still rolls back",
		func(context.Context, *session, *rampv1.Rollout) (control, error) {
			return control{key: rampv1.AnnotationPause, value: ptr("true"), settled: func(_, now *rampv1.Rollout) (bool, string, error) {
				if !inFlight(&now.Status) || now.Status.Phase == rampv1.PhaseFailed {
					return true, "nothing in flight: the next rollout holds before its first step until resumed", nil
				}
				// Undecided checks are the one hold the pause does not
				// take the place of in the Paused condition.
				if held, why := pausedBy(now); held && (strings.Contains(why, rampv1.AnnotationPause) || undecided(now)) {
					return true, "holding: " + why, nil
				}
				return false, "", nil
			}}, nil
		})
	return cmd
}

func newResumeCommand(o *Options) *cobra.Command {
	cmd := controlCommand(o, "resume NAME", "Let a paused rollout go on (removes ramp.dev/pause)",
		func(context.Context, *session, *rampv1.Rollout) (control, error) {
			return control{key: rampv1.AnnotationPause, value: nil, settled: func(_, now *rampv1.Rollout) (bool, string, error) {
				if !inFlight(&now.Status) || now.Status.Phase == rampv1.PhaseFailed {
					return true, "nothing in flight to resume", nil
				}
				held, why := pausedBy(now)
				switch {
				case !held:
					return true, "resumed", nil
				case !strings.Contains(why, rampv1.AnnotationPause):
					return true, "resumed from the annotation, still held: " + why, nil
				}
				return false, "", nil
			}}, nil
		})
	return cmd
}

func newPromoteCommand(o *Options) *cobra.Command {
	var full bool
	cmd := controlCommand(o, "promote NAME", "Pass the current manual gate (ramp.dev/promote), or with --full skip the remaining steps (ramp.dev/promote-full)",
		func(_ context.Context, _ *session, ro *rampv1.Rollout) (control, error) {
			value := o.now().UTC().Format(time.RFC3339Nano)
			if full {
				return control{key: rampv1.AnnotationPromoteFull, value: &value, settled: promoteFullSettled(value)}, nil
			}
			return control{key: rampv1.AnnotationPromote, value: &value, settled: promoteSettled(value)}, nil
		})
	cmd.Flags().BoolVar(&full, "full", false, "skip the remaining steps and promote now (ramp.dev/promote-full)")
	return cmd
}

func controlsOf(ro *rampv1.Rollout) rampv1.ControlsStatus {
	if ro.Status.Controls == nil {
		return rampv1.ControlsStatus{}
	}
	return *ro.Status.Controls
}

func promoteSettled(value string) func(before, now *rampv1.Rollout) (bool, string, error) {
	return func(before, now *rampv1.Rollout) (bool, string, error) {
		if controlsOf(now).Promote != value {
			return false, "", nil
		}
		b, n := &before.Status, &now.Status
		switch {
		case n.StableRevision != b.StableRevision && b.CanaryRevision != "" && n.StableRevision == b.CanaryRevision:
			return true, fmt.Sprintf("gate passed, %s promoted", stableOf(n)), nil
		case n.CanaryRevision != b.CanaryRevision:
			return true, "the revision in flight changed meanwhile", nil
		case n.CurrentStep != b.CurrentStep:
			return true, fmt.Sprintf("gate of step %d passed, now at step %s", b.CurrentStep, n.StepProgress), nil
		case n.GatePassed:
			return true, fmt.Sprintf("gate of step %d passed; the step ends once its hold and checks have passed", n.CurrentStep), nil
		}
		return true, "", fmt.Errorf("the controller ignored %s: %s", rampv1.AnnotationPromote, promoteIgnored(now))
	}
}

// promoteIgnored says why ramp.dev/promote had nothing to do.
func promoteIgnored(ro *rampv1.Rollout) string {
	st := &ro.Status
	if !inFlight(st) {
		return "nothing is in flight"
	}
	steps := ro.Spec.EffectiveSteps()
	step := steps[min(max(st.CurrentStep, 0), int32(len(steps)-1))]
	switch {
	case gateNeeds(step) > 0:
		return fmt.Sprintf("the gate of step %s needs %d approvals (kubectl ramp approve %s)", st.StepProgress, gateNeeds(step), ro.Name)
	case step.Pause != nil:
		return fmt.Sprintf("the gate of step %s is open already", st.StepProgress)
	}
	return fmt.Sprintf("step %s has no gate (kubectl ramp promote --full %s skips the remaining steps)", st.StepProgress, ro.Name)
}

func promoteFullSettled(value string) func(before, now *rampv1.Rollout) (bool, string, error) {
	return func(before, now *rampv1.Rollout) (bool, string, error) {
		if controlsOf(now).PromoteFull != value {
			return false, "", nil
		}
		b, n := &before.Status, &now.Status
		switch {
		case b.CanaryRevision != "" && n.StableRevision == b.CanaryRevision && n.StableRevision != b.StableRevision:
			return true, fmt.Sprintf("remaining steps skipped, %s promoted", stableOf(n)), nil
		case n.PromoteFull:
			return true, "remaining steps skipped: promoting once the canary has all its pods", nil
		}
		return true, "", fmt.Errorf("the controller ignored %s: nothing is in flight", rampv1.AnnotationPromoteFull)
	}
}

func newAbortCommand(o *Options) *cobra.Command {
	var reason string
	cmd := controlCommand(o, "abort NAME", "Roll back now (ramp.dev/abort=<reason>): all traffic to the stable color",
		func(ctx context.Context, s *session, ro *rampv1.Rollout) (control, error) {
			r := reason
			if r == "" {
				r = "aborted via kubectl ramp"
				if user, err := s.whoAmI(ctx); err == nil {
					r = fmt.Sprintf("aborted by %s via kubectl ramp", user)
				}
			}
			// The time makes each abort a new value, also when the reason repeats.
			value := fmt.Sprintf("%s (at %s)", r, o.now().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
			return control{key: rampv1.AnnotationAbort, value: &value, settled: abortSettled(value)}, nil
		})
	cmd.Flags().StringVar(&reason, "reason", "", `why, kept in status (default "aborted by <user> via kubectl ramp")`)
	return cmd
}

// abortSettled says when an abort of value is over: rolled back with it as
// the reason; still rolling back (the reason taken, the routes not yet at
// 0 %) is not over; the value spent without it as the reason was ignored.
func abortSettled(value string) func(before, now *rampv1.Rollout) (bool, string, error) {
	return func(_, now *rampv1.Rollout) (bool, string, error) {
		if controlsOf(now).Abort != value {
			return false, "", nil
		}
		if now.Status.AbortReason == value {
			if now.Status.Phase == rampv1.PhaseRolledBack {
				return true, fmt.Sprintf("rolled back: all traffic to %s", stableOf(&now.Status)), nil
			}
			// Taken, and rolling back: the routes do not carry 0 % yet.
			return false, "", nil
		}
		return true, "", fmt.Errorf("the controller ignored %s: nothing is in flight", rampv1.AnnotationAbort)
	}
}

func newRetryCommand(o *Options) *cobra.Command {
	cmd := controlCommand(o, "retry NAME", "Roll a rolled-back revision out again from step 0 (ramp.dev/retry)",
		func(context.Context, *session, *rampv1.Rollout) (control, error) {
			value := o.now().UTC().Format(time.RFC3339Nano)
			return control{key: rampv1.AnnotationRetry, value: &value, settled: func(before, now *rampv1.Rollout) (bool, string, error) {
				if controlsOf(now).Retry != value {
					return false, "", nil
				}
				if before.Status.Phase == rampv1.PhaseRolledBack && now.Status.Phase != rampv1.PhaseRolledBack {
					return true, fmt.Sprintf("rolling %s out again from step 0", before.Status.CanaryRevision), nil
				}
				return true, "", fmt.Errorf("the controller ignored %s: the rollout was not rolled back (phase %s)", rampv1.AnnotationRetry, before.Status.Phase)
			}}, nil
		})
	return cmd
}

// undecided reports whether the last check of some metric could not decide
// (Inconclusive or Error).
func undecided(ro *rampv1.Rollout) bool {
	if ro.Status.Analysis == nil {
		return false
	}
	for _, m := range ro.Status.Analysis.Metrics {
		if m.Phase == rampv1.CheckInconclusive || m.Phase == rampv1.CheckError {
			return true
		}
	}
	return false
}
