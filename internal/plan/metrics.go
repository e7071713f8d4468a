package plan

import (
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// MetricSource is one metric a Rollout checks, with where it came from: the
// spec's analysis.metrics, or a template resolved when the revision
// started (status.analysis.templates).
type MetricSource struct {
	// Metric is the check.
	Metric v1.Metric
	// Template names the template the metric came from; "" for the spec's.
	Template string
	// Prometheus is the server of a query metric from a template that
	// names its own; nil means the Rollout's analysis.prometheus.
	Prometheus *v1.PrometheusProvider
	// Args are the argument values of the template (nil for the spec's).
	Args map[string]string
}

// Metrics are the metrics a Rollout checks now: the spec's, then those of
// the templates its current revision resolved.
func Metrics(spec *v1.RolloutSpec, st *v1.RolloutStatus) []MetricSource {
	if spec.Analysis == nil {
		return nil
	}
	out := make([]MetricSource, 0, len(spec.Analysis.Metrics))
	for _, m := range spec.Analysis.Metrics {
		out = append(out, MetricSource{Metric: m})
	}
	if st != nil && st.Analysis != nil && st.Analysis.Templates != nil {
		for _, t := range st.Analysis.Templates.Items {
			for _, m := range t.Metrics {
				out = append(out, MetricSource{Metric: m, Template: t.Kind + "/" + t.Name, Prometheus: t.Prometheus, Args: t.Args})
			}
		}
	}
	return out
}
