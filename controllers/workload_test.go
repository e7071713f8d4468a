package controllers_test

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// userDeployment is a team's own Deployment "name" of image, as Helm or
// kustomize would apply it.
func (f *fixture) userDeployment(name, image string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

// workloadRollout is a Rollout of the Deployment name instead of a template.
func (f *fixture) workloadRollout(name, deployment string) *v1.Rollout {
	ro := f.rollout(name, "unused")
	ro.Spec.Template = corev1.PodTemplateSpec{}
	ro.Spec.WorkloadRef = &v1.WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: deployment}
	return ro
}

// TestMigrateFromDeployment: a Rollout with a workloadRef brings blue up
// from the user's Deployment, moves the route (which also still names the
// user's own Service) only once blue's pods are all ready, and only then
// scales the Deployment to zero. A change of the Deployment's template is a
// canary. Deleting the Rollout gives the Deployment its pods back first.
func TestMigrateFromDeployment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.create(f.userDeployment("shop", "shop:v1", 3))
	route := f.route("shop")
	// Migration: the rule goes on sending to the user's Service "shop" and
	// names both colors at weight 0 (see the README's "Migrating from a
	// Deployment").
	zero, hundred := int32(0), int32(100)
	port := gatewayv1.PortNumber(80)
	route.Spec.Rules[0].BackendRefs[0].Weight = &zero
	route.Spec.Rules[0].BackendRefs = append(route.Spec.Rules[0].BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{Name: "shop", Port: &port}, Weight: &hundred}})
	f.create(route)
	f.readier.Hold("shop-blue", 2)
	f.create(f.workloadRollout("shop", "shop"))

	f.eventually(10*time.Second, "blue applied from the Deployment's template, waiting for its pods", func() bool {
		return strings.Contains(f.get("shop").Status.Message, "2/4 ready")
	}, func() string { return f.get("shop").Status.Message })
	t.Logf("status while blue comes up: %s", f.get("shop").Status.Message)
	if img := f.deploymentObj("shop-blue").Spec.Template.Spec.Containers[0].Image; img != "shop:v1" {
		t.Fatalf("blue runs %s, want the Deployment's shop:v1", img)
	}
	if b, g := f.weights("shop"); b != 0 || g != 0 {
		t.Fatalf("route moved to blue=%d green=%d before blue's pods were ready", b, g)
	}
	if n := f.replicas("shop"); n != 3 {
		t.Fatalf("the user's Deployment was scaled to %d before blue served", n)
	}
	if l := f.deploymentObj("shop").Labels[v1.LabelRollout]; l != "shop" {
		t.Fatalf("the user's Deployment is not labelled %s=shop (got %q): its changes would not be watched", v1.LabelRollout, l)
	}

	f.readier.Release("shop-blue")
	f.eventually(10*time.Second, "blue serves and the Deployment is scaled to zero", func() bool {
		b, g := f.weights("shop")
		return b == 100 && g == 0 && f.replicas("shop") == 0 && f.phase("shop") == v1.PhaseHealthy
	})
	t.Logf("status after migration: %s", f.get("shop").Status.Message)
	t.Logf("events:\n%s", f.dumpEvents("shop"))
	if !f.hasEvent("shop", "WorkloadScaledDown", "shop") {
		t.Errorf("no WorkloadScaledDown event:\n%s", f.dumpEvents("shop"))
	}

	// The team changes its Deployment (Helm upgrade): a canary.
	var d appsv1.Deployment
	for range 20 {
		if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "shop"}, &d); err != nil {
			t.Fatal(err)
		}
		d.Spec.Template.Spec.Containers[0].Image = "shop:v2"
		if err := f.c.Update(f.ctx, &d); err == nil {
			break
		}
	}
	rec := f.recordWeights("shop", v1.Green)
	f.eventually(30*time.Second, "v2 promoted to green", func() bool {
		st := f.get("shop").Status
		return st.StableColor == v1.Green && st.Phase == v1.PhaseHealthy
	})
	rec.Stop()
	if got := rec.Weights(); len(got) < 5 {
		t.Fatalf("green weights %v: the Deployment's change did not walk the steps", got)
	}
	if img := f.deploymentObj("shop-green").Spec.Template.Spec.Containers[0].Image; img != "shop:v2" {
		t.Fatalf("green runs %s, want shop:v2", img)
	}
	if n := f.replicas("shop"); n != 0 {
		t.Fatalf("the user's Deployment came back to %d replicas", n)
	}

	// Deleting the Rollout: the Deployment gets its pods back before
	// anything else, and loses Ramp's label.
	ro := f.get("shop")
	if err := f.c.Delete(f.ctx, ro); err != nil {
		t.Fatal(err)
	}
	f.eventually(20*time.Second, "Rollout gone", func() bool {
		var got v1.Rollout
		return apierrors.IsNotFound(f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "shop"}, &got))
	})
	back := f.deploymentObj("shop")
	if *back.Spec.Replicas != 4 || back.Status.ReadyReplicas != 4 {
		t.Fatalf("the user's Deployment has %d replicas, %d ready after deletion, want 4/4", *back.Spec.Replicas, back.Status.ReadyReplicas)
	}
	if _, ok := back.Labels[v1.LabelRollout]; ok {
		t.Fatalf("the user's Deployment keeps Ramp's label: %v", back.Labels)
	}
	if !f.hasEvent("shop", "WorkloadScaledUp", "shop") {
		t.Errorf("no WorkloadScaledUp event")
	}
}

// TestWorkloadRefProblems: exactly one of template and workloadRef, and a
// missing Deployment is a clear condition with nothing deployed.
func TestWorkloadRefProblems(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	both := f.workloadRollout("both", "shop")
	both.Spec.Template = f.rollout("x", "shop:v1").Spec.Template
	if err := f.c.Create(f.ctx, both); err == nil || !strings.Contains(err.Error(), "exactly one of spec.template and spec.workloadRef") {
		t.Fatalf("a Rollout with both template and workloadRef: %v", err)
	}
	neither := f.workloadRollout("neither", "shop")
	neither.Spec.WorkloadRef = nil
	if err := f.c.Create(f.ctx, neither); err == nil || !strings.Contains(err.Error(), "exactly one of spec.template and spec.workloadRef") {
		t.Fatalf("a Rollout with neither template nor workloadRef: %v", err)
	}
	f.create(f.route("lost"), f.workloadRollout("lost", "nowhere"))
	f.expectInvalid("missing workload", "lost", "spec.workloadRef: Deployment "+f.ns+"/nowhere not found")

	// It appears: the Rollout goes on by itself.
	d := f.userDeployment("nowhere", "shop:v1", 2)
	d.Spec.Selector.MatchLabels = map[string]string{"app": "lost"}
	d.Spec.Template.Labels = map[string]string{"app": "lost"}
	f.create(d)
	f.eventually(20*time.Second, "healthy once the Deployment exists", func() bool { return f.phase("lost") == v1.PhaseHealthy }, func() string { return f.get("lost").Status.Message })
}
