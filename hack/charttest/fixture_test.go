package charttest

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/manager"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// errorMetric is the metric the test Rollouts query; FakeProm answers it
// per namespace and Service.
const errorMetric = "ramp_test_error_ratio"

// newNamespace creates a namespace named prefix-<random>.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	e := cluster(t)
	ns, err := e.CreateNamespace(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// installRBAC creates, for real, the rendered ServiceAccount and every
// Role, ClusterRole and binding, as `helm install` would. Cluster-scoped
// ones are deleted when the test ends.
func installRBAC(t *testing.T, r *rendered) {
	t.Helper()
	e := cluster(t)
	ctx := context.Background()
	for _, o := range r.Objects {
		switch o.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
		default:
			continue
		}
		o := o.DeepCopy()
		if err := e.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		if o.GetNamespace() == "" {
			t.Cleanup(func() { _ = e.Client.Delete(context.Background(), o) })
		}
	}
}

// serviceAccountUser is the user name of the chart's ServiceAccount.
func serviceAccountUser(t *testing.T, r *rendered) (namespace, name string) {
	t.Helper()
	d := r.one(t, "Deployment")
	name, _, _ = unstructured.NestedString(d.Object, "spec", "template", "spec", "serviceAccountName")
	if name == "" {
		t.Fatal("the Deployment names no serviceAccountName")
	}
	return d.GetNamespace(), name
}

// impersonating returns a copy of cfg that acts as the chart's
// ServiceAccount, with the groups a real ServiceAccount token carries.
func impersonating(t *testing.T, cfg *rest.Config, r *rendered) *rest.Config {
	t.Helper()
	ns, sa := serviceAccountUser(t, r)
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + sa,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	return c
}

// controllerOptions builds manager.Options from the rendered Deployment's
// container args, as cmd/ramp-controller parses them, with the metrics and
// probe endpoints off (several managers share the test process).
func controllerOptions(t *testing.T, r *rendered) manager.Options {
	t.Helper()
	o := manager.Options{MetricsBindAddress: "0", HealthProbeBindAddress: "0", SkipNameValidation: true}
	for _, arg := range containerArgs(t, r) {
		name, value, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch name {
		case "metrics-bind-address", "health-probe-bind-address", "zap-log-level", "zap-encoder":
			// Endpoints are off in tests; logging is the test's.
		case "leader-elect":
			b, err := strconv.ParseBool(value)
			if err != nil {
				t.Fatalf("arg %q: %v", arg, err)
			}
			o.LeaderElection = b
		case "leader-election-namespace":
			o.LeaderElectionNamespace = value
		case "workers":
			n, err := strconv.Atoi(value)
			if err != nil {
				t.Fatalf("arg %q: %v", arg, err)
			}
			o.Workers = n
		case "namespaces":
			o.Namespaces = strings.Split(value, ",")
		default:
			t.Fatalf("rendered arg %q is not mapped to manager.Options in this test", arg)
		}
	}
	return o
}

func containerArgs(t *testing.T, r *rendered) []string {
	t.Helper()
	d := r.one(t, "Deployment")
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("the Deployment has %d containers, want 1", len(containers))
	}
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	return args
}

// running is a started controller manager.
type running struct {
	mgr  ctrl.Manager
	stop func()
	errs chan error
}

// startManager runs internal/manager.New with cfg and o until stopped or
// the test ends.
func startManager(t *testing.T, cfg *rest.Config, o manager.Options) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	mgr, err := manager.New(ctx, cfg, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{mgr: mgr, errs: make(chan error, 1)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.errs <- mgr.Start(ctx)
	}()
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(r.stop)
	return r
}

// failed returns the error the manager stopped with, if it stopped by itself.
func (r *running) failed() error {
	select {
	case err := <-r.errs:
		if err == nil {
			return errStoppedEarly
		}
		return err
	default:
		return nil
	}
}

var errStoppedEarly = &stoppedEarly{}

type stoppedEarly struct{}

func (*stoppedEarly) Error() string { return "manager stopped before the test stopped it" }

// app is one application namespace with a Readier standing in for the
// deployment controller, written to with the admin client (the user's).
type app struct {
	t       *testing.T
	ctx     context.Context
	ns      string
	c       client.Client
	readier *testenv.Readier
}

func newApp(t *testing.T, ns string) *app {
	t.Helper()
	e := cluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a := &app{t: t, ctx: ctx, ns: ns, c: e.Client, readier: testenv.StartReadier(ctx, e.Client, ns)}
	// Rollouts left behind would be picked up by the cluster-wide controllers of
	// later tests; envtest runs no garbage collector, so delete them here.
	t.Cleanup(func() {
		_ = e.Client.DeleteAllOf(context.Background(), &v1.Rollout{}, client.InNamespace(ns))
	})
	return a
}

// rollout is a Rollout of image with fast timings (checks every second)
// whose Prometheus needs a bearer token from a Secret.
func (a *app) rollout(name, image string) *v1.Rollout {
	maxErr := 0.01
	replicas := int32(2)
	target := intstr.FromInt32(8080)
	return &v1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.ns},
		Spec: v1.RolloutSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
			Service:        v1.ServiceSpec{Port: 80, TargetPort: &target},
			TrafficRouting: v1.TrafficRouting{GatewayAPI: &v1.GatewayAPIRouting{HTTPRoutes: []v1.RouteRef{{Name: name}}}},
			Analysis: &v1.Analysis{
				Interval: &metav1.Duration{Duration: time.Second},
				Prometheus: v1.PrometheusProvider{
					Address:              prom.URL,
					BearerTokenSecretRef: &v1.SecretKeyRef{Name: name + "-prom", Key: "token"},
				},
				Metrics: []v1.Metric{{
					Name:  "error-rate",
					Query: errorMetric + `{namespace="{{ .Namespace }}",service="{{ .CanaryService }}"}`,
					Max:   &maxErr,
				}},
			},
			ProgressDeadline: &metav1.Duration{Duration: 2 * time.Minute},
			ScaleDownDelay:   &metav1.Duration{Duration: 2 * time.Second},
		},
	}
}

