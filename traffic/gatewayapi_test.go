package traffic

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/ramp-dev/ramp/api/v1alpha1"
)

// setup creates a namespace and returns a Target for the Services shop-blue
// and shop-green in it, steering the route "shop" there.
func setup(t *testing.T) (context.Context, Target) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	ns, err := env.CreateNamespace(ctx, "traffic")
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ctx, Target{
		Namespace: ns,
		Routes:    []types.NamespacedName{{Namespace: ns, Name: "shop"}},
		Blue:      "shop-blue",
		Green:     "shop-green",
	}
}

// create stores r as an HTTPRoute (see createAs) and returns it as stored.
func create(ctx context.Context, t *testing.T, ns string, r *gatewayv1.HTTPRoute) *gatewayv1.HTTPRoute {
	t.Helper()
	return createAs(ctx, t, testKinds[0], ns, r).object.(*gatewayv1.HTTPRoute)
}

// createAs stores r as a route of kind k (namespace and name "shop" by
// default) and returns it as stored.
func createAs(ctx context.Context, t *testing.T, k testKind, ns string, r *gatewayv1.HTTPRoute) routeView {
	t.Helper()
	if r.Namespace == "" {
		r.Namespace = ns
	}
	if r.Name == "" {
		r.Name = "shop"
	}
	r.ResourceVersion = ""
	r.Spec.ParentRefs = append(r.Spec.ParentRefs, gatewayv1.ParentReference{Name: "public-gw"})
	o := k.as(r)
	if err := env.Client.Create(ctx, o); err != nil {
		t.Fatalf("create %s: %v", k.name, err)
	}
	return mustView(k.kind, o)
}

func get(ctx context.Context, t *testing.T, key types.NamespacedName) *gatewayv1.HTTPRoute {
	t.Helper()
	return getAs(ctx, t, testKinds[0], key).object.(*gatewayv1.HTTPRoute)
}

// getAs reads the route key of kind k from the API server.
func getAs(ctx context.Context, t *testing.T, k testKind, key types.NamespacedName) routeView {
	t.Helper()
	v, err := k.get(ctx, env.Client, key)
	if err != nil {
		t.Fatalf("get %s %s: %v", k.name, key, err)
	}
	return v
}

func observe(ctx context.Context, t *testing.T, tg Target) Observation {
	t.Helper()
	obs, err := (&GatewayAPI{Client: env.Client}).Observe(ctx, tg)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	return obs
}

func TestSetWeightsTwoRules(t *testing.T) {
	forEachKind(t, func(t *testing.T, k testKind) {
		ctx, tg := setup(t)
		key := tg.Routes[0]
		tg = k.target(tg, key)
		createAs(ctx, t, k, tg.Namespace, route("",
			rule(ref("shop-blue", 100), ref("shop-green", 0)),
			rule(ref("shop-green", 0), ref("shop-blue", 100))))
		g := &GatewayAPI{Client: env.Client, Reader: env.Client}

		w := Weights{Blue: 75, Green: 25}
		changed, err := g.SetWeights(ctx, tg, w)
		if err != nil || !changed {
			t.Fatalf("SetWeights = %v, %v; want true, nil", changed, err)
		}
		obs := observe(ctx, t, tg)
		if got, ok := obs.Weights(); !ok || got != w || obs.Routes[0].Kind != k.name {
			t.Fatalf("Observe weights = %+v, %v; want %+v, true, of a %s (%+v)", got, ok, w, k.name, obs)
		}
		r := getAs(ctx, t, k, key)
		for i, refs := range r.rules {
			for _, b := range refs {
				want := map[string]int32{"shop-blue": 75, "shop-green": 25}[string(b.Name)]
				if *b.Weight != want {
					t.Errorf("rule %d: %s carries %d, want %d", i, b.Name, *b.Weight, want)
				}
			}
		}

		rv := r.object.GetResourceVersion()
		changed, err = g.SetWeights(ctx, tg, w)
		if err != nil || changed {
			t.Fatalf("second SetWeights = %v, %v; want false, nil", changed, err)
		}
		if got := getAs(ctx, t, k, key).object.GetResourceVersion(); got != rv {
			t.Errorf("an unchanged SetWeights wrote the route: resourceVersion %s -> %s", rv, got)
		}
	})
}

