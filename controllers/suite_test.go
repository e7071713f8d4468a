package controllers_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/manager"
	"github.com/ramp-dev/ramp/internal/testenv"
	"github.com/ramp-dev/ramp/notify"
)

var (
	env  *testenv.Env
	prom *testenv.FakeProm
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapcore.Level(zapLevel()))))
	var err error
	env, err = testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		os.Exit(1)
	}
	prom = testenv.StartFakeProm()
	code := m.Run()
	prom.Close()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop envtest:", err)
	}
	os.Exit(code)
}

// fixture is one test's namespace, with a readier and a controller
// manager limited to it.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	ns      string
	c       client.Client
	readier *testenv.Readier
	stopMgr func()
	metrics string // metrics bind address, "0" for none
	clock   *clock
	// notify bounds the manager's notification sender (at startManager).
	notify notify.Options
}

// clock is the controller's injected clock: the real time moved by an
// offset that a test sets, so that a test can stand on a Friday night
// without waiting for one.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Set moves the clock so that it reads t now.
func (c *clock) Set(t time.Time) { c.offset.Store(int64(time.Until(t))) }

func newFixture(t *testing.T) *fixture { return newFixtureWithMetrics(t, "0") }

func newFixtureWithMetrics(t *testing.T, metricsAddr string) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns, err := env.CreateNamespace(ctx, "ramp")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, ns: ns, c: env.Client, readier: testenv.StartReadier(ctx, env.Client, ns), metrics: metricsAddr, clock: &clock{},
		// Webhooks answer at once in tests: retries come fast, a hanging
		// one is cut off after 2s.
		notify: notify.Options{Timeout: 2 * time.Second, Backoff: 200 * time.Millisecond}}
	f.startManager()
	t.Cleanup(func() { f.stopManager() })
	return f
}

// startManager starts Ramp's controller manager, as cmd/ramp-controller
// builds it, watching only this fixture's namespace.
func (f *fixture) startManager() {
	f.t.Helper()
	mgr, err := manager.New(f.ctx, env.Config, manager.Options{
		MetricsBindAddress: f.metrics, HealthProbeBindAddress: "0",
		Workers: 2, SkipNameValidation: true, Namespaces: []string{f.ns}, Now: f.clock.Now,
		Notifications: f.notify,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			f.t.Errorf("manager: %v", err)
		}
	}()
	f.stopMgr = func() { cancel(); wg.Wait() }
}

func (f *fixture) stopManager() {
	if f.stopMgr != nil {
		f.stopMgr()
		f.stopMgr = nil
	}
}

const errorMetric = testenv.ErrorMetric

// rollout is a Rollout of image with fast timings: checks every second.
func (f *fixture) rollout(name, image string) *v1.Rollout {
	return testenv.Rollout(f.ns, name, image, prom.URL)
}

// route is the user's HTTPRoute naming both color Services.
func (f *fixture) route(name string) *gatewayv1.HTTPRoute { return testenv.Route(f.ns, name) }

func (f *fixture) create(objs ...client.Object) {
	f.t.Helper()
	for _, o := range objs {
		if err := f.c.Create(f.ctx, o); err != nil {
			f.t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
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

// update changes a Rollout, retrying on conflicts.
func (f *fixture) update(name string, change func(*v1.Rollout)) {
	f.t.Helper()
	for range 20 {
		ro := f.get(name)
		change(ro)
		err := f.c.Update(f.ctx, ro)
		if err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("update rollout %s: kept conflicting", name)
}

func (f *fixture) setImage(name, image string) {
	f.update(name, func(ro *v1.Rollout) { ro.Spec.Template.Spec.Containers[0].Image = image })
}

func (f *fixture) annotate(name, key, value string) {
	f.update(name, func(ro *v1.Rollout) {
		if ro.Annotations == nil {
			ro.Annotations = map[string]string{}
		}
		if value == "" {
			delete(ro.Annotations, key)
		} else {
			ro.Annotations[key] = value
		}
	})
}

// weights reads the blue and green weights of the HTTPRoute's first rule.
func (f *fixture) weights(route string) (blue, green int32) {
	f.t.Helper()
	return f.weightsOf(testenv.RouteWeights, route)
}

// weightsOf reads the blue and green weights of the route's first rule
// with read (testenv.RouteWeights or testenv.GRPCRouteWeights).
func (f *fixture) weightsOf(read func(context.Context, client.Client, string, string) (int32, int32, error), route string) (blue, green int32) {
	f.t.Helper()
	blue, green, err := read(f.ctx, f.c, f.ns, route)
	if err != nil {
		f.t.Fatal(err)
	}
	return blue, green
}

func (f *fixture) replicas(deployment string) int32 {
	f.t.Helper()
	var d appsv1.Deployment
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: deployment}, &d); err != nil {
		f.t.Fatal(err)
	}
	return *d.Spec.Replicas
}

// eventually polls cond until it holds or timeout passes; describe, if
// given, says what was seen instead.
func (f *fixture) eventually(timeout time.Duration, what string, cond func() bool, describe ...func() string) {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			seen := ""
			for _, d := range describe {
				seen += "; seen: " + d()
			}
			f.t.Fatalf("timed out after %s waiting for %s%s", timeout, what, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) phase(name string) v1.Phase { return f.get(name).Status.Phase }

// healthy creates the route and a Rollout of v1, and waits for it to serve.
func (f *fixture) healthy(ro *v1.Rollout) {
	f.t.Helper()
	f.create(f.route(ro.Name), ro)
	f.eventually(20*time.Second, "first version healthy", func() bool { return f.phase(ro.Name) == v1.PhaseHealthy })
}

// recordWeights records every distinct weight the route carries for a color.
func (f *fixture) recordWeights(route string, color v1.Color) *testenv.WeightRecorder {
	return testenv.RecordWeights(f.ctx, f.c, f.ns, route, color)
}

func zapLevel() int8 {
	if os.Getenv("RAMP_TEST_VERBOSE") != "" {
		return -1
	}
	return 3 // quiet: managers stopped at the end of each test log cancelled writes as errors
}
