package traffic

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Observe reads every route of t through the Client (usually a cache). It
// reads all routes even when some fail; the error then joins the failures
// (IsRouteError tells whether all are the user's to fix), and the
// Observation holds the routes read well.
func (g *GatewayAPI) Observe(ctx context.Context, t Target) (Observation, error) {
	var obs Observation
	var errs []error
	for _, key := range t.Routes {
		var route gatewayv1.HTTPRoute
		if err := getRoute(ctx, g.Client, key, &route); err != nil {
			errs = append(errs, err)
			continue
		}
		st, err := stateOf(&route, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		obs.Routes = append(obs.Routes, st)
	}
	return obs, errors.Join(errs...)
}

// getRoute reads a route, turning NotFound into a RouteError.
func getRoute(ctx context.Context, r client.Reader, key types.NamespacedName, route *gatewayv1.HTTPRoute) error {
	if err := r.Get(ctx, key, route); err != nil {
		if apierrors.IsNotFound(err) {
			return routeErrorf(key, ReasonNotFound, "not found")
		}
		return fmt.Errorf("get HTTPRoute %s: %w", key, err)
	}
	return nil
}

// stateOf returns what one route carries.
func stateOf(route *gatewayv1.HTTPRoute, t Target) (RouteState, error) {
	rules, err := steeredRules(route, t)
	if err != nil {
		return RouteState{}, err
	}
	st := RouteState{
		Route:      types.NamespacedName{Namespace: route.Namespace, Name: route.Name},
		Weights:    ruleWeights(route, rules[0]),
		Uniform:    true,
		Generation: route.Generation,
	}
	for _, s := range rules[1:] {
		if ruleWeights(route, s) != st.Weights {
			st.Uniform = false
		}
	}
	st.Accepted, st.Message = accepted(route)
	return st, nil
}

// accepted folds the Accepted conditions that the route's parents report for
// its current generation: nil when none reports True or False, false (with
// the first False message) when any says False, else true. Conditions of an
// older generation and Unknown ones say nothing about what the route carries
// now, so they are skipped.
func accepted(route *gatewayv1.HTTPRoute) (*bool, string) {
	var seen, ok = false, true
	var msg string
	for _, p := range route.Status.Parents {
		c := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted))
		if c == nil || c.ObservedGeneration != route.Generation {
			continue
		}
		switch c.Status {
		case metav1.ConditionTrue:
			seen = true
		case metav1.ConditionFalse:
			if ok {
				msg = c.Message
			}
			seen, ok = true, false
		}
	}
	if !seen {
		return nil, ""
	}
	return &ok, msg
}