// richRoute has a steered rule with matches, filters and a third backend, a
// rule naming no color, and a rule that redirects.
func richRoute() *gatewayv1.HTTPRoute {
	legacy := ref("shop-legacy", 7)
	legacy.Filters = []gatewayv1.HTTPRouteFilter{{
		Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier,
		ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Set: []gatewayv1.HTTPHeader{{Name: "X-Backend", Value: "legacy"}},
		},
	}}
	steered := rule(ref("shop-blue", 100), legacy, ref("shop-green", 0))
	steered.Name = ptr.To(gatewayv1.SectionName("main"))
	steered.Matches = []gatewayv1.HTTPRouteMatch{{
		Path:    &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To("/shop")},
		Headers: []gatewayv1.HTTPHeaderMatch{{Name: "X-Tenant", Value: "acme"}},
		Method:  ptr.To(gatewayv1.HTTPMethodGet),
	}}
	steered.Filters = []gatewayv1.HTTPRouteFilter{{
		Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
		RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{
			Add:    []gatewayv1.HTTPHeader{{Name: "X-Via", Value: "ramp-test"}},
			Remove: []string{"X-Debug"},
		},
	}}
	steered.Timeouts = &gatewayv1.HTTPRouteTimeouts{Request: ptr.To(gatewayv1.Duration("10s"))}

	static := rule(ref("static", 3))
	static.Matches = []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchExact), Value: ptr.To("/robots.txt")}}}

	redirect := rule()
	redirect.Matches = []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To("/old")}}}
	redirect.Filters = []gatewayv1.HTTPRouteFilter{{
		Type:            gatewayv1.HTTPRouteFilterRequestRedirect,
		RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{Hostname: ptr.To(gatewayv1.PreciseHostname("new.example.com")), StatusCode: ptr.To(301)},
	}}

	r := route("", static, steered, redirect)
	r.Labels = map[string]string{"app": "shop", "team": "checkout"}
	r.Annotations = map[string]string{"example.com/owner": "checkout", "example.com/note": "keep me"}
	r.Spec.Hostnames = []gatewayv1.Hostname{"shop.example.com"}
	return r
}

// specWithoutColorWeights returns the stored spec as JSON with the weights of
// the color backendRefs removed, and the labels and annotations.
func specWithoutColorWeights(ctx context.Context, t *testing.T, key types.NamespacedName) (string, string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gatewayv1.SchemeGroupVersion.WithKind("HTTPRoute"))
	if err := env.Client.Get(ctx, key, u); err != nil {
		t.Fatalf("get HTTPRoute %s: %v", key, err)
	}
	spec, _ := u.Object["spec"].(map[string]any)
	rules, _ := spec["rules"].([]any)
	for _, rl := range rules {
		refs, _ := rl.(map[string]any)["backendRefs"].([]any)
		for _, b := range refs {
			b := b.(map[string]any)
			if n := b["name"]; n == "shop-blue" || n == "shop-green" {
				delete(b, "weight")
			}
		}
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := json.Marshal(map[string]any{"labels": u.GetLabels(), "annotations": u.GetAnnotations()})
	if err != nil {
		t.Fatal(err)
	}
	return string(specJSON), string(meta)
}

func TestSetWeightsKeepsEverythingElse(t *testing.T) {
	ctx, tg := setup(t)
	create(ctx, t, tg.Namespace, richRoute())
	key := tg.Routes[0]
	spec0, meta0 := specWithoutColorWeights(ctx, t, key)
	g := &GatewayAPI{Client: env.Client, Reader: env.Client}

	for _, w := range []Weights{{99, 1}, {95, 5}, {50, 50}, {0, 100}, {100, 0}, {100, 0}} {
		if _, err := g.SetWeights(ctx, tg, w); err != nil {
			t.Fatalf("SetWeights(%+v): %v", w, err)
		}
		got, ok := observe(ctx, t, tg).Weights()
		if !ok || got != w {
			t.Fatalf("after SetWeights(%+v) the route carries %+v (uniform %v)", w, got, ok)
		}
		spec, meta := specWithoutColorWeights(ctx, t, key)
		if spec != spec0 {
			t.Fatalf("spec changed beyond the color weights:\nbefore %s\nafter  %s", spec0, spec)
		}
		if meta != meta0 {
			t.Fatalf("labels or annotations changed:\nbefore %s\nafter  %s", meta0, meta)
		}
	}
	r := get(ctx, t, key)
	if w := *r.Spec.Rules[1].BackendRefs[1].Weight; w != 7 {
		t.Errorf("the third backend carries %d, want 7", w)
	}
}

