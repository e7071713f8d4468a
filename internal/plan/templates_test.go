package plan

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func strp(s string) *string { return &s }

func TestResolveTemplates(t *testing.T) {
	limit := 0.05
	errorRate := FoundTemplate{Generation: 3, Spec: v1.AnalysisTemplateSpec{
		Args:    []v1.TemplateArg{{Name: "service"}, {Name: "codes", Default: strp("5..")}, {Name: "job"}},
		Metrics: []v1.Metric{{Name: "tpl-errors", Query: `x{service="{{ .Args.service }}"}`, Max: &limit}},
	}}
	latency := FoundTemplate{Generation: 1, Spec: v1.AnalysisTemplateSpec{
		Prometheus: &v1.PrometheusProvider{Address: "http://other:9090"},
		Metrics:    []v1.Metric{{Name: "tpl-latency", Query: "q"}},
	}}
	lookup := func(kind, name string) (FoundTemplate, bool) {
		switch kind + "/" + name {
		case "ClusterAnalysisTemplate/error-rate":
			return errorRate, true
		case "AnalysisTemplate/latency":
			return latency, true
		case "AnalysisTemplate/clash":
			return FoundTemplate{Spec: v1.AnalysisTemplateSpec{Metrics: []v1.Metric{{Name: "error-rate", Query: "q"}}}}, true
		}
		return FoundTemplate{}, false
	}
	fields := ArgFields{"canaryService": "shop-green", "namespace": "shop"}
	spec := []v1.Metric{{Name: "error-rate", Query: "q"}}
	good := v1.AnalysisTemplateRef{Kind: v1.KindClusterAnalysisTemplate, Name: "error-rate", Args: []v1.TemplateArgValue{
		{Name: "service", ValueFrom: &v1.ArgValueSource{Field: "canaryService"}},
		{Name: "job", Value: strp("checkout")},
	}}
	tests := map[string]struct {
		refs     []v1.AnalysisTemplateRef
		items    int
		args     map[string]string
		problems []string
	}{
		"literal, valueFrom and default": {
			refs: []v1.AnalysisTemplateRef{good}, items: 1,
			args: map[string]string{"service": "shop-green", "codes": "5..", "job": "checkout"},
		},
		"a namespaced template by default, with its own prometheus": {
			refs: []v1.AnalysisTemplateRef{{Name: "latency"}}, items: 1,
		},
		"missing cluster template": {
			refs:     []v1.AnalysisTemplateRef{{Kind: v1.KindClusterAnalysisTemplate, Name: "nope"}},
			problems: []string{"spec.analysis.templates[0]: ClusterAnalysisTemplate/nope not found"},
		},
		"missing namespaced template": {
			refs:     []v1.AnalysisTemplateRef{{Name: "nope"}},
			problems: []string{"spec.analysis.templates[0]: AnalysisTemplate/nope not found in the Rollout's namespace"},
		},
		"missing required argument": {
			refs:     []v1.AnalysisTemplateRef{{Kind: v1.KindClusterAnalysisTemplate, Name: "error-rate", Args: []v1.TemplateArgValue{{Name: "job", Value: strp("j")}}}},
			problems: []string{"spec.analysis.templates[0]: argument service of ClusterAnalysisTemplate/error-rate has no value"},
		},
		"unknown argument": {
			refs:     []v1.AnalysisTemplateRef{{Name: "latency", Args: []v1.TemplateArgValue{{Name: "svc", Value: strp("x")}}}},
			problems: []string{"spec.analysis.templates[0].args[0]: AnalysisTemplate/latency has no argument svc; it declares no arguments"},
		},
		"clash with the spec's metrics": {
			refs:     []v1.AnalysisTemplateRef{{Name: "clash"}},
			items:    1,
			problems: []string{"spec.analysis.templates[0]: metric error-rate of AnalysisTemplate/clash is also a metric of spec.analysis.metrics"},
		},
		"clash between templates": {
			refs:     []v1.AnalysisTemplateRef{{Name: "latency"}, {Name: "latency"}},
			items:    2,
			problems: []string{"spec.analysis.templates[1]: metric tpl-latency of AnalysisTemplate/latency is also a metric of AnalysisTemplate/latency"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := ResolveTemplates(tc.refs, lookup, fields, spec)
			if len(got.Problems) != len(tc.problems) {
				t.Fatalf("problems %q, want %d", got.Problems, len(tc.problems))
			}
			for i, p := range tc.problems {
				if !strings.HasPrefix(got.Problems[i], p) {
					t.Errorf("problem %q, want it to start with %q", got.Problems[i], p)
				}
			}
			if len(got.Items) != tc.items {
				t.Fatalf("items %d, want %d", len(got.Items), tc.items)
			}
			if tc.args != nil && !reflect.DeepEqual(got.Items[0].Args, tc.args) {
				t.Errorf("args %v, want %v", got.Items[0].Args, tc.args)
			}
		})
	}
	got := ResolveTemplates([]v1.AnalysisTemplateRef{{Name: "latency"}}, lookup, fields, nil).Items[0]
	if got.Kind != v1.KindAnalysisTemplate || got.Generation != 1 || got.Prometheus == nil || got.Prometheus.Address != "http://other:9090" {
		t.Fatalf("resolved %+v", got)
	}
	got.Prometheus.Address = "changed"
	if latency.Spec.Prometheus.Address != "http://other:9090" {
		t.Fatal("the resolution shares the template's memory")
	}
}

