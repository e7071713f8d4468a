package controllers

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ramp-dev/ramp/analysis"
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// queryGroup is the query metrics asked of one Prometheus server with one
// set of template arguments.
type queryGroup struct {
	prom    *v1.PrometheusProvider
	args    map[string]string
	at      []int // the index in sources of each metric
	metrics []v1.Metric
}

// queryGroups groups sources by server (a template's own, or the
// Rollout's analysis.prometheus) and arguments, in the order each group
// first appears.
func queryGroups(ro *v1.Rollout, sources []plan.MetricSource) []*queryGroup {
	var groups []*queryGroup
	byKey := map[string]*queryGroup{}
	for i, s := range sources {
		prom := s.Prometheus
		if prom == nil {
			prom = ro.Spec.Analysis.Prometheus
		}
		b, _ := json.Marshal(struct {
			P *v1.PrometheusProvider
			A map[string]string
		}{prom, s.Args}) // map keys are sorted: equal inputs give equal keys
		g := byKey[string(b)]
		if g == nil {
			g = &queryGroup{prom: prom, args: s.Args}
			byKey[string(b)] = g
			groups = append(groups, g)
		}
		g.at = append(g.at, i)
		g.metrics = append(g.metrics, s.Metric)
	}
	return groups
}

// longestQueryTimeout is the longest query timeout of the servers a
// Rollout's query metrics are asked of.
func longestQueryTimeout(ro *v1.Rollout) time.Duration {
	longest := ro.Spec.Analysis.Prometheus.QueryTimeout()
	for _, s := range plan.Metrics(&ro.Spec, &ro.Status) {
		if s.Prometheus != nil {
			longest = max(longest, s.Prometheus.QueryTimeout())
		}
	}
	return longest
}

// queryChecks asks Prometheus for every query metric once and judges the
// answers: each group of metrics (see queryGroups) of its own server, with
// its template's arguments as .Args, all groups at once. A template's
// server reads its Secrets in the Rollout's namespace, with the same
// opt-in label. The results are in the order of sources; a metric whose
// query does not validate is left out (its problem is on the Valid
// condition, or held its revision's start).
func (r *RolloutReconciler) queryChecks(ctx context.Context, ro *v1.Rollout, sources []plan.MetricSource) []plan.Check {
	if len(sources) == 0 {
		return nil
	}
	st := &ro.Status
	base := checkVars(ro)
	slots := make([]*plan.Check, len(sources))
	var wg sync.WaitGroup
	for _, g := range queryGroups(ro, sources) {
		wg.Go(func() {
			names := slices.Sorted(maps.Keys(g.args))
			var metrics []v1.Metric
			var at []int
			for k, m := range g.metrics {
				if len(analysis.ValidMetrics([]v1.Metric{m}, names...)) == 1 {
					metrics, at = append(metrics, m), append(at, g.at[k])
				}
			}
			if len(metrics) == 0 {
				return
			}
			put := func(checks []plan.Check) {
				for k := range checks {
					slots[at[k]] = &checks[k]
				}
			}
			conn, err := prometheusConnection(ctx, r.Reader, ro.Namespace, g.prom)
			if err != nil {
				put(errorChecks(metrics, err))
				return
			}
			p, err := r.Providers.Provider(conn)
			if err != nil {
				put(errorChecks(metrics, err))
				return
			}
			vars := base
			vars.Args = g.args
			// After a promotion the old color serves nothing to compare with.
			results := analysis.Check(ctx, p, metrics, vars, !plan.Watching(st))
			checks := make([]plan.Check, len(results))
			for k, res := range results {
				checks[k] = plan.Check{Metric: res.Metric, Phase: res.Phase, Value: res.Value, Message: res.Message, StableValue: res.StableValue}
			}
			put(checks)
		})
	}
	wg.Wait()
	out := make([]plan.Check, 0, len(sources))
	for _, c := range slots {
		if c != nil {
			out = append(out, *c)
		}
	}
	return out
}
