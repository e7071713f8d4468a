package traffic

import (
	"fmt"

	"k8s.io/apimachinery/pkg/types"
)

// Reasons of a RouteError.
const (
	// ReasonNotFound: a route the Rollout names does not exist.
	ReasonNotFound = "NotFound"
	// ReasonMissingBackendRef: a rule names one color but not the other, or
	// the route has no rule naming both.
	ReasonMissingBackendRef = "MissingBackendRef"
	// ReasonDuplicateBackendRef: a rule names the same color more than once,
	// so no single weight would say how much traffic that color gets.
	ReasonDuplicateBackendRef = "DuplicateBackendRef"
)

// RouteError is a problem with a route that only its owner can fix, such as
// a missing route or a rule lacking one color's backendRef. The controller
// shows it as a condition instead of retrying.
type RouteError struct {
	// Kind is the kind of the route at fault, KindHTTPRoute or KindGRPCRoute.
	Kind string
	// Route is the route at fault.
	Route types.NamespacedName
	// Reason is one of the Reason constants, fit for a condition's reason.
	Reason string
	// Msg says what is wrong, naming the route, e.g.
	// "HTTPRoute shop/shop: rule 1 names shop-blue but not shop-green".
	Msg string
}

// Error returns the message.
func (e *RouteError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("%s %s: %s", e.Kind, e.Route, e.Reason)
}

// routeErrorf returns the RouteError of the route of kind (e.g. "HTTPRoute")
// and name route, its message prefixed with both.
func routeErrorf(kind string, route types.NamespacedName, reason, format string, args ...any) *RouteError {
	return &RouteError{
		Kind:   kind,
		Route:  route,
		Reason: reason,
		Msg:    fmt.Sprintf("%s %s: ", kind, route) + fmt.Sprintf(format, args...),
	}
}

// IsRouteError returns the RouteError in err's chain. When err joins several
// errors (see errors.Join), it answers true only if every one of them is a
// RouteError, returning the first: a transient error among them makes the
// whole worth retrying.
func IsRouteError(err error) (*RouteError, bool) {
	if err == nil {
		return nil, false
	}
	if re, ok := err.(*RouteError); ok {
		return re, true
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		var first *RouteError
		for _, e := range u.Unwrap() {
			re, ok := IsRouteError(e)
			if !ok {
				return nil, false
			}
			if first == nil {
				first = re
			}
		}
		return first, first != nil
	case interface{ Unwrap() error }:
		return IsRouteError(u.Unwrap())
	}
	return nil, false
}
