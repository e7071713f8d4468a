package traffic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// patchOp is one operation of a JSON Patch (RFC 6902).
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// weightOps returns the JSON Patch that makes the steered rules of route
// carry w, or nil when they already do. It sets only the weight fields
// ("add" sets a member whether or not it is there), tests the name of every
// backendRef it touches, and replaces metadata.resourceVersion with the one
// read, so that the API server refuses the patch with a Conflict when the
// route changed in between instead of applying it to a different route.
func weightOps(route routeView, rules []steeredRule, w Weights) []patchOp {
	var tests, sets []patchOp
	for _, s := range rules {
		refs := route.rules[s.Rule]
		for _, ref := range []struct {
			idx  int
			want int32
		}{{s.Blue, w.Blue}, {s.Green, w.Green}} {
			r := refs[ref.idx]
			if r.Weight != nil && *r.Weight == ref.want {
				continue
			}
			base := fmt.Sprintf("/spec/rules/%d/backendRefs/%d", s.Rule, ref.idx)
			tests = append(tests, patchOp{Op: "test", Path: base + "/name", Value: string(r.Name)})
			sets = append(sets, patchOp{Op: "add", Path: base + "/weight", Value: ref.want})
		}
	}
	if len(sets) == 0 {
		return nil
	}
	ops := append(tests, patchOp{Op: "replace", Path: "/metadata/resourceVersion", Value: route.object.GetResourceVersion()})
	return append(ops, sets...)
}

// SetWeights makes every steered rule of every route of t carry w, writing
// only the routes that differ, and reports whether it wrote any. It goes on
// with the other routes when one fails, so that a rollback moves every route
// it can; the error then joins the failures. Likewise a route with a rule it
// cannot steer (see steeredRules) has its other steered rules written, and
// then its RouteError is among the failures. Weights that are negative or do
// not sum to 100 are refused before anything is read.
func (g *GatewayAPI) SetWeights(ctx context.Context, t Target, w Weights) (bool, error) {
	if w.Blue < 0 || w.Green < 0 || w.Blue+w.Green != 100 {
		return false, fmt.Errorf("weights blue %d and green %d do not sum to 100", w.Blue, w.Green)
	}
	changed := false
	var errs []error
	for _, ref := range t.refs() {
		c, err := g.setRoute(ctx, t, ref, w)
		changed = changed || c
		if err != nil {
			errs = append(errs, err)
		}
	}
	return changed, errors.Join(errs...)
}

// setRoute sets the weights of the steered rules of one route, then returns
// its RouteError if it has a rule it cannot steer. The first read goes through the
// Client; when the write finds the route changed since, it reads the route
// live through the Reader and tries again, a few times without long sleeps.
func (g *GatewayAPI) setRoute(ctx context.Context, t Target, ref routeRef, w Weights) (bool, error) {
	var reader client.Reader = g.Client
	key := ref.key
	changed := false
	// problem is the RouteError of the route as last read, returned once the
	// rules that can be steered are written.
	var problem *RouteError
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		route, err := ref.kind.get(ctx, reader, key)
		if err != nil {
			return err
		}
		reader = g.live()
		rules, re := steeredRules(route, t)
		problem = re
		if len(rules) == 0 {
			return nil
		}
		ops := weightOps(route, rules, w)
		if ops == nil {
			return nil
		}
		body, err := json.Marshal(ops)
		if err != nil {
			return fmt.Errorf("encode patch of %s %s: %w", ref.kind.name, key, err)
		}
		read := route.object.GetResourceVersion()
		if err := g.Client.Patch(ctx, route.object, client.RawPatch(types.JSONPatchType, body)); err != nil {
			return g.patchError(ctx, ref, read, err)
		}
		changed = true
		return nil
	})
	if err != nil {
		if _, ok := IsRouteError(err); !ok {
			err = fmt.Errorf("set weights blue %d green %d on %s %s: %w", w.Blue, w.Green, ref.kind.name, key, err)
		}
		if problem != nil {
			// The route also has a rule to fix; a transient err still makes
			// the whole worth retrying (see IsRouteError).
			err = errors.Join(err, problem)
		}
		return changed, err
	}
	if problem != nil {
		return changed, problem
	}
	return changed, nil
}

// patchError classifies a failed patch. A failed "test" operation (422)
// means the backendRefs moved since the route was read: when the live route
// has a newer resourceVersion, that is a conflict like any other and is
// retried.
func (g *GatewayAPI) patchError(ctx context.Context, ref routeRef, read string, err error) error {
	key := ref.key
	switch {
	case apierrors.IsNotFound(err):
		return routeErrorf(ref.kind.name, key, ReasonNotFound, "not found")
	case apierrors.IsConflict(err):
		return err
	case apierrors.IsInvalid(err) || isStatus(err, http.StatusUnprocessableEntity):
		live, gerr := ref.kind.get(ctx, g.live(), key)
		if gerr != nil {
			return errors.Join(err, gerr)
		}
		if live.object.GetResourceVersion() != read {
			return apierrors.NewConflict(gatewayv1.Resource(ref.kind.resource), key.Name,
				fmt.Errorf("route changed since it was read: %w", err))
		}
	}
	return fmt.Errorf("patch %s %s: %w", ref.kind.name, key, err)
}

func isStatus(err error, code int32) bool {
	var s apierrors.APIStatus
	return errors.As(err, &s) && s.Status().Code == code
}

// live returns the reader that bypasses the cache.
func (g *GatewayAPI) live() client.Reader {
	if g.Reader != nil {
		return g.Reader
	}
	return g.Client
}
