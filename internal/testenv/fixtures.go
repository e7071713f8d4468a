package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// ErrorMetric is the metric the fixtures' error-rate query reads; FakeProm
// answers it per namespace and service.
const ErrorMetric = "ramp_test_error_ratio"

// Rollout is a valid Rollout of image in namespace with four replicas,
// the default steps, fast timings (a check every second, 30s deadline, 2s
// scale-down delay) and one error-rate metric asked of prometheusURL.
func Rollout(namespace, name, image, prometheusURL string) *v1.Rollout {
	maxErr := 0.01
	replicas := int32(4)
	return &v1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: v1.RolloutSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
			Service:        v1.ServiceSpec{Port: 80},
			TrafficRouting: v1.TrafficRouting{GatewayAPI: &v1.GatewayAPIRouting{HTTPRoutes: []v1.RouteRef{{Name: name}}}},
			Analysis: &v1.Analysis{
				Interval:   &metav1.Duration{Duration: time.Second},
				Prometheus: &v1.PrometheusProvider{Address: prometheusURL},
				Metrics: []v1.Metric{{
					Name:  "error-rate",
					Query: ErrorMetric + `{namespace="{{ .Namespace }}",service="{{ .CanaryService }}"}`,
					Max:   &maxErr,
				}},
			},
			ProgressDeadline: &metav1.Duration{Duration: 30 * time.Second},
			ScaleDownDelay:   &metav1.Duration{Duration: 2 * time.Second},
		},
	}
}

// Route is the user's HTTPRoute for a Rollout named name: one rule naming
// both color Services, blue at 100 and green at 0.
func Route(namespace, name string) *gatewayv1.HTTPRoute {
	port := gatewayv1.PortNumber(80)
	w100, w0 := int32(100), int32(0)
	ref := func(svc string, w *int32) gatewayv1.HTTPBackendRef {
		return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(svc), Port: &port}, Weight: w}}
	}
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "public-gw"}}},
			Rules:           []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{ref(name+"-blue", &w100), ref(name+"-green", &w0)}}},
		},
	}
}

// GRPCRoute is the user's GRPCRoute for a Rollout named name: the parent
// and the one rule of Route, blue at 100 and green at 0.
func GRPCRoute(namespace, name string) *gatewayv1.GRPCRoute {
	h := Route(namespace, name)
	var rule gatewayv1.GRPCRouteRule
	for _, b := range h.Spec.Rules[0].BackendRefs {
		rule.BackendRefs = append(rule.BackendRefs, gatewayv1.GRPCBackendRef{BackendRef: b.BackendRef})
	}
	return &gatewayv1.GRPCRoute{
		ObjectMeta: h.ObjectMeta,
		Spec:       gatewayv1.GRPCRouteSpec{CommonRouteSpec: h.Spec.CommonRouteSpec, Rules: []gatewayv1.GRPCRouteRule{rule}},
	}
}

// RouteWeights reads the weights of the blue and green backendRefs of the
// first rule of the HTTPRoute of a Rollout named name (1 where unset, the
// Gateway API default).
func RouteWeights(ctx context.Context, c client.Client, namespace, name string) (blue, green int32, err error) {
	return firstRuleWeights(ctx, c, &gatewayv1.HTTPRoute{}, namespace, name)
}

// GRPCRouteWeights reads the weights of the blue and green backendRefs of
// the first rule of the GRPCRoute of a Rollout named name, as RouteWeights.
func GRPCRouteWeights(ctx context.Context, c client.Client, namespace, name string) (blue, green int32, err error) {
	return firstRuleWeights(ctx, c, &gatewayv1.GRPCRoute{}, namespace, name)
}

// firstRuleWeights reads the route namespace/name into route, an HTTPRoute
// or a GRPCRoute, and returns the weights of name-blue and name-green in
// its first rule. Both kinds store a rule's backendRefs alike, so it reads
// them from the route's JSON.
func firstRuleWeights(ctx context.Context, c client.Client, route client.Object, namespace, name string) (blue, green int32, err error) {
	if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, route); err != nil {
		return 0, 0, err
	}
	b, err := json.Marshal(route)
	if err != nil {
		return 0, 0, err
	}
	var shape struct {
		Spec struct {
			Rules []struct {
				BackendRefs []gatewayv1.BackendRef `json:"backendRefs"`
			} `json:"rules"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(b, &shape); err != nil {
		return 0, 0, err
	}
	if len(shape.Spec.Rules) == 0 {
		return 0, 0, fmt.Errorf("route %s/%s has no rules", namespace, name)
	}
	for _, b := range shape.Spec.Rules[0].BackendRefs {
		w := int32(1)
		if b.Weight != nil {
			w = *b.Weight
		}
		switch string(b.Name) {
		case name + "-blue":
			blue = w
		case name + "-green":
			green = w
		}
	}
	return blue, green, nil
}
