package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ramp-dev/ramp/analysis"
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// defaultWebTimeout is a web check's timeout when the spec gives none.
const defaultWebTimeout = 10 * time.Second

// webChecks makes the request of every web metric once, all at once, and
// judges the answers. A url that does not render or a Secret that cannot be
// read makes that metric an Error.
func (r *RolloutReconciler) webChecks(ctx context.Context, ro *v1.Rollout, sources []plan.MetricSource) []plan.Check {
	out := make([]plan.Check, len(sources))
	vars := checkVars(ro)
	var wg sync.WaitGroup
	for i, s := range sources {
		m := s.Metric
		req, err := r.webRequest(ctx, ro, s, vars)
		if err != nil {
			out[i] = plan.Check{Metric: m.Name, Phase: v1.CheckError, Message: "web: " + err.Error()}
			continue
		}
		wg.Go(func() {
			res := analysis.Web(ctx, m, req)
			out[i] = plan.Check{Metric: res.Metric, Phase: res.Phase, Value: res.Value, Message: res.Message}
		})
	}
	wg.Wait()
	return out
}

// webRequest renders a web metric's url and reads its header values and TLS
// material (each from a Secret that opted in, see readCredential).
func (r *RolloutReconciler) webRequest(ctx context.Context, ro *v1.Rollout, s plan.MetricSource, vars analysis.Vars) (analysis.WebRequest, error) {
	w := s.Metric.Web
	vars.Args = s.Args
	u, err := analysis.RenderURL(s.Metric.Name, w.URL, vars)
	if err != nil {
		return analysis.WebRequest{}, fmt.Errorf("render url: %w", err)
	}
	req := analysis.WebRequest{URL: u, Method: w.Method, Body: w.Body, JSONPath: w.JSONPath, Timeout: defaultWebTimeout}
	if w.Timeout != nil && w.Timeout.Duration > 0 {
		req.Timeout = w.Timeout.Duration
	}
	if req.Headers, err = readHeaders(ctx, r.Reader, ro.Namespace, "", w.Headers); err != nil {
		return req, err
	}
	if req.TLS, err = readTLS(ctx, r.Reader, ro.Namespace, "", w.TLS); err != nil {
		return req, err
	}
	return req, nil
}

// checkVars are what a check's templates see: the canary's names, or after
// a promotion the promoted color's against the one it replaced.
func checkVars(ro *v1.Rollout) analysis.Vars {
	st := &ro.Status
	canary, stable := st.StableColor.Other(), st.StableColor
	canaryRev, stableRev := st.CanaryRevision, st.StableRevision
	if plan.Watching(st) {
		canary, stable = stable, canary
		canaryRev, stableRev = st.StableRevision, st.PreviousRevision
	}
	return analysis.Vars{
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
	}.Measuring(false)
}

// longestWebTimeout is the longest timeout of the Rollout's web checks, 0
// without any: the checks of a round are given that long.
func longestWebTimeout(ro *v1.Rollout) time.Duration {
	var out time.Duration
	for _, s := range plan.Metrics(&ro.Spec, &ro.Status) {
		if w := s.Metric.Web; w != nil {
			d := defaultWebTimeout
			if w.Timeout != nil && w.Timeout.Duration > 0 {
				d = min(w.Timeout.Duration, time.Minute)
			}
			out = max(out, d)
		}
	}
	return out
}
