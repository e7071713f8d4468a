package plugin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func TestComparison(t *testing.T) {
	tests := map[string]struct {
		c      *v1.StableComparison
		stable string
		want   string
	}{
		"not a comparison": {nil, "0.1", ""},
		"ratio and increase": {&v1.StableComparison{MaxRatio: f64(1.5), MaxIncrease: f64(0.005)}, "0.01",
			" vs stable 0.01 (at most x1.5 or +0.005)"},
		"a floor":         {&v1.StableComparison{MinRatio: f64(0.9), MaxDecrease: f64(2)}, "40", " vs stable 40 (at least x0.9 or -2)"},
		"not checked yet": {&v1.StableComparison{MaxRatio: f64(2)}, "", " vs stable ? (at most x2)"},
		"both directions": {&v1.StableComparison{MaxRatio: f64(2), MinRatio: f64(0.5)}, "1", " vs stable 1 (at most x2, at least x0.5)"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := comparison(v1.Metric{CompareToStable: tc.c}, tc.stable); got != tc.want {
				t.Fatalf("comparison %q, want %q", got, tc.want)
			}
		})
	}
}

// The checks of kubectl ramp status list the spec's metrics, then each
// template's marked with it, then the snapshot.
func TestWriteChecksTemplates(t *testing.T) {
	ro := shop()
	ro.Spec.Analysis.Metrics = ro.Spec.Analysis.Metrics[:1]
	ro.Status.Analysis.Metrics = append(ro.Status.Analysis.Metrics[:1],
		v1.MetricStatus{Name: "vs-stable", Phase: v1.CheckPassed, Value: "0.012", StableValue: "0.01", CheckedAt: mat(-3 * time.Second)})
	ro.Status.Analysis.Templates = &v1.TemplateSnapshot{Items: []v1.ResolvedTemplate{
		{Kind: v1.KindClusterAnalysisTemplate, Name: "errors", Generation: 4, Args: map[string]string{"service": "shop-green", "job": "web"},
			Metrics: []v1.Metric{{Name: "vs-stable", CompareToStable: &v1.StableComparison{MaxRatio: f64(1.5)}}}},
		{Kind: v1.KindAnalysisTemplate, Name: "latency", Generation: 1, Prometheus: &v1.PrometheusProvider{Address: "http://thanos:9090"},
			Metrics: []v1.Metric{{Name: "p99", Max: f64(0.5)}}},
	}}
	var b bytes.Buffer
	if err := writeChecks(&b, ro, now); err != nil {
		t.Fatal(err)
	}
	want := `Checks:      every 1m0s, 0 failed (limit 0), last 3s ago
  error-rate                                  0.002 <= 0.01                        Passed  3s ago
  vs-stable (ClusterAnalysisTemplate/errors)  0.012 vs stable 0.01 (at most x1.5)  Passed  3s ago
  p99 (AnalysisTemplate/latency)              ? (<= 0.5)                           not checked yet
Templates:   ClusterAnalysisTemplate/errors generation 4 (job=web, service=shop-green)
             AnalysisTemplate/latency generation 1 at http://thanos:9090
`
	if got := b.String(); got != want {
		t.Errorf("checks:\n%s\nwant:\n%s", got, want)
	}
	if w := strings.Join(pendingChecks(ro, now), "; "); !strings.Contains(w, "a check of p99") {
		t.Errorf("waiting for %q, want the template's unchecked metric named", w)
	}
}
