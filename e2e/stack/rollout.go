package stack

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// AnalysisInterval is the scenarios' analysis interval: each metric is
// checked every 5 s over a 5 s rate window (five 1 s scrapes), and each step
// holds one interval.
const AnalysisInterval = 5 * time.Second

// Version is one version of the demo app as a pod template gives it.
type Version struct {
	Tag       string // image tag, answered by the app as its version
	ErrorRate string // RAMP_DEMO_ERROR_RATE, e.g. "0.1"; none when ""
	Latency   string // RAMP_DEMO_LATENCY, e.g. "600ms"; none when ""
}

// Image is the (never pulled) image reference of the version.
func (v Version) Image() string { return "registry.example/demo:" + v.Tag }

// Template is the Rollout's pod template for v.
func Template(name string, v Version) corev1.PodTemplateSpec {
	c := corev1.Container{Name: "app", Image: v.Image(), Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}
	if v.ErrorRate != "" {
		c.Env = append(c.Env, corev1.EnvVar{Name: EnvErrorRate, Value: v.ErrorRate})
	}
	if v.Latency != "" {
		c.Env = append(c.Env, corev1.EnvVar{Name: EnvLatency, Value: v.Latency})
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{c}},
	}
}

// ErrorRateQuery reads the canary's 5xx share from the gateway's per-server
// series (HAProxy's exporter; namespace and service come from relabelling).
const ErrorRateQuery = `sum(rate(haproxy_server_http_responses_total{namespace="{{ .Namespace }}",service="{{ .CanaryService }}",code=~"5.."}[{{ .Interval }}]))
/
sum(rate(haproxy_server_http_responses_total{namespace="{{ .Namespace }}",service="{{ .CanaryService }}"}[{{ .Interval }}]))`

// P99Query reads the canary's p99 latency from the app's histogram (HAProxy
// 2.6 exports no latency histogram).
const P99Query = `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="{{ .Namespace }}",service="{{ .CanaryService }}"}[{{ .Interval }}])))`

// NewRollout is the Rollout of the scenarios: 2 replicas, the default steps
// (1, 5, 25, 50, 100 %, each held one analysis interval), error rate at most
// 1 % and p99 at most 0.5 s.
func NewRollout(namespace, name, prometheus string, v Version) *v1.Rollout {
	replicas := int32(2)
	maxErr, maxP99 := 0.01, 0.5
	return &v1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: v1.RolloutSpec{
			Replicas:       &replicas,
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template:       Template(name, v),
			Service:        v1.ServiceSpec{Port: 80},
			TrafficRouting: v1.TrafficRouting{GatewayAPI: &v1.GatewayAPIRouting{HTTPRoutes: []v1.RouteRef{{Name: name}}}},
			Analysis: &v1.Analysis{
				Interval:   &metav1.Duration{Duration: AnalysisInterval},
				Prometheus: &v1.PrometheusProvider{Address: prometheus, Timeout: &metav1.Duration{Duration: 2 * time.Second}},
				Metrics: []v1.Metric{
					{Name: "error-rate", Query: ErrorRateQuery, Max: &maxErr, NoData: v1.NoDataHold},
					{Name: "p99-latency", Query: P99Query, Max: &maxP99, NoData: v1.NoDataHold},
				},
			},
			ProgressDeadline: &metav1.Duration{Duration: 5 * time.Minute},
			ScaleDownDelay:   &metav1.Duration{Duration: 5 * time.Second},
		},
	}
}

// HTTPRoute is the user's route naming both color Services, all traffic on blue.
func HTTPRoute(namespace, name string) *gatewayv1.HTTPRoute {
	port := gatewayv1.PortNumber(80)
	w100, w0 := int32(100), int32(0)
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "public-gw"}}},
			Rules: []gatewayv1.HTTPRouteRule{{
				BackendRefs: []gatewayv1.HTTPBackendRef{
					{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name + "-blue"), Port: &port}, Weight: &w100}},
					{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name + "-green"), Port: &port}, Weight: &w0}},
				},
			}},
		},
	}
}
