package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ramp-dev/ramp/analysis"
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// +kubebuilder:rbac:groups=ramp.dev,resources=analysistemplates;clusteranalysistemplates,verbs=list;watch

// templateIndex indexes Rollouts by each template their
// spec.analysis.templates names (see templateKey).
const templateIndex = "ramp.dev/template"

// templateKey names a template for templateIndex: the kind, then the
// namespace of an AnalysisTemplate, then the name.
func templateKey(kind, namespace, name string) string {
	if kind == v1.KindClusterAnalysisTemplate {
		return kind + "/" + name
	}
	return kind + "/" + namespace + "/" + name
}

// templateKeys are the templateIndex entries of a Rollout.
func templateKeys(ro *v1.Rollout) []string {
	if ro.Spec.Analysis == nil {
		return nil
	}
	var keys []string
	for _, ref := range ro.Spec.Analysis.Templates {
		keys = append(keys, templateKey(ref.TemplateKind(), ro.Namespace, ref.Name))
	}
	return keys
}

// rolloutsOfTemplate maps a template of kind to the Rollouts that name it,
// so that a template that appears (or changes) brings them back: a
// revision held for a missing template starts by itself.
func (r *RolloutReconciler) rolloutsOfTemplate(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		return r.rolloutsByKey(ctx, templateIndex, templateKey(kind, o.GetNamespace(), o.GetName()))
	}
}

// resolveTemplates reads the templates spec.analysis.templates names, as
// they are now, and resolves their arguments for the revision that would
// start (see plan.TemplateResolution: the plan uses it only when a revision
// starts). What the user must fix is a problem of the resolution; a failed
// read is returned.
func (r *RolloutReconciler) resolveTemplates(ctx context.Context, ro *v1.Rollout, revision string) (plan.TemplateResolution, error) {
	a := ro.Spec.Analysis
	if a == nil || len(a.Templates) == 0 {
		return plan.TemplateResolution{}, nil
	}
	var readErr error
	lookup := func(kind, name string) (plan.FoundTemplate, bool) {
		var spec *v1.AnalysisTemplateSpec
		var generation int64
		var err error
		if kind == v1.KindClusterAnalysisTemplate {
			var t v1.ClusterAnalysisTemplate
			err = r.Client.Get(ctx, client.ObjectKey{Name: name}, &t)
			spec, generation = &t.Spec, t.Generation
		} else {
			var t v1.AnalysisTemplate
			err = r.Client.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: name}, &t)
			spec, generation = &t.Spec, t.Generation
		}
		if err != nil {
			if !apierrors.IsNotFound(err) && readErr == nil {
				readErr = fmt.Errorf("get %s %s: %w", kind, name, err)
			}
			return plan.FoundTemplate{}, false
		}
		return plan.FoundTemplate{Generation: generation, Spec: *spec}, true
	}
	fields := plan.StartFields(ro.Namespace, ro.Name, &ro.Status, revision, func(c v1.Color) string { return ColorName(ro, c) })
	res := plan.ResolveTemplates(a.Templates, lookup, fields, a.Metrics)
	if readErr != nil {
		return plan.TemplateResolution{}, readErr
	}
	for _, it := range res.Items {
		res.Problems = append(res.Problems, templateProblems(ro, it)...)
	}
	return res, nil
}

// templateProblems are what keeps a resolved template from being checked:
// an argument value that could rewrite its queries, a query that does not
// validate with the template's arguments, query metrics without a
// Prometheus server.
func templateProblems(ro *v1.Rollout, it v1.ResolvedTemplate) []string {
	name := it.Kind + "/" + it.Name
	field := "spec.analysis.templates[" + name + "]"
	for i, ref := range ro.Spec.Analysis.Templates {
		if ref.TemplateKind() == it.Kind && ref.Name == it.Name {
			field = fmt.Sprintf("spec.analysis.templates[%d]", i)
			break
		}
	}
	var out []string
	names := slices.Sorted(maps.Keys(it.Args))
	for _, k := range names {
		if err := analysis.ValidateArgValue(it.Args[k]); err != nil {
			out = append(out, fmt.Sprintf("%s: argument %s of %s %v", field, k, name, err))
		}
	}
	for _, err := range analysis.ValidateTemplateMetrics(it.Metrics, names) {
		out = append(out, fmt.Sprintf("%s: %s %v", field, name, err))
	}
	if it.Prometheus == nil && ro.Spec.Analysis.Prometheus == nil {
		for _, m := range it.Metrics {
			if m.Job == nil && m.Web == nil {
				out = append(out, fmt.Sprintf("%s: %s has query metrics and names no prometheus: set spec.analysis.prometheus or the template's", field, name))
				break
			}
		}
	}
	return out
}
