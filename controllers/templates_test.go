package controllers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// recordingProm is a scripted Prometheus (answers set by namespace,
// service and metric, as testenv.FakeProm) that keeps every query and its
// headers.
type recordingProm struct {
	*testenv.FakeProm
	URL     string
	mu      sync.Mutex
	queries []string
	headers []http.Header
}

func startRecordingProm(t *testing.T) *recordingProm {
	t.Helper()
	r := &recordingProm{FakeProm: testenv.StartFakeProm()}
	t.Cleanup(r.FakeProm.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := req.ParseForm(); err == nil {
			r.mu.Lock()
			r.queries = append(r.queries, req.Form.Get("query"))
			r.headers = append(r.headers, req.Header.Clone())
			r.mu.Unlock()
		}
		r.FakeProm.Config.Handler.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// received returns the queries that contain s, with their headers.
func (r *recordingProm) received(s string) ([]string, []http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var qs []string
	var hs []http.Header
	for i, q := range r.queries {
		if strings.Contains(q, s) {
			qs, hs = append(qs, q), append(hs, r.headers[i])
		}
	}
	return qs, hs
}

const templateMetric = "template_errors_ratio"

// templateSpec is a template with one metric on templateMetric at most max,
// whose query reads the arguments ns, service and job (job defaults to web).
func templateSpec(max float64) v1.AnalysisTemplateSpec {
	web := "web"
	return v1.AnalysisTemplateSpec{
		Args: []v1.TemplateArg{{Name: "ns"}, {Name: "service"}, {Name: "job", Default: &web}},
		Metrics: []v1.Metric{{
			Name:  "shared-errors",
			Query: templateMetric + `{namespace="{{ .Args.ns }}",service="{{ .Args.service }}",job="{{ .Args.job }}"}`,
			Max:   &max,
		}},
	}
}

// clusterTemplate creates a ClusterAnalysisTemplate (cluster-scoped, so
// named after the test's namespace) and deletes it when the test ends.
func (f *fixture) clusterTemplate(name string, spec v1.AnalysisTemplateSpec) *v1.ClusterAnalysisTemplate {
	f.t.Helper()
	tpl := &v1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	f.create(tpl)
	f.t.Cleanup(func() { _ = env.Client.Delete(f.ctx, tpl) })
	return tpl
}

// usingTemplate is a Rollout whose only check is the ClusterAnalysisTemplate
// named tpl: ns and service from the Rollout, job given literally.
func (f *fixture) usingTemplate(name, tpl, promURL string) *v1.Rollout {
	ro := testenv.Rollout(f.ns, name, name+":v1", promURL)
	ro.Spec.Steps = []v1.Step{{Weight: 20}, {Weight: 100}}
	ro.Spec.Analysis.Metrics = nil
	job := "checkout"
	ro.Spec.Analysis.Templates = []v1.AnalysisTemplateRef{{Kind: v1.KindClusterAnalysisTemplate, Name: tpl, Args: []v1.TemplateArgValue{
		{Name: "ns", ValueFrom: &v1.ArgValueSource{Field: "namespace"}},
		{Name: "service", ValueFrom: &v1.ArgValueSource{Field: "canaryService"}},
		{Name: "job", Value: &job},
	}}}
	return ro
}

func (f *fixture) promoted(name string, color v1.Color) {
	f.t.Helper()
	f.eventually(30*time.Second, name+" promoted to "+string(color), func() bool {
		st := f.get(name).Status
		return st.Phase == v1.PhaseHealthy && st.StableColor == color
	}, func() string { return f.get(name).Status.Message })
}

// TestClusterTemplateWithArguments: a Rollout whose only check is a
// ClusterAnalysisTemplate, with a literal argument and arguments from the
// Rollout (namespace, canaryService), passes and promotes; the queries
// Prometheus received carry the argument values, and the revision's status
// holds the snapshot it was checked with.
func TestClusterTemplateWithArguments(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := startRecordingProm(t)
	tpl := f.ns + "-errors"
	f.clusterTemplate(tpl, templateSpec(0.05))
	f.healthy(f.usingTemplate("shared", tpl, p.URL))
	p.Set(f.ns, "shared-green", templateMetric, testenv.Answer{Value: 0.01})
	f.setImage("shared", "shared:v2")

	f.eventually(20*time.Second, "the template's metric checked", func() bool {
		a := f.get("shared").Status.Analysis
		return a != nil && len(a.Metrics) == 1 && a.Metrics[0].Name == "shared-errors" && a.Metrics[0].Phase == v1.CheckPassed
	}, func() string { return f.get("shared").Status.Message })
	snap := f.get("shared").Status.Analysis.Templates
	if snap == nil || len(snap.Items) != 1 {
		t.Fatalf("status.analysis.templates %+v, want one snapshot", snap)
	}
	it := snap.Items[0]
	want := map[string]string{"ns": f.ns, "service": "shared-green", "job": "checkout"}
	if it.Kind != v1.KindClusterAnalysisTemplate || it.Name != tpl || it.Generation != 1 || len(it.Args) != 3 ||
		it.Args["ns"] != want["ns"] || it.Args["service"] != want["service"] || it.Args["job"] != want["job"] {
		t.Fatalf("snapshot %+v, want %s generation 1 with args %v", it, tpl, want)
	}
	if b, err := yaml.Marshal(f.get("shared").Status.Analysis); err == nil {
		t.Logf("status.analysis in flight:\n%s", b)
	}
	f.promoted("shared", v1.Green)
	qs, _ := p.received(templateMetric)
	wantQuery := templateMetric + `{namespace="` + f.ns + `",service="shared-green",job="checkout"}`
	if len(qs) == 0 {
		t.Fatal("Prometheus received no query of the template")
	}
	for _, q := range qs {
		if q != wantQuery {
			t.Fatalf("Prometheus received %q, want %q", q, wantQuery)
		}
	}
	t.Logf("Prometheus received %d queries of the template, e.g. %s", len(qs), qs[0])
}

// TestTemplateEditedMidRollout: a template tightened while a rollout is in
// flight (its canary at 0.2 would now fail) does not change that rollout,
// which promotes on the snapshot it started with; the next revision starts
// with the template as it is then, and is rolled back by it.
func TestTemplateEditedMidRollout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := startRecordingProm(t)
	tpl := f.ns + "-edited"
	f.clusterTemplate(tpl, templateSpec(0.5))
	ro := f.usingTemplate("edit", tpl, p.URL)
	ro.Spec.Steps = []v1.Step{{Weight: 25, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.healthy(ro)
	p.Set(f.ns, "edit-green", templateMetric, testenv.Answer{Value: 0.2})
	p.Set(f.ns, "edit-blue", templateMetric, testenv.Answer{Value: 0.2})
	f.setImage("edit", "edit:v2")
	f.eventually(20*time.Second, "at the gate with the template's metric passed", func() bool {
		st := f.get("edit").Status
		return st.Phase == v1.PhasePaused && st.CanaryWeight == 25 && st.Analysis != nil && len(st.Analysis.Metrics) == 1 &&
			st.Analysis.Metrics[0].Phase == v1.CheckPassed
	}, func() string { return f.get("edit").Status.Message })

	// Tighten the shared template: 0.2 is now a breach.
	var cur v1.ClusterAnalysisTemplate
	if err := f.c.Get(f.ctx, client.ObjectKey{Name: tpl}, &cur); err != nil {
		t.Fatal(err)
	}
	tight := 0.1
	cur.Spec.Metrics[0].Max = &tight
	if err := f.c.Update(f.ctx, &cur); err != nil {
		t.Fatal(err)
	}
	before := len(first(p.received(templateMetric)))
	f.eventually(20*time.Second, "five more checks at the gate", func() bool {
		return len(first(p.received(templateMetric))) >= before+5 || f.phase("edit") != v1.PhasePaused
	})
	st := f.get("edit").Status
	if st.Phase != v1.PhasePaused || st.Analysis.FailedChecks != 0 || st.Analysis.Metrics[0].Phase != v1.CheckPassed {
		t.Fatalf("the edit reached the rollout in flight: phase %s, failed checks %d, %+v", st.Phase, st.Analysis.FailedChecks, st.Analysis.Metrics)
	}
	if m := st.Analysis.Templates.Items[0]; *m.Metrics[0].Max != 0.5 || m.Generation != 1 {
		t.Fatalf("snapshot max %v generation %d, want 0.5 of generation 1", *m.Metrics[0].Max, m.Generation)
	}
	f.annotate("edit", v1.AnnotationPromote, "1")
	f.promoted("edit", v1.Green)

	// The next revision resolves the template as it is now.
	f.setImage("edit", "edit:v3")
	f.eventually(30*time.Second, "v3 rolled back by the tightened template", func() bool { return f.phase("edit") == v1.PhaseRolledBack },
		func() string { return f.get("edit").Status.Message })
	st = f.get("edit").Status
	if !strings.Contains(st.Message, "shared-errors = 0.2") || st.Analysis.Templates.Items[0].Generation != 2 {
		t.Fatalf("message %q, snapshot generation %d; want the rollback by shared-errors on generation 2", st.Message, st.Analysis.Templates.Items[0].Generation)
	}
	t.Logf("v3: %s", st.Message)
}

func first[A, B any](a A, _ B) A { return a }

// TestMissingTemplateHoldsBeforeTraffic: a revision whose template does not
// exist yet is refused before any traffic moves (the route untouched,
// Valid=False naming the template, a TemplateUnresolved event) and starts
// by itself once the template is created. A missing required argument
// likewise, until the Rollout gives it.
func TestMissingTemplateHoldsBeforeTraffic(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := startRecordingProm(t)
	tpl := f.ns + "-later"
	f.healthy(f.usingTemplate("missing", tpl, p.URL))
	green := f.recordWeights("missing", v1.Green)
	f.setImage("missing", "missing:v2")

	f.eventually(10*time.Second, "Valid=False naming the template", func() bool {
		c := condition(f.get("missing"), v1.ConditionValid)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1.ReasonTemplateUnresolved &&
			strings.Contains(c.Message, "ClusterAnalysisTemplate/"+tpl+" not found")
	}, func() string { return f.get("missing").Status.Message })
	f.eventually(5*time.Second, "a TemplateUnresolved event", func() bool { return f.hasEvent("missing", v1.ReasonTemplateUnresolved, tpl) })
	time.Sleep(3 * time.Second) // three check intervals: nothing may move meanwhile
	ro := f.get("missing")
	t.Logf("held: phase %s: %s", ro.Status.Phase, ro.Status.Message)
	for _, c := range ro.Status.Conditions {
		t.Logf("condition %s=%s reason %s: %s", c.Type, c.Status, c.Reason, c.Message)
	}
	t.Logf("events:\n%s", f.dumpEvents("missing"))
	if b, g := f.weights("missing"); b != 100 || g != 0 || len(green.Weights()) != 1 || green.Weights()[0] != 0 {
		t.Fatalf("route blue %d / green %d, green carried %v: traffic moved before the template resolved", b, g, green.Weights())
	}
	green.Stop()
	if ro.Status.CanaryRevision != "" || ro.Status.Phase != v1.PhaseFailed {
		t.Fatalf("status %s canary %q, want Failed with no canary", ro.Status.Phase, ro.Status.CanaryRevision)
	}

	f.clusterTemplate(tpl, templateSpec(0.05))
	f.promoted("missing", v1.Green)
	if c := condition(f.get("missing"), v1.ConditionValid); c.Status != metav1.ConditionTrue {
		t.Fatalf("Valid %+v after the template appeared", c)
	}

	// A required argument missing: the same hold, until the Rollout gives it.
	f.update("missing", func(ro *v1.Rollout) {
		ref := &ro.Spec.Analysis.Templates[0]
		ref.Args = ref.Args[2:] // job only: ns and service have no default
	})
	f.setImage("missing", "missing:v3")
	f.eventually(10*time.Second, "Valid=False naming the argument", func() bool {
		c := condition(f.get("missing"), v1.ConditionValid)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1.ReasonTemplateUnresolved &&
			strings.Contains(c.Message, "argument ns of ClusterAnalysisTemplate/"+tpl+" has no value")
	}, func() string { return f.get("missing").Status.Message })
	t.Logf("held: %s", f.get("missing").Status.Message)
	if b, g := f.weights("missing"); b != 0 || g != 100 {
		t.Fatalf("route blue %d / green %d: traffic moved before the argument was given", b, g)
	}
	f.update("missing", func(ro *v1.Rollout) {
		ref := &ro.Spec.Analysis.Templates[0]
		ref.Args = append(ref.Args,
			v1.TemplateArgValue{Name: "ns", ValueFrom: &v1.ArgValueSource{Field: "namespace"}},
			v1.TemplateArgValue{Name: "service", ValueFrom: &v1.ArgValueSource{Field: "canaryService"}})
	})
	f.promoted("missing", v1.Blue)
}

// TestTemplateOwnPrometheus: a template that names its own Prometheus is
// asked there, with a header from an opt-in Secret of the Rollout's
// namespace, while the Rollout's own metric goes to the Rollout's server.
func TestTemplateOwnPrometheus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rolloutProm, templateProm := startRecordingProm(t), startRecordingProm(t)
	f.credentials("tenant", map[string]string{"org": "team-7"})
	spec := templateSpec(0.05)
	spec.Prometheus = &v1.PrometheusProvider{Address: templateProm.URL, Headers: []v1.HTTPHeader{
		{Name: "X-Scope-OrgID", ValueFrom: &v1.HeaderValueSource{SecretKeyRef: v1.SecretKeyRef{Name: "tenant", Key: "org"}}},
	}}
	tpl := &v1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "own"}, Spec: spec}
	f.create(tpl)
	ro := f.usingTemplate("own", "own", rolloutProm.URL)
	ro.Spec.Analysis.Templates[0].Kind = "" // AnalysisTemplate, the default
	ro.Spec.Analysis.Metrics = testenv.Rollout(f.ns, "own", "", rolloutProm.URL).Spec.Analysis.Metrics
	f.healthy(ro)
	f.setImage("own", "own:v2")
	f.promoted("own", v1.Green)

	tq, th := templateProm.received(templateMetric)
	rq, _ := rolloutProm.received(errorMetric)
	if len(tq) == 0 || len(rq) == 0 {
		t.Fatalf("template server got %d template queries, rollout server %d of its own metric", len(tq), len(rq))
	}
	if q, _ := rolloutProm.received(templateMetric); len(q) != 0 {
		t.Fatalf("the rollout's server got the template's query %q", q[0])
	}
	if q, _ := templateProm.received(errorMetric); len(q) != 0 {
		t.Fatalf("the template's server got the rollout's query %q", q[0])
	}
	for _, h := range th {
		if h.Get("X-Scope-OrgID") != "team-7" {
			t.Fatalf("template query headers %v, want X-Scope-OrgID team-7", h)
		}
	}
	ms := f.get("own").Status.Analysis.Metrics
	if len(ms) != 2 || ms[0].Name != "error-rate" || ms[1].Name != "shared-errors" {
		t.Fatalf("metric statuses %+v, want error-rate then shared-errors", ms)
	}
}

