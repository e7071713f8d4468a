package analysis_test

import (
	"context"
	"time"

	"errors"
	"fmt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/ramp-dev/ramp/analysis"
	"github.com/ramp-dev/ramp/api/v1alpha1"
)

func num(v float64) analysis.Answer {
	return analysis.Answer{Sample: analysis.Sample{Value: v, Raw: fmt.Sprint(v)}}
}

func withSamples(a analysis.Answer, n float64) analysis.Answer {
	a.Samples = analysis.Sample{Value: n, Raw: fmt.Sprint(n)}
	return a
}

var (
	noData    = analysis.Answer{Err: fmt.Errorf("%w: empty vector", analysis.ErrNoData)}
	refused   = analysis.Answer{Err: errors.New("connection refused")}
	errorRate = v1alpha1.Metric{Name: "error-rate", Query: "q",
		CompareToStable: &v1alpha1.StableComparison{MaxRatio: new(1.5), MaxIncrease: new(0.005)}}
)

func TestJudgeAgainstStable(t *testing.T) {
	withMax := errorRate
	withMax.Max = new(0.05)
	ratioOnly := errorRate
	ratioOnly.CompareToStable = &v1alpha1.StableComparison{MaxRatio: new(1.5)}
	higherIsBetter := v1alpha1.Metric{Name: "success", Query: "q",
		CompareToStable: &v1alpha1.StableComparison{MinRatio: new(0.99), MaxDecrease: new(0.001)}}
	failOnNoData := errorRate
	failOnNoData.NoData = v1alpha1.NoDataFail
	guarded := errorRate
	guarded.MinSamples = &v1alpha1.SampleGuard{Query: "n", Min: 100}

	for name, tc := range map[string]struct {
		m              v1alpha1.Metric
		canary, stable analysis.Answer
		phase          v1alpha1.CheckPhase
		msg            string
		stableValue    string
	}{
		// A cluster-wide incident: both colors at 8 % errors.
		"as bad as stable passes": {errorRate, num(0.08), num(0.08), v1alpha1.CheckPassed, "0.08 <= 0.12 allowed by stable 0.08 ×1.5 or +0.005", "0.08"},
		"worse than stable fails": {errorRate, num(0.08), num(0.01), v1alpha1.CheckFailed, "0.08 > 0.015 allowed by stable 0.01 ×1.5 or +0.005", "0.01"},
		// The offset carries a stable color at 0 errors, where a ratio
		// alone would allow nothing.
		"stable at zero, within the offset": {errorRate, num(0.004), num(0), v1alpha1.CheckPassed, "0.004 <= 0.005 allowed by stable 0 ×1.5 or +0.005", "0"},
		"stable at zero, ratio only":        {ratioOnly, num(0.004), num(0), v1alpha1.CheckFailed, "0.004 > 0 allowed by stable 0 ×1.5", "0"},
		"exactly at the bound passes":       {ratioOnly, num(0.015), num(0.01), v1alpha1.CheckPassed, "0.015 <= 0.015 allowed by stable 0.01 ×1.5", "0.01"},
		"higher is better, worse":           {higherIsBetter, num(0.97), num(0.995), v1alpha1.CheckFailed, "0.97 < 0.98505 allowed by stable 0.995 ×0.99 or -0.001", "0.995"},
		"higher is better, as good":         {higherIsBetter, num(0.995), num(0.995), v1alpha1.CheckPassed, "0.98505 <= 0.995 allowed by stable 0.995 ×0.99 or -0.001", "0.995"},
		// The absolute bound still binds the canary alone.
		"over the absolute max fails first": {withMax, num(0.08), num(0.08), v1alpha1.CheckFailed, "0.08 > max 0.05", ""},
		"within both":                       {withMax, num(0.02), num(0.02), v1alpha1.CheckPassed, "0.02 <= 0.03 allowed by stable 0.02 ×1.5 or +0.005; 0.02 <= max 0.05", "0.02"},
		"canary no data holds":              {errorRate, noData, num(0.01), v1alpha1.CheckInconclusive, "no data: empty vector (noData: hold)", ""},
		"stable no data holds":              {errorRate, num(0.01), noData, v1alpha1.CheckInconclusive, "stable: no data: empty vector (noData: hold)", ""},
		"stable no data with noData fail":   {failOnNoData, num(0.01), noData, v1alpha1.CheckFailed, "stable: no data: empty vector (noData: fail); nothing to compare", ""},
		"stable unreachable is Error":       {errorRate, num(0.01), refused, v1alpha1.CheckError, "stable: query: connection refused", ""},
		"stable +Inf is Inconclusive":       {errorRate, num(0.01), num(math.Inf(1)), v1alpha1.CheckInconclusive, "stable value +Inf is not a finite number", "+Inf"},
		"canary too few samples":            {guarded, withSamples(num(0.5), 12), withSamples(num(0.01), 5000), v1alpha1.CheckInconclusive, "too few samples: 12 < min 100", ""},
		"stable too few samples":            {guarded, withSamples(num(0.5), 500), withSamples(num(0.01), 3), v1alpha1.CheckInconclusive, "stable: too few samples: 3 < min 100", ""},
		"enough samples on both":            {guarded, withSamples(num(0.5), 500), withSamples(num(0.01), 5000), v1alpha1.CheckFailed, "0.5 > 0.015 allowed by stable 0.01", "0.01"},
		"samples query without data":        {guarded, analysis.Answer{Sample: num(0.5).Sample, SamplesErr: noData.Err}, num(0.01), v1alpha1.CheckInconclusive, "too few samples: no data < min 100", ""},
	} {
		t.Run(name, func(t *testing.T) {
			r := analysis.JudgeAgainstStable(tc.m, tc.canary, tc.stable)
			if r.Phase != tc.phase || !strings.HasPrefix(r.Message, tc.msg) || r.StableValue != tc.stableValue {
				t.Errorf("got %s %q (stable %q), want %s %q (stable %q)", r.Phase, r.Message, r.StableValue, tc.phase, tc.msg, tc.stableValue)
			}
		})
	}
}

