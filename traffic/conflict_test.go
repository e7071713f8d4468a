package traffic

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// staleClient answers Get for HTTPRoutes with a snapshot, as a cache that
// has not caught up would, and counts patches.
type staleClient struct {
	client.Client
	snapshot *gatewayv1.HTTPRoute
	patches  int
	errs     []error // what each patch returned
}

func (s *staleClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if r, ok := obj.(*gatewayv1.HTTPRoute); ok {
		s.snapshot.DeepCopyInto(r)
		return nil
	}
	return s.Client.Get(ctx, key, obj, opts...)
}

func (s *staleClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	s.patches++
	err := s.Client.Patch(ctx, obj, patch, opts...)
	s.errs = append(s.errs, err)
	return err
}

func TestSetWeightsAfterConflict(t *testing.T) {
	tests := map[string]struct {
		// change is what the user does between our read and our write.
		change func(r *gatewayv1.HTTPRoute)
		// blue and green are the indices of the color refs in rule 0 after change.
		blue, green int
		// refused tells the API server's answer to the stale patch.
		refused func(error) bool
	}{
		"another field changed (409 Conflict)": {
			change: func(r *gatewayv1.HTTPRoute) {
				r.Annotations = map[string]string{"example.com/touched": "yes"}
				*r.Spec.Rules[0].BackendRefs[1].Weight = 9
			},
			blue: 0, green: 2, refused: apierrors.IsConflict,
		},
		"backendRefs reordered (failed test op)": {
			change: func(r *gatewayv1.HTTPRoute) {
				refs := r.Spec.Rules[0].BackendRefs
				refs[0], refs[2] = refs[2], refs[0]
			},
			blue: 2, green: 0, refused: apierrors.IsInvalid,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, tg := setup(t)
			stored := create(ctx, t, tg.Namespace, route("", rule(ref("shop-blue", 100), ref("shop-legacy", 5), ref("shop-green", 0))))
			stale := &staleClient{Client: env.Client, snapshot: stored.DeepCopy()}

			changedByUser := stored.DeepCopy()
			tc.change(changedByUser)
			if err := env.Client.Update(ctx, changedByUser); err != nil {
				t.Fatalf("update route: %v", err)
			}
			want := get(ctx, t, tg.Routes[0])

			g := &GatewayAPI{Client: stale, Reader: env.Client}
			changed, err := g.SetWeights(ctx, tg, Weights{Blue: 10, Green: 90})
			if err != nil || !changed {
				t.Fatalf("SetWeights = %v, %v; want true, nil", changed, err)
			}
			if stale.patches != 2 || !tc.refused(stale.errs[0]) || stale.errs[1] != nil {
				t.Errorf("patches answered %v, want the stale one refused, then one after a live read taken", stale.errs)
			}
			got := get(ctx, t, tg.Routes[0])
			refs := got.Spec.Rules[0].BackendRefs
			if string(refs[tc.blue].Name) != "shop-blue" || *refs[tc.blue].Weight != 10 ||
				string(refs[tc.green].Name) != "shop-green" || *refs[tc.green].Weight != 90 {
				t.Errorf("route carries %s=%d %s=%d, want shop-blue=10 shop-green=90",
					refs[tc.blue].Name, *refs[tc.blue].Weight, refs[tc.green].Name, *refs[tc.green].Weight)
			}
			*want.Spec.Rules[0].BackendRefs[tc.blue].Weight = 10
			*want.Spec.Rules[0].BackendRefs[tc.green].Weight = 90
			wantJSON, _ := json.Marshal(want.Spec)
			gotJSON, _ := json.Marshal(got.Spec)
			if string(wantJSON) != string(gotJSON) || got.Annotations["example.com/touched"] != want.Annotations["example.com/touched"] {
				t.Errorf("the user's change was lost:\nwant %s\ngot  %s", wantJSON, gotJSON)
			}
		})
	}
}

func TestSetWeightsGivesUpQuicklyWhenAlwaysStale(t *testing.T) {
	ctx, tg := setup(t)
	stored := create(ctx, t, tg.Namespace, route("", rule(ref("shop-blue", 100), ref("shop-green", 0))))
	stale := &staleClient{Client: env.Client, snapshot: stored.DeepCopy()}
	r := stored.DeepCopy()
	r.Labels = map[string]string{"touched": "yes"}
	if err := env.Client.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := (&GatewayAPI{Client: stale, Reader: stale}).SetWeights(ctx, tg, Weights{Blue: 0, Green: 100})
	if err == nil {
		t.Fatal("SetWeights succeeded against a route that is always stale")
	}
	if _, ok := IsRouteError(err); ok {
		t.Errorf("a conflict is transient, got a RouteError: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("SetWeights took %s to give up", d)
	}
}
