package gateway

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Decision is what the gateway makes of one HTTPRoute: the HAProxy weight of
// every configured Service and the two conditions to report.
type Decision struct {
	// Weights holds a weight for every configured Service (0 for one the
	// route does not name); nil when the route is not accepted, in which case
	// the weights in HAProxy are left as they are.
	Weights      map[string]int
	Accepted     metav1.Condition
	ResolvedRefs metav1.Condition
}

func cond(t gatewayv1.RouteConditionType, ok bool, reason gatewayv1.RouteConditionReason, msg string) metav1.Condition {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: string(t), Status: s, Reason: string(reason), Message: msg}
}

// Decide turns route into weights for the configured services. It supports
// one rule with backendRefs per route (matches and filters are not
// implemented, so a second such rule could not be told apart and is refused).
// A backendRef without weight weighs 1, as the Gateway API says. Weights that
// fit HAProxy's 0..256 are used as they are (a percentage maps directly);
// larger ones are scaled so the largest is 256, keeping a nonzero weight
// nonzero. A backendRef that is not a Service of the route's namespace known
// to the gateway gets no traffic and ResolvedRefs=False.
func Decide(route *gatewayv1.HTTPRoute, services []string) Decision {
	var rules []int
	for i, r := range route.Spec.Rules {
		if len(r.BackendRefs) > 0 {
			rules = append(rules, i)
		}
	}
	d := Decision{ResolvedRefs: cond(gatewayv1.RouteConditionResolvedRefs, true, gatewayv1.RouteReasonResolvedRefs, "all backendRefs resolved")}
	switch len(rules) {
	case 0:
		d.Accepted = cond(gatewayv1.RouteConditionAccepted, false, gatewayv1.RouteReasonUnsupportedValue, "no rule has backendRefs")
		return d
	case 1:
	default:
		d.Accepted = cond(gatewayv1.RouteConditionAccepted, false, gatewayv1.RouteReasonUnsupportedValue,
			fmt.Sprintf("%d rules have backendRefs; this gateway implements one rule per route (no matches)", len(rules)))
		return d
	}
	rule := route.Spec.Rules[rules[0]]
	known := map[string]bool{}
	for _, s := range services {
		known[s] = true
	}
	raw := map[string]int64{}
	var problems []string
	reason := gatewayv1.RouteReasonResolvedRefs
	for _, ref := range rule.BackendRefs {
		name := string(ref.Name)
		switch {
		case ref.Group != nil && *ref.Group != "", ref.Kind != nil && *ref.Kind != "Service":
			reason = gatewayv1.RouteReasonInvalidKind
			problems = append(problems, fmt.Sprintf("backendRef %s is not a core Service", name))
		case ref.Namespace != nil && string(*ref.Namespace) != route.Namespace:
			reason = gatewayv1.RouteReasonRefNotPermitted
			problems = append(problems, fmt.Sprintf("backendRef %s/%s is in another namespace (ReferenceGrants are not implemented)", *ref.Namespace, name))
		case !known[name]:
			reason = gatewayv1.RouteReasonBackendNotFound
			problems = append(problems, fmt.Sprintf("service %s is not configured in the gateway", name))
		default:
			w := int64(1)
			if ref.Weight != nil {
				w = int64(*ref.Weight)
			}
			raw[name] += w
		}
	}
	if len(problems) > 0 {
		d.ResolvedRefs = cond(gatewayv1.RouteConditionResolvedRefs, false, reason, strings.Join(problems, "; "))
	}
	var maxW int64
	for _, w := range raw {
		maxW = max(maxW, w)
	}
	d.Weights = map[string]int{}
	for _, s := range services {
		w := raw[s]
		if maxW > MaxWeight {
			w = w * MaxWeight / maxW
			if w == 0 && raw[s] > 0 {
				w = 1
			}
		}
		d.Weights[s] = int(w)
	}
	d.Accepted = cond(gatewayv1.RouteConditionAccepted, true, gatewayv1.RouteReasonAccepted, "weights "+formatWeights(d.Weights)+" set in haproxy")
	return d
}

func formatWeights(w map[string]int) string {
	names := make([]string, 0, len(w))
	for n := range w {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, w[n])
	}
	return strings.Join(parts, ",")
}
