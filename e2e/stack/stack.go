package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/e2e/gateway"
	"github.com/ramp-dev/ramp/e2e/harness"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// Options configure a Stack.
type Options struct {
	// Dir holds every configuration file and log.
	Dir string
	// Bins holds app and ramp-controller built by Build; built into Dir/bin
	// when empty.
	Bins string
	// Namespace and Rollout name the one Rollout (and HTTPRoute) the stack
	// serves; "shop" when empty.
	Namespace, Rollout string
	// Logf receives progress lines; nothing when nil.
	Logf func(format string, args ...any)
	// MetricsAPI serves external.metrics.k8s.io from the test process (an
	// APIService) for autoscaler scenarios; about a second more start-up.
	MetricsAPI bool
	// UserService lets the route name the team's own Service <rollout>
	// (selector app=<rollout>), as before a migration to Ramp: the gateway
	// sends its share to a process run for the newest Ready pod with that
	// label, whichever Deployment it belongs to, as the Service's endpoints
	// would.
	UserService bool
	// Namespaces are more namespaces served as Namespace is (environments):
	// each gets a Rollout named Rollout with its own route, color
	// addresses, pod runner and Prometheus targets, and the controller
	// watches them all. In(namespace) is the Stack of one of them.
	Namespaces []string
	// Registry, when set, resolves the pods' images to digests: kwok makes
	// a pod Ready only once the registry gave it its imageIDs.
	Registry *Registry
}

// Stack is the running end-to-end stack for one Rollout.
type Stack struct {
	Dir       string
	Namespace string
	Name      string
	CP        *harness.ControlPlane
	Client    client.Client
	HAProxy   *gateway.HAProxy
	Weights   *WeightLog
	Pods      *PodRunner
	// Jobs runs the real processes of Job pods (see JobRunner).
	Jobs       *JobRunner
	Prometheus *Prometheus
	Controller *Controller
	// Metrics is the external metrics API, when Options.MetricsAPI.
	Metrics *MetricsAPI
	// URL is the gateway's listener for the route: what users call.
	URL string

	logf   func(format string, args ...any)
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// views are the Stacks of Options.Namespaces; parent is the Stack a
	// view belongs to (Stop does nothing on a view).
	views  map[string]*Stack
	parent *Stack
}

// Build builds the demo app, ramp-controller, the smoke test and the
// kubectl-ramp plugin into dir.
func Build(ctx context.Context, dir string) error {
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	for bin, pkg := range map[string]string{"app": "./e2e/app", "ramp-controller": "./cmd/ramp-controller", "smoke": "./e2e/cmd/smoke", "kubectl-ramp": "./cmd/kubectl-ramp"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, bin), pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w: %s", pkg, err, out)
		}
	}
	return nil
}

// freeAddrs picks a free loopback address for each name. The listeners stay
// open until all are picked, so that the kernel cannot hand the same port
// out twice (it did: haproxy and Prometheus once got the same one).
func freeAddrs(names ...string) (map[string]string, error) {
	addrs := map[string]string{}
	for _, n := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		addrs[n] = ln.Addr().String()
	}
	return addrs, nil
}

