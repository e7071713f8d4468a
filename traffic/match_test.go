package traffic

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/ramp-dev/ramp/api/v1alpha1"
)

var shop = Target{Namespace: "shop", Blue: "shop-blue", Green: "shop-green"}

// ref returns a backendRef to a Service of the route's namespace.
func ref(name string, weight int32) gatewayv1.HTTPBackendRef {
	r := gatewayv1.HTTPBackendRef{}
	r.Name = gatewayv1.ObjectName(name)
	r.Port = ptr.To(gatewayv1.PortNumber(80))
	r.Weight = ptr.To(weight)
	return r
}

func rule(refs ...gatewayv1.HTTPBackendRef) gatewayv1.HTTPRouteRule {
	return gatewayv1.HTTPRouteRule{BackendRefs: refs}
}

func route(ns string, rules ...gatewayv1.HTTPRouteRule) *gatewayv1.HTTPRoute {
	r := &gatewayv1.HTTPRoute{}
	r.Namespace, r.Name = ns, "shop"
	r.ResourceVersion = "42"
	r.Spec.Rules = rules
	return r
}

func TestColorOf(t *testing.T) {
	with := func(f func(*gatewayv1.HTTPBackendRef)) gatewayv1.HTTPBackendRef {
		r := ref("shop-blue", 1)
		f(&r)
		return r
	}
	tests := map[string]struct {
		ref     gatewayv1.HTTPBackendRef
		routeNS string
		want    v1alpha1.Color
	}{
		"blue by name":                    {ref: ref("shop-blue", 1), routeNS: "shop", want: v1alpha1.Blue},
		"green by name":                   {ref: ref("shop-green", 1), routeNS: "shop", want: v1alpha1.Green},
		"another service":                 {ref: ref("shop-canary", 1), routeNS: "shop"},
		"kind Service":                    {ref: with(func(r *gatewayv1.HTTPBackendRef) { r.Kind = ptr.To(gatewayv1.Kind("Service")) }), routeNS: "shop", want: v1alpha1.Blue},
		"other kind":                      {ref: with(func(r *gatewayv1.HTTPBackendRef) { r.Kind = ptr.To(gatewayv1.Kind("ServiceImport")) }), routeNS: "shop"},
		"empty group":                     {ref: with(func(r *gatewayv1.HTTPBackendRef) { r.Group = ptr.To(gatewayv1.Group("")) }), routeNS: "shop", want: v1alpha1.Blue},
		"other group":                     {ref: with(func(r *gatewayv1.HTTPBackendRef) { r.Group = ptr.To(gatewayv1.Group("multicluster.x-k8s.io")) }), routeNS: "shop"},
		"route elsewhere, no namespace":   {ref: ref("shop-blue", 1), routeNS: "edge"},
		"route elsewhere, namespace set":  {ref: with(func(r *gatewayv1.HTTPBackendRef) { r.Namespace = ptr.To(gatewayv1.Namespace("shop")) }), routeNS: "edge", want: v1alpha1.Blue},
		"namespace of another rollout":    {ref: with(func(r *gatewayv1.HTTPBackendRef) { r.Namespace = ptr.To(gatewayv1.Namespace("other")) }), routeNS: "shop"},
		"namespace set to route's own ns": {ref: with(func(r *gatewayv1.HTTPBackendRef) { r.Namespace = ptr.To(gatewayv1.Namespace("shop")) }), routeNS: "shop", want: v1alpha1.Blue},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := colorOf(tc.ref.BackendRef, tc.routeNS, shop); got != tc.want {
				t.Errorf("colorOf = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSteeredRules(t *testing.T) {
	tests := map[string]struct {
		route      *gatewayv1.HTTPRoute
		want       []steeredRule
		wantReason string
		wantMsg    string
	}{
		"one rule, both colors": {
			route: route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0))),
			want:  []steeredRule{{Rule: 0, Blue: 0, Green: 1}},
		},
		"green first and a third backend": {
			route: route("shop", rule(ref("legacy", 5), ref("shop-green", 0), ref("shop-blue", 100))),
			want:  []steeredRule{{Rule: 0, Blue: 2, Green: 1}},
		},
		"a rule naming neither is left alone": {
			route: route("shop", rule(ref("static", 1)), rule(ref("shop-blue", 100), ref("shop-green", 0))),
			want:  []steeredRule{{Rule: 1, Blue: 0, Green: 1}},
		},
		"a rule without backendRefs is left alone": {
			route: route("shop", rule(), rule(ref("shop-blue", 100), ref("shop-green", 0))),
			want:  []steeredRule{{Rule: 1, Blue: 0, Green: 1}},
		},
		"two steered rules": {
			route: route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0)), rule(ref("shop-green", 0), ref("shop-blue", 100))),
			want:  []steeredRule{{Rule: 0, Blue: 0, Green: 1}, {Rule: 1, Blue: 1, Green: 0}},
		},
		"rule 1 lacks green": {
			route:      route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0)), rule(ref("shop-blue", 1))),
			want:       []steeredRule{{Rule: 0, Blue: 0, Green: 1}},
			wantReason: ReasonMissingBackendRef,
			wantMsg:    "HTTPRoute shop/shop: rule 1 names shop-blue but not shop-green",
		},
		"rule 0 lacks blue": {
			route:      route("shop", rule(ref("shop-green", 1))),
			wantReason: ReasonMissingBackendRef,
			wantMsg:    "HTTPRoute shop/shop: rule 0 names shop-green but not shop-blue",
		},
		"no steered rule": {
			route:      route("shop", rule(ref("static", 1))),
			wantReason: ReasonMissingBackendRef,
			wantMsg:    "HTTPRoute shop/shop: no rule names both shop-blue and shop-green in namespace shop as backendRefs",
		},
		"no rules at all": {
			route:      route("shop"),
			wantReason: ReasonMissingBackendRef,
		},
		"a route elsewhere needs the namespace on its refs": {
			route:      route("edge", rule(ref("shop-blue", 100), ref("shop-green", 0))),
			wantReason: ReasonMissingBackendRef,
		},
		"blue twice": {
			route:      route("shop", rule(ref("shop-blue", 50), ref("shop-green", 0), ref("shop-blue", 50))),
			wantReason: ReasonDuplicateBackendRef,
			wantMsg:    "HTTPRoute shop/shop: rule 0 names shop-blue more than once (backendRefs 0 and 2)",
		},
		"rule 1 lacks green, rule 0 and rule 2 are still steered": {
			route: route("shop",
				rule(ref("shop-blue", 100), ref("shop-green", 0)),
				rule(ref("shop-blue", 1)),
				rule(ref("static", 1), ref("shop-green", 0), ref("shop-blue", 100))),
			want:       []steeredRule{{Rule: 0, Blue: 0, Green: 1}, {Rule: 2, Blue: 2, Green: 1}},
			wantReason: ReasonMissingBackendRef,
			wantMsg:    "HTTPRoute shop/shop: rule 1 names shop-blue but not shop-green",
		},
		"green twice in rule 0, rule 1 still steered": {
			route: route("shop",
				rule(ref("shop-blue", 50), ref("shop-green", 25), ref("shop-green", 25)),
				rule(ref("shop-green", 0), ref("shop-blue", 100))),
			want:       []steeredRule{{Rule: 1, Blue: 1, Green: 0}},
			wantReason: ReasonDuplicateBackendRef,
			wantMsg:    "HTTPRoute shop/shop: rule 0 names shop-green more than once (backendRefs 1 and 2)",
		},
		"the first problem rule is the one reported": {
			route: route("shop",
				rule(ref("shop-green", 1)),
				rule(ref("shop-blue", 100), ref("shop-green", 0)),
				rule(ref("shop-blue", 1), ref("shop-blue", 1))),
			want:       []steeredRule{{Rule: 1, Blue: 0, Green: 1}},
			wantReason: ReasonMissingBackendRef,
			wantMsg:    "HTTPRoute shop/shop: rule 0 names shop-green but not shop-blue",
		},
		"only problem rules": {
			route:      route("shop", rule(ref("shop-blue", 1)), rule(ref("shop-green", 1))),
			wantReason: ReasonMissingBackendRef,
			wantMsg:    "HTTPRoute shop/shop: rule 0 names shop-blue but not shop-green",
		},
	}
	for name, tc := range tests {
		runEachKind(t, name, func(t *testing.T, k testKind) {
			got, re := steeredRules(k.of(tc.route), shop)
			switch {
			case tc.wantReason == "" && re != nil:
				t.Errorf("unexpected error: %v", re)
			case tc.wantReason != "" && re == nil:
				t.Errorf("no error, want a RouteError %s", tc.wantReason)
			case re != nil:
				if re.Reason != tc.wantReason {
					t.Errorf("reason = %q, want %q", re.Reason, tc.wantReason)
				}
				if tc.wantMsg != "" && re.Error() != k.msg(tc.wantMsg) {
					t.Errorf("message = %q, want %q", re.Error(), k.msg(tc.wantMsg))
				}
				if re.Kind != k.name {
					t.Errorf("kind = %q, want %q", re.Kind, k.name)
				}
				if want := (types.NamespacedName{Namespace: tc.route.Namespace, Name: "shop"}); re.Route != want {
					t.Errorf("route = %s, want %s", re.Route, want)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("rule %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
