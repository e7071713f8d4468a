package plan

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// TemplateResolution is what the controller resolved of
// spec.analysis.templates in this reconcile: the templates as they are now,
// with their argument values. Next uses it only when a revision starts: it
// copies Items into status.analysis.templates, the snapshot the revision
// keeps to the end of its rollout; a problem holds the start.
type TemplateResolution struct {
	// Items are the resolved templates, in the order of
	// spec.analysis.templates.
	Items []v1.ResolvedTemplate
	// Problems say why a template could not be resolved (missing, an
	// argument without a value, an unknown argument, a metric name used
	// twice, a query that does not validate); each names the template.
	Problems []string
}

// FoundTemplate is a template the controller read.
type FoundTemplate struct {
	// Generation is the template's metadata.generation.
	Generation int64
	// Spec is its spec.
	Spec v1.AnalysisTemplateSpec
}

// ArgFields are the values an argument's valueFrom.field reads, for the
// revision that would start: namespace, rollout, canaryService and so on.
type ArgFields map[string]string

// StartFields are the ArgFields of the revision that would start now: the
// canary is the color that is not stable, revision is spec.template's.
// colorName names a color's Service (e.g. shop-green).
func StartFields(namespace, rollout string, st *v1.RolloutStatus, revision string, colorName func(v1.Color) string) ArgFields {
	stable := st.StableColor
	if stable == "" {
		stable = v1.Blue
	}
	canary := stable.Other()
	return ArgFields{
		"namespace":      namespace,
		"rollout":        rollout,
		"canaryService":  colorName(canary),
		"stableService":  colorName(stable),
		"canaryRevision": revision,
		"stableRevision": st.StableRevision,
		"canaryColor":    string(canary),
		"stableColor":    string(stable),
	}
}

// ResolveTemplates resolves refs: lookup finds a template by kind and name
// (false when it does not exist); each argument takes its value from the
// ref (literal, or a field of fields), else from the template's default.
// A missing template, an argument without a value, an argument the
// template does not declare, and a metric name that the spec's metrics or
// an earlier template use already are problems. specMetrics are the
// Rollout's own metrics.
func ResolveTemplates(refs []v1.AnalysisTemplateRef, lookup func(kind, name string) (FoundTemplate, bool), fields ArgFields, specMetrics []v1.Metric) TemplateResolution {
	var out TemplateResolution
	owner := map[string]string{}
	for _, m := range specMetrics {
		owner[m.Name] = "spec.analysis.metrics"
	}
	for i, ref := range refs {
		kind := ref.TemplateKind()
		name := kind + "/" + ref.Name
		field := fmt.Sprintf("spec.analysis.templates[%d]", i)
		found, ok := lookup(kind, ref.Name)
		if !ok {
			where := ""
			if kind == v1.KindAnalysisTemplate {
				where = " in the Rollout's namespace"
			}
			out.Problems = append(out.Problems, fmt.Sprintf("%s: %s not found%s", field, name, where))
			continue
		}
		args, problems := resolveArgs(field, name, ref.Args, found.Spec.Args, fields)
		out.Problems = append(out.Problems, problems...)
		for _, m := range found.Spec.Metrics {
			if prev, taken := owner[m.Name]; taken {
				out.Problems = append(out.Problems, fmt.Sprintf("%s: metric %s of %s is also a metric of %s; metric names must be unique across a Rollout's metrics and templates", field, m.Name, name, prev))
				continue
			}
			owner[m.Name] = name
		}
		if len(problems) > 0 {
			continue
		}
		item := v1.ResolvedTemplate{Kind: kind, Name: ref.Name, Generation: found.Generation, Args: args}
		spec := found.Spec.DeepCopy()
		item.Prometheus, item.Metrics = spec.Prometheus, spec.Metrics
		out.Items = append(out.Items, item)
	}
	return out
}

// resolveArgs gives every argument the template declares its value.
func resolveArgs(field, name string, given []v1.TemplateArgValue, declared []v1.TemplateArg, fields ArgFields) (map[string]string, []string) {
	var problems []string
	names := make([]string, len(declared))
	for i, a := range declared {
		names[i] = a.Name
	}
	values := map[string]string{}
	for j, g := range given {
		if !slices.Contains(names, g.Name) {
			known := "it declares no arguments"
			if len(names) > 0 {
				known = "its arguments: " + strings.Join(names, ", ")
			}
			problems = append(problems, fmt.Sprintf("%s.args[%d]: %s has no argument %s; %s", field, j, name, g.Name, known))
			continue
		}
		switch {
		case g.Value != nil:
			values[g.Name] = *g.Value
		case g.ValueFrom != nil:
			v, ok := fields[g.ValueFrom.Field]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s.args[%d]: valueFrom.field %s is not a field of the Rollout", field, j, g.ValueFrom.Field))
				continue
			}
			values[g.Name] = v
		}
	}
	for _, a := range declared {
		if _, ok := values[a.Name]; ok {
			continue
		}
		if a.Default != nil {
			values[a.Name] = *a.Default
			continue
		}
		if !slices.ContainsFunc(given, func(g v1.TemplateArgValue) bool { return g.Name == a.Name }) {
			problems = append(problems, fmt.Sprintf("%s: argument %s of %s has no value: give it in %s.args (the template has no default)", field, a.Name, name, field))
		}
	}
	if len(values) == 0 {
		values = nil
	}
	return values, problems
}

// startBlocked is the template problem that keeps the spec's revision from
// starting now, "" when there is none or no revision would start: a
// revision in flight keeps its snapshot whatever happens to its templates,
// the stable revision and a rolled-back one start nothing (ramp.dev/retry
// asks again, see rolledBack).
func startBlocked(st *v1.RolloutStatus, obs Observations) string {
	if len(obs.Templates.Problems) == 0 || st.StableRevision == "" || obs.Revision == st.StableRevision {
		return ""
	}
	if obs.Revision == st.CanaryRevision && (inFlight(st) || st.Phase == v1.PhaseRolledBack) {
		return ""
	}
	return obs.Templates.Problems[0]
}

// templateBlocked reports whether what makes the Rollout invalid is a
// template that keeps its revision from starting.
func (m *machine) templateBlocked() bool {
	p := startBlocked(&m.st, m.obs)
	return p != "" && m.invalid == p
}

// snapshot is what status.analysis.templates holds for a revision that
// starts now: the templates as resolved in this reconcile.
func (m *machine) snapshot() *v1.TemplateSnapshot {
	if len(m.obs.Templates.Items) == 0 {
		return nil
	}
	items := make([]v1.ResolvedTemplate, len(m.obs.Templates.Items))
	for i := range items {
		m.obs.Templates.Items[i].DeepCopyInto(&items[i])
	}
	return &v1.TemplateSnapshot{Items: items}
}
