package plugin

import (
	"bytes"
	"regexp"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// status lists a job check with the steps it runs at and its Job, a web
// check with its request, and a metric on an interval of its own.
func TestWriteChecksKinds(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := metav1.NewMicroTime(now.Add(-3 * time.Second))
	maxErr := 0.01
	ro := &v1.Rollout{Spec: v1.RolloutSpec{Analysis: &v1.Analysis{
		Prometheus: &v1.PrometheusProvider{Address: "http://prom:9090"},
		Metrics: []v1.Metric{
			{Name: "smoke", Job: &v1.JobCheck{}},
			{Name: "deep-health", Web: &v1.WebCheck{URL: "http://{{ .CanaryService }}/healthz"}},
			{Name: "slow", Query: "q", Max: &maxErr, Interval: &metav1.Duration{Duration: 5 * time.Minute}},
		},
	}}, Status: v1.RolloutStatus{Analysis: &v1.AnalysisStatus{Metrics: []v1.MetricStatus{
		{Name: "smoke", Phase: v1.CheckFailed, Value: "shop-smoke-s0-1a2b3c4d", Message: "Job shop-smoke-s0-1a2b3c4d failed: BackoffLimitExceeded", CheckedAt: &at},
		{Name: "deep-health", Phase: v1.CheckPassed, Value: "200", CheckedAt: &at},
		{Name: "slow", Phase: v1.CheckPassed, Value: "0.002", CheckedAt: &at},
	}}}}
	var out bytes.Buffer
	if err := writeChecks(&out, ro, now); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", out.String())
	for _, want := range []string{
		`smoke \[job at steps 0\]\s+Job shop-smoke-s0-1a2b3c4d\s+Failed\s+3s ago\s+Job shop-smoke-s0-1a2b3c4d failed: BackoffLimitExceeded`,
		`deep-health \[web GET http://\{\{ \.CanaryService \}\}/healthz\]\s+200\s+Passed`,
		`slow every 5m0s\s+0\.002 <= 0\.01\s+Passed`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("status does not match %q", want)
		}
	}
}
