package gateway

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestSetParents(t *testing.T) {
	r := route([]gatewayv1.HTTPBackendRef{ref("shop-blue", ptr.To[int32](100))})
	r.Generation = 3
	r.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: "public-gw"}, {Name: "internal-gw"}}
	past := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	other := gatewayv1.RouteParentStatus{ParentRef: gatewayv1.ParentReference{Name: "public-gw"}, ControllerName: "example.com/other"}
	r.Status.Parents = []gatewayv1.RouteParentStatus{other, {
		ParentRef:      gatewayv1.ParentReference{Name: "public-gw"},
		ControllerName: ControllerName,
		Conditions:     []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 2, LastTransitionTime: past}},
	}}
	setParents(r, Decide(r, []string{"shop-blue", "shop-green"}))

	if len(r.Status.Parents) != 3 || r.Status.Parents[0].ControllerName != other.ControllerName {
		t.Fatalf("parents %+v: want the other controller's entry kept and one of ours per parentRef", r.Status.Parents)
	}
	for _, p := range r.Status.Parents[1:] {
		a := meta.FindStatusCondition(p.Conditions, "Accepted")
		rr := meta.FindStatusCondition(p.Conditions, "ResolvedRefs")
		if p.ControllerName != ControllerName || a == nil || rr == nil || a.ObservedGeneration != 3 || a.Status != metav1.ConditionTrue {
			t.Errorf("parent %s: %+v, want Accepted and ResolvedRefs True at generation 3", p.ParentRef.Name, p)
			continue
		}
		if p.ParentRef.Name == "public-gw" && !a.LastTransitionTime.Equal(&past) {
			t.Errorf("Accepted stayed True but its transition time moved to %v", a.LastTransitionTime)
		}
	}
}

func TestRender(t *testing.T) {
	cfg := Config{Socket: "/tmp/x.sock", StatsListen: "127.0.0.1:9101", Routes: []Route{{
		Namespace: "shop", Name: "shop", Listen: "127.0.0.1:8080",
		Services: []Service{{Name: "shop-blue", Addr: "127.0.0.1:18081"}, {Name: "shop-green", Addr: "127.0.0.1:18082"}},
	}}}
	b, err := cfg.Render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"stats socket /tmp/x.sock mode 600 level admin",
		"http-request use-service prometheus-exporter if { path /metrics }",
		"bind 127.0.0.1:8080\n    default_backend shop_shop",
		"backend shop_shop\n    balance roundrobin\n    server shop-blue 127.0.0.1:18081 weight 0\n    server shop-green 127.0.0.1:18082 weight 0\n",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config lacks %q:\n%s", want, b)
		}
	}
	bad := cfg
	bad.Routes = []Route{{Namespace: "shop", Name: "shop", Listen: "nowhere", Services: cfg.Routes[0].Services}}
	if _, err := bad.Render(); err == nil {
		t.Error("a listen address without port was accepted")
	}
}