func TestRouteErrors(t *testing.T) {
	forEachKind(t, testRouteErrors)
}

func testRouteErrors(t *testing.T, k testKind) {
	ctx, tg := setup(t)
	onlyBlue := route("", rule(ref("shop-blue", 100)))
	onlyBlue.Name = "only-blue"
	stored := createAs(ctx, t, k, tg.Namespace, onlyBlue)
	tests := map[string]struct {
		route  string
		reason string
		msgHas []string
	}{
		"missing route": {route: "absent", reason: ReasonNotFound, msgHas: []string{k.name + " " + tg.Namespace + "/absent: not found"}},
		"only blue":     {route: "only-blue", reason: ReasonMissingBackendRef, msgHas: []string{k.name + " " + tg.Namespace + "/only-blue: rule 0 names shop-blue but not shop-green"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			key := types.NamespacedName{Namespace: tg.Namespace, Name: tc.route}
			target := k.target(tg, key)
			g := &GatewayAPI{Client: env.Client, Reader: env.Client}
			obs, obsErr := g.Observe(ctx, target)
			if len(obs.Routes) != 1 || obs.Routes[0].Route != key || obs.Routes[0].Kind != k.name || obs.Routes[0].Problem == nil ||
				obs.Routes[0].Problem.Reason != tc.reason || len(obs.Routes[0].Rules) != 0 {
				t.Errorf("Observe states %+v, want one for %s %s with Problem %s and no rules", obs.Routes, k.name, key, tc.reason)
			}
			if obs.Carries(Weights{Blue: 0, Green: 100}) || obs.Carries(Weights{}) {
				t.Error("Observe says a route with no steered rule carries weights")
			}
			changed, setErr := g.SetWeights(ctx, target, Weights{Blue: 0, Green: 100})
			if changed {
				t.Error("SetWeights reported a write")
			}
			for op, err := range map[string]error{"Observe": obsErr, "SetWeights": setErr} {
				re, ok := IsRouteError(err)
				if !ok {
					t.Fatalf("%s: err = %v, want a RouteError", op, err)
				}
				if re.Reason != tc.reason || re.Route != key || re.Kind != k.name {
					t.Errorf("%s: RouteError %+v, want reason %s on %s %s", op, re, tc.reason, k.name, key)
				}
				for _, s := range tc.msgHas {
					if !strings.Contains(re.Error(), s) {
						t.Errorf("%s: message %q lacks %q", op, re.Error(), s)
					}
				}
			}
		})
	}
	if got := getAs(ctx, t, k, stored.key()); got.object.GetResourceVersion() != stored.object.GetResourceVersion() {
		t.Error("a route with a RouteError was written")
	}
}

func TestSetWeightsGoesOnPastABrokenRoute(t *testing.T) {
	ctx, tg := setup(t)
	create(ctx, t, tg.Namespace, route("", rule(ref("shop-blue", 100), ref("shop-green", 0))))
	tg.Routes = append([]types.NamespacedName{{Namespace: tg.Namespace, Name: "absent"}}, tg.Routes...)
	changed, err := (&GatewayAPI{Client: env.Client, Reader: env.Client}).SetWeights(ctx, tg, Weights{Blue: 0, Green: 100})
	if !changed {
		t.Error("the good route was not written")
	}
	if re, ok := IsRouteError(err); !ok || re.Reason != ReasonNotFound {
		t.Errorf("err = %v, want RouteError NotFound", err)
	}
	if w := *get(ctx, t, tg.Routes[1]).Spec.Rules[0].BackendRefs[1].Weight; w != 100 {
		t.Errorf("green carries %d, want 100", w)
	}
}

