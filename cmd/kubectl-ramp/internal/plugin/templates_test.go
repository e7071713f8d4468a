package plugin_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// status and watch show a revision held for a missing template (the
// Invalid line names it), then, once the template exists, its metric
// marked with the template, a comparison's value beside the stable
// color's, and the snapshot the revision was resolved with.
func TestStatusTemplates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tpl := f.ns + "-vs-stable"
	ro := f.rollout("tpl", "tpl:v1", v1.Step{Weight: 20, Hold: hold(time.Hour)}, v1.Step{Weight: 100})
	ro.Spec.Analysis.Templates = []v1.AnalysisTemplateRef{{Kind: v1.KindClusterAnalysisTemplate, Name: tpl, Args: []v1.TemplateArgValue{
		{Name: "ns", ValueFrom: &v1.ArgValueSource{Field: "namespace"}},
	}}}
	f.healthy(ro)
	f.setImage("tpl", "tpl:v2")
	f.eventually(10*time.Second, "the revision held for its template", func() bool { return f.get("tpl").Status.Phase == v1.PhaseFailed })
	r := f.run("status", "tpl")
	f.expect(r, 0)
	contains(t, r.out, `Phase:\s+Failed\n`,
		`Invalid:\s+spec.analysis.templates\[0\]: ClusterAnalysisTemplate/`+tpl+` not found\n`,
		`Weight:\s+\[                    \] 0% \(blue serves all traffic\)\n`,
		`Canary:\s+-\n`,
		`Waiting for:\s+the template or argument, then the revision starts by itself: spec.analysis.templates\[0\]: ClusterAnalysisTemplate/`+tpl+` not found\n`)

	for _, c := range []string{"blue", "green"} {
		prom.Set(f.ns, "tpl-"+c, "latency_seconds", testenv.Answer{Value: 0.2})
	}
	prom.Set(f.ns, "tpl-green", errorMetric, testenv.Answer{Value: 0.001})
	cat := &v1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: tpl}, Spec: v1.AnalysisTemplateSpec{
		Args: []v1.TemplateArg{{Name: "ns"}},
		Metrics: []v1.Metric{{
			Name:            "latency-vs-stable",
			Query:           `latency_seconds{namespace="{{ .Args.ns }}",service="{{ .Service }}"}`,
			CompareToStable: &v1.StableComparison{MaxRatio: new(1.5), MaxIncrease: new(0.05)},
		}},
	}}
	if err := f.c.Create(f.ctx, cat); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(f.ctx, cat) })
	f.atStep("tpl", 0, 20)
	f.eventually(10*time.Second, "both metrics checked", func() bool {
		a := f.get("tpl").Status.Analysis
		return a != nil && len(a.Metrics) == 2 && a.Metrics[1].StableValue != ""
	})
	r = f.run("status", "tpl")
	f.expect(r, 0)
	contains(t, r.out,
		`\n  error-rate\s+0\.001 <= 0\.01\s+Passed\s+\d+s ago\n`,
		`\n  latency-vs-stable \(ClusterAnalysisTemplate/`+tpl+`\)\s+0\.2 vs stable 0\.2 \(at most x1\.5 or \+0\.05\)\s+Passed\s+\d+s ago\n`,
		`Templates:\s+ClusterAnalysisTemplate/`+tpl+` generation 1 \(ns=`+f.ns+`\)\n`)
	if strings.Contains(r.out, "Invalid:") {
		t.Errorf("the Invalid line stayed once the template existed:\n%s", r.out)
	}

	// The rollout holds for an hour: watch gives up after its timeout
	// (exit 1), having shown the template's metric.
	r = f.run("watch", "tpl", "--timeout", "3s")
	f.expect(r, 1)
	contains(t, r.out, `\n  latency-vs-stable \(ClusterAnalysisTemplate/`+tpl+`\)\s+0\.2 vs stable 0\.2 `, `Templates:\s+ClusterAnalysisTemplate/`+tpl)
}
