package stack

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ramp-dev/ramp/e2e/harness"
)

// The external metrics API the test serves, and the Service kube-apiserver
// proxies it through.
const (
	ExternalMetricsGroup   = "external.metrics.k8s.io"
	ExternalMetricsVersion = "v1beta1"
	metricsAPINamespace    = "kube-system"
	metricsAPIService      = "ramp-e2e-metrics"
)

// MetricRead is one answer the metrics API gave (to the HPA controller,
// through kube-apiserver).
type MetricRead struct {
	At     time.Time
	Metric string
	Value  int64
}

// MetricsAPI serves external.metrics.k8s.io/v1beta1 from the test process,
// registered as an APIService, so that kube-controller-manager's HPA
// controller reads, through kube-apiserver, the values the test sets.
//
// kube-apiserver validates endpoints and refuses loopback addresses, so the
// server listens on the machine's first non-loopback IPv4 address, named by a
// hand-written EndpointSlice of a selector-less Service (aggregator routing
// dials endpoints, not the cluster IP). It serves TLS with a certificate the
// APIService's caBundle trusts, and answers only clients with the API
// server's front-proxy certificate.
type MetricsAPI struct {
	// Addr is where the server listens (ip:port).
	Addr string

	srv    *http.Server
	mu     sync.Mutex
	values map[string]int64 // namespace/metric
	reads  []MetricRead
}

// StartMetricsAPI starts the server and registers it; it returns once
// kube-apiserver reports the APIService Available.
func StartMetricsAPI(ctx context.Context, cp *harness.ControlPlane, logf func(string, ...any)) (m *MetricsAPI, err error) {
	ip, err := hostIP()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		return nil, fmt.Errorf("metrics api: %w", err)
	}
	ca, err := harness.NewCA("ramp-e2e-metrics-ca")
	if err != nil {
		return nil, err
	}
	host := metricsAPIService + "." + metricsAPINamespace + ".svc"
	cert, err := ca.ServingCert(host, []string{host}, []net.IP{ip})
	if err != nil {
		return nil, err
	}
	m = &MetricsAPI{Addr: ln.Addr().String(), values: map[string]int64{}}
	m.srv = &http.Server{
		Handler:           http.HandlerFunc(m.serve),
		ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    cp.FrontProxyCA.Pool(),
			MinVersion:   tls.VersionTLS12,
		},
	}
	go func() { _ = m.srv.ServeTLS(ln, "", "") }()
	defer func() {
		if err != nil {
			m.Stop()
		}
	}()
	port := int32(ln.Addr().(*net.TCPAddr).Port)
	if err := m.register(ctx, cp.Client, ip.String(), port, ca.PEM); err != nil {
		return m, err
	}
	logf("metrics api %s/%s served on https://%s (APIService Available)", ExternalMetricsGroup, ExternalMetricsVersion, m.Addr)
	return m, nil
}

// Set makes metric in namespace answer value (a plain number).
func (m *MetricsAPI) Set(namespace, metric string, value int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[namespace+"/"+metric] = value
}

// Reads are the answers given so far.
func (m *MetricsAPI) Reads() []MetricRead {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]MetricRead(nil), m.reads...)
}

// Stop stops the server.
func (m *MetricsAPI) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.srv.Shutdown(ctx)
}

// externalMetricValue and externalMetricValueList are the wire form of
// k8s.io/metrics/pkg/apis/external_metrics/v1beta1 (kept here so that the
// module needs no k8s.io/metrics for a test server).
type externalMetricValue struct {
	MetricName   string            `json:"metricName"`
	MetricLabels map[string]string `json:"metricLabels"`
	Timestamp    metav1.Time       `json:"timestamp"`
	Value        resource.Quantity `json:"value"`
}

type externalMetricValueList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []externalMetricValue `json:"items"`
}

