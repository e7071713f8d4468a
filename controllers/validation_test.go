package controllers_test

import (
	"encoding/json"
	"fmt"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// Bad Rollouts are refused by the API server when the schema can tell, and
// otherwise reported on the Valid condition with a message naming the field;
// nothing is deployed or routed for them.
func TestInvalidRollouts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	refused := map[string]struct {
		change func(obj map[string]any)
		want   string
	}{
		"weight 120": {func(o map[string]any) {
			spec(o)["steps"] = []any{map[string]any{"weight": 120}, map[string]any{"weight": 100}}
		}, "spec.steps[0].weight"},
		"empty steps": {func(o map[string]any) { spec(o)["steps"] = []any{} }, "spec.steps"},
		"steps not ending at 100": {func(o map[string]any) {
			spec(o)["steps"] = []any{map[string]any{"weight": 10}, map[string]any{"weight": 50}}
		}, "the last step must have weight 100"},
		"decreasing weights": {func(o map[string]any) {
			spec(o)["steps"] = []any{map[string]any{"weight": 50}, map[string]any{"weight": 10}, map[string]any{"weight": 100}}
		}, "step weights must not decrease"},
		"hold below 1s": {func(o map[string]any) {
			spec(o)["steps"] = []any{map[string]any{"weight": 100, "hold": "500ms"}}
		}, "hold must be at least 1s"},
		"unparsable duration": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["interval"] = "soon"
		}, "spec.analysis.interval"},
		"metric without bounds": {func(o map[string]any) {
			delete(spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any), "max")
		}, "a metric needs min, max or compareToStable"},
		"empty compareToStable": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)["compareToStable"] = map[string]any{}
		}, "compareToStable needs maxRatio, maxIncrease, minRatio or maxDecrease"},
		"negative maxRatio": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)["compareToStable"] = map[string]any{"maxRatio": -1}
		}, "maxRatio: Invalid value"},
		"negative soak": {func(o map[string]any) {
			spec(o)["promotion"] = map[string]any{"requires": []any{map[string]any{"environment": "staging", "soak": "-1h"}}}
		}, "soak must not be negative"},
		"requires its own environment": {func(o map[string]any) {
			spec(o)["environment"] = "prod"
			spec(o)["promotion"] = map[string]any{"requires": []any{map[string]any{"environment": "prod"}}}
		}, "spec.promotion.requires names the Rollout's own spec.environment"},
		"environment not a DNS label": {func(o map[string]any) { spec(o)["environment"] = "Prod EU" }, "spec.environment"},
		"two requirements of one environment": {func(o map[string]any) {
			spec(o)["promotion"] = map[string]any{"requires": []any{map[string]any{"environment": "staging"}, map[string]any{"environment": "staging"}}}
		}, "Duplicate value"},
		"historyLimit 0": {func(o map[string]any) { spec(o)["promotion"] = map[string]any{"historyLimit": 0} }, "historyLimit"},
		"consecutiveFailures 0": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)["consecutiveFailures"] = 0
		}, "consecutiveFailures: Invalid value: 0"},
		"inconclusiveLimit under 1s": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)["inconclusiveLimit"] = map[string]any{"after": "100ms"}
		}, "inconclusiveLimit.after must be at least 1s"},
		"inconclusiveLimit then hold": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)["inconclusiveLimit"] = map[string]any{"after": "1m", "then": "hold"}
		}, `supported values: "pass", "fail"`},
		"bearer token and basic auth": {func(o map[string]any) {
			prom := spec(o)["analysis"].(map[string]any)["prometheus"].(map[string]any)
			prom["bearerTokenSecretRef"] = map[string]any{"name": "a", "key": "t"}
			prom["basicAuth"] = map[string]any{"username": "u", "passwordSecretRef": map[string]any{"name": "a", "key": "p"}}
		}, "bearerTokenSecretRef and basicAuth cannot both be set"},
		"tls on http": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["prometheus"].(map[string]any)["tls"] = map[string]any{"serverName": "prom"}
		}, "tls needs an https address"},
		"Authorization header": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["prometheus"].(map[string]any)["headers"] = []any{map[string]any{"name": "Authorization", "value": "Bearer x"}}
		}, "this header cannot be set"},
		"header with value and valueFrom": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["prometheus"].(map[string]any)["headers"] = []any{map[string]any{"name": "X-Scope-OrgID", "value": "a",
				"valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "s", "key": "k"}}}}
		}, "a header needs exactly one of value and valueFrom"},
		"header name with a space": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["prometheus"].(map[string]any)["headers"] = []any{map[string]any{"name": "X Tenant", "value": "a"}}
		}, "headers[0].name: Invalid value"},
		"client cert without key": {func(o map[string]any) {
			prom := spec(o)["analysis"].(map[string]any)["prometheus"].(map[string]any)
			prom["address"] = "https://prom:9090"
			prom["tls"] = map[string]any{"certSecretRef": map[string]any{"name": "c", "key": "tls.crt"}}
		}, "tls.certSecretRef and tls.keySecretRef go together"},
		"query and job": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)["job"] = map[string]any{"template": map[string]any{}}
		}, "a metric needs exactly one of query, job and web"},
		"neither query, job nor web": {func(o map[string]any) {
			delete(spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any), "query")
		}, "a metric needs exactly one of query, job and web"},
		"web jsonPath without bounds": {func(o map[string]any) {
			m := spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)
			delete(m, "query")
			delete(m, "max")
			m["web"] = map[string]any{"url": "http://x/y", "jsonPath": "{.rate}"}
		}, "a metric needs min, max or compareToStable"},
		"compareToStable on a job": {func(o map[string]any) {
			m := spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)
			delete(m, "query")
			m["job"] = map[string]any{"template": map[string]any{}}
			m["compareToStable"] = map[string]any{"maxRatio": 1.5}
		}, "compareToStable needs a query"},
		"web url not http": {func(o map[string]any) {
			m := spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)
			delete(m, "query")
			m["web"] = map[string]any{"url": "file:///etc/passwd"}
		}, "web.url: Invalid value"},
		"job timeout over 6h": {func(o map[string]any) {
			m := spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)
			delete(m, "query")
			m["job"] = map[string]any{"template": map[string]any{}, "timeout": "7h"}
		}, "job.timeout must be between 1s and 6h"},
		"no metrics and no templates": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["metrics"] = []any{}
		}, "analysis needs metrics or templates"},
		"a query without prometheus": {func(o map[string]any) {
			delete(spec(o)["analysis"].(map[string]any), "prometheus")
		}, "analysis.prometheus is required by metrics with a query"},
		"template argument with value and valueFrom": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["templates"] = []any{map[string]any{"name": "t",
				"args": []any{map[string]any{"name": "svc", "value": "a", "valueFrom": map[string]any{"field": "canaryService"}}}}}
		}, "an argument needs exactly one of value and valueFrom"},
		"template argument from an unknown field": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["templates"] = []any{map[string]any{"name": "t",
				"args": []any{map[string]any{"name": "svc", "valueFrom": map[string]any{"field": "spec.template"}}}}}
		}, "valueFrom.field: Unsupported value"},
		"metric interval under 1s": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)["interval"] = "500ms"
		}, "a metric's interval must be at least 1s"},
		"minSamples range": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)["minSamples"] = map[string]any{"query": "{{ range .X }}{{ end }}", "min": 10}
		}, "range, template, block and define are not allowed"},
		"no routes": {func(o map[string]any) {
			spec(o)["trafficRouting"] = map[string]any{"gatewayAPI": map[string]any{"httpRoutes": []any{}, "grpcRoutes": []any{}}}
		}, "spec.trafficRouting.gatewayAPI: Invalid value: name at least one route in httpRoutes or grpcRoutes"},
		"no route lists": {func(o map[string]any) {
			spec(o)["trafficRouting"] = map[string]any{"gatewayAPI": map[string]any{}}
		}, "spec.trafficRouting.gatewayAPI: Invalid value: name at least one route in httpRoutes or grpcRoutes"},
		"17 grpcRoutes": {func(o map[string]any) {
			var refs []any
			for i := range 17 {
				refs = append(refs, map[string]any{"name": fmt.Sprintf("r%d", i)})
			}
			spec(o)["trafficRouting"] = map[string]any{"gatewayAPI": map[string]any{"grpcRoutes": refs}}
		}, "spec.trafficRouting.gatewayAPI.grpcRoutes: Too many"},
		"step replicas not a percentage": {func(o map[string]any) {
			spec(o)["steps"] = []any{map[string]any{"weight": 10, "replicas": "half"}, map[string]any{"weight": 100}}
		}, "spec.steps[0].replicas"},
		"step replicas above 100%": {func(o map[string]any) {
			spec(o)["steps"] = []any{map[string]any{"weight": 10, "replicas": "150%"}, map[string]any{"weight": 100}}
		}, "spec.steps[0].replicas"},
		"noData unknown": {func(o map[string]any) {
			spec(o)["analysis"].(map[string]any)["metrics"].([]any)[0].(map[string]any)["noData"] = "ignore"
		}, "spec.analysis.metrics[0].noData"},
	}
	for name, tc := range refused {
		obj := f.unstructuredRollout("refused")
		tc.change(obj.Object)
		err := f.c.Create(f.ctx, obj)
		if err == nil {
			t.Errorf("%s: the API server accepted it", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: refused with %q, want a message containing %q", name, err, tc.want)
		}
	}

	reported := map[string]struct {
		setup func(ro *v1.Rollout)
		route bool
		want  string
	}{
		"unparsable query template": {func(ro *v1.Rollout) {
			ro.Spec.Analysis.Metrics[0].Query = `rate(x{service="{{ .CanaryService }"}[1m])`
		}, true, "spec.analysis.metrics[0].query"},
		"unknown template field": {func(ro *v1.Rollout) {
			ro.Spec.Analysis.Metrics[0].Query = `rate(x{service="{{ .Canary }}"}[1m])`
		}, true, "spec.analysis.metrics[0].query"},
		"missing HTTPRoute": {func(ro *v1.Rollout) {}, false, "spec.trafficRouting.gatewayAPI.httpRoutes"},
		"missing GRPCRoute": {func(ro *v1.Rollout) {
			ro.Spec.TrafficRouting.GatewayAPI = &v1.GatewayAPIRouting{GRPCRoutes: []v1.RouteRef{{Name: ro.Name}}}
		}, false, "spec.trafficRouting.gatewayAPI.grpcRoutes: GRPCRoute "},
		"step replicas 0": {func(ro *v1.Rollout) {
			zero := intstr.FromInt32(0)
			ro.Spec.Steps = []v1.Step{{Weight: 10, Replicas: &zero}, {Weight: 100}}
		}, true, "spec.steps[0].replicas"},
		"selector does not match template": {func(ro *v1.Rollout) {
			ro.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"other"}}}}
		}, true, "spec.selector"},
	}
	i := 0
	for name, tc := range reported {
		i++
		rname := "bad" + string(rune('a'+i))
		ro := f.rollout(rname, "bad:v1")
		tc.setup(ro)
		if tc.route {
			f.create(f.route(rname))
		}
		f.create(ro)
		f.expectInvalid(name, rname, tc.want)
	}

	// A route that names only the blue Service is reported, naming the
	// missing backendRef, and nothing is routed.
	r := f.route("half")
	r.Spec.Rules[0].BackendRefs = r.Spec.Rules[0].BackendRefs[:1]
	f.create(r, f.rollout("half", "half:v1"))
	f.expectInvalid("route without green", "half", "half-green")
	if b, _ := f.weights("half"); b != 100 {
		t.Errorf("the half route was changed: blue weight %d", b)
	}
}

