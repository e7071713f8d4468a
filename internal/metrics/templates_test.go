package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// A template's metric (from the revision's snapshot) has its value and
// bound on the dashboard like the spec's, and goes once the snapshot does.
func TestTemplateMetricsExported(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ro, st := sample()
	max := 0.5
	st.Analysis.Templates = &v1.TemplateSnapshot{Items: []v1.ResolvedTemplate{{Kind: v1.KindClusterAnalysisTemplate, Name: "shared",
		Metrics: []v1.Metric{{Name: "p99", Max: &max}}}}}
	st.Analysis.Metrics = append(st.Analysis.Metrics, v1.MetricStatus{Name: "p99", Phase: v1.CheckPassed, Value: "0.3"})
	m.Observe(ro, st)
	if v := testutil.ToFloat64(m.value.WithLabelValues("shop", "shop", "p99")); v != 0.3 {
		t.Errorf("p99 value %v, want 0.3", v)
	}
	if v := testutil.ToFloat64(m.threshold.WithLabelValues("shop", "shop", "p99", "max")); v != 0.5 {
		t.Errorf("p99 max %v, want 0.5", v)
	}
	st.Analysis = &v1.AnalysisStatus{}
	m.Observe(ro, st)
	if m.value.DeleteLabelValues("shop", "shop", "p99") || m.threshold.DeleteLabelValues("shop", "shop", "p99", "max") {
		t.Error("p99's series outlived the snapshot")
	}
}
