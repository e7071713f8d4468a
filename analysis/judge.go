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
	// Value is the value, written compactly (see formatValue), "" when there
	// is none.
	Value string
	// Message says why, e.g. "0.12 > max 0.01" or
	// "no data: empty vector (noData: hold)".
	Message string
	// StableValue is the stable color's value of a compareToStable metric.
	StableValue string
}

// Judge turns a query's answer into a Result. It is pure:
//   - an error other than ErrNoData is Error (never Failed);
//   - ErrNoData, or a NaN value, follows m.NoData: hold (also when empty) is
//     Inconclusive, pass is Passed, fail is Failed;
//   - a value below m.Min or above m.Max is Failed ("+Inf > max 0.01");
//   - any other +Inf or -Inf is Failed too ("value -Inf is not a finite
//     number"): no bound catches -Inf with a max only, or +Inf with a min
//     only or no bounds, yet it is no measurement a check can pass on (a
//     ratio over no requests, a quantile in the +Inf bucket). Failed, not
//     Inconclusive, so that it cannot hold a rollout forever either;
//   - a finite value within the bounds (equal to a bound included) is Passed.
//
// The value and bounds are written as formatValue does, never as the
// 309 digits Prometheus writes for 1e308.
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

	v := s.Value
	r.Value = formatValue(v, m.Min, m.Max)
	bound := func(b float64) string { return formatValue(b, &v) }
	switch {
	case m.Min != nil && v < *m.Min:
		r.Phase = v1alpha1.CheckFailed
		r.Message = fmt.Sprintf("%s < min %s", r.Value, bound(*m.Min))
	case m.Max != nil && v > *m.Max:
		r.Phase = v1alpha1.CheckFailed
		r.Message = fmt.Sprintf("%s > max %s", r.Value, bound(*m.Max))
	case math.IsInf(v, 0):
		r.Phase = v1alpha1.CheckFailed
		r.Message = fmt.Sprintf("value %s is not a finite number", r.Value)
	case m.Min != nil && m.Max != nil:
		r.Phase = v1alpha1.CheckPassed
		r.Message = fmt.Sprintf("min %s <= %s <= max %s", bound(*m.Min), r.Value, bound(*m.Max))
	case m.Min != nil:
		r.Phase = v1alpha1.CheckPassed
		r.Message = fmt.Sprintf("%s >= min %s", r.Value, bound(*m.Min))
	case m.Max != nil:
		r.Phase = v1alpha1.CheckPassed
		r.Message = fmt.Sprintf("%s <= max %s", r.Value, bound(*m.Max))
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

// formatValue writes v compactly, with at most 6 significant digits
// ("0.00213457", "1e+308", "+Inf"), unless that would read the same as one
// of others while not comparing with it as v does: then v is written in
// full, the shortest form that reads back exactly ("0.0100000001 > max 0.01",
// not "0.01 > max 0.01"). Rounding is monotonic, so a compact form that reads
// differently from a bound is on the same side of it as v; so whoever reads
// Value back compares it with the bounds as Judge did.
func formatValue(v float64, others ...*float64) string {
	s := strconv.FormatFloat(v, 'g', 6, 64)
	exact := false
	if r, err := strconv.ParseFloat(s, 64); err == nil && r == v {
		exact = true
	}
	for _, o := range others {
		if o != nil && strconv.FormatFloat(*o, 'g', 6, 64) == s && !(exact && *o == v) {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	return s
}

// Check renders every metric's query with vars, runs it with p and judges the
// answer: all queries at once, each bounded by ctx. The results are in the
// order of metrics; a query that does not render is an Error result. vars
// are the canary's (see Vars.Measuring). A compareToStable metric is asked
// for both colors and judged by JudgeAgainstStable when compare is true;
// when it is false (the old color serves no traffic, as in the watch after
// a promotion) only its own min and max bound it. A metric with minSamples
// also asks its guard query for each color it measures.
func Check(ctx context.Context, p Provider, metrics []v1alpha1.Metric, vars Vars, compare bool) []Result {
	results := make([]Result, len(metrics))
	var wg sync.WaitGroup
	for i, m := range metrics {
		both := compare && m.CompareToStable != nil
		colors := []bool{false}
		if both {
			colors = append(colors, true)
		}
		answers := make([]Answer, len(colors))
		var failed *Result
		type job struct {
			query string
			into  func(Sample, error)
		}
		var jobs []job
		mv := vars
		if m.Interval != nil && m.Interval.Duration > 0 {
			mv.Interval = PromDuration(m.Interval.Duration)
		}
		for k, stable := range colors {
			v := mv.Measuring(stable)
			query, err := render(m.Name, m.Query, v)
			if err != nil {
				failed = &Result{Metric: m.Name, Phase: v1alpha1.CheckError, Message: "render: " + err.Error()}
				break
			}
			a := &answers[k]
			jobs = append(jobs, job{query, func(s Sample, err error) { a.Sample, a.Err = s, err }})
			if g := m.MinSamples; g != nil {
				gq, err := render(m.Name+"-samples", g.Query, v)
				if err != nil {
					failed = &Result{Metric: m.Name, Phase: v1alpha1.CheckError, Message: "render minSamples: " + err.Error()}
					break
				}
				jobs = append(jobs, job{gq, func(s Sample, err error) { a.Samples, a.SamplesErr = s, err }})
			}
		}
		if failed != nil {
			results[i] = *failed
			continue
		}
		wg.Go(func() {
			var inner sync.WaitGroup
			for _, j := range jobs {
				inner.Go(func() { j.into(p.Query(ctx, j.query)) })
			}
			inner.Wait()
			switch {
			case both:
				results[i] = JudgeAgainstStable(m, answers[0], answers[1])
			case m.CompareToStable != nil && m.Min == nil && m.Max == nil:
				r := JudgeAnswer(m, answers[0])
				if r.Phase == v1alpha1.CheckPassed {
					r.Message = r.Value + " (not compared: the stable color serves no traffic)"
				}
				results[i] = r
			default:
				results[i] = JudgeAnswer(m, answers[0])
			}
		})
	}
	wg.Wait()
	return results
}
