package gateway

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ControllerName is written as controllerName in the route's status.parents.
const ControllerName gatewayv1.GatewayController = "ramp.dev/e2e-haproxy-gateway"

// WeightSetter sets server weights of one HAProxy backend; Runtime is the
// real one.
type WeightSetter interface {
	SetWeights(ctx context.Context, backend string, weights map[string]int) error
}

// Reconciler keeps HAProxy's server weights equal to the backendRef weights
// of the configured HTTPRoutes, and reports each route in status.parents.
type Reconciler struct {
	Client  client.Client
	Config  Config
	Weights WeightSetter
}

func (r *Reconciler) route(key types.NamespacedName) (Route, bool) {
	for _, rt := range r.Config.Routes {
		if rt.Namespace == key.Namespace && rt.Name == key.Name {
			return rt, true
		}
	}
	return Route{}, false
}

// Reconcile sets the weights first and then writes Accepted for the route's
// generation, so Accepted=True at generation N means HAProxy carries the
// weights of generation N.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cfg, ok := r.route(req.NamespacedName)
	if !ok {
		return ctrl.Result{}, nil
	}
	var route gatewayv1.HTTPRoute
	if err := r.Client.Get(ctx, req.NamespacedName, &route); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	services := make([]string, len(cfg.Services))
	for i, s := range cfg.Services {
		services[i] = s.Name
	}
	d := Decide(&route, services)
	logger := log.FromContext(ctx).WithValues("route", klog.KObj(&route), "generation", route.Generation)
	if d.Weights != nil {
		logger.Info("setting haproxy weights", "weights", d.Weights)
		if err := r.Weights.SetWeights(ctx, Backend(route.Namespace, route.Name), d.Weights); err != nil {
			return ctrl.Result{}, fmt.Errorf("set weights of route %s: %w", req.NamespacedName, err)
		}
	} else {
		logger.Info("route not accepted", "reason", d.Accepted.Reason, "message", d.Accepted.Message)
	}
	setParents(&route, d)
	if err := r.Client.Status().Update(ctx, &route); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, fmt.Errorf("update status of route %s: %w", req.NamespacedName, err)
	}
	return ctrl.Result{}, nil
}

// setParents writes d's conditions for every parentRef of the route, keeping
// the entries of other controllers.
func setParents(route *gatewayv1.HTTPRoute, d Decision) {
	var kept []gatewayv1.RouteParentStatus
	old := map[string]gatewayv1.RouteParentStatus{}
	for _, p := range route.Status.Parents {
		if p.ControllerName == ControllerName {
			old[parentKey(p.ParentRef)] = p
		} else {
			kept = append(kept, p)
		}
	}
	for _, ref := range route.Spec.ParentRefs {
		p, ok := old[parentKey(ref)]
		if !ok {
			p = gatewayv1.RouteParentStatus{ControllerName: ControllerName}
		}
		p.ParentRef = ref
		for _, c := range []metav1.Condition{d.Accepted, d.ResolvedRefs} {
			c.ObservedGeneration = route.Generation
			meta.SetStatusCondition(&p.Conditions, c)
		}
		kept = append(kept, p)
	}
	route.Status.Parents = kept
}

func parentKey(r gatewayv1.ParentReference) string {
	ns, sec := "", ""
	if r.Namespace != nil {
		ns = string(*r.Namespace)
	}
	if r.SectionName != nil {
		sec = string(*r.SectionName)
	}
	var port string
	if r.Port != nil {
		port = fmt.Sprint(*r.Port)
	}
	return ns + "/" + string(r.Name) + "/" + sec + "/" + port
}

// SetupWithManager watches the configured HTTPRoutes; status-only updates
// (the controller's own writes) do not trigger a reconcile.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	configured := predicate.NewPredicateFuncs(func(o client.Object) bool {
		_, ok := r.route(types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})
		return ok
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("e2e-haproxy-gateway").
		For(&gatewayv1.HTTPRoute{}, builder.WithPredicates(configured, predicate.Funcs{
			UpdateFunc: func(e event.UpdateEvent) bool {
				return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration()
			},
		})).
		Complete(r)
}

// NewManager returns a manager running the gateway controller against the
// cluster at cfg, with HAProxy's runtime API at socket. Its metrics and probe
// servers are off; start it with Start(ctx).
func NewManager(restCfg *rest.Config, gw Config, weights WeightSetter) (ctrl.Manager, error) {
	if err := gw.Validate(); err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := gatewayv1.Install(scheme); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several stacks may run one after another in one test process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("gateway manager: %w", err)
	}
	r := &Reconciler{Client: mgr.GetClient(), Config: gw, Weights: weights}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	return mgr, nil
}
