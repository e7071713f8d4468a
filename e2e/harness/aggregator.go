package harness

import (
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// FrontProxyUser is the common name of the client certificate kube-apiserver
// presents when it proxies a request to an aggregated API server (an
// APIService backed by a Service); such servers trust FrontProxyCA for it.
const FrontProxyUser = "front-proxy-client"

// configureAggregator gives kube-apiserver what the aggregation layer needs
// to proxy to APIServices (the metrics APIs of an autoscaler, for one): a
// front-proxy CA and client certificate, the request-header flags, and
// aggregator routing, so that the API server dials a Service's endpoints
// (EndpointSlices) instead of its cluster IP, which nothing routes here.
// It costs a few milliseconds; servers are registered only by the tests that
// need them.
func configureAggregator(env *envtest.Environment, dir string) (*CA, error) {
	ca, err := NewCA("ramp-e2e-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.Issue(FrontProxyUser, true, nil, nil)
	if err != nil {
		return nil, err
	}
	d := filepath.Join(dir, "front-proxy")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, err
	}
	files := map[string][]byte{"ca.crt": ca.PEM, "client.crt": certPEM, "client.key": keyPEM}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(d, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	args := env.ControlPlane.GetAPIServer().Configure()
	args.Set("requestheader-client-ca-file", filepath.Join(d, "ca.crt"))
	args.Set("requestheader-allowed-names", FrontProxyUser)
	args.Set("requestheader-username-headers", "X-Remote-User")
	args.Set("requestheader-group-headers", "X-Remote-Group")
	args.Set("requestheader-extra-headers-prefix", "X-Remote-Extra-")
	args.Set("proxy-client-cert-file", filepath.Join(d, "client.crt"))
	args.Set("proxy-client-key-file", filepath.Join(d, "client.key"))
	args.Set("enable-aggregator-routing", "true")
	return ca, nil
}
