package traffic

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// cond is a condition a parent reports.
func cond(typ string, status metav1.ConditionStatus, gen int64, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, ObservedGeneration: gen, Reason: reason, Message: msg}
}

// parentStatus is the status of the Gateway public-gw of the route's namespace.
func parentStatus(conds ...metav1.Condition) gatewayv1.RouteParentStatus {
	return gatewayv1.RouteParentStatus{
		ParentRef:      gatewayv1.ParentReference{Name: "public-gw"},
		ControllerName: "example.com/gw",
		Conditions:     conds,
	}
}

// withStatus sets the route's generation to 3 and its parents' status.
func withStatus(r *gatewayv1.HTTPRoute, parents ...gatewayv1.RouteParentStatus) *gatewayv1.HTTPRoute {
	r.Generation = 3
	r.Status.Parents = parents
	return r
}

func TestStateOf(t *testing.T) {
	unset := ref("shop-blue", 0)
	unset.Weight = nil
	tests := map[string]struct {
		route       *gatewayv1.HTTPRoute
		rules       []Weights
		weights     Weights
		uniform     bool
		problem     string // reason, "" for none
		rejected    bool
		problemText string
	}{
		"one rule": {
			route: route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0))),
			rules: []Weights{{100, 0}}, weights: Weights{100, 0}, uniform: true,
		},
		"an unset weight counts 1": {
			route: route("shop", rule(unset, ref("shop-green", 0))),
			rules: []Weights{{1, 0}}, weights: Weights{1, 0}, uniform: true,
		},
		"edited to 0/0": {
			route: route("shop", rule(ref("shop-blue", 0), ref("shop-green", 0))),
			rules: []Weights{{0, 0}}, weights: Weights{0, 0}, uniform: true,
		},
		"two rules, only the second drifted": {
			route: route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0)), rule(ref("shop-green", 10), ref("shop-blue", 90))),
			rules: []Weights{{100, 0}, {90, 10}}, weights: Weights{100, 0},
		},
		"a rule naming neither is not a rule of the state": {
			route: route("shop", rule(ref("static", 5)), rule(ref("shop-blue", 75), ref("shop-green", 25))),
			rules: []Weights{{75, 25}}, weights: Weights{75, 25}, uniform: true,
		},
		"one good rule and one naming only blue": {
			route: route("shop", rule(ref("shop-blue", 75), ref("shop-green", 25)), rule(ref("shop-blue", 1))),
			rules: []Weights{{75, 25}}, weights: Weights{75, 25}, uniform: true,
			problem: ReasonMissingBackendRef, problemText: "HTTPRoute shop/shop: rule 1 names shop-blue but not shop-green",
		},
		"no steerable rule": {
			route:   route("shop", rule(ref("shop-green", 1))),
			problem: ReasonMissingBackendRef, problemText: "HTTPRoute shop/shop: rule 0 names shop-green but not shop-blue",
		},
		"rejected by its gateway": {
			route: withStatus(route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0))),
				parentStatus(cond("Accepted", "True", 3, "Accepted", ""), cond("ResolvedRefs", "False", 3, "BackendNotFound", "gone"))),
			rules: []Weights{{100, 0}}, weights: Weights{100, 0}, uniform: true, rejected: true,
		},
	}
	for name, tc := range tests {
		runEachKind(t, name, func(t *testing.T, k testKind) {
			st := stateOf(k.of(tc.route), shop)
			if st.Route != (types.NamespacedName{Namespace: "shop", Name: "shop"}) || st.Kind != k.name {
				t.Errorf("Kind, Route = %s %s, want %s shop/shop", st.Kind, st.Route, k.name)
			}
			if !slices.Equal(st.Rules, tc.rules) {
				t.Errorf("Rules = %+v, want %+v", st.Rules, tc.rules)
			}
			if st.Weights != tc.weights || st.Uniform != tc.uniform {
				t.Errorf("Weights, Uniform = %+v, %v; want %+v, %v", st.Weights, st.Uniform, tc.weights, tc.uniform)
			}
			switch {
			case tc.problem == "" && st.Problem != nil:
				t.Errorf("Problem = %v, want none", st.Problem)
			case tc.problem != "" && st.Problem == nil:
				t.Errorf("no Problem, want %s", tc.problem)
			case st.Problem != nil && (st.Problem.Reason != tc.problem || st.Problem.Error() != k.msg(tc.problemText)):
				t.Errorf("Problem = %s %q, want %s %q", st.Problem.Reason, st.Problem.Error(), tc.problem, k.msg(tc.problemText))
			}
			if (st.Rejected != "") != tc.rejected {
				t.Errorf("Rejected = %q, want rejected %v", st.Rejected, tc.rejected)
			}
			if st.Generation != tc.route.Generation {
				t.Errorf("Generation = %d, want %d", st.Generation, tc.route.Generation)
			}
		})
	}
}

