package charttest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// unusedAllowed are the granted accesses that a rollout, a promotion and a
// rollback do not exercise, each with the reason it is granted all the same.
// Anything else granted and never used fails TestControllerUnderChartRBAC.
var unusedAllowed = map[access]string{
	{Verb: "patch", Group: "events.k8s.io", Resource: "events"}: "the events recorder patches an Event into a series when the " +
		"same event repeats for the same Rollout resourceVersion (an action failing on every retry); a run that goes well never repeats one",
	{Verb: "get", Group: "gateway.networking.k8s.io", Resource: "httproutes"}: "a route patch that fails its resourceVersion test " +
		"(someone else wrote the route since the cache saw it) reads the route live before trying again; the controller reads back its " +
		"own writes (internal/fresh), so a run where only Ramp writes routes never conflicts",
	{Verb: "get", Group: "", Resource: "configmaps"}: "only a Rollout with spec.configRefs reads the ConfigMaps it lists " +
		"(live until they are labelled); controllers/configs_test.go exercises it",
	{Verb: "create", Group: "", Resource: "configmaps"}: "only a Rollout with spec.configRefs creates the copy of each " +
		"listed ConfigMap per revision; controllers/configs_test.go exercises it",
	{Verb: "patch", Group: "", Resource: "configmaps"}: "only a Rollout with spec.configRefs labels the ConfigMaps it lists",
	{Verb: "delete", Group: "", Resource: "configmaps"}: "copies are deleted once no color uses them, after a third " +
		"revision of a Rollout with spec.configRefs",
	{Verb: "create", Group: "", Resource: "secrets"}: "only a Rollout whose configRefs list a Secret creates its " +
		"per-revision copy; controllers/configs_test.go exercises it",
	{Verb: "delete", Group: "", Resource: "secrets"}: "Secret copies are deleted once no color uses them",
	{Verb: "get", Group: "gateway.networking.k8s.io", Resource: "grpcroutes"}: "as for httproutes: a GRPCRoute is read live " +
		"only after a patch found it changed",
	{Verb: "create", Group: "batch", Resource: "jobs"}: "only a Rollout with a job check (a smoke test) creates its Jobs; " +
		"controllers/jobcheck_test.go exercises it",
	{Verb: "delete", Group: "batch", Resource: "jobs"}: "a job check's Job is deleted once its step, revision or rollout is over",
	{Verb: "get", Group: "batch", Resource: "jobs"}: "a job check's Job is read live only when its creation finds one of its " +
		"name that the cache does not show yet (or that is not Ramp's)",
	{Verb: "patch", Group: "ramp.dev", Resource: "verifications"}: "only a Rollout with spec.postPromotion patches its " +
		"Watching record to Passed when the watch ends; controllers/verification_test.go exercises it",
	{Verb: "delete", Group: "ramp.dev", Resource: "verifications"}: "records are deleted only beyond " +
		"spec.promotion.historyLimit (20 by default)",
}

