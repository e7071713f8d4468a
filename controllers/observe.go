package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
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
	// workload is the Deployment spec.workloadRef names, nil without one.
	workload *appsv1.Deployment
}

// routeTarget names the routes and color Services of a Rollout.
func routeTarget(ro *v1.Rollout) traffic.Target {
	t := traffic.Target{Namespace: ro.Namespace, Blue: ColorName(ro, v1.Blue), Green: ColorName(ro, v1.Green)}
	if gw := ro.Spec.TrafficRouting.GatewayAPI; gw != nil {
		t.Routes = routeKeys(ro, gw.HTTPRoutes)
		t.GRPCRoutes = routeKeys(ro, gw.GRPCRoutes)
	}
	return t
}

// routeKeys resolves refs, a route's namespace defaulting to the Rollout's.
func routeKeys(ro *v1.Rollout, refs []v1.RouteRef) []types.NamespacedName {
	var out []types.NamespacedName
	for _, r := range refs {
		ns := r.Namespace
		if ns == "" {
			ns = ro.Namespace
		}
		out = append(out, types.NamespacedName{Namespace: ns, Name: r.Name})
	}
	return out
}

// routeFields name the spec field that lists routes of each kind, for the
// route problems shown in status.
var routeFields = map[string]string{
	traffic.KindHTTPRoute: "spec.trafficRouting.gatewayAPI.httpRoutes",
	traffic.KindGRPCRoute: "spec.trafficRouting.gatewayAPI.grpcRoutes",
}

// observe reads the color Deployments and the routes. Transient API errors
// are returned; what the user must fix becomes an observation.
func (r *RolloutReconciler) observe(ctx context.Context, ro *v1.Rollout) (*world, error) {
	w := &world{deployments: map[v1.Color]*appsv1.Deployment{}, target: routeTarget(ro)}
	w.obs.Revision = Revision(&ro.Spec.Template)
	w.obs.Generation = ro.Generation
	w.obs.SpecProblems = specProblems(ro, w.obs.Revision)
	w.obs.Annotations = ro.Annotations
	w.obs.Problems = refusedProblems(ro, r.now())
	for _, c := range []v1.Color{v1.Blue, v1.Green} {
		d, problem, err := r.deployment(ctx, ro, c)
		if err != nil {
			return nil, err
		}
		if problem != nil {
			w.obs.Problems = append(w.obs.Problems, *problem)
			continue
		}
		if d == nil {
			continue
		}
		w.deployments[c] = d
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
		if obs.Revision == w.obs.Revision {
			// It should run spec.template: anything else is a hand edit.
			want := desiredDeployment(ro, c, w.obs.Revision, obs.SpecReplicas)
			obs.Drifted = !templateContains(&d.Spec.Template, &want.Spec.Template)
			obs.Outdated = d.Spec.MinReadySeconds != want.Spec.MinReadySeconds ||
				!equality.Semantic.DeepEqual(d.Spec.RevisionHistoryLimit, want.Spec.RevisionHistoryLimit) ||
				!hasEntries(d.Labels, want.Labels) || !hasEntries(d.Annotations, want.Annotations)
		}
		if c == v1.Blue {
			w.obs.Blue = obs
		} else {
			w.obs.Green = obs
		}
	}
	routes, err := r.Router.Observe(ctx, w.target)
	w.obs.Route = routeObservation(routes)
	if err != nil {
		re, ok := traffic.IsRouteError(err)
		if !ok {
			return nil, fmt.Errorf("observe routes: %w", err)
		}
		w.obs.Route.Problem = routeFields[re.Kind] + ": " + re.Error()
	}
	if w.obs.Jobs, err = r.observeJobs(ctx, ro); err != nil {
		return nil, err
	}
	return w, nil
}

// routeObservation is what the plan sees of the routes: both weights of
// every steered rule, and the first parent that rejects a route.
func routeObservation(o traffic.Observation) plan.Route {
	var out plan.Route
	for _, rs := range o.Routes {
		for _, w := range rs.Rules {
			out.Rules = append(out.Rules, plan.Weights{Blue: w.Blue, Green: w.Green})
		}
		if out.Rejected == "" {
			out.Rejected = rs.Rejected
		}
		if out.Pending == "" {
			out.Pending = rs.Pending
		}
	}
	return out
}

// deployment reads color c's Deployment through the cache, which holds only
// objects with Ramp's labels. A Deployment of that name that the cache does
// not hold, or that another owner controls, is not Ramp's: it is a problem,
// never taken over.
func (r *RolloutReconciler) deployment(ctx context.Context, ro *v1.Rollout, c v1.Color) (*appsv1.Deployment, *plan.Problem, error) {
	key := types.NamespacedName{Namespace: ro.Namespace, Name: ColorName(ro, c)}
	var d appsv1.Deployment
	err := r.Client.Get(ctx, key, &d)
	if apierrors.IsNotFound(err) && r.Reader != nil {
		// The cache holds only labelled objects: ask the API server
		// whether another object has the name.
		err = r.Reader.Get(ctx, key, &d)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("get deployment %s: %w", key.Name, err)
	}
	if p := foreign(ro, c, &d, "Deployment"); p != nil {
		return nil, p, nil
	}
	if err := r.claim(ctx, ro, &d); err != nil {
		return nil, nil, err
	}
	return &d, nil, nil
}

// templateContains reports whether got (a live pod template, with the API
// server's defaults filled in) holds every field of want with the same
// value, and lists of the same length: a hand edit of anything Ramp set
// shows, the server's defaults do not.
func templateContains(got, want *corev1.PodTemplateSpec) bool {
	g, err1 := toJSONValue(got)
	w, err2 := toJSONValue(want)
	if err1 != nil || err2 != nil {
		return true // cannot tell: not a drift
	}
	return contains(g, w)
}

func toJSONValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}

func contains(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !contains(gv, wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !contains(g[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(got, want)
	}
}