// route is the user's HTTPRoute naming both color Services.
func (a *app) route(name string) *gatewayv1.HTTPRoute {
	port := gatewayv1.PortNumber(80)
	w100, w0 := int32(100), int32(0)
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.ns},
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

// tokenSecret is the Prometheus bearer token Secret a rollout names.
func (a *app) tokenSecret(name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-prom", Namespace: a.ns},
		Data:       map[string][]byte{"token": []byte("scripted-prometheus-accepts-any-token")},
	}
}

func (a *app) create(objs ...client.Object) {
	a.t.Helper()
	for _, o := range objs {
		if err := a.c.Create(a.ctx, o); err != nil {
			a.t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// start creates the Secret, the route and a Rollout of image.
func (a *app) start(name, image string) {
	a.t.Helper()
	a.create(a.tokenSecret(name), a.route(name), a.rollout(name, image))
}

func (a *app) get(name string) *v1.Rollout {
	a.t.Helper()
	var ro v1.Rollout
	if err := a.c.Get(a.ctx, types.NamespacedName{Namespace: a.ns, Name: name}, &ro); err != nil {
		a.t.Fatal(err)
	}
	return &ro
}

// update changes a Rollout, retrying on conflicts.
func (a *app) update(name string, change func(*v1.Rollout)) {
	a.t.Helper()
	for range 20 {
		ro := a.get(name)
		change(ro)
		err := a.c.Update(a.ctx, ro)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			a.t.Fatalf("update rollout %s: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.t.Fatalf("update rollout %s: kept conflicting", name)
}

func (a *app) setImage(name, image string) {
	a.update(name, func(ro *v1.Rollout) { ro.Spec.Template.Spec.Containers[0].Image = image })
}

// weights reads the blue and green weights of the route's rule.
func (a *app) weights(route string) (blue, green int32) {
	a.t.Helper()
	var r gatewayv1.HTTPRoute
	if err := a.c.Get(a.ctx, types.NamespacedName{Namespace: a.ns, Name: route}, &r); err != nil {
		a.t.Fatal(err)
	}
	for _, b := range r.Spec.Rules[0].BackendRefs {
		w := int32(1)
		if b.Weight != nil {
			w = *b.Weight
		}
		switch string(b.Name) {
		case route + "-blue":
			blue = w
		case route + "-green":
			green = w
		}
	}
	return blue, green
}

func (a *app) replicas(deployment string) int32 {
	a.t.Helper()
	var d appsv1.Deployment
	if err := a.c.Get(a.ctx, types.NamespacedName{Namespace: a.ns, Name: deployment}, &d); err != nil {
		a.t.Fatal(err)
	}
	return *d.Spec.Replicas
}

func (a *app) service(name string) *corev1.Service {
	a.t.Helper()
	var s corev1.Service
	if err := a.c.Get(a.ctx, types.NamespacedName{Namespace: a.ns, Name: name}, &s); err != nil {
		a.t.Fatal(err)
	}
	return &s
}

func (a *app) status(name string) string {
	st := a.get(name).Status
	return string(st.Phase) + ": " + st.Message
}

// eventually polls cond until it holds or timeout passes; describe says
// what was seen instead, and stop, when it reports an error, ends the wait
// at once (a manager that died, a forbidden request).
func (a *app) eventually(timeout time.Duration, what string, cond func() bool, describe func() string, stop func() error) {
	a.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if stop != nil {
			if err := stop(); err != nil {
				a.t.Fatalf("waiting for %s: %v", what, err)
			}
		}
		if time.Now().After(deadline) {
			seen := ""
			if describe != nil {
				seen = "; seen: " + describe()
			}
			a.t.Fatalf("timed out after %s waiting for %s%s", timeout, what, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// weightRecorder records every distinct weight the route carries for a color.
type weightRecorder struct {
	mu   sync.Mutex
	seen []int32
	stop func()
}

func (a *app) recordWeights(route string, color v1.Color) *weightRecorder {
	ctx, cancel := context.WithCancel(a.ctx)
	wr := &weightRecorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var r gatewayv1.HTTPRoute
			if err := a.c.Get(ctx, types.NamespacedName{Namespace: a.ns, Name: route}, &r); err == nil {
				for _, b := range r.Spec.Rules[0].BackendRefs {
					if string(b.Name) == route+"-"+string(color) && b.Weight != nil {
						wr.mu.Lock()
						if n := len(wr.seen); n == 0 || wr.seen[n-1] != *b.Weight {
							wr.seen = append(wr.seen, *b.Weight)
						}
						wr.mu.Unlock()
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var once sync.Once
	wr.stop = func() { once.Do(func() { cancel(); <-done }) }
	a.t.Cleanup(wr.stop)
	return wr
}

func (wr *weightRecorder) weights() []int32 {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return append([]int32(nil), wr.seen...)
}
