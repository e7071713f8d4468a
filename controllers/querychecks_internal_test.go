package controllers

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ramp-dev/ramp/analysis"
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// addressFactory hands out providers that answer 1 after the delay set
// for their address, recording each query by address.
type addressFactory struct {
	delay   map[string]time.Duration
	mu      sync.Mutex
	queries map[string][]string
}

func (f *addressFactory) Provider(c analysis.Connection) (analysis.Provider, error) {
	return addressProvider{f, c.Address}, nil
}

type addressProvider struct {
	f       *addressFactory
	address string
}

func (p addressProvider) Query(ctx context.Context, q string) (analysis.Sample, error) {
	time.Sleep(p.f.delay[p.address])
	p.f.mu.Lock()
	p.f.queries[p.address] = append(p.f.queries[p.address], q)
	p.f.mu.Unlock()
	return analysis.Sample{Value: 1, Raw: "1"}, nil
}

// The query checks of a Rollout go to each metric's server with its
// template's arguments, all groups at once, and come back in the order of
// plan.Metrics however long each server takes; a template metric whose
// query does not validate with its arguments is left out.
func TestQueryChecksGroups(t *testing.T) {
	slow := &v1.PrometheusProvider{Address: "http://slow"}
	fast := &v1.PrometheusProvider{Address: "http://fast"}
	ro := &v1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "shop"}}
	ro.Spec.Analysis = &v1.Analysis{Prometheus: slow, Metrics: []v1.Metric{
		{Name: "a", Query: `a{svc="{{ .CanaryService }}"}`}, {Name: "d", Query: "d"},
	}}
	ro.Status = v1.RolloutStatus{StableColor: v1.Blue, StableRevision: "r1", CanaryRevision: "r2", Analysis: &v1.AnalysisStatus{
		Templates: &v1.TemplateSnapshot{Items: []v1.ResolvedTemplate{
			{Kind: v1.KindClusterAnalysisTemplate, Name: "own", Prometheus: fast, Args: map[string]string{"k": "one"},
				Metrics: []v1.Metric{{Name: "b", Query: `b{k="{{ .Args.k }}"}`}}},
			{Kind: v1.KindAnalysisTemplate, Name: "shared", Args: map[string]string{"k": "two"},
				Metrics: []v1.Metric{{Name: "c", Query: `c{k="{{ .Args.k }}"}`}, {Name: "bad", Query: `x{{ .Args.nope }}`}}},
		}},
	}}
	f := &addressFactory{delay: map[string]time.Duration{"http://slow": 150 * time.Millisecond}, queries: map[string][]string{}}
	r := &RolloutReconciler{Providers: f}
	start := time.Now()
	got := r.queryChecks(context.Background(), ro, plan.Metrics(&ro.Spec, &ro.Status))
	if took := time.Since(start); took > 400*time.Millisecond {
		t.Errorf("took %s: the groups did not run at once", took)
	}
	var names []string
	for _, c := range got {
		if c.Phase != v1.CheckPassed {
			t.Errorf("%s: %s %s", c.Metric, c.Phase, c.Message)
		}
		names = append(names, c.Metric)
	}
	if strings.Join(names, ",") != "a,d,b,c" {
		t.Fatalf("results for %v, want a,d,b,c (the order of plan.Metrics, bad left out)", names)
	}
	slowQ, fastQ := strings.Join(f.queries["http://slow"], " "), strings.Join(f.queries["http://fast"], " ")
	for _, want := range []string{`a{svc="shop-green"}`, "d", `c{k="two"}`} {
		if !strings.Contains(slowQ, want) {
			t.Errorf("the Rollout's server got %q, want %s among them", slowQ, want)
		}
	}
	if fastQ != `b{k="one"}` {
		t.Errorf("the template's own server got %q, want b{k=\"one\"} alone", fastQ)
	}
}