func gatewayCRDs(root string) ([]string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("locate the gateway-api module: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
	var paths []string
	for _, f := range []string{"gatewayclasses", "gateways", "grpcroutes", "httproutes", "referencegrants"} {
		paths = append(paths, filepath.Join(dir, "gateway.networking.k8s.io_"+f+".yaml"))
	}
	return paths, nil
}

var setLogger sync.Once

// Start starts the stack; Stop it also when Start fails (Stop is safe on a
// partial start).
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.Namespace == "" {
		o.Namespace = "shop"
	}
	if o.Rollout == "" {
		o.Rollout = "shop"
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		return nil, gateway.ErrNoHAProxy
	}
	if _, err := exec.LookPath("prometheus"); err != nil {
		return nil, ErrNoPrometheus
	}
	root, err := harness.RepoRoot()
	if err != nil {
		return nil, err
	}
	if o.Bins == "" {
		o.Bins = filepath.Join(o.Dir, "bin")
		o.Logf("building the demo app and ramp-controller")
		if err := Build(ctx, o.Bins); err != nil {
			return nil, err
		}
	}
	setLogger.Do(func() {
		// The in-process gateway controller logs here.
		if f, err := os.Create(filepath.Join(o.Dir, "gateway.log")); err == nil {
			ctrl.SetLogger(zap.New(zap.WriteTo(f)))
		}
	})
	crds, err := gatewayCRDs(root)
	if err != nil {
		return nil, err
	}
	s = &Stack{Dir: o.Dir, Namespace: o.Namespace, Name: o.Rollout, logf: o.Logf}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	o.Logf("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok")
	s.CP, err = harness.Start(ctx, o.Dir, harness.Options{
		CRDPaths:   append([]string{filepath.Join(root, "config", "crd")}, crds...),
		Scheme:     testenv.NewScheme(),
		PullImages: o.Registry != nil,
	})
	if err != nil {
		return s, err
	}
	s.Client = s.CP.Client
	for _, ns := range append([]string{o.Namespace}, o.Namespaces...) {
		if err := s.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return s, err
		}
	}
	if o.Registry != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); o.Registry.Run(runCtx, s.Client, o.Logf) }()
	}
	if o.MetricsAPI {
		if s.Metrics, err = StartMetricsAPI(ctx, s.CP, o.Logf); err != nil {
			return s, err
		}
	}

	names := []string{"blue", "green", "user", "route", "stats", "prometheus", "metrics", "health"}
	for _, ns := range o.Namespaces {
		names = append(names, ns+"/blue", ns+"/green", ns+"/route")
	}
	addrs, err := freeAddrs(names...)
	if err != nil {
		return s, err
	}
	blue, green := o.Rollout+"-blue", o.Rollout+"-green"
	services := []gateway.Service{{Name: blue, Addr: addrs["blue"]}, {Name: green, Addr: addrs["green"]}}
	podAddrs := map[v1.Color]string{v1.Blue: addrs["blue"], v1.Green: addrs["green"]}
	if o.UserService {
		services = append(services, gateway.Service{Name: o.Rollout, Addr: addrs["user"]})
		podAddrs[UserService] = addrs["user"]
	}
	gwCfg := gateway.Config{
		Socket:      filepath.Join(o.Dir, "haproxy.sock"),
		StatsListen: addrs["stats"],
		Routes: []gateway.Route{{
			Namespace: o.Namespace, Name: o.Rollout, Listen: addrs["route"],
			Services: services,
		}},
	}
	for _, ns := range o.Namespaces {
		gwCfg.Routes = append(gwCfg.Routes, gateway.Route{
			Namespace: ns, Name: o.Rollout, Listen: addrs[ns+"/route"],
			Services: []gateway.Service{{Name: blue, Addr: addrs[ns+"/blue"]}, {Name: green, Addr: addrs[ns+"/green"]}},
		})
	}
	o.Logf("starting haproxy (route %s/%s on %s) and the gateway controller", o.Namespace, o.Rollout, addrs["route"])
	if s.HAProxy, err = gateway.StartHAProxy(ctx, gwCfg, o.Dir); err != nil {
		return s, err
	}
	s.URL = "http://" + addrs["route"] + "/"
	s.Weights = &WeightLog{Inner: s.HAProxy.Runtime}
	mgr, err := gateway.NewManager(s.CP.Config, gwCfg, s.Weights)
	if err != nil {
		return s, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := mgr.Start(runCtx); err != nil {
			o.Logf("gateway controller: %v", err)
		}
	}()

	s.Pods = &PodRunner{
		Client: s.Client, Namespace: o.Namespace, Rollout: o.Rollout, AppBin: filepath.Join(o.Bins, "app"), Dir: o.Dir,
		Addrs: podAddrs, Logf: o.Logf,
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.Pods.Run(runCtx) }()
	s.views = map[string]*Stack{}
	for _, ns := range o.Namespaces {
		// A folder of its own: the app processes' logs are named by
		// color and version, the same in every namespace.
		dir := filepath.Join(o.Dir, ns)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return s, err
		}
		pods := &PodRunner{
			Client: s.Client, Namespace: ns, Rollout: o.Rollout, AppBin: filepath.Join(o.Bins, "app"), Dir: dir,
			Addrs: map[v1.Color]string{v1.Blue: addrs[ns+"/blue"], v1.Green: addrs[ns+"/green"]}, Logf: o.Logf,
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); pods.Run(runCtx) }()
		s.views[ns] = &Stack{Dir: o.Dir, Namespace: ns, Name: o.Rollout, Pods: pods, URL: "http://" + addrs[ns+"/route"] + "/", logf: o.Logf, parent: s}
	}
	s.Jobs = &JobRunner{
		Client: s.Client, Namespace: o.Namespace, Bins: o.Bins, Dir: o.Dir, Logf: o.Logf,
		Services: map[string]string{blue: addrs["blue"], green: addrs["green"]},
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.Jobs.Run(runCtx) }()

	o.Logf("starting prometheus on %s", addrs["prometheus"])
	apps := []Target{
		{Addr: addrs["blue"], Namespace: o.Namespace, Service: blue},
		{Addr: addrs["green"], Namespace: o.Namespace, Service: green},
	}
	for _, ns := range o.Namespaces {
		apps = append(apps, Target{Addr: addrs[ns+"/blue"], Namespace: ns, Service: blue}, Target{Addr: addrs[ns+"/green"], Namespace: ns, Service: green})
	}
	if s.Prometheus, err = NewPrometheus(o.Dir, addrs["prometheus"], PromConfig{
		Gateway:    addrs["stats"],
		Controller: addrs["metrics"],
		Apps:       apps,
	}); err != nil {
		return s, err
	}
	if err := s.Prometheus.Start(ctx); err != nil {
		return s, err
	}

	o.Logf("starting ramp-controller")
	s.Controller = &Controller{
		Bin: filepath.Join(o.Bins, "ramp-controller"), Dir: o.Dir, Kubeconfig: s.CP.Kubeconfig, Namespace: strings.Join(append([]string{o.Namespace}, o.Namespaces...), ","),
		MetricsAddr: addrs["metrics"], HealthAddr: addrs["health"],
	}
	if err := s.Controller.Start(ctx); err != nil {
		return s, err
	}
	for _, v := range s.views {
		v.CP, v.Client, v.HAProxy, v.Weights, v.Prometheus, v.Controller, v.Metrics = s.CP, s.Client, s.HAProxy, s.Weights, s.Prometheus, s.Controller, s.Metrics
	}
	return s, nil
}

