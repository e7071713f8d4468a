package traffic

import (
	"context"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// weightsOf returns the weights of the color backendRefs of every rule of
// the stored route that names both, read back from the API server.
func weightsOf(ctx context.Context, t *testing.T, k testKind, key types.NamespacedName) []Weights {
	t.Helper()
	var out []Weights
	for _, refs := range getAs(ctx, t, k, key).rules {
		var w Weights
		var blue, green bool
		for _, b := range refs {
			switch string(b.Name) {
			case "shop-blue":
				w.Blue, blue = weightOf(b), true
			case "shop-green":
				w.Green, green = weightOf(b), true
			}
		}
		if blue && green {
			out = append(out, w)
		}
	}
	return out
}

func TestCarriesWhatTheRouteSays(t *testing.T) {
	tests := map[string]struct {
		// created is what Ramp left, edited what the user then made of it.
		created, edited []gatewayv1.HTTPRouteRule
		w               Weights
		want            bool
		wantRules       []Weights
	}{
		"no parent status at all": {
			created:   []gatewayv1.HTTPRouteRule{rule(ref("shop-blue", 100), ref("shop-green", 0))},
			w:         Weights{100, 0},
			want:      true,
			wantRules: []Weights{{100, 0}},
		},
		"edited to blue 0 / green 0 is not 100/0": {
			created:   []gatewayv1.HTTPRouteRule{rule(ref("shop-blue", 100), ref("shop-green", 0))},
			edited:    []gatewayv1.HTTPRouteRule{rule(ref("shop-blue", 0), ref("shop-green", 0))},
			w:         Weights{100, 0},
			wantRules: []Weights{{0, 0}},
		},
		"edited to blue 0 / green 25 is not 75/25": {
			created:   []gatewayv1.HTTPRouteRule{rule(ref("shop-blue", 75), ref("shop-green", 25))},
			edited:    []gatewayv1.HTTPRouteRule{rule(ref("shop-blue", 0), ref("shop-green", 25))},
			w:         Weights{75, 25},
			wantRules: []Weights{{0, 25}},
		},
		"two rules, only the second drifted": {
			created:   []gatewayv1.HTTPRouteRule{rule(ref("shop-blue", 75), ref("shop-green", 25)), rule(ref("shop-green", 25), ref("shop-blue", 75))},
			edited:    []gatewayv1.HTTPRouteRule{rule(ref("shop-blue", 75), ref("shop-green", 25)), rule(ref("shop-green", 50), ref("shop-blue", 50))},
			w:         Weights{75, 25},
			wantRules: []Weights{{75, 25}, {50, 50}},
		},
		"two rules, both carry it": {
			created:   []gatewayv1.HTTPRouteRule{rule(ref("shop-blue", 75), ref("shop-green", 25)), rule(ref("shop-green", 25), ref("shop-blue", 75))},
			w:         Weights{75, 25},
			want:      true,
			wantRules: []Weights{{75, 25}, {75, 25}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, tg := setup(t)
			create(ctx, t, tg.Namespace, route("", tc.created...))
			if tc.edited != nil {
				r := get(ctx, t, tg.Routes[0])
				r.Spec.Rules = tc.edited
				if err := env.Client.Update(ctx, r); err != nil {
					t.Fatalf("edit route: %v", err)
				}
			}
			obs := observe(ctx, t, tg)
			if got := obs.Rules(); !slices.Equal(got, tc.wantRules) {
				t.Errorf("Rules() = %+v, want %+v", got, tc.wantRules)
			}
			if got := obs.Routes[0].Rules; !slices.Equal(got, tc.wantRules) {
				t.Errorf("RouteState.Rules = %+v, want %+v", got, tc.wantRules)
			}
			if got := obs.Carries(tc.w); got != tc.want {
				t.Errorf("Carries(%+v) = %v, want %v (route %+v)", tc.w, got, tc.want, obs.Routes[0])
			}
		})
	}
}

func TestRejectedFromStatus(t *testing.T) {
	forEachKind(t, testRejectedFromStatus)
}

func testRejectedFromStatus(t *testing.T, k testKind) {
	ctx, tg := setup(t)
	key := tg.Routes[0]
	tg = k.target(tg, key)
	r := createAs(ctx, t, k, tg.Namespace, route("", rule(ref("shop-blue", 100), ref("shop-green", 0))))
	gen := r.object.GetGeneration()
	setStatus := func(conds ...metav1.Condition) {
		t.Helper()
		r := getAs(ctx, t, k, key)
		for i := range conds {
			conds[i].LastTransitionTime = metav1.Now()
		}
		setParents(r.object, []gatewayv1.RouteParentStatus{{
			ParentRef:      gatewayv1.ParentReference{Name: "public-gw"},
			ControllerName: "example.com/gateway-controller",
			Conditions:     conds,
		}})
		if err := env.Client.Status().Update(ctx, r.object); err != nil {
			t.Fatalf("update status: %v", err)
		}
	}
	check := func(step string, w Weights, wantRejected string, wantCarries bool) {
		t.Helper()
		obs := observe(ctx, t, tg)
		if got := obs.Routes[0].Rejected; got != wantRejected {
			t.Errorf("%s: Rejected =\n %q\nwant\n %q", step, got, wantRejected)
		}
		if got := obs.Carries(w); got != wantCarries {
			t.Errorf("%s: Carries(%+v) = %v, want %v", step, w, got, wantCarries)
		}
	}
	parent := k.name + " " + key.String() + ": parent gateway " + tg.Namespace + "/public-gw (controller example.com/gateway-controller) reports "

	check("no status", Weights{100, 0}, "", true)

	setStatus(cond("Accepted", "True", gen, "Accepted", ""),
		cond("ResolvedRefs", "False", gen, "BackendNotFound", "service shop-green not found"))
	check("ResolvedRefs False for the current generation", Weights{100, 0},
		parent+"ResolvedRefs=False (BackendNotFound): service shop-green not found", false)

	if _, err := (&GatewayAPI{Client: env.Client}).SetWeights(ctx, tg, Weights{Blue: 50, Green: 50}); err != nil {
		t.Fatal(err)
	}
	if g := getAs(ctx, t, k, key).object.GetGeneration(); g != gen+1 {
		t.Fatalf("generation = %d, want %d", g, gen+1)
	}
	// The False condition is of an older generation: it says nothing about
	// what the route carries now, but that parent has not caught up yet.
	check("the False condition is of an older generation", Weights{50, 50}, "", false)
	want := k.name + " " + key.String() + ": parent gateway " + tg.Namespace + "/public-gw (controller example.com/gateway-controller) has not reported on generation"
	if p := observe(ctx, t, tg).Routes[0].Pending; !strings.HasPrefix(p, want) {
		t.Errorf("Pending = %q, want the parent that has not caught up (%q...)", p, want)
	}

	setStatus(cond("Accepted", "False", gen+1, "NotAllowedByListeners", "no listener allows this namespace"),
		cond("ResolvedRefs", "True", gen+1, "ResolvedRefs", ""))
	check("Accepted False for the current generation", Weights{50, 50},
		parent+"Accepted=False (NotAllowedByListeners): no listener allows this namespace", false)

	setStatus(cond("Accepted", "Unknown", gen+1, "Pending", "pending"))
	check("Unknown", Weights{50, 50}, "", true)
}

func TestProblemRuleDoesNotStopTheGoodOnes(t *testing.T) {
	forEachKind(t, testProblemRuleDoesNotStopTheGoodOnes)
}

func testProblemRuleDoesNotStopTheGoodOnes(t *testing.T, k testKind) {
	ctx, tg := setup(t)
	badKey := tg.Routes[0]
	bad := createAs(ctx, t, k, tg.Namespace, route("",
		rule(ref("shop-blue", 100), ref("shop-green", 0)),
		rule(ref("shop-blue", 1))))
	good := route("", rule(ref("shop-green", 0), ref("shop-blue", 100)))
	good.Name = "good"
	createAs(ctx, t, k, tg.Namespace, good)
	goodKey := types.NamespacedName{Namespace: tg.Namespace, Name: "good"}
	tg = k.target(tg, badKey, goodKey)
	wantMsg := k.name + " " + badKey.String() + ": rule 1 names shop-blue but not shop-green"
	g := &GatewayAPI{Client: env.Client, Reader: env.Client}

	checkErr := func(op string, err error) {
		t.Helper()
		re, ok := IsRouteError(err)
		if !ok {
			t.Fatalf("%s: err = %v, want a RouteError", op, err)
		}
		if re.Reason != ReasonMissingBackendRef || re.Route != badKey || re.Kind != k.name || err.Error() != wantMsg {
			t.Errorf("%s: err = %s %s %s %q, want %s %s %s %q", op, re.Reason, re.Kind, re.Route, err.Error(), ReasonMissingBackendRef, k.name, badKey, wantMsg)
		}
	}
	checkObs := func(step string, want Weights) {
		t.Helper()
		obs, err := g.Observe(ctx, tg)
		checkErr(step+": Observe", err)
		if len(obs.Routes) != 2 || obs.Routes[0].Route != badKey || obs.Routes[1].Route != goodKey {
			t.Fatalf("%s: Observe states %+v, want one for %s then one for %s", step, obs.Routes, badKey, goodKey)
		}
		st := obs.Routes[0]
		if st.Problem == nil || st.Problem.Reason != ReasonMissingBackendRef || st.Problem.Error() != wantMsg {
			t.Errorf("%s: Problem = %v, want %q", step, st.Problem, wantMsg)
		}
		if !slices.Equal(st.Rules, []Weights{want}) || st.Weights != want {
			t.Errorf("%s: Rules, Weights = %+v, %+v; want only the good rule, %+v", step, st.Rules, st.Weights, want)
		}
		if obs.Routes[1].Problem != nil || !slices.Equal(obs.Routes[1].Rules, []Weights{want}) {
			t.Errorf("%s: the good route's state is %+v, want Rules [%+v] and no Problem", step, obs.Routes[1], want)
		}
		if obs.Carries(want) {
			t.Errorf("%s: Carries(%+v) is true with a problem rule", step, want)
		}
	}

	checkObs("before", Weights{100, 0})

	w := Weights{Blue: 0, Green: 100}
	changed, err := g.SetWeights(ctx, tg, w)
	if !changed {
		t.Error("SetWeights reported no write")
	}
	checkErr("SetWeights", err)
	if got := weightsOf(ctx, t, k, badKey); !slices.Equal(got, []Weights{w}) {
		t.Errorf("the good rule of the route with a problem carries %+v, want [%+v]", got, w)
	}
	stored := getAs(ctx, t, k, badKey)
	if rl := stored.rules[1]; len(rl) != 1 || rl[0].Name != "shop-blue" || *rl[0].Weight != 1 {
		t.Errorf("the problem rule was changed: %+v", rl)
	}
	if g := stored.object.GetGeneration(); g != bad.object.GetGeneration()+1 {
		t.Errorf("generation = %d, want %d (one write)", g, bad.object.GetGeneration()+1)
	}
	if got := weightsOf(ctx, t, k, goodKey); !slices.Equal(got, []Weights{w}) {
		t.Errorf("the other route carries %+v, want [%+v]", got, w)
	}
	checkObs("after", w)

	rv := stored.object.GetResourceVersion()
	changed, err = g.SetWeights(ctx, tg, w)
	if changed {
		t.Error("a second SetWeights reported a write")
	}
	checkErr("second SetWeights", err)
	if got := getAs(ctx, t, k, badKey).object.GetResourceVersion(); got != rv {
		t.Errorf("an unchanged SetWeights wrote the route: resourceVersion %s -> %s", rv, got)
	}
}
