package main

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

const (
	namespace      = "bench"
	metricName     = "error-rate"
	scaleDownDelay = 5 * time.Second
)

// defaultWeights are the weights of Ramp's default steps (DESIGN.md).
var defaultWeights = []int32{1, 5, 25, 50, 100}

func rolloutName(i int) string { return fmt.Sprintf("r%05d", i) }

// rollout is a Rollout of 2 replicas on the default steps with one
// error-rate metric checked every interval.
func rollout(name, image, promURL string, interval time.Duration) *v1.Rollout {
	replicas := int32(2)
	maxErr := 0.01
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
				Interval:   &metav1.Duration{Duration: interval},
				Prometheus: v1.PrometheusProvider{Address: promURL},
				Metrics: []v1.Metric{{
					Name:  metricName,
					Query: benchMetric + `{namespace="{{ .Namespace }}",service="{{ .CanaryService }}"}`,
					Max:   &maxErr,
				}},
			},
			ScaleDownDelay: &metav1.Duration{Duration: scaleDownDelay},
		},
	}
}

// route is the user's HTTPRoute naming both color Services.
func route(name string) *gatewayv1.HTTPRoute {
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