// In is the Stack of namespace ns: Namespace or one of Options.Namespaces
// (nil for any other). A view shares the control plane, gateway,
// Prometheus and controller, and has its own Namespace, URL and Pods; it
// has no JobRunner, and Stop does nothing on it.
func (s *Stack) In(ns string) *Stack {
	if ns == s.Namespace {
		return s
	}
	return s.views[ns]
}

// Stop stops everything, last started first.
func (s *Stack) Stop() {
	if s.parent != nil {
		return
	}
	if s.Controller != nil {
		s.Controller.Stop()
	}
	if s.Prometheus != nil {
		s.Prometheus.Stop()
	}
	if s.cancel != nil {
		s.cancel() // the pod runner stops the app processes; the gateway controller ends
	}
	s.wg.Wait()
	if s.HAProxy != nil {
		_ = s.HAProxy.Stop()
	}
	if s.Metrics != nil {
		s.Metrics.Stop()
	}
	if s.CP != nil {
		s.CP.Stop()
	}
}

// Rollout reads the Rollout.
func (s *Stack) Rollout(ctx context.Context) (*v1.Rollout, error) {
	var ro v1.Rollout
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Name}, &ro)
	return &ro, err
}

// Update changes the Rollout, retrying on conflicts.
func (s *Stack) Update(ctx context.Context, change func(*v1.Rollout)) error {
	var err error
	for range 50 {
		var ro *v1.Rollout
		if ro, err = s.Rollout(ctx); err != nil {
			return err
		}
		change(ro)
		if err = s.Client.Update(ctx, ro); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("update rollout %s/%s: %w", s.Namespace, s.Name, err)
}

// Annotate sets an annotation on the Rollout, or removes it when value is "".
func (s *Stack) Annotate(ctx context.Context, key, value string) error {
	return s.Update(ctx, func(ro *v1.Rollout) {
		if value == "" {
			delete(ro.Annotations, key)
			return
		}
		if ro.Annotations == nil {
			ro.Annotations = map[string]string{}
		}
		ro.Annotations[key] = value
	})
}

// Deploy creates the Rollout and its HTTPRoute with version v, or changes the
// Rollout's template to v (which starts a rollout).
func (s *Stack) Deploy(ctx context.Context, v Version) error {
	_, err := s.Rollout(ctx)
	if err == nil {
		return s.Update(ctx, func(ro *v1.Rollout) { ro.Spec.Template = Template(s.Name, v) })
	}
	if client.IgnoreNotFound(err) != nil {
		return err
	}
	if err := s.Client.Create(ctx, HTTPRoute(s.Namespace, s.Name)); err != nil {
		return fmt.Errorf("create httproute: %w", err)
	}
	if err := s.Client.Create(ctx, NewRollout(s.Namespace, s.Name, s.Prometheus.URL(), v)); err != nil {
		return fmt.Errorf("create rollout: %w", err)
	}
	return nil
}

// ErrTimeout is returned by WaitFor when the condition did not come true.
var ErrTimeout = errors.New("timed out")

// WaitFor polls the Rollout every 100 ms until cond holds, and returns it.
func (s *Stack) WaitFor(ctx context.Context, timeout time.Duration, what string, cond func(*v1.Rollout) bool) (*v1.Rollout, error) {
	deadline := time.Now().Add(timeout)
	var last *v1.Rollout
	for {
		ro, err := s.Rollout(ctx)
		if err == nil {
			last = ro
			if cond(ro) {
				return ro, nil
			}
		}
		if time.Now().After(deadline) {
			msg := "no rollout"
			if last != nil {
				msg = fmt.Sprintf("phase %s step %d weight %d: %s", last.Status.Phase, last.Status.CurrentStep, last.Status.CanaryWeight, last.Status.Message)
			}
			return last, fmt.Errorf("waiting %v for %s: %w (last: %s)", timeout, what, ErrTimeout, msg)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
