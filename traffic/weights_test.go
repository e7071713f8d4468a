package traffic

import (
	"errors"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/ramp-dev/ramp/api/v1alpha1"
)

func TestWeightsFor(t *testing.T) {
	tests := map[string]struct {
		canary v1alpha1.Color
		weight int32
		want   Weights
	}{
		"green canary at 25":      {canary: v1alpha1.Green, weight: 25, want: Weights{Blue: 75, Green: 25}},
		"blue canary at 25":       {canary: v1alpha1.Blue, weight: 25, want: Weights{Blue: 25, Green: 75}},
		"rollback to blue":        {canary: v1alpha1.Green, weight: 0, want: Weights{Blue: 100, Green: 0}},
		"full green":              {canary: v1alpha1.Green, weight: 100, want: Weights{Blue: 0, Green: 100}},
		"below 0 clamps":          {canary: v1alpha1.Green, weight: -5, want: Weights{Blue: 100, Green: 0}},
		"above 100 clamps":        {canary: v1alpha1.Blue, weight: 130, want: Weights{Blue: 100, Green: 0}},
		"empty color counts blue": {canary: "", weight: 10, want: Weights{Blue: 10, Green: 90}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := WeightsFor(tc.canary, tc.weight)
			if got != tc.want {
				t.Fatalf("WeightsFor = %+v, want %+v", got, tc.want)
			}
			if got.Blue+got.Green != 100 {
				t.Errorf("weights %+v do not sum to 100", got)
			}
			if tc.weight >= 0 && tc.weight <= 100 && got.Of(tc.canary) != tc.weight {
				t.Errorf("Of(%q) = %d, want %d", tc.canary, got.Of(tc.canary), tc.weight)
			}
		})
	}
}

func TestObservationWeights(t *testing.T) {
	a := RouteState{Weights: Weights{Blue: 75, Green: 25}, Uniform: true}
	b := RouteState{Weights: Weights{Blue: 50, Green: 50}, Uniform: true}
	mixed := RouteState{Weights: Weights{Blue: 75, Green: 25}, Uniform: false}
	problem := RouteState{Weights: Weights{Blue: 75, Green: 25}, Uniform: true, Problem: &RouteError{Reason: ReasonMissingBackendRef}}
	tests := map[string]struct {
		routes []RouteState
		want   Weights
		ok     bool
	}{
		"no routes":             {},
		"one route":             {routes: []RouteState{a}, want: a.Weights, ok: true},
		"two routes agree":      {routes: []RouteState{a, a}, want: a.Weights, ok: true},
		"two routes differ":     {routes: []RouteState{a, b}},
		"rules of a route vary": {routes: []RouteState{a, mixed}},
		"a route has a problem": {routes: []RouteState{a, problem}},
		"a route was not read":  {routes: []RouteState{a, {}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := Observation{Routes: tc.routes}.Weights()
			if got != tc.want || ok != tc.ok {
				t.Errorf("Weights() = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestAccepted(t *testing.T) {
	parent := func(status metav1.ConditionStatus, gen int64, msg string) gatewayv1.RouteParentStatus {
		return gatewayv1.RouteParentStatus{
			ParentRef:      gatewayv1.ParentReference{Name: "gw"},
			ControllerName: "example.com/gw",
			Conditions: []metav1.Condition{
				{Type: "ResolvedRefs", Status: metav1.ConditionTrue, ObservedGeneration: gen},
				{Type: "Accepted", Status: status, ObservedGeneration: gen, Message: msg},
			},
		}
	}
	tests := map[string]struct {
		parents []gatewayv1.RouteParentStatus
		want    *bool
		msg     string
	}{
		"no parents":               {},
		"accepted now":             {parents: []gatewayv1.RouteParentStatus{parent("True", 3, "")}, want: ptr.To(true)},
		"accepted an old gen only": {parents: []gatewayv1.RouteParentStatus{parent("True", 2, "")}},
		"refused now":              {parents: []gatewayv1.RouteParentStatus{parent("False", 3, "no listener")}, want: ptr.To(false), msg: "no listener"},
		"refused an old gen":       {parents: []gatewayv1.RouteParentStatus{parent("False", 2, "old"), parent("True", 3, "")}, want: ptr.To(true)},
		"one of two refuses":       {parents: []gatewayv1.RouteParentStatus{parent("True", 3, ""), parent("False", 3, "denied"), parent("False", 3, "later")}, want: ptr.To(false), msg: "denied"},
		"unknown says nothing":     {parents: []gatewayv1.RouteParentStatus{parent("Unknown", 3, "pending")}},
		"no Accepted condition":    {parents: []gatewayv1.RouteParentStatus{{ParentRef: gatewayv1.ParentReference{Name: "gw"}}}},
	}
	for name, tc := range tests {
		runEachKind(t, name, func(t *testing.T, k testKind) {
			r := route("shop")
			r.Generation = 3
			r.Status.Parents = tc.parents
			got, msg := accepted(k.of(r))
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) || msg != tc.msg {
				t.Errorf("accepted = %v, %q; want %v, %q", fmtBool(got), msg, fmtBool(tc.want), tc.msg)
			}
		})
	}
}

func fmtBool(b *bool) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprint(*b)
}

func TestIsRouteError(t *testing.T) {
	re := &RouteError{Route: types.NamespacedName{Namespace: "shop", Name: "shop"}, Reason: ReasonNotFound, Msg: "HTTPRoute shop/shop: not found"}
	re2 := &RouteError{Reason: ReasonMissingBackendRef}
	transient := errors.New("connection refused")
	tests := map[string]struct {
		err  error
		want *RouteError
	}{
		"nil":                        {},
		"plain":                      {err: re, want: re},
		"wrapped":                    {err: fmt.Errorf("observe: %w", re), want: re},
		"transient":                  {err: transient},
		"joined route errors":        {err: errors.Join(re, re2), want: re},
		"joined with a transient":    {err: errors.Join(re, transient)},
		"wrapped join of route ones": {err: fmt.Errorf("x: %w", errors.Join(re2, re)), want: re2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := IsRouteError(tc.err)
			if got != tc.want || ok != (tc.want != nil) {
				t.Errorf("IsRouteError = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
}
