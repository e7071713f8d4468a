package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
	"github.com/ramp-dev/ramp/traffic"
)

// world is what one reconcile observed, with the objects the actions need.
type world struct {
	obs         plan.Observations
	deployments map[v1.Color]*appsv1.Deployment
	target      traffic.Target
}

// routeTarget names the routes and color Services of a Rollout.
func routeTarget(ro *v1.Rollout) traffic.Target {
	t := traffic.Target{Namespace: ro.Namespace, Blue: ColorName(ro, v1.Blue), Green: ColorName(ro, v1.Green)}
	if gw := ro.Spec.TrafficRouting.GatewayAPI; gw != nil {
		for _, r := range gw.HTTPRoutes {
			ns := r.Namespace
			if ns == "" {
				ns = ro.Namespace
			}
			t.Routes = append(t.Routes, types.NamespacedName{Namespace: ns, Name: r.Name})
		}
	}
	return t
}

// observe reads the color Deployments and the routes. Transient API errors
// are returned; a route the user must fix becomes an observation.
func (r *RolloutReconciler) observe(ctx context.Context, ro *v1.Rollout) (*world, error) {
	w := &world{deployments: map[v1.Color]*appsv1.Deployment{}, target: routeTarget(ro)}
	w.obs.Revision = Revision(&ro.Spec.Template)
	w.obs.SpecProblems = specProblems(ro, w.obs.Revision)
	w.obs.Annotations = ro.Annotations
	for _, c := range []v1.Color{v1.Blue, v1.Green} {
		var d appsv1.Deployment
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ColorName(ro, c)}, &d)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("get deployment %s: %w", ColorName(ro, c), err)
		}
		w.deployments[c] = &d
		obs := plan.Deployment{
			Exists:             true,
			Revision:           d.Annotations[v1.AnnotationRevision],
			Generation:         d.Generation,
			ObservedGeneration: d.Status.ObservedGeneration,
			SpecReplicas:       1,
			Replicas:           d.Status.Replicas,
			UpdatedReplicas:    d.Status.UpdatedReplicas,
			ReadyReplicas:      d.Status.ReadyReplicas,
		}
		if d.Spec.Replicas != nil {
			obs.SpecReplicas = *d.Spec.Replicas
		}
		if c == v1.Blue {
			w.obs.Blue = obs
		} else {
			w.obs.Green = obs
		}
	}
	routes, err := r.Router.Observe(ctx, w.target)
	if err != nil {
		if re, ok := traffic.IsRouteError(err); ok {
			w.obs.Route.Problem = "spec.trafficRouting.gatewayAPI.httpRoutes: " + re.Error()
			return w, nil
		}
		return nil, fmt.Errorf("observe routes: %w", err)
	}
	weights, uniform := routes.Weights()
	w.obs.Route = plan.Route{Blue: weights.Blue, Green: weights.Green, Uniform: uniform}
	return w, nil
}
