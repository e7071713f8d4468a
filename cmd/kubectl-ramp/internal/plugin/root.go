package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Exit codes of kubectl-ramp.
const (
	// ExitOK: the command did what it was asked; watch: the rollout was promoted.
	ExitOK = 0
	// ExitNotDone: the command failed, timed out, or the controller did not
	// act (or ignored what it was asked).
	ExitNotDone = 1
	// ExitRolledBack: watch saw the rollout roll back.
	ExitRolledBack = 2
	// ExitFailed: watch saw the Rollout fail (it cannot be acted on as written).
	ExitFailed = 3
)

// ExitError is an error with the exit code the program ends with.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// exitf returns an ExitError with a formatted message.
func exitf(code int, format string, args ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

// Options are what the commands are given instead of globals.
type Options struct {
	// Streams are stdin, stdout and stderr.
	Streams genericiooptions.IOStreams
	// ConfigFlags are kubectl's kubeconfig, context and namespace flags;
	// genericclioptions.NewConfigFlags(true) when nil.
	ConfigFlags *genericclioptions.ConfigFlags
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PollInterval is how often watch and the controls look at the Rollout;
	// one second when zero.
	PollInterval time.Duration
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) poll() time.Duration {
	if o.PollInterval > 0 {
		return o.PollInterval
	}
	return time.Second
}

// NewCommand builds the kubectl-ramp command tree.
func NewCommand(o *Options) *cobra.Command {
	if o.ConfigFlags == nil {
		o.ConfigFlags = genericclioptions.NewConfigFlags(true)
	}
	root := &cobra.Command{
		Use:   "kubectl-ramp",
		Short: "Watch and steer Ramp rollouts",
		Long: `kubectl ramp shows Ramp rollouts and steers them with the ramp.dev annotations.

Exit codes: 0 done (watch: promoted; verify: the rollout would start the
image), 1 error, the controller did not act in time, or verify: it would not,
2 watch saw a rollback, 3 watch saw the Rollout fail.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl ramp"},
	}
	root.SetIn(o.Streams.In)
	root.SetOut(o.Streams.Out)
	root.SetErr(o.Streams.ErrOut)
	o.ConfigFlags.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newListCommand(o),
		newStatusCommand(o),
		newWatchCommand(o),
		newPauseCommand(o),
		newResumeCommand(o),
		newPromoteCommand(o),
		newAbortCommand(o),
		newRetryCommand(o),
		newApproveCommand(o),
		newHistoryCommand(o),
		newVerifyCommand(o),
	)
	return root
}

// Run runs kubectl-ramp with args and returns the exit code; errors are
// printed to the error stream.
func Run(ctx context.Context, o Options, args []string) int {
	cmd := NewCommand(&o)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(o.Streams.ErrOut, "error:", err)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitNotDone
}
