package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	rampv1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// Env is a running control plane.
type Env struct {
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme
	env    *envtest.Environment
}

// Scheme returns a scheme with the built-in kinds, Ramp's and Gateway API's.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	must(clientgoscheme.AddToScheme(s))
	must(rampv1.AddToScheme(s))
	must(gatewayv1.Install(s))
	return s
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// RepoRoot is the folder holding the module's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/ramp-dev/ramp\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod of github.com/ramp-dev/ramp not found above the working directory")
		}
		dir = parent
	}
}

// gatewayCRDs are the Gateway API CRDs of the standard channel the tests need,
// read from the gateway-api module the project builds with.
var gatewayCRDs = []string{
	"gateway.networking.k8s.io_gatewayclasses.yaml",
	"gateway.networking.k8s.io_gateways.yaml",
	"gateway.networking.k8s.io_grpcroutes.yaml",
	"gateway.networking.k8s.io_httproutes.yaml",
	"gateway.networking.k8s.io_referencegrants.yaml",
}

func gatewayCRDDir(root string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locate the gateway-api module: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard"), nil
}

// Start starts kube-apiserver and etcd with the CRDs installed. The binaries
// come from KUBEBUILDER_ASSETS, or from bin/ at the repository root.
func Start() (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		assets := filepath.Join(root, "bin")
		for _, b := range []string{"kube-apiserver", "etcd"} {
			if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
				return nil, fmt.Errorf("%s not found in %s: run `make tools` first: %w", b, assets, err)
			}
		}
		if err := os.Setenv("KUBEBUILDER_ASSETS", assets); err != nil {
			return nil, err
		}
	}
	gwDir, err := gatewayCRDDir(root)
	if err != nil {
		return nil, err
	}
	paths := []string{filepath.Join(root, "config", "crd")}
	for _, f := range gatewayCRDs {
		paths = append(paths, filepath.Join(gwDir, f))
	}
	scheme := NewScheme()
	env := &envtest.Environment{
		CRDDirectoryPaths:     paths,
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		// envtest leaves etcd and kube-apiserver running when it fails
		// after starting them (e.g. a CRD the server refuses).
		_ = env.Stop()
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, env: env}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.env.Stop() }

// CreateNamespace creates a namespace with a generated name starting with prefix.
func (e *Env) CreateNamespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{}
	ns.GenerateName = prefix + "-"
	if err := e.Client.Create(ctx, ns); err != nil {
		return "", err
	}
	return ns.Name, nil
}

// Main runs a package's tests on a control plane it starts before them and
// stops after; set receives it first. From TestMain:
//
//	os.Exit(testenv.Main(m, func(e *testenv.Env) { env = e }))
func Main(m *testing.M, set func(*Env)) int {
	e, err := Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start envtest: %v\n", err)
		return 1
	}
	set(e)
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
	}
	return code
}