func TestCarries(t *testing.T) {
	steady := func() *gatewayv1.HTTPRoute {
		return route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0)))
	}
	states := func(routes ...*gatewayv1.HTTPRoute) []RouteState {
		var out []RouteState
		for _, r := range routes {
			out = append(out, stateOf(mustView(httpRouteKind, r), shop))
		}
		return out
	}
	other := steady()
	other.Name = "other"
	otherDrifted := route("shop", rule(ref("shop-blue", 99), ref("shop-green", 1)))
	otherDrifted.Name = "other"
	tests := map[string]struct {
		routes []RouteState
		w      Weights
		want   bool
	}{
		"no routes":                      {w: Weights{100, 0}},
		"no parent status at all":        {routes: states(steady()), w: Weights{100, 0}, want: true},
		"other weights than the route's": {routes: states(steady()), w: Weights{0, 100}},
		"edited to 0/0 is not 100/0": {
			routes: states(route("shop", rule(ref("shop-blue", 0), ref("shop-green", 0)))),
			w:      Weights{100, 0},
		},
		"0/25 is not 75/25": {
			routes: states(route("shop", rule(ref("shop-blue", 0), ref("shop-green", 25)))),
			w:      Weights{75, 25},
		},
		"two rules, only the second drifted": {
			routes: states(route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0)), rule(ref("shop-blue", 90), ref("shop-green", 10)))),
			w:      Weights{100, 0},
		},
		"two rules, both carry it": {
			routes: states(route("shop", rule(ref("shop-blue", 75), ref("shop-green", 25)), rule(ref("shop-green", 25), ref("shop-blue", 75)))),
			w:      Weights{75, 25}, want: true,
		},
		"two routes carry it": {routes: states(steady(), other), w: Weights{100, 0}, want: true},
		"an HTTPRoute and a GRPCRoute carry it": {
			routes: append(states(steady()), stateOf(mustView(grpcRouteKind, asGRPC(steady())), shop)), w: Weights{100, 0}, want: true,
		},
		"the GRPCRoute drifted": {
			routes: append(states(steady()), stateOf(mustView(grpcRouteKind, asGRPC(otherDrifted)), shop)), w: Weights{100, 0},
		},
		"the second route drifted":     {routes: states(steady(), otherDrifted), w: Weights{100, 0}},
		"a route that was not read":    {routes: append(states(steady()), RouteState{Route: types.NamespacedName{Namespace: "shop", Name: "other"}}), w: Weights{100, 0}},
		"a route with a problem rule":  {routes: states(route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0)), rule(ref("shop-blue", 1)))), w: Weights{100, 0}},
		"a route with no steered rule": {routes: states(route("shop", rule(ref("static", 1)))), w: Weights{100, 0}},
		"a parent rejects the current generation": {
			routes: states(withStatus(steady(), parentStatus(cond("ResolvedRefs", "False", 3, "BackendNotFound", "")))),
			w:      Weights{100, 0},
		},
		"a parent rejected an older generation and has not reported on this one": {
			routes: states(withStatus(steady(), parentStatus(cond("Accepted", "False", 2, "NotAllowedByListeners", "")))),
			w:      Weights{100, 0}, want: false,
		},
		"a parent accepts": {
			routes: states(withStatus(steady(), parentStatus(cond("Accepted", "True", 3, "Accepted", ""), cond("ResolvedRefs", "True", 3, "ResolvedRefs", "")))),
			w:      Weights{100, 0}, want: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := (Observation{Routes: tc.routes}).Carries(tc.w); got != tc.want {
				t.Errorf("Carries(%+v) = %v, want %v (routes %+v)", tc.w, got, tc.want, tc.routes)
			}
		})
	}
}

