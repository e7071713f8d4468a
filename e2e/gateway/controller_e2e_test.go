//go:build e2e

package gateway

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/ramp-dev/ramp/internal/testenv"
)

// TestControllerDrivesHAProxy runs the whole gateway: a real kube-apiserver
// (envtest) holding an HTTPRoute, the controller, and a real haproxy in front
// of two app processes. Changing the route's weights changes who answers.
func TestControllerDrivesHAProxy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h := startGatewayHAProxy(t, ctx) // route shop/shop: shop-blue (v1), shop-green (v2)

	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ns := &metav1.ObjectMeta{Name: "shop"}
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: *ns}); err != nil {
		t.Fatal(err)
	}
	mgr, err := NewManager(env.Config, h.Config, h.Runtime)
	if err != nil {
		t.Fatal(err)
	}
	mgrCtx, stopMgr := context.WithCancel(ctx)
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() { stopMgr(); <-mgrDone })

	route := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "shop"},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "public-gw"}}},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{
				ref("shop-blue", ptr.To[int32](100)), ref("shop-green", ptr.To[int32](0)),
			}}},
		},
	}
	if err := env.Client.Create(ctx, route); err != nil {
		t.Fatal(err)
	}
	url := "http://" + h.Config.Routes[0].Listen + "/"
	const requests = 400
	for i, green := range []int32{0, 50, 10, 100} {
		if i > 0 {
			route.Spec.Rules[0].BackendRefs[0].Weight = ptr.To(100 - green)
			route.Spec.Rules[0].BackendRefs[1].Weight = ptr.To(green)
			if err := env.Client.Update(ctx, route); err != nil {
				t.Fatal(err)
			}
		}
		waitAccepted(t, ctx, env.Client, route, metav1.ConditionTrue)
		got := countVersions(t, url, requests)
		share := 100 * float64(got["v2"]) / requests
		t.Logf("route weights %3d/%3d (generation %d accepted): v2 answered %5.1f%% (%v)", 100-green, green, route.Generation, share, got)
		if got["v1"]+got["v2"] != requests || math.Abs(share-float64(green)) > 3 {
			t.Errorf("route weight %d to shop-green: answers %v, want v2 at %d±3%%", green, got, green)
		}
	}

	// A second rule with backendRefs is not implemented: refused, weights kept.
	route.Spec.Rules = append(route.Spec.Rules, gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{ref("shop-blue", nil)}})
	if err := env.Client.Update(ctx, route); err != nil {
		t.Fatal(err)
	}
	c := waitAccepted(t, ctx, env.Client, route, metav1.ConditionFalse)
	if c.Reason != string(gatewayv1.RouteReasonUnsupportedValue) {
		t.Errorf("two rules: Accepted reason %s (%s), want UnsupportedValue", c.Reason, c.Message)
	}
	if w, err := h.Weight(ctx, Backend("shop", "shop"), "shop-green"); err != nil || w != 100 {
		t.Errorf("refused route changed haproxy: shop-green weight %d (%v), want 100", w, err)
	}
}

// waitAccepted waits until our entry in status.parents has Accepted=want for
// the route's current generation, and returns that condition.
func waitAccepted(t *testing.T, ctx context.Context, c client.Client, route *gatewayv1.HTTPRoute, want metav1.ConditionStatus) metav1.Condition {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(route), route); err != nil {
			t.Fatal(err)
		}
		last = fmt.Sprintf("%+v", route.Status.Parents)
		for _, p := range route.Status.Parents {
			if p.ControllerName != ControllerName {
				continue
			}
			if a := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted)); a != nil &&
				a.ObservedGeneration == route.Generation && a.Status == want {
				return *a
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("route %s generation %d never Accepted=%s; status.parents: %s", route.Name, route.Generation, want, last)
	return metav1.Condition{}
}