func (m *MetricsAPI) serve(w http.ResponseWriter, r *http.Request) {
	base := "/apis/" + ExternalMetricsGroup + "/" + ExternalMetricsVersion
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == base || r.URL.Path == base+"/" {
		// Discovery: what kube-apiserver's availability check and the
		// discovery clients read.
		_ = json.NewEncoder(w).Encode(metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: ExternalMetricsGroup + "/" + ExternalMetricsVersion,
			APIResources: []metav1.APIResource{{Name: "*", Namespaced: true, Kind: "ExternalMetricValueList", Verbs: []string{"get"}}},
		})
		return
	}
	// <base>/namespaces/<namespace>/<metric>
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, base+"/"), "/")
	if !strings.HasPrefix(r.URL.Path, base+"/") || len(parts) != 3 || parts[0] != "namespaces" {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound, Message: "no such path " + r.URL.Path})
		return
	}
	ns, metric := parts[1], parts[2]
	m.mu.Lock()
	v, ok := m.values[ns+"/"+metric]
	if ok {
		m.reads = append(m.reads, MetricRead{At: time.Now(), Metric: metric, Value: v})
	}
	m.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound,
			Message: fmt.Sprintf("external metric %q in %s not set by the test", metric, ns)})
		return
	}
	_ = json.NewEncoder(w).Encode(externalMetricValueList{
		TypeMeta: metav1.TypeMeta{Kind: "ExternalMetricValueList", APIVersion: ExternalMetricsGroup + "/" + ExternalMetricsVersion},
		Items: []externalMetricValue{{
			MetricName: metric, MetricLabels: map[string]string{},
			Timestamp: metav1.Now(), Value: *resource.NewQuantity(v, resource.DecimalSI),
		}},
	})
}

// register creates the Service, its EndpointSlice and the APIService, and
// waits until kube-apiserver reports the APIService Available.
func (m *MetricsAPI) register(ctx context.Context, c client.Client, ip string, port int32, caBundle []byte) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: metricsAPINamespace, Name: metricsAPIService},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{
			Name: "https", Port: 443, TargetPort: intstr.FromInt32(port), Protocol: corev1.ProtocolTCP,
		}}},
	}
	if err := c.Create(ctx, svc); err != nil {
		return fmt.Errorf("metrics api service: %w", err)
	}
	eps := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: metricsAPINamespace, Name: metricsAPIService,
			Labels: map[string]string{discoveryv1.LabelServiceName: metricsAPIService, discoveryv1.LabelManagedBy: "ramp-e2e"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if err := c.Create(ctx, eps); err != nil {
		return fmt.Errorf("metrics api endpointslice: %w", err)
	}
	name := ExternalMetricsVersion + "." + ExternalMetricsGroup
	apiSvc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"group":                ExternalMetricsGroup,
			"version":              ExternalMetricsVersion,
			"service":              map[string]any{"namespace": metricsAPINamespace, "name": metricsAPIService, "port": int64(443)},
			"caBundle":             caBundle, // []byte: base64 in JSON, as the field wants
			"groupPriorityMinimum": int64(100),
			"versionPriority":      int64(100),
		},
	}}
	if err := c.Create(ctx, apiSvc); err != nil {
		return fmt.Errorf("apiservice %s: %w", name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := &unstructured.Unstructured{}
		got.SetAPIVersion("apiregistration.k8s.io/v1")
		got.SetKind("APIService")
		err := c.Get(ctx, client.ObjectKey{Name: name}, got)
		msg := fmt.Sprint(err)
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, x := range conds {
				cond, _ := x.(map[string]any)
				if cond["type"] == "Available" {
					if cond["status"] == "True" {
						return nil
					}
					msg = fmt.Sprintf("%v: %v", cond["reason"], cond["message"])
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("apiservice %s not Available after 30 s: %s", name, msg)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// hostIP is the first non-loopback IPv4 address of an interface that is up.
func hostIP() (net.IP, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				return n.IP.To4(), nil
			}
		}
	}
	return nil, errors.New("metrics api: no non-loopback IPv4 address on this machine (kube-apiserver refuses loopback endpoints for the APIService's Service)")
}
