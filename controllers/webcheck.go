package controllers

import (
	"context"
	"errors"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// webChecks makes the request of every web metric once and judges the
// answers.
func (r *RolloutReconciler) webChecks(_ context.Context, _ *v1.Rollout, sources []plan.MetricSource) []plan.Check {
	metrics := make([]v1.Metric, len(sources))
	for i, s := range sources {
		metrics[i] = s.Metric
	}
	return errorChecks(metrics, errors.New("web checks are not supported yet"))
}
