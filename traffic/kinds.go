package traffic

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The kinds of route the router steers, as RouteState.Kind and
// RouteError.Kind name them.
const (
	KindHTTPRoute = "HTTPRoute"
	KindGRPCRoute = "GRPCRoute"
)

// kind is what the router needs to know of one kind of route: its name, its
// resource and an empty object to read one into. Everything else (which
// rules are steered, what they carry, the patch, the parents' verdicts)
// works on a routeView, the same for every kind.
type kind struct {
	name     string // e.g. "HTTPRoute"
	resource string // e.g. "httproutes"
	object   func() client.Object
}

var (
	httpRouteKind = &kind{name: KindHTTPRoute, resource: "httproutes", object: func() client.Object { return &gatewayv1.HTTPRoute{} }}
	grpcRouteKind = &kind{name: KindGRPCRoute, resource: "grpcroutes", object: func() client.Object { return &gatewayv1.GRPCRoute{} }}
)

// routeShape is what every kind of route shares, as it is stored: the
// backendRefs of each rule (HTTPBackendRef and GRPCBackendRef inline a
// BackendRef) and the status its parents report.
type routeShape struct {
	Spec struct {
		Rules []struct {
			BackendRefs []gatewayv1.BackendRef `json:"backendRefs"`
		} `json:"rules"`
	} `json:"spec"`
	Status gatewayv1.RouteStatus `json:"status"`
}

// viewOf returns how the router sees o, a route of kind k: its JSON read
// back as a routeShape, so that one piece of code steers every kind.
func (k *kind) viewOf(o client.Object) (routeView, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return routeView{}, fmt.Errorf("encode %s %s: %w", k.name, client.ObjectKeyFromObject(o), err)
	}
	var shape routeShape
	if err := json.Unmarshal(b, &shape); err != nil {
		return routeView{}, fmt.Errorf("decode %s %s: %w", k.name, client.ObjectKeyFromObject(o), err)
	}
	v := routeView{kind: k, object: o, parents: shape.Status.Parents}
	for _, rl := range shape.Spec.Rules {
		v.rules = append(v.rules, rl.BackendRefs)
	}
	return v, nil
}

// get reads the route key of kind k, turning NotFound, and a cluster that
// does not serve the kind at all, into a RouteError.
func (k *kind) get(ctx context.Context, r client.Reader, key types.NamespacedName) (routeView, error) {
	o := k.object()
	if err := r.Get(ctx, key, o); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return routeView{}, routeErrorf(k.name, key, ReasonNotFound, "not found")
		case meta.IsNoMatchError(err):
			return routeView{}, routeErrorf(k.name, key, ReasonNotFound,
				"the cluster does not serve %ss (is the Gateway API %s CRD installed?)", k.name, k.name)
		}
		return routeView{}, fmt.Errorf("get %s %s: %w", k.name, key, err)
	}
	return k.viewOf(o)
}

// routeView is one route of either kind as the router reads it: the
// backendRefs of each rule and what its parents report. object is the
// route itself, which a patch writes.
type routeView struct {
	kind    *kind
	object  client.Object
	rules   [][]gatewayv1.BackendRef
	parents []gatewayv1.RouteParentStatus
}

func (v routeView) key() types.NamespacedName {
	return types.NamespacedName{Namespace: v.object.GetNamespace(), Name: v.object.GetName()}
}

// routeRef is one route of a Target, with its kind.
type routeRef struct {
	kind *kind
	key  types.NamespacedName
}

// refs returns the routes of t, its HTTPRoutes first, then its GRPCRoutes.
func (t Target) refs() []routeRef {
	out := make([]routeRef, 0, len(t.Routes)+len(t.GRPCRoutes))
	for _, key := range t.Routes {
		out = append(out, routeRef{httpRouteKind, key})
	}
	for _, key := range t.GRPCRoutes {
		out = append(out, routeRef{grpcRouteKind, key})
	}
	return out
}
