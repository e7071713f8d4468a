package plugin_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/cmd/kubectl-ramp/internal/plugin"
	"github.com/ramp-dev/ramp/internal/manager"
	"github.com/ramp-dev/ramp/internal/testenv"
)

var (
	env        *testenv.Env
	prom       *testenv.FakeProm
	kubeconfig string // a kubeconfig file for env, as an SRE's kubectl would use
	adminUser  string // the user name the API server knows kubeconfig's credentials by
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	level := zapcore.Level(3) // quiet: managers stopped at the end of each test log cancelled writes
	if os.Getenv("RAMP_TEST_VERBOSE") != "" {
		level = zapcore.Level(-1)
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(level)))
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	prom = testenv.StartFakeProm()
	defer prom.Close()
	dir, err := os.MkdirTemp("", "kubectl-ramp-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if kubeconfig, err = writeKubeconfig(filepath.Join(dir, "kubeconfig"), env.Config); err != nil {
		fmt.Fprintln(os.Stderr, "write kubeconfig:", err)
		return 1
	}
	if adminUser, err = whoAmI(env.Config); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// writeKubeconfig writes a kubeconfig file with cfg's server and credentials.
func writeKubeconfig(path string, cfg *rest.Config) (string, error) {
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["envtest-admin"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken,
	}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest-admin", Namespace: "default"}
	kc.CurrentContext = "envtest"
	return path, clientcmd.WriteToFile(*kc, path)
}

func whoAmI(cfg *rest.Config) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("self subject review: %w", err)
	}
	return r.Status.UserInfo.Username, nil
}

// fixture is one test's namespace, with a readier and Ramp's controller
// manager limited to it.
type fixture struct {
	t   *testing.T
	ctx context.Context
	ns  string
	c   client.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns, err := env.CreateNamespace(ctx, "kubectl-ramp")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, ns: ns, c: env.Client}
	testenv.StartReadier(ctx, env.Client, ns)
	mgr, err := manager.New(ctx, env.Config, manager.Options{
		MetricsBindAddress: "0", HealthProbeBindAddress: "0",
		Workers: 2, SkipNameValidation: true, Namespaces: []string{ns},
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(mctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { stop(); wg.Wait() })
	return f
}

// result is what one kubectl-ramp run printed and its exit code.
type result struct {
	out, err string
	code     int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.out, r.err)
}

// run runs kubectl-ramp with the envtest kubeconfig in the fixture's
// namespace, as `kubectl ramp --kubeconfig ... -n NS args...` would.
func (f *fixture) run(args ...string) result {
	f.t.Helper()
	var out, errOut bytes.Buffer
	o := plugin.Options{
		Streams:      genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		PollInterval: 100 * time.Millisecond,
	}
	code := plugin.Run(f.ctx, o, append([]string{"--kubeconfig", kubeconfig, "-n", f.ns}, args...))
	r := result{out: out.String(), err: errOut.String(), code: code}
	f.t.Logf("kubectl ramp %s\n%s", strings.Join(args, " "), r)
	return r
}

// expect fails unless r exited with code.
func (f *fixture) expect(r result, code int) {
	f.t.Helper()
	if r.code != code {
		f.t.Fatalf("exit code %d, want %d\n%s", r.code, code, r)
	}
}

const errorMetric = "ramp_test_error_ratio"

// rollout is a Rollout of image with fast timings: checks every second.
func (f *fixture) rollout(name, image string, steps ...v1.Step) *v1.Rollout {
	maxErr := 0.01
	replicas := int32(4)
	return &v1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: v1.RolloutSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
			Service:        v1.ServiceSpec{Port: 80},
			TrafficRouting: v1.TrafficRouting{GatewayAPI: &v1.GatewayAPIRouting{HTTPRoutes: []v1.RouteRef{{Name: name}}}},
			Steps:          steps,
			Analysis: &v1.Analysis{
				Interval:   &metav1.Duration{Duration: time.Second},
				Prometheus: v1.PrometheusProvider{Address: prom.URL},
				Metrics: []v1.Metric{{
					Name:  "error-rate",
					Query: errorMetric + `{namespace="{{ .Namespace }}",service="{{ .CanaryService }}"}`,
					Max:   &maxErr,
				}},
			},
			ProgressDeadline: &metav1.Duration{Duration: 30 * time.Second},
			ScaleDownDelay:   &metav1.Duration{Duration: 2 * time.Second},
		},
	}
}

// route is the user's HTTPRoute naming both color Services.
func (f *fixture) route(name string) *gatewayv1.HTTPRoute {
	port := gatewayv1.PortNumber(80)
	w100, w0 := int32(100), int32(0)
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
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

// healthy creates the route and the Rollout, and waits for it to serve.
func (f *fixture) healthy(ro *v1.Rollout) {
	f.t.Helper()
	for _, o := range []client.Object{f.route(ro.Name), ro} {
		if err := f.c.Create(f.ctx, o); err != nil {
			f.t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	f.eventually(20*time.Second, "first version healthy", func() bool { return f.get(ro.Name).Status.Phase == v1.PhaseHealthy })
}

// get reads a Rollout.
func (f *fixture) get(name string) *v1.Rollout {
	f.t.Helper()
	var ro v1.Rollout
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, &ro); err != nil {
		f.t.Fatal(err)
	}
	return &ro
}

// setImage changes the template's image, starting a rollout.
func (f *fixture) setImage(name, image string) {
	f.t.Helper()
	for range 20 {
		ro := f.get(name)
		ro.Spec.Template.Spec.Containers[0].Image = image
		if err := f.c.Update(f.ctx, ro); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("update rollout %s: kept conflicting", name)
}

// eventually polls cond until it holds or timeout passes.
func (f *fixture) eventually(timeout time.Duration, what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// atStep waits until the rollout in flight has step i's weight set.
func (f *fixture) atStep(name string, i, weight int32) *v1.Rollout {
	f.t.Helper()
	var ro *v1.Rollout
	f.eventually(30*time.Second, fmt.Sprintf("step %d at %d%%", i, weight), func() bool {
		ro = f.get(name)
		st := ro.Status
		return st.CanaryRevision != "" && st.CurrentStep == i && st.CanaryWeight == weight && st.StepStartedAt != nil
	})
	return ro
}

func hold(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
