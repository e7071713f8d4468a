package plan

import (
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// Deployment is what the controller observed of one color's Deployment.
type Deployment struct {
	// Exists is false when the Deployment is not there.
	Exists bool
	// Revision is the pod-template hash the Deployment was last given.
	Revision string
	// Generation and ObservedGeneration are the Deployment's.
	Generation, ObservedGeneration int64
	// SpecReplicas is spec.replicas.
	SpecReplicas int32
	// Replicas, UpdatedReplicas and ReadyReplicas are from its status.
	Replicas, UpdatedReplicas, ReadyReplicas int32
}

// ReadyFor returns how many ready pods of revision the Deployment has, and
// false when its status has not caught up with its spec yet (then nobody can
// tell, and the step machine neither advances nor rolls back on it).
func (d Deployment) ReadyFor(revision string) (int32, bool) {
	if !d.Exists || d.Revision != revision {
		return 0, true
	}
	if d.ObservedGeneration < d.Generation {
		return 0, false
	}
	if d.UpdatedReplicas < d.Replicas {
		// Pods of an older template remain and the ready count mixes both:
		// count only what must be new even if every old pod is ready.
		return max(0, min(d.ReadyReplicas-(d.Replicas-d.UpdatedReplicas), d.UpdatedReplicas)), true
	}
	return min(d.ReadyReplicas, d.UpdatedReplicas), true
}

// Route is what the HTTPRoutes carry now.
type Route struct {
	// Blue and Green are the weights every steered rule carries.
	Blue, Green int32
	// Uniform is false when routes or rules carry different weights.
	Uniform bool
	// Problem is set when a route cannot be steered as written (missing,
	// or lacking a color's backendRef); the message names it.
	Problem string
}

// Weight returns the weight the routes carry for color c, and whether all
// routes agree.
func (r Route) Weight(c v1.Color) (int32, bool) {
	if !r.Uniform || r.Problem != "" {
		return 0, false
	}
	if c == v1.Green {
		return r.Green, true
	}
	return r.Blue, true
}

// Check is the judged result of one metric's check.
type Check struct {
	Metric  string
	Phase   v1.CheckPhase
	Value   string
	Message string
}

// Observations is everything Next may look at besides spec and status.
type Observations struct {
	// Now is the time of this reconcile.
	Now time.Time
	// Revision is the pod-template hash of spec.template.
	Revision string
	// SpecProblems are errors in the spec that the API server could not
	// refuse; each names its field. Nothing moves while any is present.
	SpecProblems []string
	// Blue and Green are the two Deployments.
	Blue, Green Deployment
	// Route is what the HTTPRoutes carry.
	Route Route
	// Checks are the results of the checks run in this reconcile, nil when
	// none were due (see ChecksDue).
	Checks []Check
	// Annotations are the Rollout's annotations.
	Annotations map[string]string
	// WindowClosed says why deploy windows hold progress now; "" when open.
	WindowClosed string
	// WindowNext is when the deploy windows may change next; zero if never.
	WindowNext time.Time
}

// Deployment returns the observation of color c.
func (o Observations) Deployment(c v1.Color) Deployment {
	if c == v1.Green {
		return o.Green
	}
	return o.Blue
}

// ActionKind says what an Action does.
type ActionKind string

const (
	// ApplyDeployment creates or updates a color's Deployment with
	// spec.template and Replicas.
	ApplyDeployment ActionKind = "ApplyDeployment"
	// ScaleDeployment sets a color's Deployment replicas, leaving its template.
	ScaleDeployment ActionKind = "ScaleDeployment"
	// SetWeights makes every route carry Weight percent on Color and the rest
	// on the other color.
	SetWeights ActionKind = "SetWeights"
)

// Action is one idempotent step towards the decided state.
type Action struct {
	Kind     ActionKind
	Color    v1.Color
	Replicas int32
	// Weight is the percent for Color (SetWeights).
	Weight int32
	// Rollback marks the route write of a rollback (for latency metrics).
	Rollback bool
}

// Event is a transition worth recording as a Kubernetes event.
type Event struct {
	Warning bool
	Reason  string
	Message string
}

// Decision is the result of Next.
type Decision struct {
	// Status is the new status; the controller writes it before acting, so
	// that every decision survives a restart.
	Status v1.RolloutStatus
	// Actions are run in order; each is idempotent.
	Actions []Action
	// Events are recorded after the status is written.
	Events []Event
	// RequeueAfter is when to look again; zero means only on a watch event.
	RequeueAfter time.Duration
}
