package controllers_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// spec.service.headless gives both color Services clusterIP None, the
// rollout goes on as with ClusterIP Services, and the choice cannot change.
func TestHeadlessServices(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("flat", "registry.example/app:v1")
	ro.Spec.Service.Headless = true
	f.healthy(ro)

	for _, c := range []string{"flat-blue", "flat-green"} {
		var svc corev1.Service
		f.eventually(10*time.Second, c+" created", func() bool {
			return f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: c}, &svc) == nil
		})
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Fatalf("%s has clusterIP %q, want None", c, svc.Spec.ClusterIP)
		}
	}

	f.setImage("flat", "registry.example/app:v2")
	f.eventually(60*time.Second, "v2 promoted on headless Services", func() bool {
		st := f.get("flat").Status
		return st.Phase == v1.PhaseHealthy && st.StableColor == v1.Green
	})

	got := f.get("flat")
	got.Spec.Service.Headless = false
	err := f.c.Update(f.ctx, got)
	if err == nil || !strings.Contains(err.Error(), "spec.service.headless is immutable") {
		t.Fatalf("turning headless off: err %v, want it refused as immutable", err)
	}
	plain := f.rollout("plain", "registry.example/app:v1")
	f.healthy(plain)
	p := f.get("plain")
	p.Spec.Service.Headless = true
	if err := f.c.Update(f.ctx, p); err == nil || !strings.Contains(err.Error(), "spec.service.headless is immutable") {
		t.Fatalf("turning headless on: err %v, want it refused as immutable", err)
	}
}
