package controllers

import (
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/traffic"
)

// ensureFinalizer puts ramp.dev/traffic on the Rollout, so that deleting it
// first moves traffic to the color that keeps serving.
func (r *RolloutReconciler) ensureFinalizer(ctx context.Context, ro *v1.Rollout) error {
	if controllerutil.ContainsFinalizer(ro, v1.FinalizerTraffic) {
		return nil
	}
	base := ro.DeepCopy()
	controllerutil.AddFinalizer(ro, v1.FinalizerTraffic)
	if err := r.Client.Patch(ctx, ro, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	return nil
}

// finalize runs when the Rollout is being deleted. An orphan delete
// (kubectl delete --cascade=orphan) leaves everything as it is, for a
// re-created Rollout to adopt. Otherwise all traffic goes to the color with
// ready pods of the stable revision; with deletionPolicy Release (the
// default) that color's Deployment and Service are released (no owner
// reference: they survive and keep serving), and the other color is left to
// the garbage collector.
func (r *RolloutReconciler) finalize(ctx context.Context, ro *v1.Rollout) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ro, v1.FinalizerTraffic) {
		return ctrl.Result{}, nil
	}
	if !slices.Contains(ro.Finalizers, metav1.FinalizerOrphanDependents) {
		// The user's Deployment comes back before any traffic moves.
		if wait, err := r.giveWorkloadBack(ctx, ro); err != nil || wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, err
		}
		keep, err := r.keepingColor(ctx, ro)
		if err != nil {
			return ctrl.Result{}, err
		}
		_, err = r.Router.SetWeights(ctx, routeTarget(ro), traffic.WeightsFor(keep, 100))
		if _, userFault := traffic.IsRouteError(err); err != nil && !userFault {
			return ctrl.Result{}, fmt.Errorf("send all traffic to %s before deletion: %w", keep, err)
		}
		if ro.Spec.DeletionPolicy != v1.DeletionDelete {
			if err := r.release(ctx, ro, keep); err != nil {
				return ctrl.Result{}, err
			}
		}
		r.Recorder.Eventf(ro, nil, corev1.EventTypeNormal, "Deleting", "Delete", "all traffic to %s before deletion (deletionPolicy %s)", keep, policyOf(ro))
	}
	base := ro.DeepCopy()
	controllerutil.RemoveFinalizer(ro, v1.FinalizerTraffic)
	if err := r.Client.Patch(ctx, ro, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.Metrics.Forget(ro.Namespace, ro.Name)
	return ctrl.Result{}, nil
}

func policyOf(ro *v1.Rollout) v1.DeletionPolicy {
	if ro.Spec.DeletionPolicy == "" {
		return v1.DeletionRelease
	}
	return ro.Spec.DeletionPolicy
}

// keepingColor is the color that serves once the Rollout is gone: the
// stable color when it has ready pods of the stable revision, else the other
// color when it has ready pods, else the stable color.
func (r *RolloutReconciler) keepingColor(ctx context.Context, ro *v1.Rollout) (v1.Color, error) {
	stable := ro.Status.StableColor
	if stable == "" {
		stable = v1.Blue
	}
	ready := func(c v1.Color, revision string) (bool, error) {
		var d appsv1.Deployment
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ColorName(ro, c)}, &d)
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("get deployment %s: %w", ColorName(ro, c), err)
		}
		if revision != "" && d.Annotations[v1.AnnotationRevision] != revision {
			return false, nil
		}
		return d.Status.ReadyReplicas > 0, nil
	}
	ok, err := ready(stable, ro.Status.StableRevision)
	if err != nil || ok {
		return stable, err
	}
	ok, err = ready(stable.Other(), "")
	if err != nil {
		return stable, err
	}
	if ok {
		return stable.Other(), nil
	}
	return stable, nil
}

// release drops the Rollout's owner reference from color c's Deployment and
// Service, so that the garbage collector leaves them serving.
func (r *RolloutReconciler) release(ctx context.Context, ro *v1.Rollout, c v1.Color) error {
	key := types.NamespacedName{Namespace: ro.Namespace, Name: ColorName(ro, c)}
	deployment := &appsv1.Deployment{}
	objs := []client.Object{deployment, &corev1.Service{}}
	for i := 0; i < len(objs); i++ {
		obj := objs[i]
		if obj.GetName() == "" {
			obj.SetName(key.Name) // the color's Deployment and Service
		}
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: obj.GetName()}, obj)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get %s to release it: %w", obj.GetName(), err)
		}
		if obj == deployment {
			// The ConfigMap copies its pods use must outlive the Rollout too.
			for _, k := range configKinds {
				k.refs(&deployment.Spec.Template, func(name *string) {
					o := k.newObj()
					o.SetName(*name)
					objs = append(objs, o)
				})
			}
		}
		refs := obj.GetOwnerReferences()
		kept := refs[:0:0]
		for _, ref := range refs {
			if ref.UID != ro.UID {
				kept = append(kept, ref)
			}
		}
		if len(kept) == len(refs) {
			continue
		}
		base := obj.DeepCopyObject().(client.Object)
		obj.SetOwnerReferences(kept)
		if err := r.Client.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
			return fmt.Errorf("release %s: %w", obj.GetName(), err)
		}
	}
	return nil
}
