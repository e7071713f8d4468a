//go:build e2e

package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/e2e/loadgen"
	"github.com/ramp-dev/ramp/e2e/stack"
)

// TestI_MigrateFromDeployment: a team's plain Deployment, its Service and a
// route to it serve v1 under load; the team follows the README's "Migrating
// from a Deployment" (both colors added to the rule at 0, a Rollout with a
// workloadRef, then its own Service taken out of the rule). Ramp brings blue
// up from the Deployment's template, moves the route to blue only once
// blue's pods are ready, then scales the Deployment to zero. No request
// through the gateway fails.
func TestI_MigrateFromDeployment(t *testing.T) {
	e := setup(t, func(o *stack.Options) { o.UserService = true })
	ns, name := e.s.Namespace, e.s.Name
	c := e.s.Client
	tpl := stack.Template(name, stack.Version{Tag: "v1"})

	// Before Ramp: a Deployment, its Service, a route to that Service.
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: tpl},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
	port := gatewayv1.PortNumber(80)
	ref := func(svc string, w int32) gatewayv1.HTTPBackendRef {
		return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(svc), Port: &port}, Weight: ptr.To(w)}}
	}
	route := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "public-gw"}}},
			Rules:           []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{ref(name, 100)}}},
		},
	}
	for _, o := range []client.Object{dep, svc, route} {
		if err := c.Create(e.ctx, o); err != nil {
			t.Fatalf("create %T: %v", o, err)
		}
	}
	order := e.watchOrder(name)
	e.waitForGateway("v1")
	e.logf("the team's Deployment serves v1 through its own Service; sending %d requests/s through the gateway", Rate)
	e.load = loadgen.Start(e.s.URL, Rate)
	time.Sleep(2 * time.Second)
	start := time.Now()

	// 1. Both colors join the rule at weight 0.
	e.editRoute(func(r *gatewayv1.HTTPRoute) {
		r.Spec.Rules[0].BackendRefs = append(r.Spec.Rules[0].BackendRefs, ref(name+"-blue", 0), ref(name+"-green", 0))
	})
	// 2. The Rollout, pointed at the Deployment.
	ro := stack.NewRollout(ns, name, e.s.Prometheus.URL(), stack.Version{Tag: "v1"})
	ro.Spec.Template = corev1.PodTemplateSpec{}
	ro.Spec.WorkloadRef = &v1.WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: name}
	if err := c.Create(e.ctx, ro); err != nil {
		t.Fatal(err)
	}
	e.waitFor(2*time.Minute, "blue serves and the Deployment is scaled to zero", func(ro *v1.Rollout) bool {
		var d appsv1.Deployment
		return ro.Status.Phase == v1.PhaseHealthy && c.Get(e.ctx, client.ObjectKeyFromObject(dep), &d) == nil && *d.Spec.Replicas == 0
	})
	scaledDown := time.Now()
	// 3. The team's Service leaves the rule.
	e.editRoute(func(r *gatewayv1.HTTPRoute) {
		r.Spec.Rules[0].BackendRefs = slices.DeleteFunc(r.Spec.Rules[0].BackendRefs, func(b gatewayv1.HTTPBackendRef) bool { return string(b.Name) == name })
	})
	backend := ns + "_" + name
	var blueAt, userOffAt time.Time
	deadline := time.Now().Add(30 * time.Second)
	for userOffAt.IsZero() {
		for _, ch := range e.s.Weights.Changes() {
			if ch.Backend != backend {
				continue
			}
			if blueAt.IsZero() && ch.Weights[name+"-blue"] > 0 {
				blueAt = ch.At
			}
			if !blueAt.IsZero() && ch.Weights[name] == 0 && ch.Weights[name+"-blue"] > 0 {
				userOffAt = ch.At
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy never sent all traffic to blue: %+v", e.s.Weights.Changes())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	res := e.load.Stop()
	e.load = nil

	var blueReady time.Time
	for _, ev := range e.s.Pods.Events() {
		if ev.Color == v1.Blue && ev.Spec.Version == "v1" && blueReady.IsZero() {
			blueReady = ev.At
		}
	}
	if blueReady.IsZero() {
		t.Errorf("blue's process never started: %+v", e.s.Pods.Events())
	}
	// The order the API server stored them in (resourceVersions of one
	// etcd are ordered): blue's Deployment reporting all pods ready, then a
	// route naming a blue weight above 0. (The harness starts blue's
	// process some ms after its pods are Ready, so wall-clock times of
	// the process and of HAProxy do not order them.)
	ready, routed := order()
	e.logf("blue's Deployment all ready at resourceVersion %d, the route's first blue weight at %d", ready, routed)
	if ready == 0 || routed == 0 || routed < ready {
		t.Errorf("the route sent traffic to blue at resourceVersion %d, blue's Deployment was all ready at %d", routed, ready)
	}
	all := loadgen.Count(res, time.Time{}, time.Now())
	during := loadgen.Count(res, start, time.Now())
	if all.Failed != 0 {
		t.Errorf("%d of %d requests failed during the migration: %v", all.Failed, all.Total, all.Codes)
	}
	if all.Versions["v1"] != all.Total {
		t.Errorf("answers by version %v, want only v1", all.Versions)
	}
	at := func(ts time.Time) string { return fmt.Sprintf("%.1f s", ts.Sub(start).Seconds()) }
	text := fmt.Sprintf(`The team's Deployment (2 pods of v1) serves through its own Service; at t = 0 both colors join
the rule at weight 0 and the Rollout (workloadRef) is created.

| moment | t |
| --- | ---: |
| blue's process up (its pods Ready) | %s |
| HAProxy sends traffic to blue (route written by Ramp) | %s |
| Deployment scaled to zero, Rollout Healthy | %s |
| the team's Service out of the rule, HAProxy at 100 %% blue | %s |

%d requests during the migration, %d failed, all answered by v1.
`, at(blueReady), at(blueAt), at(scaledDown), at(userOffAt), during.Total, during.Failed)
	e.logf("%s", text)
	report.section("i", "### i. migrating from a Deployment (workloadRef)\n\n"+text)
}

// waitForGateway waits until the gateway answers version, with no failure.
func (e *env) waitForGateway(version string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		g := loadgen.Start(e.s.URL, 50)
		time.Sleep(200 * time.Millisecond)
		tally := loadgen.Count(g.Stop(), time.Time{}, time.Now())
		if tally.Total > 0 && tally.Versions[version] == tally.Total && tally.Failed == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("gateway does not answer %s: %+v", version, tally)
		}
	}
}

