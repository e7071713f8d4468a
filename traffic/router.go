package traffic

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ramp-dev/ramp/api/v1alpha1"
)

// Target says which routes to steer and which Services are the two colors.
type Target struct {
	// Namespace is the namespace of the Rollout and of the two Services.
	Namespace string
	// Routes are the HTTPRoutes to steer, their namespaces already resolved
	// (defaulting to Namespace is the caller's job).
	Routes []types.NamespacedName
	// GRPCRoutes are the GRPCRoutes to steer, likewise. They are steered
	// exactly as HTTPRoutes.
	GRPCRoutes []types.NamespacedName
	// Blue is the name of the blue color's Service, e.g. "shop-blue".
	Blue string
	// Green is the name of the green color's Service, e.g. "shop-green".
	Green string
}

// Weights are the two colors' weights. The weights Ramp sets always sum to
// 100; weights read from a route are reported as stored and need not.
type Weights struct{ Blue, Green int32 }

// WeightsFor returns the weights that send canaryWeight percent of the
// traffic to the canary color and the rest to the other one. canaryWeight is
// clamped to 0..100; any canary but Green counts as Blue, as in Color.Other.
func WeightsFor(canary v1alpha1.Color, canaryWeight int32) Weights {
	canaryWeight = min(max(canaryWeight, 0), 100)
	if canary == v1alpha1.Green {
		return Weights{Blue: 100 - canaryWeight, Green: canaryWeight}
	}
	return Weights{Blue: canaryWeight, Green: 100 - canaryWeight}
}

// Of returns the weight of color c (any color but Green counts as Blue).
func (w Weights) Of(c v1alpha1.Color) int32 {
	if c == v1alpha1.Green {
		return w.Green
	}
	return w.Blue
}

// RouteState is what one route carries now.
type RouteState struct {
	// Kind is the kind of the route read, KindHTTPRoute or KindGRPCRoute.
	Kind string
	// Route is the route read.
	Route types.NamespacedName
	// Rules are the weights of every steered rule (a rule naming both colors
	// once each), in rule order, as stored: an unset weight counts as the
	// CRD default, 1. Empty when the route could not be read or has no rule
	// that can be steered; nothing is known to be carried then.
	Rules []Weights
	// Weights are the weights of the first steered rule (Rules[0]), zero
	// when there is none.
	Weights Weights
	// Uniform is true when the route has steered rules and every one of
	// them carries the same weights.
	Uniform bool
	// Accepted is the Accepted condition that status.parents report for the
	// route's current generation: nil when no parent reports True or False
	// on this generation, false when any parent says False, else true.
	Accepted *bool
	// Message is the message of the first False Accepted condition.
	Message string
	// Rejected is non-empty when a parent reports Accepted=False or
	// ResolvedRefs=False for the route's current generation, so that what
	// the route says is not what that parent carries. It names the parent
	// and the condition, e.g. "HTTPRoute ns/shop: parent gateway
	// ns/public-gw (controller example.com/gw) reports ResolvedRefs=False
	// (BackendNotFound): ...". Conditions of an older generation, Unknown
	// ones and parents without conditions say nothing: a route no parent
	// reports on counts as carrying what it says.
	Rejected string
	// Pending is non-empty when a parent that reported on an earlier
	// generation of the route has not reported on the current one yet: that
	// gateway may still carry the old weights. It names the parent.
	Pending string
	// Problem is set when the route has a rule that cannot be steered (it
	// names one color but not the other, or one twice), has no rule naming
	// both, or does not exist. Rules then holds only the rules that can be
	// steered, which SetWeights still writes. It is the same error Observe
	// returns for the route.
	Problem *RouteError
	// Generation is the route's metadata.generation.
	Generation int64
}

// carries reports whether the route is known to carry w: it has steered
// rules, all carry exactly w, it has no Problem and no parent rejects it.
func (r RouteState) carries(w Weights) bool {
	if r.Problem != nil || r.Rejected != "" || r.Pending != "" || len(r.Rules) == 0 {
		return false
	}
	for _, rw := range r.Rules {
		if rw != w {
			return false
		}
	}
	return true
}

// Observation is what all routes of a Target carry.
type Observation struct {
	// Routes holds one state per route, the HTTPRoutes of Target.Routes
	// then the GRPCRoutes of Target.GRPCRoutes, in order; a route that
	// could not be read has a state with no Rules (and a Problem
	// when it does not exist).
	Routes []RouteState
}

// Weights returns the weights every route and every steered rule carries,
// and false when they differ, a route has a Problem or no steered rule, or
// there are no routes. It does not look at the parents' verdict; Carries
// does.
func (o Observation) Weights() (Weights, bool) {
	if len(o.Routes) == 0 {
		return Weights{}, false
	}
	w := o.Routes[0].Weights
	for _, r := range o.Routes {
		if r.Problem != nil || !r.Uniform || r.Weights != w {
			return Weights{}, false
		}
	}
	return w, true
}

// Carries reports whether the routes are known to carry exactly w: there is
// at least one route, every route has at least one steered rule, every
// steered rule of every route carries w, no route has a Problem and no
// parent rejects any route (RouteState.Rejected).
func (o Observation) Carries(w Weights) bool {
	if len(o.Routes) == 0 {
		return false
	}
	for _, r := range o.Routes {
		if !r.carries(w) {
			return false
		}
	}
	return true
}

// Rules returns the weights of every steered rule of every route, route
// after route, in rule order.
func (o Observation) Rules() []Weights {
	var out []Weights
	for _, r := range o.Routes {
		out = append(out, r.Rules...)
	}
	return out
}

// Router reads and sets the weights of the two colors.
type Router interface {
	// Observe reads what every route of t carries now.
	Observe(ctx context.Context, t Target) (Observation, error)
	// SetWeights makes every steered rule of every route carry w. It writes
	// only routes that differ and reports whether it wrote any. A route with
	// a problem rule still has its steerable rules written; its RouteError is
	// returned after.
	SetWeights(ctx context.Context, t Target, w Weights) (changed bool, err error)
}

// GatewayAPI is the Router for Gateway API HTTPRoutes and GRPCRoutes.
type GatewayAPI struct {
	// Client reads routes for Observe and the first attempt of SetWeights,
	// and writes them; usually the manager's cached client.
	Client client.Client
	// Reader reads routes live after a write found them changed; usually
	// manager.GetAPIReader(). When nil, Client is used.
	Reader client.Reader
}

var _ Router = (*GatewayAPI)(nil)