// The controller, running as the chart's ServiceAccount under the chart's
// rendered RBAC, takes a Rollout through a first deploy, a promotion, a
// change of its Services and a rollback, and serves its secure metrics to
// the scraper the chart lets in, without a single forbidden request; and
// it uses every permission it is granted.
//
// It runs twice: cluster-wide (ClusterRole) with client-go's default
// informers, which start from a streaming watch list (WatchListClient, on by
// default since client-go 1.35), and limited by watchNamespaces (Roles) with
// informers that list then watch, as they do against API servers without
// streaming lists. The unused-permission check takes both runs together, as
// both render the same values-independent rules.
func TestControllerUnderChartRBAC(t *testing.T) {
	used := map[access]int{}
	var granted []grant
	for _, tc := range []struct {
		name       string
		namespaced bool
		watchList  bool
	}{
		{"cluster-wide/watch-list", false, true},
		{"watchNamespaces/list-then-watch", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := cluster(t)
			watchListGate.off.Store(!tc.watchList)
			t.Cleanup(func() { watchListGate.off.Store(false) })
			release := newNamespace(t, "ramp")
			appNs := newNamespace(t, "shop")
			vals := map[string]any{"metrics": map[string]any{"readers": []any{map[string]any{"name": "scraper", "namespace": appNs}}}}
			if tc.namespaced {
				vals["watchNamespaces"] = []any{appNs}
			}
			r := render(t, chartDir(t), release, release, vals)
			installRBAC(t, r)
			opts := controllerOptions(t, r)
			if tc.namespaced != (len(opts.Namespaces) > 0) || !opts.LeaderElection || opts.LeaderElectionNamespace != release || !opts.MetricsSecure {
				t.Fatalf("options from the rendered args: %+v", opts)
			}
			opts.MetricsBindAddress = freeAddr(t)

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
				t.Fatalf("the manager was not elected leader within 30s; forbidden: %v", rec.Forbidden())
			}

			a := newApp(t, appNs)
			rolloutPromoteRollback(t, a, "shop", healthy)

			// The secure metrics endpoint asks the API server, as the
			// controller, who a scraper is and whether it may GET /metrics:
			// the reader the chart binds (metrics.readers) may, others may not.
			reader, stranger := serviceAccountToken(t, appNs, "scraper"), serviceAccountToken(t, appNs, "stranger")
			a.eventually(20*time.Second, "metrics.readers' ServiceAccount scrapes with 200", func() bool {
				return scrape(opts.MetricsBindAddress, reader) == http.StatusOK
			}, func() string { return fmt.Sprint(scrape(opts.MetricsBindAddress, reader)) }, healthy)
			if got := scrape(opts.MetricsBindAddress, stranger); got != http.StatusForbidden {
				t.Errorf("a ServiceAccount without the metrics-reader role scraped with %d, want 403", got)
			}
			if got := scrape(opts.MetricsBindAddress, ""); got != http.StatusUnauthorized {
				t.Errorf("a scrape without a token got %d, want 401", got)
			}
			if err := healthy(); err != nil {
				t.Fatal(err)
			}
			if err := m.stop(); err != nil {
				t.Errorf("manager: %v", err)
			}
			if f := rec.Forbidden(); len(f) > 0 {
				t.Fatalf("forbidden requests: %s", strings.Join(f, "; "))
			}

			ns, sa := serviceAccountUser(t, r)
			granted = append(granted, grantsTo(t, r, ns, sa)...)
			for a, n := range rec.Used() {
				used[a] += n
			}
		})
	}
	if t.Failed() {
		return
	}
	var unused []string
	seen := map[grant]bool{}
	for _, g := range granted {
		if used[g.access] > 0 || seen[g] {
			continue
		}
		seen[g] = true
		if _, ok := unusedAllowed[g.access]; ok {
			continue
		}
		unused = append(unused, fmt.Sprintf("%s (namespace %q)", g.access, g.Namespace))
	}
	if len(unused) > 0 {
		t.Errorf("the chart grants permissions the controller never used:\n  %s\nused:\n  %s",
			strings.Join(unused, "\n  "), strings.Join(sortedAccess(used), "\n  "))
	}
	for a := range unusedAllowed {
		if used[a] > 0 {
			t.Logf("allowlisted %s was used after all: drop it from unusedAllowed", a)
		}
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
	green.Stop()
	if got, want := green.Weights(), []int32{0, 1, 5, 25, 50, 100}; !slices.Equal(got, want) {
		t.Fatalf("green weights seen on the route: %v, want %v", got, want)
	}
	a.eventually(20*time.Second, "blue scaled to zero after scaleDownDelay", func() bool { return a.replicas(name+"-blue") == 0 }, describe, healthy)

	// The controller keeps the Services as the Rollout says.
	a.update(name, func(ro *v1.Rollout) { p := intstr.FromInt32(8081); ro.Spec.Service.TargetPort = &p })
	a.eventually(20*time.Second, "both Services at target port 8081", func() bool {
		return a.service(name + "-blue").Spec.Ports[0].TargetPort.IntVal == 8081 && a.service(name + "-green").Spec.Ports[0].TargetPort.IntVal == 8081
	}, describe, healthy)

	// v3 goes to blue, the canary color now, and breaches at 5 %.
	a.setImage(name, name+":v3")
	a.eventually(60*time.Second, "v3 at 5% on blue", func() bool { b, _ := a.weights(name); return b == 5 }, describe, healthy)
	prom.Set(a.ns, name+"-blue", testenv.ErrorMetric, testenv.Answer{Value: 0.2})
	a.eventually(30*time.Second, "v3 rolled back", func() bool { return a.get(name).Status.Phase == v1.PhaseRolledBack }, describe, healthy)
	// The decision is written to status first, then the route follows.
	a.eventually(10*time.Second, "the route back at 100% green", func() bool { b, g := a.weights(name); return b == 0 && g == 100 }, describe, healthy)
	a.eventually(10*time.Second, "the GRPCRoute back at 100% green too", func() bool {
		b, g, err := testenv.GRPCRouteWeights(a.ctx, a.c, a.ns, name)
		return err == nil && b == 0 && g == 100
	}, describe, healthy)
	a.eventually(20*time.Second, "blue scaled to zero after the rollback", func() bool { return a.replicas(name+"-blue") == 0 }, describe, healthy)
}
