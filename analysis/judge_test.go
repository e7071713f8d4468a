package analysis_test

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/model"

	"github.com/ramp-dev/ramp/analysis"
	"github.com/ramp-dev/ramp/api/v1alpha1"
)

func TestJudge(t *testing.T) {
	inf := math.Inf(1)
	noData := fmt.Errorf("%w: empty vector", analysis.ErrNoData)
	refused := errors.New(`Post "http://prom:9090/api/v1/query": dial tcp: connection refused`)
	tests := map[string]struct {
		min, max *float64
		noData   v1alpha1.NoDataPolicy
		sample   analysis.Sample
		err      error
		want     analysis.Result
	}{
		"max only, below": {
			max: new(0.01), sample: analysis.Sample{Value: 0.002, Raw: "0.002"},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "0.002", Message: "0.002 <= max 0.01"},
		},
		"max only, equal passes": {
			max: new(0.01), sample: analysis.Sample{Value: 0.01, Raw: "0.01"},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "0.01", Message: "0.01 <= max 0.01"},
		},
		"max only, above fails": {
			max: new(0.01), sample: analysis.Sample{Value: 0.12, Raw: "0.12"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "0.12", Message: "0.12 > max 0.01"},
		},
		"min only, above": {
			min: new(0.99), sample: analysis.Sample{Value: 0.999, Raw: "0.999"},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "0.999", Message: "0.999 >= min 0.99"},
		},
		"min only, equal passes": {
			min: new(0.99), sample: analysis.Sample{Value: 0.99, Raw: "0.99"},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "0.99", Message: "0.99 >= min 0.99"},
		},
		"min only, below fails": {
			min: new(0.99), sample: analysis.Sample{Value: 0.5, Raw: "0.5"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "0.5", Message: "0.5 < min 0.99"},
		},
		"both, within": {
			min: new(1.0), max: new(10.0), sample: analysis.Sample{Value: 5, Raw: "5"},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "5", Message: "min 1 <= 5 <= max 10"},
		},
		"both, equal to min": {
			min: new(1.0), max: new(10.0), sample: analysis.Sample{Value: 1, Raw: "1"},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "1", Message: "min 1 <= 1 <= max 10"},
		},
		"both, equal to max": {
			min: new(1.0), max: new(10.0), sample: analysis.Sample{Value: 10, Raw: "10"},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "10", Message: "min 1 <= 10 <= max 10"},
		},
		"both, below": {
			min: new(1.0), max: new(10.0), sample: analysis.Sample{Value: 0, Raw: "0"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "0", Message: "0 < min 1"},
		},
		"both, above": {
			min: new(1.0), max: new(10.0), sample: analysis.Sample{Value: 11, Raw: "11"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "11", Message: "11 > max 10"},
		},
		"both equal, on it": {
			min: new(0.0), max: new(0.0), sample: analysis.Sample{Value: 0, Raw: "0"},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "0", Message: "min 0 <= 0 <= max 0"},
		},
		"+Inf past max fails": {
			max: new(0.5), sample: analysis.Sample{Value: inf, Raw: "+Inf"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "+Inf", Message: "+Inf > max 0.5"},
		},
		"+Inf above min fails: not a finite number": {
			min: new(0.5), sample: analysis.Sample{Value: inf, Raw: "+Inf"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "+Inf", Message: "value +Inf is not a finite number"},
		},
		"-Inf below min fails": {
			min: new(0.5), sample: analysis.Sample{Value: -inf, Raw: "-Inf"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "-Inf", Message: "-Inf < min 0.5"},
		},
		"raw missing is formatted": {
			max: new(1.0), sample: analysis.Sample{Value: 0.25},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "0.25", Message: "0.25 <= max 1"},
		},
		"no bounds passes": {
			sample: analysis.Sample{Value: 3, Raw: "3"},
			want:   analysis.Result{Phase: v1alpha1.CheckPassed, Value: "3", Message: "3 (no bounds)"},
		},
		"no data, policy unset holds": {
			max: new(0.01), err: noData,
			want: analysis.Result{Phase: v1alpha1.CheckInconclusive, Message: "no data: empty vector (noData: hold)"},
		},
		"no data, hold": {
			max: new(0.01), noData: v1alpha1.NoDataHold, err: analysis.ErrNoData,
			want: analysis.Result{Phase: v1alpha1.CheckInconclusive, Message: "no data (noData: hold)"},
		},
		"no data, pass": {
			max: new(0.01), noData: v1alpha1.NoDataPass, err: noData,
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Message: "no data: empty vector (noData: pass)"},
		},
		"no data, fail": {
			max: new(0.01), noData: v1alpha1.NoDataFail, err: noData,
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Message: "no data: empty vector (noData: fail)"},
		},
		"no data, unknown policy holds": {
			max: new(0.01), noData: "maybe", err: noData,
			want: analysis.Result{Phase: v1alpha1.CheckInconclusive, Message: "no data: empty vector (noData: hold)"},
		},
		"NaN value without error, hold": {
			max: new(0.01), sample: analysis.Sample{Value: math.NaN(), Raw: "NaN"},
			want: analysis.Result{Phase: v1alpha1.CheckInconclusive, Message: "no data: NaN (noData: hold)"},
		},
		"NaN value without error, fail": {
			max: new(0.01), noData: v1alpha1.NoDataFail, sample: analysis.Sample{Value: math.NaN(), Raw: "NaN"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Message: "no data: NaN (noData: fail)"},
		},
		"query error is Error": {
			max: new(0.01), err: refused,
			want: analysis.Result{Phase: v1alpha1.CheckError, Message: "query: " + refused.Error()},
		},
		"query error under noData fail is still Error": {
			max: new(0.01), noData: v1alpha1.NoDataFail, err: refused,
			want: analysis.Result{Phase: v1alpha1.CheckError, Message: "query: " + refused.Error()},
		},
		"shape error is Error, whatever the sample": {
			max: new(0.01), err: &analysis.ShapeError{Type: model.ValVector, Series: 3}, sample: analysis.Sample{Value: 99, Raw: "99"},
			want: analysis.Result{Phase: v1alpha1.CheckError, Message: "query: answered 3 series, want 1"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := v1alpha1.Metric{Name: "m", Query: "q", Min: tc.min, Max: tc.max, NoData: tc.noData}
			tc.want.Metric = "m"
			if got := analysis.Judge(m, tc.sample, tc.err); got != tc.want {
				t.Errorf("Judge =\n  %+v\nwant\n  %+v", got, tc.want)
			}
		})
	}
}

