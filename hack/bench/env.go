package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/ramp-dev/ramp/internal/testenv"
)

// serviceRange holds the Services of 10,000 rollouts (two each); envtest's
// default /24 runs out at 127 rollouts.
const serviceRange = "10.96.0.0/14"

// gatewayCRDs are the Gateway API CRDs testenv installs.
var gatewayCRDs = []string{
	"gateway.networking.k8s.io_gatewayclasses.yaml",
	"gateway.networking.k8s.io_gateways.yaml",
	"gateway.networking.k8s.io_grpcroutes.yaml",
	"gateway.networking.k8s.io_httproutes.yaml",
	"gateway.networking.k8s.io_referencegrants.yaml",
}

// startEnv starts kube-apiserver and etcd as testenv.Start does, with a
// Service IP range large enough for the benchmark. With audit set, the API
// server writes a Metadata-level audit log of every request there.
func startEnv(root, audit string) (*envtest.Environment, *rest.Config, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if err := os.Setenv("KUBEBUILDER_ASSETS", filepath.Join(root, "bin")); err != nil {
			return nil, nil, err
		}
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("locate the gateway-api module: %w", err)
	}
	paths := []string{filepath.Join(root, "config", "crd")}
	for _, f := range gatewayCRDs {
		paths = append(paths, filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard", f))
	}
	env := &envtest.Environment{CRDDirectoryPaths: paths, ErrorIfCRDPathMissing: true, Scheme: testenv.NewScheme()}
	args := env.ControlPlane.GetAPIServer().Configure()
	args.Set("service-cluster-ip-range", serviceRange)
	if audit != "" {
		policy := audit + ".policy.yaml"
		const all = "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Request\n  resources: [{group: ramp.dev}]\n  verbs: [patch, update]\n- level: Metadata\n"
		if err := os.WriteFile(policy, []byte(all), 0o644); err != nil {
			return nil, nil, err
		}
		args.Set("audit-policy-file", policy).Set("audit-log-path", audit)
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, nil, fmt.Errorf("start envtest (binaries from %s, `make tools`): %w", os.Getenv("KUBEBUILDER_ASSETS"), err)
	}
	return env, cfg, nil
}