func (f *fixture) expectInvalid(name, rollout, want string) {
	f.t.Helper()
	var cond *metav1.Condition
	f.eventually(10*time.Second, name+": Valid=False", func() bool {
		cond = meta.FindStatusCondition(f.get(rollout).Status.Conditions, v1.ConditionValid)
		return cond != nil && cond.Status == metav1.ConditionFalse
	})
	if !strings.Contains(cond.Message, want) {
		f.t.Errorf("%s: Valid condition says %q, want it to name %q", name, cond.Message, want)
	}
	ro := f.get(rollout)
	if ro.Status.Phase != v1.PhaseFailed {
		f.t.Errorf("%s: phase %s, want Failed", name, ro.Status.Phase)
	}
	var d appsv1.Deployment
	if ro.Status.StableRevision == "" {
		if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: rollout + "-blue"}, &d); !apierrors.IsNotFound(err) {
			f.t.Errorf("%s: a Deployment was made for an invalid Rollout (err %v)", name, err)
		}
	} else if canary := rollout + "-" + string(ro.Status.StableColor.Other()); f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: canary}, &d) == nil && *d.Spec.Replicas > 0 {
		f.t.Errorf("%s: the canary %s was scaled to %d for an invalid template", name, canary, *d.Spec.Replicas)
	}
	// Events are sent by a broadcaster in the background: give it time.
	deadline := time.Now().Add(5 * time.Second)
	for !f.hasEvent(rollout, "InvalidSpec", want) {
		if time.Now().After(deadline) {
			f.t.Errorf("%s: no InvalidSpec event naming %q", name, want)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func spec(o map[string]any) map[string]any { return o["spec"].(map[string]any) }

// unstructuredRollout is a valid Rollout as plain JSON, so that a test can
// send what typed structs would drop (an empty list, a bad duration).
func (f *fixture) unstructuredRollout(name string) *unstructured.Unstructured {
	f.t.Helper()
	ro := f.rollout(name, "x:v1")
	ro.APIVersion, ro.Kind = v1.GroupVersion.String(), "Rollout"
	b, err := json.Marshal(ro)
	if err != nil {
		f.t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		f.t.Fatal(err)
	}
	delete(u.Object, "status")
	return u
}

// An HTTPRoute with an extra rule, filters and a third backend keeps all of
// them untouched through a full rollout: only the two color weights move.
func TestRouteKeepsEverythingElse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.route("keep")
	port := gatewayv1.PortNumber(8080)
	w10, w1 := int32(10), int32(1)
	r.Spec.Rules[0].Filters = []gatewayv1.HTTPRouteFilter{{
		Type:                  gatewayv1.HTTPRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "X-Env", Value: "prod"}}},
	}}
	r.Spec.Rules[0].BackendRefs = append(r.Spec.Rules[0].BackendRefs, gatewayv1.HTTPBackendRef{
		BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "legacy", Port: &port}, Weight: &w10},
	})
	pathPrefix := gatewayv1.PathMatchPathPrefix
	admin := "/admin"
	r.Spec.Rules = append(r.Spec.Rules, gatewayv1.HTTPRouteRule{
		Matches:     []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &pathPrefix, Value: &admin}}},
		BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "admin", Port: &port}, Weight: &w1}}},
	})
	r.Labels = map[string]string{"team": "shop"}
	f.create(r)
	before := f.routeSpecWithoutColorWeights("keep")
	f.create(f.rollout("keep", "keep:v1"))
	f.eventually(20*time.Second, "healthy", func() bool { return f.phase("keep") == v1.PhaseHealthy })
	f.setImage("keep", "keep:v2")
	f.eventually(30*time.Second, "promoted", func() bool { return f.get("keep").Status.StableColor == v1.Green })
	f.eventually(time.Second, "green at 100%", func() bool { _, g := f.weights("keep"); return g == 100 })
	if after := f.routeSpecWithoutColorWeights("keep"); after != before {
		t.Fatalf("the route changed beyond the two weights:\nbefore %s\nafter  %s", before, after)
	}
}

// routeSpecWithoutColorWeights is the route's spec and labels as JSON with
// the two color backendRefs' weights blanked.
func (f *fixture) routeSpecWithoutColorWeights(name string) string {
	f.t.Helper()
	var r gatewayv1.HTTPRoute
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, &r); err != nil {
		f.t.Fatal(err)
	}
	for i := range r.Spec.Rules {
		for j := range r.Spec.Rules[i].BackendRefs {
			b := &r.Spec.Rules[i].BackendRefs[j]
			if string(b.Name) == name+"-blue" || string(b.Name) == name+"-green" {
				b.Weight = nil
			}
		}
	}
	out, err := json.Marshal(struct {
		Labels map[string]string
		Spec   gatewayv1.HTTPRouteSpec
	}{r.Labels, r.Spec})
	if err != nil {
		f.t.Fatal(err)
	}
	return string(out)
}
