package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/traffic"
)

// routeIndex indexes Rollouts by the "namespace/name" of each HTTPRoute they steer.
const routeIndex = "ramp.dev/httproute"

// grpcRouteIndex indexes Rollouts by the "namespace/name" of each GRPCRoute they steer.
const grpcRouteIndex = "ramp.dev/grpcroute"

// SetupWithManager registers the reconciler, its watches and its index.
func (r *RolloutReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, workers int) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.Rollout{}, routeIndex, func(o client.Object) []string {
		ro := o.(*v1.Rollout)
		var keys []string
		for _, t := range routeTarget(ro).Routes {
			keys = append(keys, t.String())
		}
		return keys
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.Rollout{}, grpcRouteIndex, func(o client.Object) []string {
		var keys []string
		for _, t := range routeTarget(o.(*v1.Rollout)).GRPCRoutes {
			keys = append(keys, t.String())
		}
		return keys
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.Rollout{}, configIndex, func(o client.Object) []string {
		return configKeys(o.(*v1.Rollout))
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.Rollout{}, workloadIndex, func(o client.Object) []string {
		if k := workloadKey(o.(*v1.Rollout)); k != "" {
			return []string{k}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.Rollout{}, templateIndex, func(o client.Object) []string {
		return templateKeys(o.(*v1.Rollout))
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.Rollout{}, requiresIndex, func(o client.Object) []string {
		return requiredEnvironments(o.(*v1.Rollout))
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.Verification{}, verificationEnvIndex, func(o client.Object) []string {
		return []string{o.(*v1.Verification).Spec.Environment}
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1.Verification{}, verificationRolloutIndex, func(o client.Object) []string {
		v := o.(*v1.Verification)
		return []string{v.Namespace + "/" + v.Spec.Rollout}
	}); err != nil {
		return err
	}
	if workers < 1 {
		workers = 1
	}
	if r.Checks == nil {
		r.Checks = NewCheckPool(32)
	}
	// GRPCRoutes are watched only where the cluster serves them, so that
	// Ramp still starts without the GRPCRoute CRD (a Rollout naming a
	// GRPCRoute there shows a route problem).
	grpc, err := servesKind(mgr, gatewayv1.SchemeGroupVersion.WithKind(traffic.KindGRPCRoute))
	if err != nil {
		return err
	}
	if !grpc {
		log.FromContext(ctx).Info("the cluster does not serve GRPCRoutes: not watching them")
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1.Rollout{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&batchv1.Job{}).
		Watches(&gatewayv1.HTTPRoute{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfRoute)).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfWorkload)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfConfig("ConfigMap"))).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfConfig("Secret"))).
		Watches(&v1.AnalysisTemplate{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfTemplate(v1.KindAnalysisTemplate))).
		Watches(&v1.ClusterAnalysisTemplate{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfTemplate(v1.KindClusterAnalysisTemplate))).
		Watches(&v1.Verification{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfVerification)).
		WatchesRawSource(source.Channel(r.Checks.Events(), &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named("rollout")
	if r.Notify != nil {
		b = b.WatchesRawSource(source.Channel(r.Notify.Events(), &handler.EnqueueRequestForObject{}))
	}
	if grpc {
		b = b.Watches(&gatewayv1.GRPCRoute{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsOfGRPCRoute))
	}
	return b.Complete(r)
}

// rolloutsOfRoute maps an HTTPRoute to the Rollouts that steer it.
func (r *RolloutReconciler) rolloutsOfRoute(ctx context.Context, o client.Object) []reconcile.Request {
	return r.rolloutsBy(ctx, routeIndex, o)
}

// rolloutsOfGRPCRoute maps a GRPCRoute to the Rollouts that steer it.
func (r *RolloutReconciler) rolloutsOfGRPCRoute(ctx context.Context, o client.Object) []reconcile.Request {
	return r.rolloutsBy(ctx, grpcRouteIndex, o)
}

// servesKind reports whether the API server serves gvk.
func servesKind(mgr ctrl.Manager, gvk schema.GroupVersionKind) (bool, error) {
	_, err := mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	switch {
	case meta.IsNoMatchError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up %s: %w", gvk.Kind, err)
	}
	return true, nil
}

// rolloutsOfWorkload maps a Deployment to the Rollouts whose workloadRef
// names it (the color Deployments are mapped by their owner reference).
func (r *RolloutReconciler) rolloutsOfWorkload(ctx context.Context, o client.Object) []reconcile.Request {
	if _, isColor := o.GetLabels()[v1.LabelColor]; isColor {
		return nil
	}
	return r.rolloutsBy(ctx, workloadIndex, o)
}

// rolloutsOfConfig maps a ConfigMap or Secret of kind to the Rollouts whose
// configRefs list it.
func (r *RolloutReconciler) rolloutsOfConfig(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		if o.GetLabels()[v1.LabelConfig] != configSource {
			return nil
		}
		return r.rolloutsByKey(ctx, configIndex, configKey(kind, o.GetNamespace(), o.GetName()))
	}
}

// rolloutsBy lists the Rollouts whose index entry is o's namespace/name.
func (r *RolloutReconciler) rolloutsBy(ctx context.Context, index string, o client.Object) []reconcile.Request {
	return r.rolloutsByKey(ctx, index, client.ObjectKeyFromObject(o).String())
}

// rolloutsByKey lists the Rollouts whose index entry is key.
func (r *RolloutReconciler) rolloutsByKey(ctx context.Context, index, key string) []reconcile.Request {
	var list v1.RolloutList
	if err := r.Client.List(ctx, &list, client.MatchingFields{index: key}); err != nil {
		log.FromContext(ctx).Error(err, "list rollouts by "+index, "key", key)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}