// TestTemplateRefusedArgumentsAndQueries: an argument value that would end
// the query's string, and a template query naming an argument it does not
// declare, hold the revision before traffic like a missing template, each
// named on the Valid condition.
func TestTemplateRefusedArgumentsAndQueries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tpl := f.ns + "-strict"
	spec := templateSpec(0.05)
	spec.Metrics = append(spec.Metrics, v1.Metric{Name: "typo", Query: templateMetric + `{job="{{ .Args.jbo }}"}`, Max: spec.Metrics[0].Max})
	f.clusterTemplate(tpl, spec)
	ro := f.usingTemplate("strict", tpl, prom.URL)
	inject := `x"} or vector(1) #`
	ro.Spec.Analysis.Templates[0].Args[2].Value = &inject
	f.healthy(ro)
	f.setImage("strict", "strict:v2")
	valid := func() string {
		c := condition(f.get("strict"), v1.ConditionValid)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1.ReasonTemplateUnresolved {
			return ""
		}
		return c.Message
	}
	f.eventually(10*time.Second, "the injected argument refused", func() bool {
		return strings.Contains(valid(), "argument job of ClusterAnalysisTemplate/"+tpl+` may not contain '"'`)
	}, valid)
	t.Logf("Valid=False: %s", valid())
	job := "checkout"
	f.update("strict", func(ro *v1.Rollout) { ro.Spec.Analysis.Templates[0].Args[2].Value = &job })
	f.eventually(10*time.Second, "the undeclared argument refused", func() bool {
		return strings.Contains(valid(), "ClusterAnalysisTemplate/"+tpl+" spec.metrics[1].query: unknown argument .Args.jbo")
	}, valid)
	t.Logf("Valid=False: %s", valid())
	if b, g := f.weights("strict"); b != 100 || g != 0 || f.get("strict").Status.CanaryRevision != "" {
		t.Fatalf("route blue %d / green %d: traffic moved for a template that does not validate", b, g)
	}
}
