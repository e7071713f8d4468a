package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ramp-dev/ramp/analysis"
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// runChecks asks Prometheus for every metric once and judges the answers.
// Anything that keeps a check from being asked makes it an Error.
func (r *RolloutReconciler) runChecks(ctx context.Context, ro *v1.Rollout, w *world) []plan.Check {
	a := ro.Spec.Analysis
	metrics := analysis.ValidMetrics(a.Metrics)
	if len(metrics) == 0 {
		return nil
	}
	fail := func(err error) []plan.Check {
		out := make([]plan.Check, len(metrics))
		for i, m := range metrics {
			out[i] = plan.Check{Metric: m.Name, Phase: v1.CheckError, Message: err.Error()}
		}
		return out
	}
	token := ""
	if ref := a.Prometheus.BearerTokenSecretRef; ref != nil {
		var s corev1.Secret
		if err := r.Reader.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ref.Name}, &s); err != nil {
			return fail(fmt.Errorf("read bearer token secret %s: %w", ref.Name, err))
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			return fail(fmt.Errorf("secret %s has no key %q", ref.Name, ref.Key))
		}
		token = string(v)
	}
	p, err := r.Providers.Provider(a.Prometheus.Address, a.Prometheus.QueryTimeout(), token)
	if err != nil {
		return fail(err)
	}
	st := &ro.Status
	canary, stable := st.StableColor.Other(), st.StableColor
	canaryRev, stableRev := st.CanaryRevision, st.StableRevision
	if plan.Watching(st) {
		// After a promotion the checks watch the promoted color against
		// the one it replaced.
		canary, stable = stable, canary
		canaryRev, stableRev = st.StableRevision, st.PreviousRevision
	}
	vars := analysis.Vars{
		Namespace:      ro.Namespace,
		Rollout:        ro.Name,
		CanaryService:  ColorName(ro, canary),
		StableService:  ColorName(ro, stable),
		CanaryColor:    string(canary),
		StableColor:    string(stable),
		CanaryRevision: canaryRev,
		StableRevision: stableRev,
		Interval:       analysis.PromDuration(ro.Spec.AnalysisInterval()),
		Step:           st.CurrentStep,
	}
	results := analysis.Check(ctx, p, metrics, vars)
	out := make([]plan.Check, len(results))
	for i, res := range results {
		out[i] = plan.Check{Metric: res.Metric, Phase: res.Phase, Value: res.Value, Message: res.Message}
	}
	return out
}
