package traffic

import (
	"encoding/json"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestWeightOps(t *testing.T) {
	unset := ref("shop-green", 0)
	unset.Weight = nil
	tests := map[string]struct {
		route *gatewayv1.HTTPRoute
		w     Weights
		want  string // the JSON Patch, "" for none
	}{
		"already there": {
			route: route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0))),
			w:     Weights{Blue: 100, Green: 0},
		},
		"both weights of one rule": {
			route: route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0))),
			w:     Weights{Blue: 75, Green: 25},
			want: `[{"op":"test","path":"/spec/rules/0/backendRefs/0/name","value":"shop-blue"},` +
				`{"op":"test","path":"/spec/rules/0/backendRefs/1/name","value":"shop-green"},` +
				`{"op":"replace","path":"/metadata/resourceVersion","value":"42"},` +
				`{"op":"add","path":"/spec/rules/0/backendRefs/0/weight","value":75},` +
				`{"op":"add","path":"/spec/rules/0/backendRefs/1/weight","value":25}]`,
		},
		"only the ref that differs": {
			route: route("shop", rule(ref("shop-blue", 50), ref("shop-green", 0))),
			w:     Weights{Blue: 50, Green: 50},
			want: `[{"op":"test","path":"/spec/rules/0/backendRefs/1/name","value":"shop-green"},` +
				`{"op":"replace","path":"/metadata/resourceVersion","value":"42"},` +
				`{"op":"add","path":"/spec/rules/0/backendRefs/1/weight","value":50}]`,
		},
		"only the rule that differs, other rules and backends untouched": {
			route: route("shop",
				rule(ref("static", 7)),
				rule(ref("shop-blue", 0), ref("shop-green", 100)),
				rule(ref("legacy", 3), ref("shop-green", 0), ref("shop-blue", 100))),
			w: Weights{Blue: 0, Green: 100},
			want: `[{"op":"test","path":"/spec/rules/2/backendRefs/2/name","value":"shop-blue"},` +
				`{"op":"test","path":"/spec/rules/2/backendRefs/1/name","value":"shop-green"},` +
				`{"op":"replace","path":"/metadata/resourceVersion","value":"42"},` +
				`{"op":"add","path":"/spec/rules/2/backendRefs/2/weight","value":0},` +
				`{"op":"add","path":"/spec/rules/2/backendRefs/1/weight","value":100}]`,
		},
		"an unset weight is written": {
			route: route("shop", rule(ref("shop-blue", 99), unset)),
			w:     Weights{Blue: 99, Green: 1},
			want: `[{"op":"test","path":"/spec/rules/0/backendRefs/1/name","value":"shop-green"},` +
				`{"op":"replace","path":"/metadata/resourceVersion","value":"42"},` +
				`{"op":"add","path":"/spec/rules/0/backendRefs/1/weight","value":1}]`,
		},
	}
	for name, tc := range tests {
		runEachKind(t, name, func(t *testing.T, k testKind) {
			v := k.of(tc.route)
			rules, problem := steeredRules(v, shop)
			if problem != nil {
				t.Fatal(problem)
			}
			ops := weightOps(v, rules, tc.w)
			if tc.want == "" {
				if ops != nil {
					t.Fatalf("ops = %+v, want none", ops)
				}
				return
			}
			got, err := json.Marshal(ops)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("patch\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestWeightOpsSkipProblemRules(t *testing.T) {
	forEachKind(t, testWeightOpsSkipProblemRules)
}

func testWeightOpsSkipProblemRules(t *testing.T, k testKind) {
	r := k.of(route("shop",
		rule(ref("shop-blue", 1)),
		rule(ref("shop-blue", 100), ref("shop-green", 0)),
		rule(ref("shop-green", 50), ref("shop-green", 50), ref("shop-blue", 0))))
	rules, problem := steeredRules(r, shop)
	if problem == nil || problem.Reason != ReasonMissingBackendRef {
		t.Fatalf("problem = %v, want MissingBackendRef", problem)
	}
	got, err := json.Marshal(weightOps(r, rules, Weights{Blue: 0, Green: 100}))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"test","path":"/spec/rules/1/backendRefs/0/name","value":"shop-blue"},` +
		`{"op":"test","path":"/spec/rules/1/backendRefs/1/name","value":"shop-green"},` +
		`{"op":"replace","path":"/metadata/resourceVersion","value":"42"},` +
		`{"op":"add","path":"/spec/rules/1/backendRefs/0/weight","value":0},` +
		`{"op":"add","path":"/spec/rules/1/backendRefs/1/weight","value":100}]`
	if string(got) != want {
		t.Errorf("patch\n got %s\nwant %s", got, want)
	}
}

func TestWeightOpsLeaveRouteAlone(t *testing.T) {
	forEachKind(t, func(t *testing.T, k testKind) {
		r := k.of(route("shop", rule(ref("shop-blue", 100), ref("shop-green", 0))))
		rules, _ := steeredRules(r, shop)
		_ = weightOps(r, rules, Weights{Blue: 0, Green: 100})
		// Read the object afresh: the view's rules are a copy.
		refs := mustView(k.kind, r.object).rules[0]
		if *refs[0].Weight != 100 || *refs[1].Weight != 0 {
			t.Errorf("weightOps changed the route it read: %+v", refs)
		}
	})
}
