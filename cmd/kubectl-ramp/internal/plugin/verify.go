package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/proof"
)

func newVerifyCommand(o *Options) *cobra.Command {
	var refs []string
	cmd := &cobra.Command{
		Use:   "verify NAME [--image REF]...",
		Short: "Say which environments passed an image, and whether the rollout would start it now (exit 0) or not (exit 1, with the missing proof)",
		Long: `Say which environments passed an image, and whether the rollout would start
it now.

For each image (--image, repeatable: a tag or repo@sha256:...; by default the
images of the Rollout's spec.template), the Verification records of every
namespace you may list say, per environment, which digests it ran as, the
outcome of its latest run there, when it first passed since its last failure
and the records. Then spec.promotion.requires is judged on those records as
the controller judges it. When Verifications of all namespaces cannot be
listed, those of the Rollout's namespace are used, and the output says so.
As the controller does, only records in a namespace the requirement lists
(spec.promotion.requires[].namespaces), or else in a namespace of that
environment (its ramp.dev/environment label, else its name), count; others
claiming a required environment are named as ignored.

Exits 0 when the rollout would start the images now (proven, or by a
ramp.dev/promotion-override naming the template's revision), 1 when not,
printing the missing proof.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.session()
			if err != nil {
				return err
			}
			ro, err := s.rollout(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			records, scope, err := s.allRecords(cmd.Context(), ro.Namespace)
			if err != nil {
				return err
			}
			own, err := s.recordsOf(cmd.Context(), ro)
			if err != nil {
				return err
			}
			env, note := s.environment(cmd.Context(), ro, own)
			v := verifyView{
				ro: ro, env: envLine(env, note), images: imagesToVerify(ro, refs),
				records: records, scope: scope, now: o.now(),
			}
			seen := map[string]string{}
			v.namespaceEnv = func(ns string) string {
				if e, ok := seen[ns]; ok {
					return e
				}
				e, note := s.namespaceEnv(cmd.Context(), ns)
				if note != "" {
					v.unreadable = append(v.unreadable, fmt.Sprintf("namespace %s: %s; taken as environment %s", ns, note, e))
				}
				seen[ns] = e
				return e
			}
			return writeVerify(cmd.OutOrStdout(), v)
		},
	}
	cmd.Flags().StringArrayVar(&refs, "image", nil, "an image reference to verify (tag or repo@sha256:...); repeatable; default: the images of spec.template")
	return cmd
}

// allRecords lists the Verifications of all namespaces, or, when that is
// forbidden, of namespace ns; scope says which.
func (s *session) allRecords(ctx context.Context, ns string) ([]v1.Verification, string, error) {
	var list v1.VerificationList
	err := s.c.List(ctx, &list)
	if err == nil {
		return list.Items, "all namespaces", nil
	}
	if !apierrors.IsForbidden(err) {
		return nil, "", fmt.Errorf("list verifications: %w", err)
	}
	if err := s.c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, "", fmt.Errorf("list verifications in %s: %w", ns, err)
	}
	return list.Items, fmt.Sprintf("namespace %s only (you may not list verifications in all namespaces: records elsewhere are not seen)", ns), nil
}

// imagesToVerify are the --image references, each under the name of the
// template's container that uses it (if one does), or the template's
// images.
func imagesToVerify(ro *v1.Rollout, refs []string) []proof.Image {
	tmpl := proof.Images(&ro.Spec.Template.Spec)
	if len(refs) == 0 {
		return tmpl
	}
	out := make([]proof.Image, 0, len(refs))
	for _, ref := range refs {
		img := proof.Image{Ref: ref}
		for _, t := range tmpl {
			if t.Ref == ref {
				img.Container = t.Container
				break
			}
		}
		out = append(out, img)
	}
	return out
}

// verifyView is everything kubectl ramp verify shows.
type verifyView struct {
	ro      *v1.Rollout
	env     string
	images  []proof.Image
	records []v1.Verification
	scope   string // where records were listed
	now     time.Time
	// namespaceEnv is the environment of a namespace, as the controller
	// reads it (proof.Trusted); unreadable are the namespaces it could not
	// read, taken as environments of their name.
	namespaceEnv func(string) string
	unreadable   []string
}

// writeVerify writes the view of kubectl ramp verify and returns an
// ExitNotDone error when the rollout would not start the images now.
func writeVerify(out io.Writer, v verifyView) error {
	ro := v.ro
	line := func(key, format string, args ...any) {
		fmt.Fprintf(out, "%-*s%s\n", keyWidth, key+":", fmt.Sprintf(format, args...))
	}
	var reqs []v1.PromotionRequirement
	if ro.Spec.Promotion != nil {
		reqs = ro.Spec.Promotion.Requires
	}
	line("Rollout", "%s/%s", ro.Namespace, ro.Name)
	line("Environment", "%s", v.env)
	line("Requires", "%s", requiresLine(&ro.Spec))
	line("Records", "%d %s in %s", len(v.records), plural(len(v.records), "Verification", "Verifications"), v.scope)
	trusted, ignored := proof.Trusted(reqs, v.records, v.namespaceEnv)
	counts := map[string]bool{}
	for _, r := range trusted {
		counts[r.Namespace+"/"+r.Name] = true
	}
	for _, img := range v.images {
		fmt.Fprintln(out)
		name := img.Ref
		if img.Container != "" {
			name = img.Container + "  " + img.Ref
		}
		line("Image", "%s", name)
		if err := writeEnvironments(out, img.Ref, v.records, reqs, counts, v.now); err != nil {
			return err
		}
	}
	fmt.Fprintln(out)

	if ignored != "" {
		line("Ignored", "%s", ignored)
	}
	for _, n := range v.unreadable {
		line("Namespace", "%s", n)
	}
	verdict := proof.Check(reqs, v.images, trusted, v.now)
	if verdict.Missing != "" && ignored != "" {
		verdict.Missing += " (" + ignored + ")" // as the controller says it
	}
	override, problem := "", ""
	if _, ok := ro.Annotations[v1.AnnotationPromotionOverride]; ok {
		rev := v1.TemplateRevision(&ro.Spec.Template)
		override, problem = proof.Override(ro.Annotations, rev)
		switch {
		case problem != "":
			line("Override", "%s", problem)
		case !sameImages(v.images, proof.Images(&ro.Spec.Template.Spec)):
			line("Override", "%s names revision %s (spec.template), whose images are not those verified here: it does not count for them", v1.AnnotationPromotionOverride, rev)
			override = ""
		default:
			line("Override", "%s starts revision %s without proof: %s", v1.AnnotationPromotionOverride, rev, override)
		}
	}
	switch {
	case len(reqs) == 0:
		line("Would start", "yes: spec.promotion.requires asks for no proof")
	case verdict.Missing == "":
		line("Would start", "yes, on %s", strings.Join(verdict.Upstream, ", "))
	case override != "":
		line("Would start", "yes, by %s (%s), though proof is missing: %s", v1.AnnotationPromotionOverride, override, verdict.Missing)
	default:
		line("Would start", "no: %s", verdict.Missing)
		if !verdict.RecheckAt.IsZero() {
			line("Recheck", "%s (%s), when a soak ends", verdict.RecheckAt.UTC().Format(time.RFC3339), in(verdict.RecheckAt, v.now))
		}
		return exitf(ExitNotDone, "rollout %s would not start it now: %s", ro.Name, verdict.Missing)
	}
	return nil
}

// writeEnvironments writes, for one image reference, the table of the
// environments that ran it, and a row for each required one that did not.
// A record of a required environment that does not count (not in counts:
// proof.Trusted left it out) is marked ignored.
func writeEnvironments(out io.Writer, ref string, records []v1.Verification, reqs []v1.PromotionRequirement, counts map[string]bool, now time.Time) error {
	envs := proof.Environments(ref, records)
	for _, r := range reqs {
		if !slices.ContainsFunc(envs, func(e proof.Environment) bool { return e.Name == r.Environment }) {
			envs = append(envs, proof.Environment{Name: r.Environment})
		}
	}
	if len(envs) == 0 {
		_, err := fmt.Fprintf(out, "%-*s%s\n", keyWidth, "", "no environment ran it")
		return err
	}
	slices.SortFunc(envs, func(a, b proof.Environment) int { return strings.Compare(a.Name, b.Name) })
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  ENVIRONMENT\tDIGEST\tLATEST\tPASSED SINCE\tRECORDS")
	var problems []string
	for _, e := range envs {
		name := e.Name
		required := slices.ContainsFunc(reqs, func(r v1.PromotionRequirement) bool { return r.Environment == e.Name })
		if required {
			name += " (required)"
		}
		if len(e.Digests) == 0 {
			fmt.Fprintf(tw, "  %s\t-\t-\t-\tnever ran it\n", name)
		}
		for _, d := range e.Digests {
			passed := "-"
			if !d.PassedSince.IsZero() {
				passed = fmt.Sprintf("%s (%s ago)", d.PassedSince.UTC().Format(time.RFC3339), since(d.PassedSince, now))
			}
			latest := string(d.Outcome)
			if d.Outcome == v1.VerificationFailed {
				latest += ": " + orDash(d.FailedReason)
			}
			recs := slices.Clone(d.Records)
			for i, r := range recs {
				if required && !counts[r] {
					recs[i] = r + " (ignored)"
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", name, shortDigest(d.Digest), latest, passed, strings.Join(recs, ","))
		}
		if e.Problem != "" {
			problems = append(problems, e.Problem)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range problems {
		if _, err := fmt.Fprintf(out, "  %s\n", p); err != nil {
			return err
		}
	}
	return nil
}

func sameImages(a, b []proof.Image) bool {
	return slices.EqualFunc(a, b, func(x, y proof.Image) bool { return x.Ref == y.Ref })
}