// mapProvider answers each query from a table and records what it was
// asked.
type mapProvider struct {
	mu      sync.Mutex
	answers map[string]float64
	asked   []string
}

func (p *mapProvider) Query(_ context.Context, q string) (analysis.Sample, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, q)
	v, ok := p.answers[q]
	if !ok {
		return analysis.Sample{}, fmt.Errorf("%w: empty vector", analysis.ErrNoData)
	}
	return analysis.Sample{Value: v, Raw: fmt.Sprint(v)}, nil
}

// Check renders a compareToStable metric once per color with .Service,
// .Color and .Revision of the color measured, and the guard query with
// them too; without compare (the watch after a promotion) it asks the
// canary only.
func TestCheckComparesColors(t *testing.T) {
	m := errorRate
	m.Query = `errors{service="{{ .Service }}",color="{{ .Color }}",rev="{{ .Revision }}"}`
	m.MinSamples = &v1alpha1.SampleGuard{Query: `requests{service="{{ .Service }}"}`, Min: 10}
	p := &mapProvider{answers: map[string]float64{
		`errors{service="shop-green",color="green",rev="7f5c8d6b4"}`: 0.08,
		`errors{service="shop-blue",color="blue",rev="6d8f7c9b5"}`:   0.01,
		`requests{service="shop-green"}`:                             100,
		`requests{service="shop-blue"}`:                              900,
	}}
	got := analysis.Check(t.Context(), p, []v1alpha1.Metric{m}, shopVars, true)
	if r := got[0]; r.Phase != v1alpha1.CheckFailed || r.Value != "0.08" || r.StableValue != "0.01" {
		t.Errorf("compared: %+v, want Failed 0.08 against stable 0.01", r)
	}
	if len(p.asked) != 4 {
		t.Errorf("asked %q, want the query and the guard for each color", p.asked)
	}

	p.asked = nil
	got = analysis.Check(t.Context(), p, []v1alpha1.Metric{m}, shopVars, false)
	if r := got[0]; r.Phase != v1alpha1.CheckPassed || !strings.Contains(r.Message, "not compared") || r.StableValue != "" {
		t.Errorf("not compared: %+v, want Passed, not compared", r)
	}
	for _, q := range p.asked {
		if strings.Contains(q, "shop-blue") {
			t.Errorf("asked the stable color %q while not comparing", q)
		}
	}
}

// A metric with an interval of its own reads it as {{ .Interval }}.
func TestCheckMetricInterval(t *testing.T) {
	p := &mapProvider{answers: map[string]float64{`slow[4m]`: 0, `fast[1m30s]`: 0}}
	metrics := []v1alpha1.Metric{
		{Name: "slow", Query: `slow[{{ .Interval }}]`, Max: new(1.0), Interval: &metav1.Duration{Duration: 4 * time.Minute}},
		{Name: "fast", Query: `fast[{{ .Interval }}]`, Max: new(1.0)},
	}
	for _, r := range analysis.Check(t.Context(), p, metrics, shopVars, true) {
		if r.Phase != v1alpha1.CheckPassed {
			t.Errorf("%s: %s %s (asked %q)", r.Metric, r.Phase, r.Message, p.asked)
		}
	}
}
