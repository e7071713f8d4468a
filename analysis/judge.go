package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/ramp-dev/ramp/api/v1alpha1"
)

// Result is the judgement of one check of one metric.
type Result struct {
	// Metric is the metric's name.
	Metric string
	// Phase is Passed, Failed, Inconclusive or Error.
	Phase v1alpha1.CheckPhase
	// Value is the value as Prometheus wrote it, "" when there is none.
	Value string
	// Message says why, e.g. "0.12 > max 0.01" or
	// "no data: empty vector (noData: hold)".
	Message string
}

// Judge turns a query's answer into a Result. It is pure:
//   - an error other than ErrNoData is Error (never Failed);
//   - ErrNoData, or a NaN value, follows m.NoData: hold (also when empty) is
//     Inconclusive, pass is Passed, fail is Failed;
//   - a value below m.Min or above m.Max is Failed; a value within them
//     (equal to a bound included) is Passed. +Inf and -Inf are numbers.
func Judge(m v1alpha1.Metric, s Sample, err error) Result {
	r := Result{Metric: m.Name}
	switch {
	case errors.Is(err, ErrNoData):
		return judgeNoData(r, m.NoData, err.Error())
	case err != nil:
		r.Phase = v1alpha1.CheckError
		r.Message = "query: " + err.Error()
		return r
	case math.IsNaN(s.Value):
		return judgeNoData(r, m.NoData, "no data: NaN")
	}

	r.Value = s.Raw
	if r.Value == "" {
		r.Value = formatFloat(s.Value)
	}
	v := s.Value
	switch {
	case m.Min != nil && v < *m.Min:
		r.Phase = v1alpha1.CheckFailed
		r.Message = fmt.Sprintf("%s < min %s", r.Value, formatFloat(*m.Min))
	case m.Max != nil && v > *m.Max:
		r.Phase = v1alpha1.CheckFailed
		r.Message = fmt.Sprintf("%s > max %s", r.Value, formatFloat(*m.Max))
	case m.Min != nil && m.Max != nil:
		r.Phase = v1alpha1.CheckPassed
		r.Message = fmt.Sprintf("min %s <= %s <= max %s", formatFloat(*m.Min), r.Value, formatFloat(*m.Max))
	case m.Min != nil:
		r.Phase = v1alpha1.CheckPassed
		r.Message = fmt.Sprintf("%s >= min %s", r.Value, formatFloat(*m.Min))
	case m.Max != nil:
		r.Phase = v1alpha1.CheckPassed
		r.Message = fmt.Sprintf("%s <= max %s", r.Value, formatFloat(*m.Max))
	default:
		r.Phase = v1alpha1.CheckPassed
		r.Message = r.Value + " (no bounds)"
	}
	return r
}

func judgeNoData(r Result, policy v1alpha1.NoDataPolicy, why string) Result {
	switch policy {
	case v1alpha1.NoDataPass:
		r.Phase = v1alpha1.CheckPassed
	case v1alpha1.NoDataFail:
		r.Phase = v1alpha1.CheckFailed
	default:
		// hold is the default, and the safe reading of anything unknown.
		policy = v1alpha1.NoDataHold
		r.Phase = v1alpha1.CheckInconclusive
	}
	r.Message = fmt.Sprintf("%s (noData: %s)", why, policy)
	return r
}

// formatFloat writes v the way Prometheus does ("0.01", "+Inf").
func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Check renders every metric's query with vars, runs it with p and judges the
// answer: one query per metric, all at once, each bounded by ctx. The results
// are in the order of metrics; a query that does not render is an Error result.
func Check(ctx context.Context, p Provider, metrics []v1alpha1.Metric, vars Vars) []Result {
	results := make([]Result, len(metrics))
	var wg sync.WaitGroup
	for i, m := range metrics {
		query, err := render(m.Name, m.Query, vars)
		if err != nil {
			results[i] = Result{Metric: m.Name, Phase: v1alpha1.CheckError, Message: "render: " + err.Error()}
			continue
		}
		wg.Go(func() {
			s, err := p.Query(ctx, query)
			results[i] = Judge(m, s, err)
		})
	}
	wg.Wait()
	return results
}
