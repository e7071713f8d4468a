package main

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

const (
	namespace      = "bench"
	metricName     = "error-rate"
	scaleDownDelay = 5 * time.Second
)

// defaultWeights are the weights of Ramp's default steps (DESIGN.md).
var defaultWeights = v1.DefaultWeights

func rolloutName(i int) string { return fmt.Sprintf("r%05d", i) }

// hangName names the i-th Rollout whose Prometheus never answers (-hang).
func hangName(i int) string { return fmt.Sprintf("h%05d", i) }

// isHang reports whether name is one of the -hang Rollouts, which count in
// none of the figures.
func isHang(name string) bool { return strings.HasPrefix(name, "h") }

// hangTimeout is analysis.prometheus.timeout of the -hang Rollouts: the
// longest the CRD allows, so each of their queries holds whatever runs it
// for a whole minute.
const hangTimeout = time.Minute

// hangingRollout is rollout asking the Prometheus at promURL, which never
// answers, with a timeout of hangTimeout.
func hangingRollout(name, image, promURL string, interval time.Duration) *v1.Rollout {
	ro := rollout(name, image, promURL, interval)
	ro.Spec.Analysis.Prometheus.Timeout = &metav1.Duration{Duration: hangTimeout}
	return ro
}

// rollout is testenv's Rollout with 2 replicas, the bench's metric, its
// interval and the default progress deadline, on headless color Services:
// a ClusterIP costs kube-apiserver v1.37 a list of every allocated address
// per Service created, which made creating 20,000 of them quadratic (see
// docs/BENCHMARKS.md).
func rollout(name, image, promURL string, interval time.Duration) *v1.Rollout {
	ro := testenv.Rollout(namespace, name, image, promURL)
	replicas := int32(2)
	ro.Spec.Replicas = &replicas
	ro.Spec.Analysis.Interval = &metav1.Duration{Duration: interval}
	ro.Spec.Analysis.Metrics[0].Name = metricName
	ro.Spec.Analysis.Metrics[0].Query = benchMetric + `{namespace="{{ .Namespace }}",service="{{ .CanaryService }}"}`
	ro.Spec.ProgressDeadline = nil
	ro.Spec.ScaleDownDelay = &metav1.Duration{Duration: scaleDownDelay}
	ro.Spec.Service.Headless = true
	return ro
}

// route is the user's HTTPRoute naming both color Services.
func route(name string) *gatewayv1.HTTPRoute { return testenv.Route(namespace, name) }