func TestObservationRules(t *testing.T) {
	a := stateOf(mustView(httpRouteKind, route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0)), rule(ref("shop-blue", 90), ref("shop-green", 10)))), shop)
	b := stateOf(mustView(grpcRouteKind, asGRPC(route("shop", rule(ref("shop-blue", 1)), rule(ref("shop-blue", 75), ref("shop-green", 25))))), shop)
	tests := map[string]struct {
		routes []RouteState
		want   []Weights
	}{
		"no routes":                     {},
		"a route without rules":         {routes: []RouteState{{}}},
		"route after route, rule order": {routes: []RouteState{a, b}, want: []Weights{{100, 0}, {90, 10}, {75, 25}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := (Observation{Routes: tc.routes}).Rules(); !slices.Equal(got, tc.want) {
				t.Errorf("Rules() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRejected(t *testing.T) {
	elsewhere := parentStatus(cond("Accepted", "False", 3, "NotAllowedByListeners", "no listener allows routes from shop"))
	elsewhere.ParentRef.Namespace = ptr.To(gatewayv1.Namespace("edge"))
	elsewhere.ParentRef.SectionName = ptr.To(gatewayv1.SectionName("https"))
	second := parentStatus(cond("ResolvedRefs", "False", 3, "RefNotPermitted", "no ReferenceGrant"))
	second.ParentRef.Name = "internal-gw"
	second.ControllerName = "example.com/other"
	const prefix = "HTTPRoute shop/shop: parent gateway shop/public-gw (controller example.com/gw) reports "
	tests := map[string]struct {
		parents []gatewayv1.RouteParentStatus
		want    string
	}{
		"no parent status":            {},
		"a parent with no conditions": {parents: []gatewayv1.RouteParentStatus{parentStatus()}},
		"accepted and resolved": {parents: []gatewayv1.RouteParentStatus{parentStatus(
			cond("Accepted", "True", 3, "Accepted", ""), cond("ResolvedRefs", "True", 3, "ResolvedRefs", ""))}},
		"ResolvedRefs False now": {
			parents: []gatewayv1.RouteParentStatus{parentStatus(
				cond("Accepted", "True", 3, "Accepted", ""), cond("ResolvedRefs", "False", 3, "BackendNotFound", "service shop-green not found"))},
			want: prefix + "ResolvedRefs=False (BackendNotFound): service shop-green not found",
		},
		"Accepted False now": {
			parents: []gatewayv1.RouteParentStatus{parentStatus(cond("Accepted", "False", 3, "NoMatchingParent", ""))},
			want:    prefix + "Accepted=False (NoMatchingParent)",
		},
		"False of an older generation": {parents: []gatewayv1.RouteParentStatus{parentStatus(
			cond("Accepted", "False", 2, "NoMatchingParent", "old"), cond("ResolvedRefs", "False", 2, "BackendNotFound", "old"))}},
		"Unknown now":             {parents: []gatewayv1.RouteParentStatus{parentStatus(cond("ResolvedRefs", "Unknown", 3, "Pending", "pending"))}},
		"another condition False": {parents: []gatewayv1.RouteParentStatus{parentStatus(cond("PartiallyInvalid", "False", 3, "X", ""))}},
		"parent in another namespace, with a section": {
			parents: []gatewayv1.RouteParentStatus{elsewhere},
			want:    "HTTPRoute shop/shop: parent gateway edge/public-gw section https (controller example.com/gw) reports Accepted=False (NotAllowedByListeners): no listener allows routes from shop",
		},
		"the second parent rejects": {
			parents: []gatewayv1.RouteParentStatus{parentStatus(cond("Accepted", "True", 3, "Accepted", "")), second},
			want:    "HTTPRoute shop/shop: parent gateway shop/internal-gw (controller example.com/other) reports ResolvedRefs=False (RefNotPermitted): no ReferenceGrant",
		},
		"two rejections name the first": {
			parents: []gatewayv1.RouteParentStatus{parentStatus(cond("Accepted", "False", 3, "NoMatchingParent", "")), second},
			want:    prefix + "Accepted=False (NoMatchingParent) (and 1 more False conditions)",
		},
	}
	for name, tc := range tests {
		runEachKind(t, name, func(t *testing.T, k testKind) {
			if got := rejected(k.of(withStatus(route("shop"), tc.parents...))); got != k.msg(tc.want) {
				t.Errorf("rejected =\n %q\nwant\n %q", got, k.msg(tc.want))
			}
		})
	}

	t.Run("a long message is cut", func(t *testing.T) {
		long := strings.Repeat("é", 1000)
		got := rejected(mustView(httpRouteKind, withStatus(route("shop"), parentStatus(cond("ResolvedRefs", "False", 3, "BackendNotFound", long)))))
		head := prefix + "ResolvedRefs=False (BackendNotFound): "
		if !strings.HasPrefix(got, head) {
			t.Fatalf("rejected = %q, want it to start with %q", got, head)
		}
		msg := strings.TrimPrefix(got, head)
		if len(msg) > maxStatusMessage || !strings.HasSuffix(msg, "...") || !utf8.ValidString(msg) || len(msg) < maxStatusMessage-4 {
			t.Errorf("message of %d bytes (valid UTF-8 %v): %q", len(msg), utf8.ValidString(msg), msg)
		}
	})
}

func TestTruncate(t *testing.T) {
	tests := map[string]struct {
		s    string
		n    int
		want string
	}{
		"short":            {s: "abc", n: 8, want: "abc"},
		"exactly n":        {s: "abcdefgh", n: 8, want: "abcdefgh"},
		"cut":              {s: "abcdefghi", n: 8, want: "abcde..."},
		"on a rune border": {s: "abéééé", n: 8, want: "abé..."}, // a cut at 5 bytes would split the second é
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := truncate(tc.s, tc.n); got != tc.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
		})
	}
}