// FuzzJudge checks Judge's invariants for any value, bounds, error and policy.
func FuzzJudge(f *testing.F) {
	f.Add(0.002, 0.0, 0.01, false, true, uint8(0), uint8(0))
	f.Add(0.12, 0.0, 0.01, true, true, uint8(0), uint8(1))
	f.Add(math.Inf(1), 0.0, 1.0, true, false, uint8(0), uint8(2))
	f.Add(math.NaN(), 0.0, 1.0, true, true, uint8(0), uint8(3))
	f.Add(1.0, 1.0, 1.0, true, true, uint8(1), uint8(2))
	f.Add(5.0, 10.0, 1.0, true, true, uint8(2), uint8(1))
	f.Add(math.Inf(-1), 0.0, 1.0, false, true, uint8(0), uint8(0))
	f.Add(1e308, -1e308, 1e307, true, true, uint8(0), uint8(0))
	f.Add(0.0100000001, 0.0, 0.01, false, true, uint8(0), uint8(0))
	f.Add(0.0123456789, 0.0123456789, 0.0123456789, true, true, uint8(0), uint8(0))
	policies := []v1alpha1.NoDataPolicy{"", v1alpha1.NoDataHold, v1alpha1.NoDataPass, v1alpha1.NoDataFail}
	f.Fuzz(func(t *testing.T, v, lo, hi float64, hasMin, hasMax bool, errKind, policy uint8) {
		m := v1alpha1.Metric{Name: "m", NoData: policies[int(policy)%len(policies)]}
		if hasMin {
			m.Min = &lo
		}
		if hasMax {
			m.Max = &hi
		}
		var err error
		switch errKind % 3 {
		case 1:
			err = analysis.ErrNoData
		case 2:
			err = errors.New("boom")
		}
		r := analysis.Judge(m, analysis.Sample{Value: v}, err)

		switch r.Phase {
		case v1alpha1.CheckPassed, v1alpha1.CheckFailed, v1alpha1.CheckInconclusive, v1alpha1.CheckError:
		default:
			t.Fatalf("phase %q is none of the four", r.Phase)
		}
		if r.Metric != "m" || r.Message == "" {
			t.Fatalf("result %+v lacks its metric or message", r)
		}
		noData := errors.Is(err, analysis.ErrNoData) || (err == nil && math.IsNaN(v))
		switch {
		case err != nil && !noData:
			if r.Phase != v1alpha1.CheckError {
				t.Fatalf("a query error judged %s, want Error", r.Phase)
			}
		case noData:
			want := map[v1alpha1.NoDataPolicy]v1alpha1.CheckPhase{
				"": v1alpha1.CheckInconclusive, v1alpha1.NoDataHold: v1alpha1.CheckInconclusive,
				v1alpha1.NoDataPass: v1alpha1.CheckPassed, v1alpha1.NoDataFail: v1alpha1.CheckFailed,
			}[m.NoData]
			if r.Phase != want || r.Value != "" {
				t.Fatalf("no data under %q judged %s (value %q), want %s and no value", m.NoData, r.Phase, r.Value, want)
			}
		default:
			// A value outside the bounds fails, and so does one that is not
			// a finite number, whatever the bounds.
			outside := (hasMin && v < lo) || (hasMax && v > hi) || math.IsInf(v, 0)
			if outside != (r.Phase == v1alpha1.CheckFailed) {
				t.Fatalf("value %v, min %v (%t), max %v (%t): judged %s, outside=%t", v, lo, hasMin, hi, hasMax, r.Phase, outside)
			}
			if !outside && r.Phase != v1alpha1.CheckPassed {
				t.Fatalf("value %v within bounds judged %s, want Passed", v, r.Phase)
			}
			if r.Value == "" {
				t.Fatalf("a measured value left Value empty")
			}
			// Value read back compares with the bounds as the value does.
			back, perr := strconv.ParseFloat(r.Value, 64)
			if perr != nil || (hasMin && cmp.Compare(back, lo) != cmp.Compare(v, lo)) || (hasMax && cmp.Compare(back, hi) != cmp.Compare(v, hi)) {
				t.Fatalf("value %v written %q (%v) compares with min %v / max %v otherwise", v, r.Value, perr, lo, hi)
			}
			// Compact: at most the shortest exact form of a float64.
			if len(r.Value) > len("-1.7976931348623157e+308") || len(r.Message) > 100 {
				t.Fatalf("value %q or message %q is not compact", r.Value, r.Message)
			}
		}
	})
}

