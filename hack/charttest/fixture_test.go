package charttest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/manager"
	"github.com/ramp-dev/ramp/internal/testenv"
)

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
	waitForGrants(t, r)
}

// waitForGrants waits until the API server's authorizer, which learns of
// new roles and bindings through its informers, allows the chart's
// ServiceAccount everything the rendered roles grant it; a controller
// started earlier could see a 403 that no real install would.
func waitForGrants(t *testing.T, r *rendered) {
	t.Helper()
	e := cluster(t)
	ns, sa := serviceAccountUser(t, r)
	user := "system:serviceaccount:" + ns + ":" + sa
	deadline := time.Now().Add(20 * time.Second)
	for _, g := range grantsTo(t, r, ns, sa) {
		resource, sub, _ := strings.Cut(g.Resource, "/")
		for {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   user,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: g.Namespace, Verb: g.Verb, Group: g.Group, Resource: resource, Subresource: sub,
				},
			}}
			if err := e.Client.Create(context.Background(), sar); err == nil && sar.Status.Allowed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the API server did not allow %s %s in namespace %q within 20s of creating the chart's RBAC", user, g.access, g.Namespace)
			}
			time.Sleep(50 * time.Millisecond)
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
			// Endpoints are off unless a test opens one; logging is the test's.
		case "metrics-secure":
			b, err := strconv.ParseBool(value)
			if err != nil {
				t.Fatalf("arg %q: %v", arg, err)
			}
			o.MetricsSecure = b
		case "metrics-cert-dir":
			o.MetricsCertDir = value
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
	mgr     ctrl.Manager
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool  // set by stop
	err     error // what Start returned, once done is closed
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
	r := &running{mgr: mgr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = mgr.Start(ctx)
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop stops the manager as a pod's SIGTERM does: it releases its Lease
// (cut its recorder first to stop it as a killed pod). It returns what
// Start returned.
func (r *running) stop() error {
	r.stopped = true
	r.cancel()
	<-r.done
	return r.err
}

// failed reports a manager that stopped by itself, with its error.
func (r *running) failed() error {
	if r.stopped {
		return nil
	}
	select {
	case <-r.done:
		if r.err == nil {
			return errors.New("manager stopped before the test stopped it")
		}
		return fmt.Errorf("manager stopped: %w", r.err)
	default:
		return nil
	}
}

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

// rollout is testenv's Rollout of image (default steps, a check every
// second) with two replicas, a named target port, a two-minute deadline (the
// leader-election test leaves it leaderless for a lease duration) and a
// Prometheus that needs a bearer token from a Secret.
func (a *app) rollout(name, image string) *v1.Rollout {
	ro := testenv.Rollout(a.ns, name, image, prom.URL)
	replicas := int32(2)
	target := intstr.FromInt32(8080)
	ro.Spec.Replicas = &replicas
	ro.Spec.Service.TargetPort = &target
	ro.Spec.Analysis.Prometheus.BearerTokenSecretRef = &v1.SecretKeyRef{Name: name + "-prom", Key: "token"}
	ro.Spec.ProgressDeadline = &metav1.Duration{Duration: 2 * time.Minute}
	// It steers a GRPCRoute too, so that the chart's RBAC is proven for
	// both kinds of route.
	ro.Spec.TrafficRouting.GatewayAPI.GRPCRoutes = []v1.RouteRef{{Name: name}}
	return ro
}

// tokenSecret is the Prometheus bearer token Secret a rollout names.
func (a *app) tokenSecret(name string) *corev1.Secret {
	return &corev1.Secret{
		// Only Secrets that opt in may be read as Prometheus credentials.
		ObjectMeta: metav1.ObjectMeta{Name: name + "-prom", Namespace: a.ns, Labels: map[string]string{v1.LabelCredentials: "true"}},
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
	a.create(a.tokenSecret(name), testenv.Route(a.ns, name), testenv.GRPCRoute(a.ns, name), a.rollout(name, image))
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

// weights reads the blue and green weights of the route's first rule.
func (a *app) weights(route string) (blue, green int32) {
	a.t.Helper()
	blue, green, err := testenv.RouteWeights(a.ctx, a.c, a.ns, route)
	if err != nil {
		a.t.Fatal(err)
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

// recordWeights records every distinct weight the route carries for a color.
func (a *app) recordWeights(route string, color v1.Color) *testenv.WeightRecorder {
	return testenv.RecordWeights(a.ctx, a.c, a.ns, route, color)
}
