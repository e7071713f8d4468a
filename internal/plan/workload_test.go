package plan

import (
	"slices"
	"testing"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// The migration from a user's Deployment (spec.workloadRef): the routes move
// to blue only once all its pods are ready, and the Deployment is scaled to
// zero only once the routes are seen carrying blue.
func TestWorkloadMigration(t *testing.T) {
	spec := newSpec()
	shop := Workload{Exists: true, Name: "shop", SpecReplicas: 3, ReadyReplicas: 3, ScaleDown: true}
	untouched := rt(0, 0) // the rule names both colors at 0 next to the user's Service
	scaleDown := Action{Kind: ScaleWorkload, Replicas: 0}

	obs := Observations{Revision: revA, Route: untouched, Workload: shop}
	d := Next(spec, &v1.RolloutStatus{}, obs)
	if !slices.Contains(d.Actions, apply(v1.Blue, 4)) || slices.ContainsFunc(d.Actions, func(a Action) bool { return a.Kind == SetWeights }) {
		t.Fatalf("first version from a workload: actions %v, want blue applied and no route write", d.Actions)
	}

	obs.Blue = dep(revA, 4, 2)
	d = Next(spec, &d.Status, obs)
	if slices.ContainsFunc(d.Actions, func(a Action) bool { return a.Kind == SetWeights || a.Kind == ScaleWorkload }) {
		t.Fatalf("blue 2/4 ready: actions %v, want neither a route write nor the workload scaled", d.Actions)
	}
	if d.Status.Phase != v1.PhaseProgressing {
		t.Fatalf("phase %s while blue comes up, want Progressing", d.Status.Phase)
	}

	obs.Blue = dep(revA, 4, 4)
	d = Next(spec, &d.Status, obs)
	if !slices.Contains(d.Actions, setW(v1.Green, 0)) || slices.Contains(d.Actions, scaleDown) {
		t.Fatalf("blue ready: actions %v, want the route write and not yet the workload scaled", d.Actions)
	}

	obs.Route = routeTo(0)
	obs.Route.Pending = "a gateway has not caught up"
	d = Next(spec, &d.Status, obs)
	if slices.Contains(d.Actions, scaleDown) {
		t.Fatalf("route pending: actions %v, the workload scaled before the route is in effect", d.Actions)
	}
	obs.Route.Pending = ""
	d = Next(spec, &d.Status, obs)
	if !slices.Contains(d.Actions, scaleDown) || !hasEvent(d, "WorkloadScaledDown") {
		t.Fatalf("route in effect: actions %v, want the workload scaled to zero with an event", d.Actions)
	}

	never := obs
	never.Workload.ScaleDown = false
	if d := Next(spec, &d.Status, never); slices.Contains(d.Actions, scaleDown) {
		t.Fatalf("scaleDown never: actions %v", d.Actions)
	}
	obs.Workload.SpecReplicas, obs.Workload.ReadyReplicas = 0, 0
	if d := Next(spec, &d.Status, obs); slices.Contains(d.Actions, scaleDown) {
		t.Fatalf("workload at zero: actions %v, want no write", d.Actions)
	}
}

// Holding the route for a migration applies only before Ramp ever steered
// it (no rule sends anything to either color): once blue served, a hand
// edit of the route is repaired at once, even while blue is short of pods
// (an autoscaler just scaled it up) and the Deployment still has pods
// (scaleDown: never).
func TestWorkloadHoldOnlyBeforeTheFirstWrite(t *testing.T) {
	spec := newSpec()
	st := healthy()
	obs := Observations{Revision: revA, Blue: dep(revA, 4, 2), Route: routeTo(100),
		Workload: Workload{Exists: true, Name: "shop", SpecReplicas: 3, ReadyReplicas: 3}}
	d := Next(spec, st, obs)
	if !slices.Contains(d.Actions, setW(v1.Green, 0)) {
		t.Fatalf("a route edited to send all to green (no pods) is not repaired: actions %v, message %q", d.Actions, d.Status.Message)
	}
}
