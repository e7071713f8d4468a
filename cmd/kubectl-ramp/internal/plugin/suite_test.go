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
	ns, err := env.CreateNamespace(context.Background(), "kubectl-ramp")
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureIn(t, ns)
}

// newFixtureIn runs the readier and the controller in namespace ns.
func newFixtureIn(t *testing.T, ns string) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
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
	return f.start(args...).wait()
}

// running is a kubectl-ramp run in progress.
type running struct {
	f      *fixture
	args   []string
	out    syncBuffer
	errOut syncBuffer
	code   chan int
}

// start starts kubectl-ramp as run does, without waiting for it to end.
func (f *fixture) start(args ...string) *running {
	r := &running{f: f, args: args, code: make(chan int, 1)}
	o := plugin.Options{
		Streams:      genericiooptions.IOStreams{In: strings.NewReader(""), Out: &r.out, ErrOut: &r.errOut},
		PollInterval: 100 * time.Millisecond,
	}
	go func() {
		r.code <- plugin.Run(f.ctx, o, append([]string{"--kubeconfig", kubeconfig, "-n", f.ns}, args...))
	}()
	return r
}

// wait waits for the run to end.
func (r *running) wait() result {
	res := result{code: <-r.code, out: r.out.String(), err: r.errOut.String()}
	r.f.t.Logf("kubectl ramp %s\n%s", strings.Join(r.args, " "), res)
	return res
}

// syncBuffer is a bytes.Buffer that a running command writes while a test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// expect fails unless r exited with code.
func (f *fixture) expect(r result, code int) {
	f.t.Helper()
	if r.code != code {
		f.t.Fatalf("exit code %d, want %d\n%s", r.code, code, r)
	}
}

const errorMetric = testenv.ErrorMetric

// rollout is the shared test Rollout (a check every second) with steps.
func (f *fixture) rollout(name, image string, steps ...v1.Step) *v1.Rollout {
	ro := testenv.Rollout(f.ns, name, image, prom.URL)
	ro.Spec.Steps = steps
	return ro
}

// healthy creates the route and the Rollout, and waits for it to serve.
func (f *fixture) healthy(ro *v1.Rollout) {
	f.t.Helper()
	for _, o := range []client.Object{testenv.Route(f.ns, ro.Name), ro} {
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
