package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/windows"
)

func newHistoryCommand(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List a rollout's runs, newest first: revision, outcome, times, digests, approvers, reasons; and its windows and gates",
		Long: `List the runs of a rollout, newest first, from the Verification records Ramp
wrote of them (in the Rollout's namespace) and the run in flight: revision,
outcome, start time and the promotion, watch end and finish after it, the
digests each container ran, the approvers, the override or rollback reason.
The header says the environment, the proof it requires, its deploy windows
and its gates.

-o json or -o yaml prints the runs as a VerificationList, newest first; the
run in flight (outcome Running), of which status holds the record until it
is promoted or rolled back, has no creationTimestamp.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "json" && output != "yaml" {
				return fmt.Errorf("--output %q: want json or yaml", output)
			}
			s, err := o.session()
			if err != nil {
				return err
			}
			ro, err := s.rollout(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			records, err := s.recordsOf(cmd.Context(), ro)
			if err != nil {
				return err
			}
			env, note := s.environment(cmd.Context(), ro, records)
			runs := history(ro, env, records)
			switch output {
			case "json", "yaml":
				return writeRuns(cmd.OutOrStdout(), runs, output)
			}
			return writeHistory(cmd.OutOrStdout(), ro, envLine(env, note), runs, len(records), o.now())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json or yaml: print the runs as a VerificationList")
	return cmd
}

// recordsOf lists the Verifications of ro's runs: those of its namespace
// whose spec.rollout or ramp.dev/rollout label names it.
func (s *session) recordsOf(ctx context.Context, ro *v1.Rollout) ([]v1.Verification, error) {
	var list v1.VerificationList
	if err := s.c.List(ctx, &list, client.InNamespace(ro.Namespace)); err != nil {
		return nil, fmt.Errorf("list verifications in %s: %w", ro.Namespace, err)
	}
	var out []v1.Verification
	for _, r := range list.Items {
		if r.Spec.Rollout == ro.Name || r.Labels[v1.LabelRollout] == ro.Name {
			out = append(out, r)
		}
	}
	return out, nil
}

// environment is what the controller names ro's environment:
// spec.environment, else its namespace's environment. A namespace the
// caller cannot read leaves the environment its own records name (or the
// namespace's name), and note says so.
func (s *session) environment(ctx context.Context, ro *v1.Rollout, records []v1.Verification) (name, note string) {
	if ro.Spec.Environment != "" {
		return ro.Spec.Environment, ""
	}
	env, note := s.namespaceEnv(ctx, ro.Namespace)
	if note == "" {
		return env, ""
	}
	for i := len(records) - 1; i >= 0; i-- {
		if e := records[i].Spec.Environment; e != "" {
			return e, "as its records say; namespace " + ro.Namespace + " unreadable"
		}
	}
	return env, note
}

// namespaceEnv is a namespace's environment as the controller reads it:
// its ramp.dev/environment label when that is a DNS label, else its name.
// note says when the namespace could not be read (its name is taken then)
// or its label was ignored.
func (s *session) namespaceEnv(ctx context.Context, name string) (env, note string) {
	var ns corev1.Namespace
	if err := s.c.Get(ctx, types.NamespacedName{Name: name}, &ns); err != nil {
		return name, "namespace unreadable: its " + v1.LabelEnvironment + " label may say otherwise"
	}
	e := ns.Labels[v1.LabelEnvironment]
	switch {
	case e == "":
		return name, ""
	case len(validation.IsDNS1123Label(e)) > 0:
		return name, fmt.Sprintf("the namespace's %s label %q is no DNS label: ignored", v1.LabelEnvironment, e)
	}
	return e, ""
}

// envLine is an environment and the note on how it was found.
func envLine(name, note string) string {
	if note == "" {
		return name
	}
	return name + " (" + note + ")"
}

// history is ro's runs, newest first: its records, and the run status
// holds that no record carries yet (status.verification not written, or
// the revision in flight before the controller recorded anything, shown in
// environment env).
func history(ro *v1.Rollout, env string, records []v1.Verification) []v1.Verification {
	runs := append([]v1.Verification(nil), records...)
	st := &ro.Status
	has := func(match func(*v1.Verification) bool) bool {
		for i := range runs {
			if match(&runs[i]) {
				return true
			}
		}
		return false
	}
	if sv := st.Verification; sv != nil && !has(func(r *v1.Verification) bool { return r.Name == sv.Name }) {
		r := v1.Verification{Spec: *sv.Record.DeepCopy()}
		r.Name, r.Namespace = sv.Name, ro.Namespace
		runs = append(runs, r)
	}
	if inFlight(st) && st.CanaryRevision != "" && !has(func(r *v1.Verification) bool {
		return r.Spec.Revision == st.CanaryRevision && sameTime(r.Spec.StartedAt, st.CanaryStartedAt)
	}) {
		r := v1.Verification{Spec: v1.VerificationSpec{
			Rollout: ro.Name, Environment: env, Revision: st.CanaryRevision, Outcome: v1.VerificationRunning,
			StartedAt: st.CanaryStartedAt.DeepCopy(),
			Approvers: append([]v1.Approval(nil), st.Approvals...),
		}}
		r.Namespace = ro.Namespace
		for _, e := range st.Images {
			if e.Color == st.StableColor.Other() && e.Revision == st.CanaryRevision {
				r.Spec.Images = append(r.Spec.Images, e.Containers...)
			}
		}
		runs = append(runs, r)
	}
	sort.SliceStable(runs, func(i, j int) bool {
		a, b := startOf(&runs[i]), startOf(&runs[j])
		if !a.Equal(b) {
			return a.After(b)
		}
		return runs[i].Name > runs[j].Name
	})
	return runs
}

func sameTime(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

// startOf is when a run started, or the earliest time it gives.
func startOf(r *v1.Verification) time.Time {
	for _, t := range []*metav1.Time{r.Spec.StartedAt, r.Spec.PromotedAt, r.Spec.FinishedAt} {
		if t != nil {
			return t.Time
		}
	}
	return r.CreationTimestamp.Time
}

// writeRuns prints runs as a VerificationList in json or yaml.
func writeRuns(out io.Writer, runs []v1.Verification, format string) error {
	list := v1.VerificationList{Items: runs}
	list.APIVersion, list.Kind = v1.GroupVersion.String(), "VerificationList"
	for i := range list.Items {
		list.Items[i].APIVersion, list.Items[i].Kind = v1.GroupVersion.String(), "Verification"
		list.Items[i].ManagedFields = nil // as kubectl get prints objects
	}
	var b []byte
	var err error
	if format == "yaml" {
		b, err = yaml.Marshal(list)
	} else {
		b, err = json.MarshalIndent(list, "", "  ")
		b = append(b, '\n')
	}
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}

// writeHistory writes the header and the table of kubectl ramp history.
func writeHistory(out io.Writer, ro *v1.Rollout, env string, runs []v1.Verification, kept int, now time.Time) error {
	line := func(key, format string, args ...any) {
		fmt.Fprintf(out, "%-*s%s\n", keyWidth, key+":", fmt.Sprintf(format, args...))
	}
	line("Rollout", "%s/%s", ro.Namespace, ro.Name)
	line("Environment", "%s", env)
	line("Requires", "%s", requiresLine(&ro.Spec))
	line("Windows", "%s", windowsLine(ro.Spec.DeployWindows, now))
	line("Gates", "%s", gatesLine(ro.Spec.EffectiveSteps()))
	line("Records", "%d kept (at most %d, spec.promotion.historyLimit)", kept, ro.Spec.HistoryLimit())
	if len(runs) == 0 {
		_, err := fmt.Fprintln(out, "\nNo runs recorded yet.")
		return err
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tOUTCOME\tSTARTED\tPROMOTED\tWATCH-END\tFINISHED\tDIGESTS\tAPPROVERS\tNOTES")
	for i := range runs {
		r := &runs[i]
		sp := &r.Spec
		start := startOf(r)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			sp.Revision, outcomeOf(ro, r), stamp(sp.StartedAt),
			after(sp.PromotedAt, start), after(sp.WatchEndedAt, start), after(sp.FinishedAt, start),
			digestsLine(sp.Images), approversLine(sp.Approvers), notes(r))
	}
	return tw.Flush()
}

// outcomeOf is a run's outcome: the phase of the run in flight, and a
// finished run's record that status holds but no Verification carries yet
// said so.
func outcomeOf(ro *v1.Rollout, r *v1.Verification) string {
	switch {
	case r.Spec.Outcome == v1.VerificationRunning || r.Spec.Outcome == "":
		return "Running (" + orDash(string(ro.Status.Phase)) + ")"
	case r.CreationTimestamp.IsZero():
		return string(r.Spec.Outcome) + " (not written yet)"
	}
	return string(r.Spec.Outcome)
}

// stamp is a time in UTC to the second, "-" when unset.
func stamp(t *metav1.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// after is a time as the delay after the run's start, "+4m10s".
func after(t *metav1.Time, start time.Time) string {
	if t == nil {
		return "-"
	}
	if start.IsZero() {
		return stamp(t)
	}
	return "+" + duration.HumanDuration(max(t.Sub(start), 0))
}

// digestsLine names the digests each container ran, short: the digest
// alone for one container, name=digest for several, "-" for a container
// never seen ready; two digests of one container are joined with "+".
func digestsLine(images []v1.ContainerImages) string {
	if len(images) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(images))
	for _, c := range images {
		var ds []string
		for _, d := range c.Digests {
			if d != "" {
				ds = append(ds, shortDigest(d))
			}
		}
		what := orDash(strings.Join(ds, "+"))
		if len(images) > 1 {
			what = c.Name + "=" + what
		}
		parts = append(parts, what)
	}
	return strings.Join(parts, ",")
}

// shortDigest is a digest as its algorithm and first 12 hex digits, as the
// proof's messages write it.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

func approversLine(as []v1.Approval) string {
	users := make([]string, 0, len(as))
	for _, a := range as {
		users = append(users, a.User)
	}
	return orDash(strings.Join(users, ","))
}

// notes are a run's override and rollback (or pass) reason, and the
// upstream records its start rested on.
func notes(r *v1.Verification) string {
	var out []string
	if ov := r.Spec.Override; ov != nil {
		out = append(out, "override: "+ov.Reason)
	}
	switch {
	case r.Spec.Outcome == v1.VerificationFailed:
		out = append(out, "rolled back: "+orDash(r.Spec.Reason))
	case r.Spec.Reason != "":
		out = append(out, r.Spec.Reason)
	}
	if len(r.Spec.Upstream) > 0 {
		out = append(out, "proof: "+strings.Join(r.Spec.Upstream, ","))
	}
	return orDash(strings.Join(out, "; "))
}

// requiresLine is spec.promotion.requires: "staging (soak 1h0m0s), dev".
func requiresLine(spec *v1.RolloutSpec) string {
	if spec.Promotion == nil || len(spec.Promotion.Requires) == 0 {
		return "nothing (no spec.promotion.requires)"
	}
	parts := make([]string, 0, len(spec.Promotion.Requires))
	for _, r := range spec.Promotion.Requires {
		p := r.Environment + " passed"
		if r.Soak != nil && r.Soak.Duration > 0 {
			p += fmt.Sprintf(" at least %s ago", r.Soak.Duration)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// windowsLine lists the deploy windows and whether they let a rollout
// progress now.
func windowsLine(ws []v1.DeployWindow, now time.Time) string {
	if len(ws) == 0 {
		return "none (always open)"
	}
	parts := make([]string, 0, len(ws))
	for _, w := range ws {
		tz := w.TimeZone
		if tz == "" {
			tz = "UTC"
		}
		parts = append(parts, fmt.Sprintf("%s %q for %s (%s)", w.Kind, w.Schedule, w.Duration.Duration, tz))
	}
	state := "open now"
	if s := windows.Evaluate(ws, now); !s.Open {
		state = "closed now: " + s.Reason
	}
	return strings.Join(parts, ", ") + "; " + state
}

// gatesLine lists the steps that wait for a promote or for approvals.
func gatesLine(steps []v1.Step) string {
	var parts []string
	for i, s := range steps {
		if s.Pause == nil {
			continue
		}
		p := fmt.Sprintf("step %d at %d%%: promote", i, s.Weight)
		if s.Pause.Approvals > 0 {
			p = fmt.Sprintf("step %d at %d%%: %d %s", i, s.Weight, s.Pause.Approvals, plural(int(s.Pause.Approvals), "approval", "approvals"))
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "none (steps advance on their checks and holds)"
	}
	return strings.Join(parts, ", ")
}
