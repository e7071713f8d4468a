package plan

import (
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// metricInterval is how often m is checked: its own interval, or the
// analysis interval.
func metricInterval(spec *v1.RolloutSpec, m *v1.Metric) time.Duration {
	if m.Interval != nil && m.Interval.Duration > 0 {
		return m.Interval.Duration
	}
	return spec.AnalysisInterval()
}

// checkGrid is the cadence of check rounds: the shortest interval among
// analysis.interval and the metrics' own.
func checkGrid(spec *v1.RolloutSpec, st *v1.RolloutStatus) time.Duration {
	grid := spec.AnalysisInterval()
	for _, s := range Metrics(spec, st) {
		grid = min(grid, metricInterval(spec, &s.Metric))
	}
	return grid
}

// DueMetrics are the names of the metrics a check round at now asks: a
// metric not checked since the current weight took effect (or the watch
// after a promotion began) is always due, so that every step sees each
// metric; any other is due once its own interval has passed since its last
// check, give or take half a round (rounds come on the grid of the shortest
// interval, a little after their time). Metrics not due keep their last
// result.
func DueMetrics(spec *v1.RolloutSpec, st *v1.RolloutStatus, now time.Time) map[string]bool {
	since := checkReference(spec, st)
	grid := checkGrid(spec, st)
	out := map[string]bool{}
	for _, s := range Metrics(spec, st) {
		m := &s.Metric
		ms := MetricStatusOf(st, m.Name)
		switch {
		case ms == nil || ms.CheckedAt == nil || !ms.CheckedAt.Time.After(since):
			out[m.Name] = true
		case !now.Add(grid / 2).Before(ms.CheckedAt.Add(metricInterval(spec, m))):
			out[m.Name] = true
		}
	}
	return out
}

// checkReference is the moment checks count from: the watch's start while
// watching after a promotion, else when the current weight took effect
// (zero between steps, where every metric is on its own cadence).
func checkReference(spec *v1.RolloutSpec, st *v1.RolloutStatus) time.Time {
	switch {
	case Watching(st) && spec.PostPromotion != nil:
		return st.PostPromotionUntil.Add(-spec.PostPromotion.Hold.Duration)
	case st.StepStartedAt != nil:
		return st.StepStartedAt.Time
	}
	return time.Time{}
}