func TestRouteInAnotherNamespace(t *testing.T) {
	ctx, tg := setup(t)
	edge, err := env.CreateNamespace(ctx, "edge")
	if err != nil {
		t.Fatal(err)
	}
	blue, green := ref("shop-blue", 100), ref("shop-green", 0)
	blue.Namespace = ptr.To(gatewayv1.Namespace(tg.Namespace))
	green.Namespace = ptr.To(gatewayv1.Namespace(tg.Namespace))
	r := route("", rule(blue, green), rule(ref("shop-blue", 1), ref("shop-green", 1)))
	r.Namespace = edge
	create(ctx, t, edge, r)
	tg.Routes = []types.NamespacedName{{Namespace: edge, Name: "shop"}}

	if _, err := (&GatewayAPI{Client: env.Client}).SetWeights(ctx, tg, Weights{Blue: 40, Green: 60}); err != nil {
		t.Fatalf("SetWeights: %v", err)
	}
	got := get(ctx, t, tg.Routes[0])
	if w := *got.Spec.Rules[0].BackendRefs[1].Weight; w != 60 {
		t.Errorf("green of the other namespace carries %d, want 60", w)
	}
	if w := *got.Spec.Rules[1].BackendRefs[1].Weight; w != 1 {
		t.Errorf("the edge namespace's own shop-green was steered: %d", w)
	}
}

func TestAcceptedFromStatus(t *testing.T) {
	ctx, tg := setup(t)
	r := create(ctx, t, tg.Namespace, route("", rule(ref("shop-blue", 100), ref("shop-green", 0))))
	setStatus := func(status metav1.ConditionStatus, gen int64, msg string) {
		t.Helper()
		r := get(ctx, t, tg.Routes[0])
		r.Status.Parents = []gatewayv1.RouteParentStatus{{
			ParentRef:      gatewayv1.ParentReference{Name: "public-gw"},
			ControllerName: "example.com/gateway-controller",
			Conditions: []metav1.Condition{{
				Type: "Accepted", Status: status, ObservedGeneration: gen,
				LastTransitionTime: metav1.Now(), Reason: "Test", Message: msg,
			}},
		}}
		if err := env.Client.Status().Update(ctx, r); err != nil {
			t.Fatalf("update status: %v", err)
		}
	}
	check := func(step string, want *bool, wantMsg string) {
		t.Helper()
		st := observe(ctx, t, tg).Routes[0]
		if (st.Accepted == nil) != (want == nil) || (want != nil && *st.Accepted != *want) || st.Message != wantMsg {
			t.Errorf("%s: Accepted = %s, %q; want %s, %q", step, fmtBool(st.Accepted), st.Message, fmtBool(want), wantMsg)
		}
	}

	check("no status", nil, "")
	setStatus(metav1.ConditionTrue, r.Generation, "ok")
	check("accepted", ptr.To(true), "")

	if _, err := (&GatewayAPI{Client: env.Client}).SetWeights(ctx, tg, Weights{Blue: 50, Green: 50}); err != nil {
		t.Fatal(err)
	}
	st := observe(ctx, t, tg).Routes[0]
	if st.Generation != r.Generation+1 {
		t.Fatalf("generation = %d, want %d", st.Generation, r.Generation+1)
	}
	check("status of the old generation", nil, "")

	setStatus(metav1.ConditionFalse, st.Generation, "no listener matches")
	check("refused", ptr.To(false), "no listener matches")
}

func TestAPIServerTakesEveryWeight(t *testing.T) {
	ctx, tg := setup(t)
	create(ctx, t, tg.Namespace, route("", rule(ref("shop-blue", 100), ref("shop-green", 0)), rule(ref("shop-green", 0), ref("shop-blue", 100))))
	g := &GatewayAPI{Client: env.Client, Reader: env.Client}
	for _, canary := range []v1alpha1.Color{v1alpha1.Green, v1alpha1.Blue} {
		for _, pct := range []int32{0, 1, 5, 25, 50, 75, 99, 100} {
			w := WeightsFor(canary, pct)
			if _, err := g.SetWeights(ctx, tg, w); err != nil {
				t.Fatalf("SetWeights(%+v): %v", w, err)
			}
			if got, ok := observe(ctx, t, tg).Weights(); !ok || got != w {
				t.Fatalf("route carries %+v (%v), want %+v", got, ok, w)
			}
		}
	}
	if _, err := g.SetWeights(ctx, tg, Weights{Blue: 60, Green: 60}); err == nil {
		t.Error("SetWeights took weights that do not sum to 100")
	}
}
