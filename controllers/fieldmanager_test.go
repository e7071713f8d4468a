package controllers_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// gitops is the field manager of a GitOps tool applying the route from Git
// with server-side apply, as Argo CD and Flux do.
const gitops = "argocd-controller"

// desiredRoute is the route as Git holds it: blue 100, green 0, with a
// label and a hostname of the team's.
func (f *fixture) desiredRoute(name string) *unstructured.Unstructured {
	f.t.Helper()
	r := f.route(name)
	r.Labels = map[string]string{"team": "shop"}
	r.Spec.Hostnames = []gatewayv1.Hostname{"shop.example.com"}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(r)
	if err != nil {
		f.t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion("gateway.networking.k8s.io/v1")
	u.SetKind("HTTPRoute")
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u
}

// sync applies route as the GitOps tool does (server-side apply, conflicts
// forced) and returns the route the API server then stores.
func (f *fixture) sync(route *unstructured.Unstructured) *gatewayv1.HTTPRoute {
	f.t.Helper()
	//nolint:staticcheck // client.Apply with an unstructured object is what a GitOps tool sends.
	if err := f.c.Patch(f.ctx, route, client.Apply, client.FieldOwner(gitops), client.ForceOwnership); err != nil {
		f.t.Fatalf("server-side apply of the route: %v", err)
	}
	var r gatewayv1.HTTPRoute
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: route.GetName()}, &r); err != nil {
		f.t.Fatal(err)
	}
	return &r
}

// owned returns the top-level field paths (as "spec.rules") each manager of
// obj owns, from its managedFields.
func owned(t *testing.T, entries []metav1.ManagedFieldsEntry) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, e := range entries {
		var set map[string]any
		if err := json.Unmarshal(e.FieldsV1.Raw, &set); err != nil {
			t.Fatal(err)
		}
		var walk func(prefix string, m map[string]any, depth int)
		walk = func(prefix string, m map[string]any, depth int) {
			for k, v := range m {
				if k == "." || !strings.HasPrefix(k, "f:") {
					continue
				}
				p := strings.TrimPrefix(prefix+"."+strings.TrimPrefix(k, "f:"), ".")
				child, _ := v.(map[string]any)
				if depth == 0 || len(child) == 0 {
					out[e.Manager] = append(out[e.Manager], p)
					continue
				}
				walk(p, child, depth-1)
			}
		}
		walk("", set, 1) // metadata.labels, spec.rules, spec.hostnames, ...
		slices.Sort(out[e.Manager])
	}
	return out
}

// TestRouteWeightsAreWrittenAsRampsFieldManager: Ramp writes the route's
// weights as the field manager ramp-controller and nothing but the rules;
// the GitOps tool keeps every other field. Gateway API declares spec.rules
// (and backendRefs) an atomic list, so the API server attributes the whole
// rules list, not the two weights alone, to whoever wrote it last: a sync
// that keeps the live weights (Argo CD's RespectIgnoreDifferences) changes
// nothing and Ramp does not write again, while a sync that resets the
// weights is repaired, both weights, by the next reconcile.
func TestRouteWeightsAreWrittenAsRampsFieldManager(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sync(f.desiredRoute("shop"))
	ro := f.rollout("shop", "shop:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 10, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.create(ro)
	f.eventually(20*time.Second, "first version healthy", func() bool { return f.phase("shop") == v1.PhaseHealthy })

	f.setImage("shop", "shop:v2")
	f.eventually(20*time.Second, "10% at the gate", func() bool {
		b, g := f.weights("shop")
		return f.phase("shop") == v1.PhasePaused && b == 90 && g == 10
	})
	var live gatewayv1.HTTPRoute
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "shop"}, &live); err != nil {
		t.Fatal(err)
	}
	got := owned(t, live.ManagedFields)
	t.Logf("managedFields after Ramp's weight write: %v", got)
	if want := []string{"spec.rules"}; !slices.Equal(got[v1.FieldManager], want) {
		t.Errorf("%s owns %v, want %v: Ramp writes the rules' weights and nothing else", v1.FieldManager, got[v1.FieldManager], want)
	}
	for _, p := range []string{"metadata.labels", "spec.hostnames", "spec.parentRefs"} {
		if !slices.Contains(got[gitops], p) {
			t.Errorf("%s lost %s to Ramp's write (owns %v)", gitops, p, got[gitops])
		}
	}
	for m := range got {
		if m != v1.FieldManager && m != gitops {
			t.Errorf("unexpected field manager %q: Ramp's writes must all be made as %s", m, v1.FieldManager)
		}
	}

	// Argo CD with ignoreDifferences on the weights and RespectIgnoreDifferences:
	// the sync sends the live weights. Nothing changes, Ramp does not write.
	keep := f.desiredRoute("shop")
	rules, _, _ := unstructured.NestedSlice(keep.Object, "spec", "rules")
	for i, rule := range rules {
		refs, _, _ := unstructured.NestedSlice(rule.(map[string]any), "backendRefs")
		for j, ref := range refs {
			ref.(map[string]any)["weight"] = int64(*live.Spec.Rules[i].BackendRefs[j].Weight)
		}
		_ = unstructured.SetNestedSlice(rule.(map[string]any), refs, "backendRefs")
	}
	_ = unstructured.SetNestedSlice(keep.Object, rules, "spec", "rules")
	after := f.sync(keep)
	if after.Generation != live.Generation {
		t.Errorf("a sync that keeps the live weights changed the route: generation %d -> %d", live.Generation, after.Generation)
	}
	time.Sleep(2 * time.Second) // a few reconciles (checks run every second)
	var still gatewayv1.HTTPRoute
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "shop"}, &still); err != nil {
		t.Fatal(err)
	}
	if still.Generation != live.Generation {
		t.Errorf("Ramp wrote the route again after a sync that kept its weights: generation %d -> %d", live.Generation, still.Generation)
	}

	// A sync without ignoreDifferences puts Git's 100/0 back mid-canary:
	// Ramp repairs both weights.
	f.sync(f.desiredRoute("shop"))
	f.eventually(20*time.Second, "both weights repaired to 90/10", func() bool {
		b, g := f.weights("shop")
		return b == 90 && g == 10
	}, func() string { b, g := f.weights("shop"); return fmt.Sprintf("blue %d green %d", b, g) })
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "shop"}, &live); err != nil {
		t.Fatal(err)
	}
	if live.Spec.Hostnames[0] != "shop.example.com" || live.Labels["team"] != "shop" {
		t.Errorf("Ramp's repair changed the team's fields: hostnames %v labels %v", live.Spec.Hostnames, live.Labels)
	}
}
