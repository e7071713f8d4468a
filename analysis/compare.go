package analysis

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/ramp-dev/ramp/api/v1alpha1"
)

// Answer is what one query of a metric answered for one color: the sample
// and, for a metric with minSamples, the guard query's answer.
type Answer struct {
	Sample Sample
	Err    error
	// Samples and SamplesErr are the minSamples query's answer; unused
	// without minSamples.
	Samples    Sample
	SamplesErr error
}

// JudgeAnswer judges one color's answer: the minSamples guard first (too
// few samples is Inconclusive), then Judge.
func JudgeAnswer(m v1alpha1.Metric, a Answer) Result {
	if g := m.MinSamples; g != nil {
		r := Result{Metric: m.Name}
		switch {
		case errors.Is(a.SamplesErr, ErrNoData):
			r.Phase = v1alpha1.CheckInconclusive
			r.Message = fmt.Sprintf("too few samples: no data < min %s", formatValue(g.Min))
			return r
		case a.SamplesErr != nil:
			r.Phase = v1alpha1.CheckError
			r.Message = "minSamples query: " + a.SamplesErr.Error()
			return r
		case math.IsNaN(a.Samples.Value) || a.Samples.Value < g.Min:
			r.Phase = v1alpha1.CheckInconclusive
			r.Message = fmt.Sprintf("too few samples: %s < min %s", formatValue(a.Samples.Value, &g.Min), formatValue(g.Min))
			return r
		}
	}
	return Judge(m, a.Sample, a.Err)
}

// JudgeAgainstStable judges a compareToStable metric on the answers of
// both colors, measured in the same check. It is pure:
//   - the canary's answer is judged first, as JudgeAnswer does (its min and
//     max, no data, too few samples, errors); anything but Passed decides;
//   - the stable color's answer must be judgeable too: too few samples or
//     an Error there makes the check Inconclusive or Error ("stable: ..."),
//     no data follows noData, and a non-finite stable value is Inconclusive,
//     since nothing can be compared with it;
//   - then the canary's value v must be at most the larger of s*maxRatio
//     and s+maxIncrease, and at least the smaller of s*minRatio and
//     s-maxDecrease, where s is stable's value (bounds not given are not
//     taken). Either violation is Failed.
func JudgeAgainstStable(m v1alpha1.Metric, canary, stable Answer) Result {
	r := JudgeAnswer(m, canary)
	c := m.CompareToStable
	if c == nil || r.Phase != v1alpha1.CheckPassed {
		return r
	}
	absolute := r.Message
	if stable.Err == nil && math.IsInf(stable.Sample.Value, 0) {
		r.StableValue = formatValue(stable.Sample.Value)
		r.Phase = v1alpha1.CheckInconclusive
		r.Message = fmt.Sprintf("stable value %s is not a finite number: nothing to compare with", r.StableValue)
		return r
	}
	sm := m
	sm.Min, sm.Max = nil, nil // stable's own value is not bounded
	sr := JudgeAnswer(sm, stable)
	if sr.Phase != v1alpha1.CheckPassed {
		sr.Message = "stable: " + sr.Message
		sr.Value = r.Value
		if sr.Phase == v1alpha1.CheckFailed {
			// noData: fail on the stable color fails the comparison, which
			// is the canary's check.
			sr.Message += "; nothing to compare the canary with"
		}
		return sr
	}
	s, v := stable.Sample.Value, canary.Sample.Value
	r.StableValue = formatValue(s)

	upper, upperHow, hasUpper := bound(s, c.MaxRatio, c.MaxIncrease, math.Max, "×", "+")
	lower, lowerHow, hasLower := bound(s, c.MinRatio, c.MaxDecrease, math.Min, "×", "-")
	switch {
	case hasUpper && v > upper:
		r.Phase = v1alpha1.CheckFailed
		r.Message = fmt.Sprintf("%s > %s allowed by stable %s %s", formatValue(v, &upper), formatValue(upper, &v), r.StableValue, upperHow)
	case hasLower && v < lower:
		r.Phase = v1alpha1.CheckFailed
		r.Message = fmt.Sprintf("%s < %s allowed by stable %s %s", formatValue(v, &lower), formatValue(lower, &v), r.StableValue, lowerHow)
	default:
		var parts []string
		if hasLower {
			parts = append(parts, fmt.Sprintf("%s <= %s", formatValue(lower, &v), formatValue(v, &lower)))
		}
		if hasUpper {
			if len(parts) == 0 {
				parts = append(parts, fmt.Sprintf("%s <= %s", formatValue(v, &upper), formatValue(upper, &v)))
			} else {
				parts[0] += " <= " + formatValue(upper, &v)
			}
		}
		how := strings.TrimSpace(strings.Join([]string{lowerHow, upperHow}, " "))
		r.Message = fmt.Sprintf("%s allowed by stable %s %s", parts[0], r.StableValue, how)
		if m.Min != nil || m.Max != nil {
			r.Message += "; " + absolute
		}
	}
	return r
}

// bound combines a ratio and an offset bound of stable value s with pick
// (math.Max for the upper bound: either tolerance suffices; math.Min for the
// lower one), and says how it was made ("×1.5 or +0.005").
func bound(s float64, ratio, offset *float64, pick func(a, b float64) float64, times, plus string) (float64, string, bool) {
	var b float64
	var how []string
	have := false
	if ratio != nil {
		b, have = s**ratio, true
		how = append(how, times+formatValue(*ratio))
	}
	if offset != nil {
		o := s + *offset
		if plus == "-" {
			o = s - *offset
		}
		if have {
			b = pick(b, o)
		} else {
			b, have = o, true
		}
		how = append(how, plus+formatValue(*offset))
	}
	return b, strings.Join(how, " or "), have
}
