package controllers

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// checkingRequeue is the shortest wait while a Rollout's checks are under
// way: their end brings it back sooner.
const checkingRequeue = time.Second

// checkKey names the slot a Rollout's due checks are for: a result is used
// only while the Rollout still stands where they were asked.
func checkKey(ro *v1.Rollout) string {
	st := &ro.Status
	var last, started string
	if st.Analysis != nil && st.Analysis.LastCheckAt != nil {
		last = st.Analysis.LastCheckAt.UTC().Format(time.RFC3339Nano)
	}
	if st.StepStartedAt != nil {
		started = st.StepStartedAt.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%d/%s/%s/%d/%s/%s/%t/%s", ro.Generation, st.StableColor, st.CanaryRevision, st.CurrentStep, started, last, plan.Watching(st), st.StableRevision)
}

// takeChecks hands the results of the finished checks of a Rollout to the
// plan, or starts its due checks in the pool. It returns when the checks
// handed over finished (zero when none were) and whether checks are under
// way. The reconcile never waits for a query.
func (r *RolloutReconciler) takeChecks(ro *v1.Rollout, w *world) (finished time.Time, running bool) {
	if !plan.ChecksDue(&ro.Spec, &ro.Status, w.obs.Now) {
		return time.Time{}, false
	}
	name := client.ObjectKeyFromObject(ro)
	key := checkKey(ro)
	checks, at, ok, running := r.Checks.Take(name, key)
	if ok {
		w.obs.Checks = checks
		for _, c := range checks {
			r.Metrics.Check(ro, c.Metric, c.Phase)
		}
		return at, false
	}
	if !running {
		snapshot := ro.DeepCopy()
		ref := &v1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: ro.Name}}
		timeout := max(longestQueryTimeout(ro), longestWebTimeout(ro)) + 5*time.Second
		address := ""
		if p := ro.Spec.Analysis.Prometheus; p != nil {
			address = p.Address
		}
		r.Checks.Start(ref, key, address, timeout, r.now, func(ctx context.Context) []plan.Check { return r.runChecks(ctx, snapshot) })
	}
	return time.Time{}, true
}

// runChecks runs every metric's check once: the Prometheus queries
// (queryChecks), the web requests (webChecks) and the Jobs (jobChecks). The
// results are in the order of plan.Metrics. Anything that keeps a check
// from being made makes it an Error.
func (r *RolloutReconciler) runChecks(ctx context.Context, ro *v1.Rollout) []plan.Check {
	var queries, webs, jobs []plan.MetricSource
	due := plan.DueMetrics(&ro.Spec, &ro.Status, r.now())
	for _, m := range plan.Metrics(&ro.Spec, &ro.Status) {
		switch {
		case m.Metric.Job == nil && !due[m.Metric.Name]:
			// On an interval of its own: its last result stands.
		case m.Metric.Job != nil:
			jobs = append(jobs, m)
		case m.Metric.Web != nil:
			webs = append(webs, m)
		default:
			queries = append(queries, m)
		}
	}
	out := r.queryChecks(ctx, ro, queries)
	out = append(out, r.webChecks(ctx, ro, webs)...)
	return append(out, r.jobChecks(ctx, ro, jobs)...)
}

// errorChecks is an Error result for each of metrics.
func errorChecks(metrics []v1.Metric, err error) []plan.Check {
	out := make([]plan.Check, len(metrics))
	for i, m := range metrics {
		out[i] = plan.Check{Metric: m.Name, Phase: v1.CheckError, Message: err.Error()}
	}
	return out
}
