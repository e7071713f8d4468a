package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func newListCommand(o *Options) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List rollouts: phase, step, canary weight, stable and canary revisions",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.session()
			if err != nil {
				return err
			}
			var list v1.RolloutList
			var opts []client.ListOption
			if !all {
				opts = append(opts, client.InNamespace(s.ns))
			}
			if err := s.c.List(cmd.Context(), &list, opts...); err != nil {
				return fmt.Errorf("list rollouts: %w", err)
			}
			if len(list.Items) == 0 {
				if all {
					fmt.Fprintln(cmd.ErrOrStderr(), "No rollouts found.")
				} else {
					fmt.Fprintf(cmd.ErrOrStderr(), "No rollouts found in %s namespace.\n", s.ns)
				}
				return nil
			}
			sort.Slice(list.Items, func(i, j int) bool {
				a, b := list.Items[i], list.Items[j]
				if a.Namespace != b.Namespace {
					return a.Namespace < b.Namespace
				}
				return a.Name < b.Name
			})
			return writeList(cmd.OutOrStdout(), list.Items, all, o.now())
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list the rollouts of all namespaces")
	return cmd
}

func newStatusCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "status NAME",
		Short: "Show a rollout: step, weight, revisions and images, checks, pause reasons and what it waits for",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.session()
			if err != nil {
				return err
			}
			ro, err := s.rollout(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return o.writeStatusOf(cmd.Context(), s, ro, cmd.OutOrStdout())
		},
	}
}

// writeStatusOf reads the images ro runs and writes its status view.
func (o *Options) writeStatusOf(ctx context.Context, s *session, ro *v1.Rollout, out io.Writer) error {
	stable, canary, err := s.images(ctx, ro)
	if err != nil {
		return err
	}
	return writeStatus(out, statusView{ro: ro, stableImage: stable, canaryImage: canary, now: o.now()})
}

func newWatchCommand(o *Options) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "watch NAME",
		Short: "Show a rollout on every change until it finishes: exit 0 promoted, 2 rolled back, 3 failed",
		Long: `Show a rollout on every change until it finishes.

Exits 0 once the revision in flight is promoted (or nothing is in flight),
2 when it is rolled back, 3 when the Rollout cannot be acted on as written,
and 1 on an error or when --timeout passes first.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.session()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return o.watch(ctx, s, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr(), timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (exit 1); 0 waits for ever")
	return cmd
}

// watch shows the Rollout on each change of it until the rollout finishes.
// Errors reading it are reported and retried (a pipeline's watch outlives
// an API server hiccup), except that the Rollout is gone.
func (o *Options) watch(ctx context.Context, s *session, name string, out, errOut io.Writer, timeout time.Duration) error {
	tty := isTerminal(out)
	watched, seen, rendered := "", "", false
	for {
		ro, err := s.rollout(ctx, name)
		var gone notFoundError
		switch {
		case errors.As(err, &gone):
			return err
		case err != nil && ctx.Err() == nil:
			fmt.Fprintf(errOut, "warning: %v (retrying)\n", err)
		case err == nil && ro.ResourceVersion != seen:
			seen = ro.ResourceVersion
			if tty {
				fmt.Fprint(out, "\033[H\033[2J")
			} else if rendered {
				fmt.Fprintf(out, "\n--- %s ---\n", clock(o.now()))
			}
			rendered = true
			if err := o.writeStatusOf(ctx, s, ro, out); err != nil && ctx.Err() == nil {
				fmt.Fprintf(errOut, "warning: %v (retrying)\n", err)
				seen = "" // show it again once the images can be read
			}
			if inFlight(&ro.Status) {
				watched = ro.Status.CanaryRevision
			}
			if code, msg, done := finished(ro, watched, o.now()); done {
				fmt.Fprintln(out, msg)
				if code != ExitOK {
					return &ExitError{Code: code, Err: fmt.Errorf("rollout %s: %s", name, msg)}
				}
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if timeout > 0 && ctx.Err() == context.DeadlineExceeded {
				return exitf(ExitNotDone, "rollout %s did not finish within %s", name, timeout)
			}
			return ctx.Err()
		case <-time.After(o.poll()):
		}
	}
}

// finished says whether the rollout watch follows has ended, and how: the
// exit code and a line to print. watched is the canary revision last seen
// in flight.
func finished(ro *v1.Rollout, watched string, now time.Time) (code int, msg string, done bool) {
	st := &ro.Status
	if st.Phase == "" || ro.Generation != st.ObservedGeneration {
		return 0, "", false // the controller has not seen the latest spec yet
	}
	switch st.Phase {
	case v1.PhaseRolledBack:
		return ExitRolledBack, fmt.Sprintf("rolled back %s: %s", canaryOf(st), strings.TrimPrefix(st.Message, "rolled back: ")), true
	case v1.PhaseFailed:
		return ExitFailed, "failed: " + st.Message, true
	case v1.PhaseHealthy:
		if st.CanaryRevision != "" {
			return 0, "", false
		}
		if u := st.PostPromotionUntil; u != nil && now.Before(u.Add(time.Minute)) {
			// Checks go on after the promotion and a breach still switches
			// back; the controller clears the time once the last check
			// passed (a minute's grace covers a controller that is gone).
			return 0, "", false
		}
		if watched != "" && st.StableRevision == watched {
			return ExitOK, fmt.Sprintf("promoted: %s serves all traffic", stableOf(st)), true
		}
		return ExitOK, fmt.Sprintf("nothing in flight: %s serves all traffic", stableOf(st)), true
	}
	return 0, "", false
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
