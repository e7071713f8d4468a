package traffic

import (
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/ramp-dev/ramp/api/v1alpha1"
)

// defaultWeight is what a backendRef without a weight carries (the CRD's
// default).
const defaultWeight int32 = 1

// steeredRule locates the two color backendRefs of one rule that names both.
type steeredRule struct {
	Rule  int // index in spec.rules
	Blue  int // index of the blue backendRef in the rule's backendRefs
	Green int // index of the green backendRef
}

// colorOf returns the color a backendRef names, or "" when it names neither
// color Service of t. routeNS is the namespace of the route holding ref.
func colorOf(ref gatewayv1.BackendRef, routeNS string, t Target) v1alpha1.Color {
	if ref.Kind != nil && *ref.Kind != "Service" {
		return ""
	}
	if ref.Group != nil && *ref.Group != "" {
		return ""
	}
	ns := routeNS
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	if ns != t.Namespace {
		return ""
	}
	switch string(ref.Name) {
	case t.Blue:
		return v1alpha1.Blue
	case t.Green:
		return v1alpha1.Green
	}
	return ""
}

// steeredRules finds the rules of route that name both colors once each, in
// rule order. A rule naming neither is left out. A rule naming one color but
// not the other, or one color twice, is a problem rule: it is left out too,
// and the first one in rule order becomes the RouteError returned alongside
// the rules that can be steered, so that a caller can still move those. A
// route without any problem rule nor any steered rule is a RouteError too.
// The error is non-nil exactly when the route needs its owner's attention;
// the rules returned are valid either way.
func steeredRules(route routeView, t Target) ([]steeredRule, *RouteError) {
	var out []steeredRule
	var problem *RouteError
	for i, refs := range route.rules {
		s, err := steeredRuleOf(route, i, refs, t)
		if err != nil {
			if problem == nil {
				problem = err
			}
			continue
		}
		if s.Blue < 0 && s.Green < 0 {
			continue
		}
		out = append(out, s)
	}
	if problem == nil && len(out) == 0 {
		problem = routeErrorf(route.kind.name, route.key(), ReasonMissingBackendRef,
			"no rule names both %s and %s in namespace %s as backendRefs", t.Blue, t.Green, t.Namespace)
	}
	return out, problem
}

// steeredRuleOf locates the color backendRefs among refs, those of rule i
// of route: both indices -1 when the rule names neither color, a RouteError
// when it names one but not the other, or one twice.
func steeredRuleOf(route routeView, i int, refs []gatewayv1.BackendRef, t Target) (steeredRule, *RouteError) {
	s := steeredRule{Rule: i, Blue: -1, Green: -1}
	kind, key := route.kind.name, route.key()
	for j, ref := range refs {
		var idx *int
		var name string
		switch colorOf(ref, key.Namespace, t) {
		case v1alpha1.Blue:
			idx, name = &s.Blue, t.Blue
		case v1alpha1.Green:
			idx, name = &s.Green, t.Green
		default:
			continue
		}
		if *idx >= 0 {
			return s, routeErrorf(kind, key, ReasonDuplicateBackendRef,
				"rule %d names %s more than once (backendRefs %d and %d)", i, name, *idx, j)
		}
		*idx = j
	}
	switch {
	case s.Blue >= 0 && s.Green < 0:
		return s, routeErrorf(kind, key, ReasonMissingBackendRef, "rule %d names %s but not %s", i, t.Blue, t.Green)
	case s.Green >= 0 && s.Blue < 0:
		return s, routeErrorf(kind, key, ReasonMissingBackendRef, "rule %d names %s but not %s", i, t.Green, t.Blue)
	}
	return s, nil
}

// weightOf returns the weight a backendRef carries, the CRD default when unset.
func weightOf(ref gatewayv1.BackendRef) int32 {
	if ref.Weight == nil {
		return defaultWeight
	}
	return *ref.Weight
}

// ruleWeights returns the weights one steered rule carries.
func ruleWeights(route routeView, s steeredRule) Weights {
	refs := route.rules[s.Rule]
	return Weights{Blue: weightOf(refs[s.Blue]), Green: weightOf(refs[s.Green])}
}
