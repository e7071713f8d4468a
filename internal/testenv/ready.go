package testenv

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// MarkDeploymentReady writes a Deployment's status as the deployment
// controller would once all its pods of the current template are ready:
// observedGeneration caught up and replicas, updated, ready and available all
// equal to spec.replicas. Nothing runs pods in envtest, so suites call this to
// stand in for kube-controller-manager and the kubelet.
func MarkDeploymentReady(ctx context.Context, c client.Client, key types.NamespacedName) error {
	return SetDeploymentReadyReplicas(ctx, c, key, -1)
}

// SetDeploymentReadyReplicas writes a Deployment's status with ready pods of
// the current template; ready < 0 means all of spec.replicas.
func SetDeploymentReadyReplicas(ctx context.Context, c client.Client, key types.NamespacedName, ready int32) error {
	var d appsv1.Deployment
	if err := c.Get(ctx, key, &d); err != nil {
		return fmt.Errorf("get deployment %s: %w", key, err)
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if ready < 0 || ready > want {
		ready = want
	}
	patch := client.MergeFrom(d.DeepCopy())
	d.Status.ObservedGeneration = d.Generation
	d.Status.Replicas = want
	d.Status.UpdatedReplicas = want
	d.Status.ReadyReplicas = ready
	d.Status.AvailableReplicas = ready
	d.Status.UnavailableReplicas = want - ready
	if err := c.Status().Patch(ctx, &d, patch); err != nil {
		return fmt.Errorf("patch deployment status %s: %w", key, err)
	}
	return nil
}
