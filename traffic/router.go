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
	// Routes are the routes to steer, their namespaces already resolved
	// (defaulting to Namespace is the caller's job).
	Routes []types.NamespacedName
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
	// Route is the route read.
	Route types.NamespacedName
	// Weights are the weights of the first steered rule.
	Weights Weights
	// Uniform is true when every steered rule carries the same weights.
	Uniform bool
	// Accepted is the Accepted condition that status.parents report for the
	// route's current generation: nil when no parent reports True or False
	// on this generation, false when any parent says False, else true.
	Accepted *bool
	// Message is the message of the first False Accepted condition.
	Message string
	// Generation is the route's metadata.generation.
	Generation int64
}

// Observation is what all routes of a Target carry.
type Observation struct {
	// Routes holds one state per route, in the order of Target.Routes.
	Routes []RouteState
}

// Weights returns the weights every route and every steered rule carries,
// and false when they differ or there are no routes.
func (o Observation) Weights() (Weights, bool) {
	if len(o.Routes) == 0 {
		return Weights{}, false
	}
	w := o.Routes[0].Weights
	for _, r := range o.Routes {
		if !r.Uniform || r.Weights != w {
			return Weights{}, false
		}
	}
	return w, true
}

// Router reads and sets the weights of the two colors.
type Router interface {
	// Observe reads what every route of t carries now.
	Observe(ctx context.Context, t Target) (Observation, error)
	// SetWeights makes every steered rule of every route carry w. It writes
	// only routes that differ and reports whether it wrote any.
	SetWeights(ctx context.Context, t Target, w Weights) (changed bool, err error)
}

// GatewayAPI is the Router for Gateway API HTTPRoutes.
type GatewayAPI struct {
	// Client reads routes for Observe and the first attempt of SetWeights,
	// and writes them; usually the manager's cached client.
	Client client.Client
	// Reader reads routes live after a write found them changed; usually
	// manager.GetAPIReader(). When nil, Client is used.
	Reader client.Reader
}

var _ Router = (*GatewayAPI)(nil)
