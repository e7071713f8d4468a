package gateway

import (
	"maps"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func ref(name string, weight *int32) gatewayv1.HTTPBackendRef {
	return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name), Port: ptr.To(gatewayv1.PortNumber(80))},
		Weight:                 weight,
	}}
}

func route(rules ...[]gatewayv1.HTTPBackendRef) *gatewayv1.HTTPRoute {
	r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "shop"}}
	for _, refs := range rules {
		r.Spec.Rules = append(r.Spec.Rules, gatewayv1.HTTPRouteRule{BackendRefs: refs})
	}
	return r
}

func TestDecide(t *testing.T) {
	otherNS := ref("shop-green", ptr.To[int32](50))
	otherNS.Namespace = ptr.To(gatewayv1.Namespace("elsewhere"))
	cases := map[string]struct {
		route       *gatewayv1.HTTPRoute
		want        map[string]int
		accepted    metav1.ConditionStatus
		resolved    metav1.ConditionStatus
		resolvedWhy gatewayv1.RouteConditionReason
	}{
		"percent maps directly": {
			route:    route([]gatewayv1.HTTPBackendRef{ref("shop-blue", ptr.To[int32](75)), ref("shop-green", ptr.To[int32](25))}),
			want:     map[string]int{"shop-blue": 75, "shop-green": 25},
			accepted: metav1.ConditionTrue, resolved: metav1.ConditionTrue,
		},
		"all to canary": {
			route:    route([]gatewayv1.HTTPBackendRef{ref("shop-blue", ptr.To[int32](0)), ref("shop-green", ptr.To[int32](100))}),
			want:     map[string]int{"shop-blue": 0, "shop-green": 100},
			accepted: metav1.ConditionTrue, resolved: metav1.ConditionTrue,
		},
		"missing weight weighs one, unnamed service zero": {
			route:    route([]gatewayv1.HTTPBackendRef{ref("shop-blue", nil)}),
			want:     map[string]int{"shop-blue": 1, "shop-green": 0},
			accepted: metav1.ConditionTrue, resolved: metav1.ConditionTrue,
		},
		"large weights scale to 256, small stays nonzero": {
			route:    route([]gatewayv1.HTTPBackendRef{ref("shop-blue", ptr.To[int32](1000000)), ref("shop-green", ptr.To[int32](1000))}),
			want:     map[string]int{"shop-blue": 256, "shop-green": 1},
			accepted: metav1.ConditionTrue, resolved: metav1.ConditionTrue,
		},
		"unknown service": {
			route:    route([]gatewayv1.HTTPBackendRef{ref("shop-blue", ptr.To[int32](100)), ref("nope", ptr.To[int32](0))}),
			want:     map[string]int{"shop-blue": 100, "shop-green": 0},
			accepted: metav1.ConditionTrue, resolved: metav1.ConditionFalse, resolvedWhy: gatewayv1.RouteReasonBackendNotFound,
		},
		"other namespace": {
			route:    route([]gatewayv1.HTTPBackendRef{ref("shop-blue", ptr.To[int32](50)), otherNS}),
			want:     map[string]int{"shop-blue": 50, "shop-green": 0},
			accepted: metav1.ConditionTrue, resolved: metav1.ConditionFalse, resolvedWhy: gatewayv1.RouteReasonRefNotPermitted,
		},
		"two rules refused": {
			route:    route([]gatewayv1.HTTPBackendRef{ref("shop-blue", nil)}, []gatewayv1.HTTPBackendRef{ref("shop-green", nil)}),
			accepted: metav1.ConditionFalse, resolved: metav1.ConditionTrue,
		},
		"no backends refused": {
			route:    route(),
			accepted: metav1.ConditionFalse, resolved: metav1.ConditionTrue,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := Decide(tc.route, []string{"shop-blue", "shop-green"})
			if !maps.Equal(d.Weights, tc.want) {
				t.Errorf("weights %v, want %v", d.Weights, tc.want)
			}
			if d.Accepted.Status != tc.accepted {
				t.Errorf("Accepted %s (%s), want %s", d.Accepted.Status, d.Accepted.Message, tc.accepted)
			}
			if d.ResolvedRefs.Status != tc.resolved {
				t.Errorf("ResolvedRefs %s (%s), want %s", d.ResolvedRefs.Status, d.ResolvedRefs.Message, tc.resolved)
			}
			if tc.resolvedWhy != "" && d.ResolvedRefs.Reason != string(tc.resolvedWhy) {
				t.Errorf("ResolvedRefs reason %s, want %s", d.ResolvedRefs.Reason, tc.resolvedWhy)
			}
		})
	}
}