// TestJudgeNonFiniteAndCompact covers values that are not finite numbers, which
// never pass, and the compact writing of values and bounds.
func TestJudgeNonFiniteAndCompact(t *testing.T) {
	inf := math.Inf(1)
	tests := map[string]struct {
		min, max *float64
		sample   analysis.Sample
		want     analysis.Result
	}{
		"-Inf with max only fails": {
			max: new(0.01), sample: analysis.Sample{Value: -inf, Raw: "-Inf"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "-Inf", Message: "value -Inf is not a finite number"},
		},
		"+Inf with min only fails": {
			min: new(0.99), sample: analysis.Sample{Value: inf, Raw: "+Inf"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "+Inf", Message: "value +Inf is not a finite number"},
		},
		"+Inf without bounds fails": {
			sample: analysis.Sample{Value: inf, Raw: "+Inf"},
			want:   analysis.Result{Phase: v1alpha1.CheckFailed, Value: "+Inf", Message: "value +Inf is not a finite number"},
		},
		"-Inf without bounds fails": {
			sample: analysis.Sample{Value: -inf, Raw: "-Inf"},
			want:   analysis.Result{Phase: v1alpha1.CheckFailed, Value: "-Inf", Message: "value -Inf is not a finite number"},
		},
		"+Inf past max names the bound": {
			min: new(0.0), max: new(0.5), sample: analysis.Sample{Value: inf, Raw: "+Inf"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "+Inf", Message: "+Inf > max 0.5"},
		},
		"-Inf below min names the bound": {
			min: new(0.0), max: new(0.5), sample: analysis.Sample{Value: -inf, Raw: "-Inf"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "-Inf", Message: "-Inf < min 0"},
		},
		"1e308 past max is compact": {
			max: new(1.0), sample: analysis.Sample{Value: 1e308, Raw: "1" + strings.Repeat("0", 308)},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "1e+308", Message: "1e+308 > max 1"},
		},
		"1e308 without bounds is compact": {
			sample: analysis.Sample{Value: 1e308, Raw: "1" + strings.Repeat("0", 308)},
			want:   analysis.Result{Phase: v1alpha1.CheckPassed, Value: "1e+308", Message: "1e+308 (no bounds)"},
		},
		"six significant digits": {
			max: new(0.01), sample: analysis.Sample{Value: 0.0021345678, Raw: "0.0021345678"},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "0.00213457", Message: "0.00213457 <= max 0.01"},
		},
		"bounds are compact too": {
			min: new(123456789.0), max: new(1e300), sample: analysis.Sample{Value: 5, Raw: "5"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "5", Message: "5 < min 1.23457e+08"},
		},
		"a value that would read as its bound is written in full": {
			max: new(0.01), sample: analysis.Sample{Value: 0.0100000001, Raw: "0.0100000001"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "0.0100000001", Message: "0.0100000001 > max 0.01"},
		},
		"a value and bound that read alike are both written in full": {
			min: new(0.0123456789), sample: analysis.Sample{Value: 0.01234567, Raw: "0.01234567"},
			want: analysis.Result{Phase: v1alpha1.CheckFailed, Value: "0.01234567", Message: "0.01234567 < min 0.0123456789"},
		},
		"a value equal to a bound of many digits is written in full": {
			max: new(0.0123456789), sample: analysis.Sample{Value: 0.0123456789, Raw: "0.0123456789"},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "0.0123456789", Message: "0.0123456789 <= max 0.0123456789"},
		},
		"a value near a bound of many digits is compact": {
			max: new(0.0123456789), sample: analysis.Sample{Value: 0.0123, Raw: "0.0123"},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "0.0123", Message: "0.0123 <= max 0.0123457"},
		},
		"raw missing is formatted compactly": {
			max: new(1.0), sample: analysis.Sample{Value: 1.0 / 3},
			want: analysis.Result{Phase: v1alpha1.CheckPassed, Value: "0.333333", Message: "0.333333 <= max 1"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := v1alpha1.Metric{Name: "m", Query: "q", Min: tc.min, Max: tc.max}
			tc.want.Metric = "m"
			if got := analysis.Judge(m, tc.sample, nil); got != tc.want {
				t.Errorf("Judge =\n  %+v\nwant\n  %+v", got, tc.want)
			}
		})
	}
}
