package controllers

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// workloadIndex indexes Rollouts by the "namespace/name" of the Deployment
// their workloadRef names.
const workloadIndex = "ramp.dev/workload"

func workloadKey(ro *v1.Rollout) string {
	if ro.Spec.WorkloadRef == nil {
		return ""
	}
	return types.NamespacedName{Namespace: ro.Namespace, Name: ro.Spec.WorkloadRef.Name}.String()
}

// resolveWorkload reads the Deployment spec.workloadRef names and puts its
// pod template into ro.Spec.Template, in memory only (the Rollout's spec is
// never written). It labels the Deployment ramp.dev/rollout=<name> so that
// the cache holds it and its changes bring the Rollout back. A missing
// Deployment, or one another Rollout references, is a spec problem.
func (r *RolloutReconciler) resolveWorkload(ctx context.Context, ro *v1.Rollout) (*appsv1.Deployment, string, error) {
	ref := ro.Spec.WorkloadRef
	if ref == nil {
		return nil, "", nil
	}
	d, err := r.getWorkload(ctx, ro)
	if err != nil || d == nil {
		return nil, fmt.Sprintf("spec.workloadRef: Deployment %s/%s not found", ro.Namespace, ref.Name), err
	}
	if other := d.Labels[v1.LabelRollout]; other != "" && other != ro.Name {
		return nil, fmt.Sprintf("spec.workloadRef: Deployment %s/%s is labelled %s=%s: another Rollout uses it", ro.Namespace, ref.Name, v1.LabelRollout, other), nil
	}
	if _, isColor := d.Labels[v1.LabelColor]; isColor {
		return nil, fmt.Sprintf("spec.workloadRef: Deployment %s/%s is a color of a Rollout", ro.Namespace, ref.Name), nil
	}
	if d.Labels[v1.LabelRollout] != ro.Name {
		base := d.DeepCopy()
		if d.Labels == nil {
			d.Labels = map[string]string{}
		}
		d.Labels[v1.LabelRollout] = ro.Name
		if err := r.Client.Patch(ctx, d, client.MergeFrom(base)); err != nil {
			return nil, "", fmt.Errorf("label workload %s: %w", ref.Name, err)
		}
	}
	ro.Spec.Template = *d.Spec.Template.DeepCopy()
	return d, "", nil
}

// getWorkload reads the referenced Deployment through the cache and, when
// the cache does not hold it (not labelled yet), from the API server.
func (r *RolloutReconciler) getWorkload(ctx context.Context, ro *v1.Rollout) (*appsv1.Deployment, error) {
	key := types.NamespacedName{Namespace: ro.Namespace, Name: ro.Spec.WorkloadRef.Name}
	var d appsv1.Deployment
	err := r.Client.Get(ctx, key, &d)
	if apierrors.IsNotFound(err) && r.Reader != nil {
		err = r.Reader.Get(ctx, key, &d)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get workload %s: %w", key.Name, err)
	}
	return &d, nil
}

// workloadObservation is what the plan sees of the referenced Deployment.
func workloadObservation(ro *v1.Rollout, d *appsv1.Deployment) plan.Workload {
	if d == nil {
		return plan.Workload{}
	}
	return plan.Workload{
		Exists:        true,
		Name:          d.Name,
		SpecReplicas:  replicasOf(d),
		ReadyReplicas: d.Status.ReadyReplicas,
		ScaleDown:     ro.Spec.WorkloadRef.ScaleDown != v1.ScaleDownNever,
	}
}

func (r *RolloutReconciler) scaleWorkload(ctx context.Context, d *appsv1.Deployment, replicas int32) error {
	if d == nil || replicasOf(d) == replicas {
		return nil
	}
	base := d.DeepCopy()
	d.Spec.Replicas = &replicas
	return client.IgnoreNotFound(r.Client.Patch(ctx, d, client.MergeFrom(base)))
}

// workloadRetry is how often a Rollout whose workloadRef or configRefs
// name an object that is not there looks for it again.
const workloadRetry = 5 * time.Second

// workloadBackTimeout bounds how long a deletion waits for the referenced
// Deployment's pods to come back; past it, deletion goes on (the kept color
// serves anyway under deletionPolicy Release).
const workloadBackTimeout = 2 * time.Minute

// giveWorkloadBack scales the referenced Deployment back up before a
// deletion moves any traffic, waits for its pods to be ready, and removes
// Ramp's label. It returns how long to wait before looking again, zero when
// done.
func (r *RolloutReconciler) giveWorkloadBack(ctx context.Context, ro *v1.Rollout) (time.Duration, error) {
	if ro.Spec.WorkloadRef == nil {
		return 0, nil
	}
	d, err := r.getWorkload(ctx, ro)
	if err != nil || d == nil || d.Labels[v1.LabelRollout] != ro.Name {
		return 0, err // gone, or given back already
	}
	want := ro.Spec.DesiredReplicas()
	if replicasOf(d) == 0 {
		if err := r.scaleWorkload(ctx, d, want); err != nil {
			return 0, fmt.Errorf("scale workload %s back up: %w", d.Name, err)
		}
		r.Recorder.Eventf(ro, nil, corev1.EventTypeNormal, "WorkloadScaledUp", "Delete", "Deployment %s scaled back to %d before deletion", d.Name, want)
		return time.Second, nil
	}
	waited := time.Since(ro.DeletionTimestamp.Time)
	if d.Status.ObservedGeneration < d.Generation || d.Status.ReadyReplicas < min(replicasOf(d), want) {
		if waited < workloadBackTimeout {
			return time.Second, nil
		}
		r.Recorder.Eventf(ro, nil, corev1.EventTypeWarning, "WorkloadNotReady", "Delete", "Deployment %s has %d/%d ready pods after %s; deleting anyway", d.Name, d.Status.ReadyReplicas, replicasOf(d), workloadBackTimeout)
	}
	base := d.DeepCopy()
	delete(d.Labels, v1.LabelRollout)
	if err := r.Client.Patch(ctx, d, client.MergeFrom(base)); err != nil {
		return 0, client.IgnoreNotFound(err)
	}
	return 0, nil
}
