package charttest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// unusedAllowed are the granted accesses that a rollout and a rollback in
// envtest do not exercise, each with the reason it is granted all the same.
// Anything else granted and never used fails TestControllerUnderChartRBAC.
var unusedAllowed = map[access]string{}

// The controller, running as the chart's ServiceAccount under the chart's
// rendered RBAC (cluster-wide, and limited by watchNamespaces), takes a
// Rollout through a first deploy, a promotion and a rollback without a
// single forbidden request, and uses every permission it is granted.
func TestControllerUnderChartRBAC(t *testing.T) {
	for _, tc := range []struct {
		name       string
		namespaced bool
	}{
		{"cluster-wide", false},
		{"watchNamespaces", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := cluster(t)
			release := newNamespace(t, "ramp")
			appNs := newNamespace(t, "shop")
			vals := map[string]any{}
			if tc.namespaced {
				vals["watchNamespaces"] = []any{appNs}
			}
			r := render(t, chartDir(t), release, release, vals)
			installRBAC(t, r)
			opts := controllerOptions(t, r)
			if tc.namespaced != (len(opts.Namespaces) > 0) || !opts.LeaderElection || opts.LeaderElectionNamespace != release {
				t.Fatalf("options from the rendered args: %+v", opts)
			}

			rec := newRecorder()
			m := startManager(t, rec.config(impersonating(t, e.Config, r)), opts)
			healthy := func() error {
				if f := rec.Forbidden(); len(f) > 0 {
					return fmt.Errorf("forbidden requests: %s", strings.Join(f, "; "))
				}
				return m.failed()
			}
			select {
			case <-m.mgr.Elected():
			case <-time.After(30 * time.Second):
				t.Fatalf("the manager was not elected leader within 30s; requests: %v", rec.log)
			}

			a := newApp(t, appNs)
			rolloutPromoteRollback(t, a, "shop", healthy)
			if err := healthy(); err != nil {
				t.Fatal(err)
			}
			m.stop()

			used := rec.Used()
			ns, sa := serviceAccountUser(t, r)
			var unused []string
			for _, g := range grantsTo(t, r, ns, sa) {
				if used[g.access] > 0 {
					continue
				}
				if _, ok := unusedAllowed[g.access]; ok {
					continue
				}
				unused = append(unused, fmt.Sprintf("%s (namespace %q)", g.access, g.Namespace))
			}
			if len(unused) > 0 {
				t.Errorf("the chart grants permissions the controller never used:\n  %s\nused:\n  %s",
					strings.Join(unused, "\n  "), strings.Join(sortedAccess(used), "\n  "))
			}
		})
	}
}

// rolloutPromoteRollback takes Rollout name in a through a first deploy,
// a promotion of v2 to green, a change of the Services' target port, and a
// rollback of v3 on a breach. healthy ends the waits early on a failure.
func rolloutPromoteRollback(t *testing.T, a *app, name string, healthy func() error) {
	t.Helper()
	describe := func() string { return a.status(name) }

	a.start(name, name+":v1")
	a.eventually(30*time.Second, "v1 healthy on blue", func() bool { return a.get(name).Status.Phase == v1.PhaseHealthy }, describe, healthy)
	if b, g := a.weights(name); b != 100 || g != 0 {
		t.Fatalf("first version: route carries blue=%d green=%d, want 100/0", b, g)
	}

	green := a.recordWeights(name, v1.Green)
	a.setImage(name, name+":v2")
	a.eventually(60*time.Second, "v2 promoted to green", func() bool {
		st := a.get(name).Status
		return st.StableColor == v1.Green && st.Phase == v1.PhaseHealthy
	}, describe, healthy)
	green.stop()
	if got, want := green.weights(), []int32{0, 1, 5, 25, 50, 100}; !slices.Equal(got, want) {
		t.Fatalf("green weights seen on the route: %v, want %v", got, want)
	}
	a.eventually(20*time.Second, "blue scaled to zero after scaleDownDelay", func() bool { return a.replicas(name+"-blue") == 0 }, describe, healthy)

	// The controller keeps the Services as the Rollout says.
	a.update(name, func(ro *v1.Rollout) { p := intstr.FromInt32(8081); ro.Spec.Service.TargetPort = &p })
	a.eventually(20*time.Second, "both Services at target port 8081", func() bool {
		return a.service(name+"-blue").Spec.Ports[0].TargetPort.IntVal == 8081 && a.service(name+"-green").Spec.Ports[0].TargetPort.IntVal == 8081
	}, describe, healthy)

	// v3 goes to blue, the canary color now, and breaches at 5 %.
	a.setImage(name, name+":v3")
	a.eventually(60*time.Second, "v3 at 5% on blue", func() bool { b, _ := a.weights(name); return b == 5 }, describe, healthy)
	prom.Set(a.ns, name+"-blue", errorMetric, testenv.Answer{Value: 0.2})
	a.eventually(30*time.Second, "v3 rolled back", func() bool { return a.get(name).Status.Phase == v1.PhaseRolledBack }, describe, healthy)
	if b, g := a.weights(name); b != 0 || g != 100 {
		t.Fatalf("after the rollback the route carries blue=%d green=%d, want 0/100", b, g)
	}
	a.eventually(20*time.Second, "blue scaled to zero after the rollback", func() bool { return a.replicas(name+"-blue") == 0 }, describe, healthy)
}
