package traffic

import (
	"context"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// testKind is a kind of route the router steers, with how a test's route,
// built as an HTTPRoute (see route, rule and ref), becomes one of that kind.
type testKind struct {
	*kind
	as func(*gatewayv1.HTTPRoute) client.Object
}

// testKinds are every kind the router steers: each test of the steering
// runs once per kind.
var testKinds = []testKind{
	{httpRouteKind, func(r *gatewayv1.HTTPRoute) client.Object { return r }},
	{grpcRouteKind, func(r *gatewayv1.HTTPRoute) client.Object { return asGRPC(r) }},
}

// forEachKind runs f as one subtest per kind, named after the kind.
func forEachKind(t *testing.T, f func(t *testing.T, k testKind)) {
	t.Helper()
	for _, k := range testKinds {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

// runEachKind runs f as the subtests name/HTTPRoute and name/GRPCRoute.
func runEachKind(t *testing.T, name string, f func(t *testing.T, k testKind)) {
	t.Helper()
	t.Run(name, func(t *testing.T) { forEachKind(t, f) })
}

// of returns r as a route of kind k, as the router sees it.
func (k testKind) of(r *gatewayv1.HTTPRoute) routeView { return mustView(k.kind, k.as(r)) }

// mustView is k.viewOf(o), which fails only on an object JSON cannot encode.
func mustView(k *kind, o client.Object) routeView {
	v, err := k.viewOf(o)
	if err != nil {
		panic(err)
	}
	return v
}

// msg returns a message written for an HTTPRoute as it reads for kind k.
func (k testKind) msg(s string) string {
	return strings.ReplaceAll(s, KindHTTPRoute+" ", k.name+" ")
}

// target returns tg steering exactly keys, as routes of kind k.
func (k testKind) target(tg Target, keys ...types.NamespacedName) Target {
	tg.Routes, tg.GRPCRoutes = nil, nil
	if k.kind == grpcRouteKind {
		tg.GRPCRoutes = keys
	} else {
		tg.Routes = keys
	}
	return tg
}

// asGRPC returns the GRPCRoute twin of r: the same metadata, parentRefs,
// hostnames, status and backendRefs in the same rules. HTTP matches and
// filters, which a GRPCRoute cannot hold, are left out.
func asGRPC(r *gatewayv1.HTTPRoute) *gatewayv1.GRPCRoute {
	g := &gatewayv1.GRPCRoute{ObjectMeta: *r.ObjectMeta.DeepCopy()}
	g.Spec.CommonRouteSpec = *r.Spec.CommonRouteSpec.DeepCopy()
	g.Spec.Hostnames = append(g.Spec.Hostnames, r.Spec.Hostnames...)
	g.Status.RouteStatus = *r.Status.RouteStatus.DeepCopy()
	for _, rl := range r.Spec.Rules {
		gr := gatewayv1.GRPCRouteRule{Name: rl.Name}
		for _, b := range rl.BackendRefs {
			gr.BackendRefs = append(gr.BackendRefs, gatewayv1.GRPCBackendRef{BackendRef: *b.BackendRef.DeepCopy()})
		}
		g.Spec.Rules = append(g.Spec.Rules, gr)
	}
	return g
}

// setParents sets the status.parents of a route of either kind.
func setParents(o client.Object, parents []gatewayv1.RouteParentStatus) {
	switch r := o.(type) {
	case *gatewayv1.HTTPRoute:
		r.Status.Parents = parents
	case *gatewayv1.GRPCRoute:
		r.Status.Parents = parents
	}
}

func TestViewOfEitherKind(t *testing.T) {
	r := route("shop", rule(ref("static", 3)), rule(), rule(ref("shop-green", 0), ref("shop-blue", 100)))
	r.Generation = 4
	r.Status.Parents = []gatewayv1.RouteParentStatus{parentStatus()}
	forEachKind(t, func(t *testing.T, k testKind) {
		v := k.of(r)
		if v.kind != k.kind || v.key() != (types.NamespacedName{Namespace: "shop", Name: "shop"}) || v.object.GetGeneration() != 4 {
			t.Errorf("view kind %s key %s generation %d", v.kind.name, v.key(), v.object.GetGeneration())
		}
		if len(v.rules) != 3 || len(v.rules[0]) != 1 || len(v.rules[1]) != 0 || len(v.rules[2]) != 2 {
			t.Fatalf("rules = %+v, want the backendRefs of the 3 rules in place", v.rules)
		}
		if v.rules[2][0].Name != "shop-green" || *v.rules[2][1].Weight != 100 {
			t.Errorf("rule 2 = %+v", v.rules[2])
		}
		if len(v.parents) != 1 || v.parents[0].ParentRef.Name != "public-gw" {
			t.Errorf("parents = %+v", v.parents)
		}
	})
}

func TestTargetRefs(t *testing.T) {
	a, b, c := types.NamespacedName{Namespace: "shop", Name: "a"}, types.NamespacedName{Namespace: "edge", Name: "b"}, types.NamespacedName{Namespace: "shop", Name: "a"}
	got := Target{Routes: []types.NamespacedName{a, b}, GRPCRoutes: []types.NamespacedName{c}}.refs()
	want := []routeRef{{httpRouteKind, a}, {httpRouteKind, b}, {grpcRouteKind, c}}
	if len(got) != len(want) {
		t.Fatalf("refs = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("refs[%d] = %s %s, want %s %s", i, got[i].kind.name, got[i].key, want[i].kind.name, want[i].key)
		}
	}
}

// noKindClient answers every Get as a cluster without the GRPCRoute CRD does.
type noKindClient struct{ client.Client }

func (noKindClient) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: gatewayv1.GroupName, Kind: KindGRPCRoute}}
}

