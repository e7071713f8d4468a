package traffic

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Observe reads every route of t through the Client (usually a cache). It
// reads all routes even when some fail; the error then joins the failures
// (IsRouteError tells whether all are the user's to fix). The Observation
// holds a state for every route, in the order of Target.refs (HTTPRoutes,
// then GRPCRoutes): a route with a problem rule has
// its Problem set and the rules that can be steered; a route that could not
// be read has no rules, and a Problem when it does not exist.
func (g *GatewayAPI) Observe(ctx context.Context, t Target) (Observation, error) {
	var obs Observation
	var errs []error
	for _, ref := range t.refs() {
		route, err := ref.kind.get(ctx, g.Client, ref.key)
		if err != nil {
			errs = append(errs, err)
			st := RouteState{Kind: ref.kind.name, Route: ref.key}
			if re, ok := err.(*RouteError); ok {
				st.Problem = re
			}
			obs.Routes = append(obs.Routes, st)
			continue
		}
		st := stateOf(route, t)
		if st.Problem != nil {
			errs = append(errs, st.Problem)
		}
		obs.Routes = append(obs.Routes, st)
	}
	return obs, errors.Join(errs...)
}

// stateOf returns what one route carries; Problem is set when the route
// needs its owner's attention.
func stateOf(route routeView, t Target) RouteState {
	rules, problem := steeredRules(route, t)
	st := RouteState{
		Kind:       route.kind.name,
		Route:      route.key(),
		Problem:    problem,
		Generation: route.object.GetGeneration(),
	}
	for _, s := range rules {
		st.Rules = append(st.Rules, ruleWeights(route, s))
	}
	if len(st.Rules) > 0 {
		st.Weights, st.Uniform = st.Rules[0], true
		for _, w := range st.Rules[1:] {
			if w != st.Weights {
				st.Uniform = false
			}
		}
	}
	st.Accepted, st.Message = accepted(route)
	st.Rejected = rejected(route)
	st.Pending = pending(route)
	return st
}

// accepted folds the Accepted conditions that the route's parents report for
// its current generation: nil when none reports True or False, false (with
// the first False message) when any says False, else true. Conditions of an
// older generation and Unknown ones say nothing about what the route carries
// now, so they are skipped.
func accepted(route routeView) (*bool, string) {
	var seen, ok = false, true
	var msg string
	for _, p := range route.parents {
		c := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted))
		if c == nil || c.ObservedGeneration != route.object.GetGeneration() {
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

// maxStatusReason and maxStatusMessage bound, in bytes, the text copied from
// a parent's status into Rejected (a condition's message may be 32 KiB).
const (
	maxStatusReason  = 128
	maxStatusMessage = 256
)

// rejected returns why a parent does not carry the route's current
// generation as it says: the first Accepted=False or ResolvedRefs=False
// condition reported for that generation, naming the parent, or "" when
// none is. Conditions of an older generation and Unknown ones say nothing.
func rejected(route routeView) string {
	key, gen := route.key(), route.object.GetGeneration()
	var first string
	more := 0
	for _, p := range route.parents {
		for _, typ := range []gatewayv1.RouteConditionType{gatewayv1.RouteConditionAccepted, gatewayv1.RouteConditionResolvedRefs} {
			c := meta.FindStatusCondition(p.Conditions, string(typ))
			if c == nil || c.ObservedGeneration != gen || c.Status != metav1.ConditionFalse {
				continue
			}
			if first != "" {
				more++
				continue
			}
			first = fmt.Sprintf("%s %s: parent %s (controller %s) reports %s=False (%s)",
				route.kind.name, key, parentName(p.ParentRef, key.Namespace), truncate(string(p.ControllerName), maxStatusReason),
				typ, truncate(c.Reason, maxStatusReason))
			if c.Message != "" {
				first += ": " + truncate(c.Message, maxStatusMessage)
			}
		}
	}
	if more > 0 {
		first += fmt.Sprintf(" (and %d more False conditions)", more)
	}
	return first
}

// parentName names a parentRef, e.g. "gateway ns/public-gw section https";
// the kind defaults to Gateway and the namespace to the route's.
func parentName(ref gatewayv1.ParentReference, routeNS string) string {
	kind := "Gateway"
	if ref.Kind != nil && *ref.Kind != "" {
		kind = string(*ref.Kind)
	}
	ns := routeNS
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	s := fmt.Sprintf("%s %s/%s", strings.ToLower(kind), ns, ref.Name)
	if ref.SectionName != nil && *ref.SectionName != "" {
		s += " section " + string(*ref.SectionName)
	}
	if ref.Port != nil {
		s += fmt.Sprintf(" port %d", *ref.Port)
	}
	return s
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "..."
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// pending names the first parent whose Accepted condition is of an older
// generation than the route's: a gateway that reports on this route has not
// caught up with its last change yet. "" when every reporting parent has.
func pending(route routeView) string {
	key, gen := route.key(), route.object.GetGeneration()
	for _, p := range route.parents {
		c := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted))
		if c == nil || c.ObservedGeneration >= gen {
			continue
		}
		return fmt.Sprintf("%s %s: parent %s (controller %s) has not reported on generation %d yet",
			route.kind.name, key, parentName(p.ParentRef, key.Namespace), truncate(string(p.ControllerName), maxStatusReason), gen)
	}
	return ""
}
