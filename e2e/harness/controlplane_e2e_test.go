//go:build e2e

package harness

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestDeploymentGetsReadyPods: on the local control plane a Deployment gets
// a ReplicaSet and Ready pods on the kwok node, and its status says so.
func TestDeploymentGetsReadyPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	if d := os.Getenv("E2E_KEEP"); d != "" {
		dir = d
	}
	start := time.Now()
	cp, err := Start(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			for _, p := range cp.Procs() {
				b, _ := os.ReadFile(p.Log)
				if len(b) > 3000 {
					b = b[len(b)-3000:]
				}
				t.Logf("--- tail of %s log:\n%s", p.Name, b)
			}
		}
		cp.Stop()
	}()
	t.Logf("control plane up in %v", time.Since(start).Round(time.Millisecond))

	labels := map[string]string{"app": "demo"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "demo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/demo:v1"}}},
			},
		},
	}
	if err := cp.Client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	var last string
	for {
		if err := cp.Client.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
			t.Fatal(err)
		}
		s := dep.Status
		last = fmt.Sprintf("%+v", s)
		if s.ObservedGeneration == dep.Generation && s.ReadyReplicas == 3 && s.AvailableReplicas == 3 && s.UpdatedReplicas == 3 {
			break
		}
		for _, p := range cp.Procs() {
			select {
			case <-p.Exited():
				t.Fatalf("%s exited: %v (log %s)", p.Name, p.Err(), p.Log)
			default:
			}
		}
		select {
		case <-ctx.Done():
			var pods corev1.PodList
			_ = cp.Client.List(context.Background(), &pods, client.InNamespace("default"))
			for _, p := range pods.Items {
				t.Logf("pod %s node %q phase %s conditions %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions)
			}
			t.Fatalf("deployment never Ready; status %s", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Logf("deployment of 3 replicas Ready %v after create", time.Since(created).Round(time.Millisecond))
	var pods corev1.PodList
	if err := cp.Client.List(ctx, &pods, client.InNamespace("default"), client.MatchingLabels(labels)); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "kwok-node-0" || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			t.Errorf("pod %s: node %q phase %s ip %q, want Running on kwok-node-0 with an IP", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.PodIP)
		}
	}
}