// A Rollout that names a GRPCRoute in a cluster without the GRPCRoute CRD
// has a route problem saying so, not a transient error retried for ever.
func TestKindNotServedIsARouteProblem(t *testing.T) {
	key := types.NamespacedName{Namespace: "shop", Name: "shop"}
	obs, err := (&GatewayAPI{Client: noKindClient{}}).Observe(context.Background(), Target{Namespace: "shop", GRPCRoutes: []types.NamespacedName{key}, Blue: "shop-blue", Green: "shop-green"})
	re, ok := IsRouteError(err)
	if !ok {
		t.Fatalf("err = %v, want a RouteError", err)
	}
	want := "GRPCRoute shop/shop: the cluster does not serve GRPCRoutes (is the Gateway API GRPCRoute CRD installed?)"
	if re.Kind != KindGRPCRoute || re.Route != key || re.Reason != ReasonNotFound || re.Error() != want {
		t.Errorf("RouteError %s %s %s %q, want GRPCRoute %s NotFound %q", re.Kind, re.Route, re.Reason, re.Error(), key, want)
	}
	if len(obs.Routes) != 1 || obs.Routes[0].Kind != KindGRPCRoute || obs.Routes[0].Problem == nil {
		t.Errorf("Observe states %+v, want one GRPCRoute state with the problem", obs.Routes)
	}
}

// An HTTPRoute and a GRPCRoute of the same name are two routes: both are
// steered, each is observed as its own kind, and a hand edit of one is
// repaired without writing the other.
func TestHTTPRouteAndGRPCRouteTogether(t *testing.T) {
	ctx, tg := setup(t)
	key := tg.Routes[0]
	tg.GRPCRoutes = []types.NamespacedName{key}
	httpKind, grpcKind := testKinds[0], testKinds[1]
	createAs(ctx, t, httpKind, tg.Namespace, route("", rule(ref("shop-blue", 100), ref("shop-green", 0))))
	createAs(ctx, t, grpcKind, tg.Namespace, route("", rule(ref("shop-green", 0), ref("shop-blue", 100)), rule(ref("shop-blue", 100), ref("shop-green", 0))))
	g := &GatewayAPI{Client: env.Client, Reader: env.Client}

	w := Weights{Blue: 75, Green: 25}
	if changed, err := g.SetWeights(ctx, tg, w); err != nil || !changed {
		t.Fatalf("SetWeights = %v, %v; want true, nil", changed, err)
	}
	if got := weightsOf(ctx, t, httpKind, key); !slices.Equal(got, []Weights{w}) {
		t.Errorf("the HTTPRoute carries %+v, want [%+v]", got, w)
	}
	if got := weightsOf(ctx, t, grpcKind, key); !slices.Equal(got, []Weights{w, w}) {
		t.Errorf("the GRPCRoute carries %+v, want [%+v %+v]", got, w, w)
	}
	obs := observe(ctx, t, tg)
	if len(obs.Routes) != 2 || obs.Routes[0].Kind != KindHTTPRoute || obs.Routes[1].Kind != KindGRPCRoute ||
		obs.Routes[0].Route != key || obs.Routes[1].Route != key {
		t.Fatalf("Observe states %+v, want the HTTPRoute then the GRPCRoute %s", obs.Routes, key)
	}
	if !obs.Carries(w) || !slices.Equal(obs.Rules(), []Weights{w, w, w}) {
		t.Errorf("Carries(%+v) = %v, Rules() = %+v; want true and three rules", w, obs.Carries(w), obs.Rules())
	}

	// A hand edit of the GRPCRoute's second rule.
	edited := getAs(ctx, t, grpcKind, key).object.(*gatewayv1.GRPCRoute)
	for i := range edited.Spec.Rules[1].BackendRefs {
		edited.Spec.Rules[1].BackendRefs[i].Weight = ptr.To(int32(50))
	}
	if err := env.Client.Update(ctx, edited); err != nil {
		t.Fatalf("edit the GRPCRoute: %v", err)
	}
	obs = observe(ctx, t, tg)
	if obs.Carries(w) || !obs.Routes[0].Uniform || obs.Routes[1].Uniform {
		t.Errorf("after the edit: Carries %v, uniform %v/%v; want false, the HTTPRoute uniform and the GRPCRoute not", obs.Carries(w), obs.Routes[0].Uniform, obs.Routes[1].Uniform)
	}
	httpRV := getAs(ctx, t, httpKind, key).object.GetResourceVersion()
	if changed, err := g.SetWeights(ctx, tg, w); err != nil || !changed {
		t.Fatalf("repairing SetWeights = %v, %v; want true, nil", changed, err)
	}
	if got := weightsOf(ctx, t, grpcKind, key); !slices.Equal(got, []Weights{w, w}) {
		t.Errorf("the GRPCRoute carries %+v after the repair, want [%+v %+v]", got, w, w)
	}
	if got := getAs(ctx, t, httpKind, key).object.GetResourceVersion(); got != httpRV {
		t.Errorf("the repair wrote the HTTPRoute that carried %+v already: resourceVersion %s -> %s", w, httpRV, got)
	}
	if !observe(ctx, t, tg).Carries(w) {
		t.Errorf("after the repair the routes do not carry %+v", w)
	}
}