// editRoute changes the route, retrying on conflicts.
func (e *env) editRoute(change func(*gatewayv1.HTTPRoute)) {
	e.t.Helper()
	for range 50 {
		var r gatewayv1.HTTPRoute
		if err := e.s.Client.Get(e.ctx, client.ObjectKey{Namespace: e.s.Namespace, Name: e.s.Name}, &r); err != nil {
			e.t.Fatal(err)
		}
		change(&r)
		if err := e.s.Client.Update(e.ctx, &r); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("update route: kept conflicting")
}

// watchOrder watches blue's Deployment and the route, and returns a func
// giving the resourceVersion at which blue's Deployment first had all its
// pods ready, and the one at which the route first gave blue a weight.
func (e *env) watchOrder(name string) func() (ready, routed int64) {
	e.t.Helper()
	wc, err := client.NewWithWatch(e.s.CP.Config, client.Options{Scheme: e.s.Client.Scheme()})
	if err != nil {
		e.t.Fatal(err)
	}
	var mu sync.Mutex
	var ready, routed int64
	rv := func(o client.Object) int64 { n, _ := strconv.ParseInt(o.GetResourceVersion(), 10, 64); return n }
	deps, err := wc.Watch(e.ctx, &appsv1.DeploymentList{}, client.InNamespace(e.s.Namespace))
	if err != nil {
		e.t.Fatal(err)
	}
	routes, err := wc.Watch(e.ctx, &gatewayv1.HTTPRouteList{}, client.InNamespace(e.s.Namespace))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(deps.Stop)
	e.t.Cleanup(routes.Stop)
	go func() {
		for ev := range deps.ResultChan() {
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok || d.Name != name+"-blue" || d.Spec.Replicas == nil {
				continue
			}
			mu.Lock()
			if ready == 0 && *d.Spec.Replicas > 0 && d.Status.ObservedGeneration >= d.Generation && d.Status.ReadyReplicas >= *d.Spec.Replicas {
				ready = rv(d)
			}
			mu.Unlock()
		}
	}()
	go func() {
		for ev := range routes.ResultChan() {
			r, ok := ev.Object.(*gatewayv1.HTTPRoute)
			if !ok || r.Name != name {
				continue
			}
			mu.Lock()
			for _, rule := range r.Spec.Rules {
				for _, b := range rule.BackendRefs {
					if routed == 0 && string(b.Name) == name+"-blue" && b.Weight != nil && *b.Weight > 0 {
						routed = rv(r)
					}
				}
			}
			mu.Unlock()
		}
	}()
	return func() (int64, int64) {
		mu.Lock()
		defer mu.Unlock()
		return ready, routed
	}
}