func TestStartFields(t *testing.T) {
	name := func(c v1.Color) string { return "shop-" + string(c) }
	got := StartFields("ns", "shop", &v1.RolloutStatus{StableColor: v1.Green, StableRevision: revA}, revB, name)
	want := ArgFields{"namespace": "ns", "rollout": "shop", "canaryService": "shop-blue", "stableService": "shop-green",
		"canaryRevision": revB, "stableRevision": revA, "canaryColor": "blue", "stableColor": "green"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
}

// resolved is a resolution with one template holding metric tpl of max.
func resolved(max float64) TemplateResolution {
	return TemplateResolution{Items: []v1.ResolvedTemplate{{Kind: v1.KindClusterAnalysisTemplate, Name: "shared", Generation: 1,
		Args: map[string]string{"service": "app-green"}, Metrics: []v1.Metric{{Name: "tpl", Query: "q", Max: &max}}}}}
}

func TestTemplateSnapshotAtStart(t *testing.T) {
	obs := observe(0, revB, Deployment{}, routeTo(0))
	obs.Templates = resolved(0.5)
	d := Next(newSpec(), healthy(), obs)
	if !hasEvent(d, "RolloutStarted") {
		t.Fatalf("did not start: %s", show(d.Events))
	}
	snap := d.Status.Analysis.Templates
	if snap == nil || !reflect.DeepEqual(snap.Items, obs.Templates.Items) {
		t.Fatalf("snapshot %s, want %s", show(snap), show(obs.Templates.Items))
	}
	obs.Templates.Items[0].Metrics[0].Name = "mutated"
	if snap.Items[0].Metrics[0].Name != "tpl" {
		t.Fatal("the snapshot shares the observation's memory")
	}

	// In flight, the template changes (tighter max) or disappears: the
	// snapshot stays, and nothing holds.
	st := flying(1, 5, 0)
	st.Analysis.Templates = &v1.TemplateSnapshot{Items: resolved(0.5).Items}
	for name, now := range map[string]TemplateResolution{
		"edited":  resolved(0.01),
		"deleted": {Problems: []string{"spec.analysis.templates[0]: ClusterAnalysisTemplate/shared not found"}},
	} {
		o := observe(30*time.Second, revB, dep(revB, 1, 1), routeTo(5))
		o.Templates = now
		d := Next(newSpec(), st.DeepCopy(), o)
		if got := d.Status.Analysis.Templates; *got.Items[0].Metrics[0].Max != 0.5 {
			t.Errorf("%s: snapshot max %v, want 0.5", name, *got.Items[0].Metrics[0].Max)
		}
		if c := meta.FindStatusCondition(d.Status.Conditions, v1.ConditionValid); c == nil || c.Status != "True" {
			t.Errorf("%s: Valid %+v, want True", name, c)
		}
		if d.Status.Phase != v1.PhaseProgressing {
			t.Errorf("%s: phase %s, want Progressing", name, d.Status.Phase)
		}
	}

	// The next revision starts with the template as it is then.
	next := flying(1, 5, 0)
	next.Analysis.Templates = &v1.TemplateSnapshot{Items: resolved(0.5).Items}
	o := observe(30*time.Second, revC, dep(revB, 1, 1), routeTo(5))
	o.Templates = resolved(0.01)
	d = Next(newSpec(), next, o)
	if !hasEvent(d, "Restarted") || *d.Status.Analysis.Templates.Items[0].Metrics[0].Max != 0.01 {
		t.Fatalf("restart events %s, snapshot %s", show(d.Events), show(d.Status.Analysis.Templates))
	}
}

func TestTemplateProblemHoldsStart(t *testing.T) {
	problem := "spec.analysis.templates[0]: ClusterAnalysisTemplate/shared not found"
	obs := observe(0, revB, Deployment{}, routeTo(0))
	obs.Templates = TemplateResolution{Problems: []string{problem}}
	d := Next(newSpec(), healthy(), obs)
	if len(d.Actions) != 0 {
		t.Fatalf("actions %s before the template resolved", show(d.Actions))
	}
	c := condition(d, v1.ConditionValid)
	if c.Status != "False" || c.Reason != v1.ReasonTemplateUnresolved || c.Message != problem {
		t.Fatalf("Valid %+v", c)
	}
	if !hasEvent(d, v1.ReasonTemplateUnresolved) || d.Status.CanaryRevision != "" || d.Status.Message != problem {
		t.Fatalf("events %s, status %s", show(d.Events), show(d.Status))
	}
	if d.RequeueAfter != 0 {
		t.Fatalf("requeue %s: the template's watch brings the Rollout back", d.RequeueAfter)
	}
	// The same problem again: no new event.
	again := Next(newSpec(), &d.Status, obs)
	if hasEvent(again, v1.ReasonTemplateUnresolved) {
		t.Fatalf("the event repeats: %s", show(again.Events))
	}
	// The template appears: the revision starts by itself.
	obs.Templates = resolved(0.5)
	started := Next(newSpec(), &again.Status, obs)
	if !hasEvent(started, "RolloutStarted") || started.Status.CanaryRevision != revB || started.Status.Analysis.Templates == nil {
		t.Fatalf("did not start: events %s, status %s", show(started.Events), show(started.Status))
	}
	if c := condition(started, v1.ConditionValid); c.Status != "True" {
		t.Fatalf("Valid %+v after the template appeared", c)
	}

	// The stable revision alone starts nothing: no problem to show.
	steady := observe(0, revA, Deployment{}, routeTo(0))
	steady.Templates = TemplateResolution{Problems: []string{problem}}
	if c := condition(Next(newSpec(), healthy(), steady), v1.ConditionValid); c.Status != "True" {
		t.Fatalf("Valid %+v for the stable revision", c)
	}

	// A rolled-back revision asked to retry with its template missing.
	rb := healthy()
	rb.Phase, rb.CanaryRevision = v1.PhaseRolledBack, revB
	o := withAnn(observe(0, revB, dep(revB, 0, 0), routeTo(0)), v1.AnnotationRetry, "1")
	o.Templates = TemplateResolution{Problems: []string{problem}}
	d = Next(newSpec(), rb, o)
	if d.Status.Phase != v1.PhaseRolledBack || !hasEvent(d, v1.ReasonTemplateUnresolved) || hasEvent(d, "Retry") {
		t.Fatalf("retry with a missing template: phase %s, events %s", d.Status.Phase, show(d.Events))
	}
}

// Template metrics gate steps like the spec's: a step waits for them, a
// failure rolls back, and their status is kept.
func TestTemplateMetricsGateSteps(t *testing.T) {
	spec := newSpec(withSteps(step(5), step(50), step(100)))
	base := func() *v1.RolloutStatus {
		st := flying(0, 5, 0)
		st.Analysis.Templates = &v1.TemplateSnapshot{Items: resolved(0.5).Items}
		return st
	}
	// The spec's metrics passed, the template's was not checked: hold.
	st := checked(base(), v1.CheckPassed, 30*time.Second, "error-rate", "latency")
	d := Next(spec, st, observe(61*time.Second, revB, dep(revB, 1, 1), routeTo(5)))
	if d.Status.CurrentStep != 0 {
		t.Fatalf("advanced to step %d without the template's metric", d.Status.CurrentStep)
	}
	// All three pass in this reconcile: advance, and tpl's status stays.
	o := withChecks(observe(61*time.Second, revB, dep(revB, 1, 1), routeTo(5)),
		append(results(v1.CheckPassed, "0.001"), Check{Metric: "tpl", Phase: v1.CheckPassed, Value: "0.1"}))
	d = Next(spec, base(), o)
	if d.Status.CurrentStep != 1 {
		t.Fatalf("step %d, want 1: %s", d.Status.CurrentStep, d.Status.Message)
	}
	if ms := find(d.Status.Analysis.Metrics, "tpl"); ms == nil || ms.Phase != v1.CheckPassed {
		t.Fatalf("tpl status %s", show(d.Status.Analysis.Metrics))
	}
	// The template's metric fails: roll back.
	o = withChecks(observe(61*time.Second, revB, dep(revB, 1, 1), routeTo(5)),
		append(results(v1.CheckPassed, "0.001"), Check{Metric: "tpl", Phase: v1.CheckFailed, Value: "0.9", Message: "0.9 > 0.5"}))
	d = Next(spec, base(), o)
	if d.Status.RollbackReason == "" && d.Status.Phase != v1.PhaseRolledBack || !strings.Contains(d.Status.Message, "tpl = 0.9") {
		t.Fatalf("no rollback on the template's metric: %s", show(d.Status))
	}
}

func find(ms []v1.MetricStatus, name string) *v1.MetricStatus {
	for i := range ms {
		if ms[i].Name == name {
			return &ms[i]
		}
	}
	return nil
}

// The watch after a promotion checks the snapshot the promoted revision
// started with: the promotion keeps it, and its template's metric failing
// switches back.
func TestTemplateSnapshotInTheWatch(t *testing.T) {
	spec := newSpec(func(s *v1.RolloutSpec) {
		s.PostPromotion = &v1.PostPromotion{Hold: metav1.Duration{Duration: 10 * time.Minute}}
	}, withSteps(step(100)))
	st := checked(flying(0, 100, 0), v1.CheckPassed, 30*time.Second, "error-rate", "latency", "tpl")
	st.Analysis.Templates = &v1.TemplateSnapshot{Items: resolved(0.5).Items}
	d := Next(spec, st, observe(61*time.Second, revB, dep(revB, 4, 4), routeTo(100)))
	if !hasEvent(d, "Promoted") || d.Status.PostPromotionUntil == nil || d.Status.Analysis.Templates == nil {
		t.Fatalf("promotion kept no snapshot: events %s, status %s", show(d.Events), show(d.Status))
	}
	o := withChecks(observe(2*time.Minute, revB, dep(revB, 4, 4), routeTo(100)),
		append(results(v1.CheckPassed, "0.001"), Check{Metric: "tpl", Phase: v1.CheckFailed, Value: "0.9", Message: "0.9 > 0.5"}))
	o.Blue = dep(revA, 4, 4)
	d = Next(spec, &d.Status, o)
	if !hasEvent(d, "RolledBack") || d.Status.StableColor != v1.Blue || !strings.Contains(d.Status.RollbackReason, "tpl = 0.9") {
		t.Fatalf("no switch back on the template's metric: events %s, status %s", show(d.Events), show(d.Status))
	}
}
