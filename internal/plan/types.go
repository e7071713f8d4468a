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
	// Drifted is true when its pod template is no longer the one Ramp gave
	// it (a hand edit): its pods run something Ramp did not check, so their
	// readiness tells nothing until the repair rolled out.
	Drifted bool
	// Outdated is true when its settings besides the pod template
	// (minReadySeconds, revisionHistoryLimit, labels and annotations) are
	// not the ones the Rollout asks for: applying it again changes no pod.
	Outdated bool
}

// ReadyFor returns how many ready pods of revision the Deployment has, and
// false when its status has not caught up with its spec yet (then nobody can
// tell, and the step machine neither advances nor rolls back on it).
func (d Deployment) ReadyFor(revision string) (int32, bool) {
	if !d.Exists || d.Revision != revision {
		return 0, true
	}
	if d.Drifted || d.ObservedGeneration < d.Generation {
		return 0, false
	}
	// Pods of an older template may remain and the ready count mixes both:
	// LastReady counts only what must be new even if every old pod is ready.
	return d.LastReady(revision), true
}

// LastReady is how many ready pods of revision the Deployment's status
// showed last, even when it has not caught up with its spec yet: a lower
// bound only while a scale-up is under way, so it can confirm that a weight
// the routes carry had its pods when it was written, never that pods are
// ready now. Zero for another revision. (A drifted Deployment's weight
// holds on its own rule: see Route.InEffect and Deployment.Drifted.)
func (d Deployment) LastReady(revision string) int32 {
	if !d.Exists || d.Revision != revision {
		return 0
	}
	if d.UpdatedReplicas < d.Replicas {
		return max(0, min(d.ReadyReplicas-(d.Replicas-d.UpdatedReplicas), d.UpdatedReplicas))
	}
	return min(d.ReadyReplicas, d.UpdatedReplicas)
}

// Weights are the two colors' weights of one steered rule.
type Weights struct{ Blue, Green int32 }

// WeightsFor are the weights that send w percent to canary and the rest to
// the other color.
func WeightsFor(canary v1.Color, w int32) Weights {
	w = min(max(w, 0), 100)
	if canary == v1.Green {
		return Weights{Blue: 100 - w, Green: w}
	}
	return Weights{Blue: w, Green: 100 - w}
}

// Of is the weight of color c.
func (w Weights) Of(c v1.Color) int32 {
	if c == v1.Green {
		return w.Green
	}
	return w.Blue
}

// Route is what the HTTPRoutes carry now.
type Route struct {
	// Rules are the weights of every steered rule of every route, as stored.
	Rules []Weights
	// Rejected names a parent that reports a route not Accepted, or its refs
	// not resolved, for the route's current generation; "" when none does.
	Rejected string
	// Pending names a parent that reported on an earlier generation of a
	// route and not on the current one yet: it may still carry the old
	// weights. "" when none.
	Pending string
	// Problem is set when a route cannot be steered as written (missing,
	// or a rule lacking a color's backendRef); the message names it. Rules
	// then hold the rules that can be steered.
	Problem string
}

// Has reports whether every steered rule carries exactly w percent on canary
// and the rest on the other color: what a write would make them carry.
func (r Route) Has(canary v1.Color, w int32) bool {
	if len(r.Rules) == 0 {
		return false
	}
	want := WeightsFor(canary, w)
	for _, got := range r.Rules {
		if got != want {
			return false
		}
	}
	return true
}

// InEffect reports whether the routes carry w percent on canary and no
// gateway rejects them: only then does a weight count as in effect.
func (r Route) InEffect(canary v1.Color, w int32) bool {
	return r.Problem == "" && r.Rejected == "" && r.Pending == "" && r.Has(canary, w)
}

// Least is the smallest percent of traffic any steered rule sends to color
// c: what c surely gets now (100 when no rule sends traffic at all).
func (r Route) Least(c v1.Color) int32 {
	out := int32(100)
	for _, w := range r.Rules {
		if sum := int64(w.Blue) + int64(w.Green); sum > 0 {
			out = min(out, int32(int64(w.Of(c))*100/sum))
		}
	}
	return out
}

// Share is the largest percent of traffic any steered rule sends to color
// c (a rule whose weights sum to 0 sends nothing).
func (r Route) Share(c v1.Color) int32 {
	var out int32
	for _, w := range r.Rules {
		sum := int64(w.Blue) + int64(w.Green)
		if sum <= 0 {
			continue
		}
		share := int32((int64(w.Of(c))*100 + sum - 1) / sum)
		out = max(out, share)
	}
	return out
}

// Problem is an object Ramp cannot act on as it must.
type Problem struct {
	// Reason is v1.ReasonForeignObject or v1.ReasonRefused.
	Reason string
	// Message names the object and says what is wrong.
	Message string
}

// Check is the judged result of one metric's check.
type Check struct {
	Metric  string
	Phase   v1.CheckPhase
	Value   string
	Message string
	// StableValue is the stable color's value of a compareToStable metric.
	StableValue string
}

// Observations is everything Next may look at besides spec and status.
type Observations struct {
	// Now is the time of this reconcile.
	Now time.Time
	// Revision is the pod-template hash of spec.template.
	Revision string
	// Generation is the Rollout's metadata.generation.
	Generation int64
	// SpecProblems are errors in the spec that the API server could not
	// refuse; each names its field. Nothing moves while any is present.
	SpecProblems []string
	// Blue and Green are the two Deployments.
	Blue, Green Deployment
	// Route is what the HTTPRoutes carry.
	Route Route
	// Problems are objects Ramp cannot act on as it must: a Deployment or
	// Service with one of its names that it did not create, or one the API
	// server refused. Each message names the object. They hold like
	// SpecProblems.
	Problems []Problem
	// Checks are the results of the checks run in this reconcile, nil when
	// none were due (see ChecksDue).
	Checks []Check
	// Workload is the Deployment spec.workloadRef names; zero without one.
	Workload Workload
	// Annotations are the Rollout's annotations.
	Annotations map[string]string
	// WindowClosed says why deploy windows hold progress now; "" when open.
	WindowClosed string
	// WindowNext is when the deploy windows may change next; zero if never.
	WindowNext time.Time
	// Templates are spec.analysis.templates as resolved now; used when a
	// revision starts (see TemplateResolution).
	Templates TemplateResolution
	// Jobs are the Jobs of the job checks (see jobs.go).
	Jobs Jobs
	// Environment is the Rollout's environment, written into its
	// Verification records.
	Environment string
	// Proof is what spec.promotion.requires decided for the template's
	// images; zero without requires.
	Proof Proof
	// RecordPending says why the Verification of the last run is not
	// written yet ("" when it is, or there is none to write): a new
	// revision does not start before it is, since starting replaces the
	// record status keeps.
	RecordPending string
}

// Proof is what the controller found of the upstream proof
// spec.promotion.requires asks for (see internal/proof).
type Proof struct {
	// Missing says which proof the template's images lack; "" when none.
	Missing string
	// RecheckAt is when a soak ends, so the verdict may change by itself.
	RecheckAt time.Time
	// Override is the reason ramp.dev/promotion-override gives for the
	// template's revision; it lets the revision start without the proof.
	Override string
	// Upstream are the records (namespace/name) the proof rests on.
	Upstream []string
	// Unproven says which container of the canary in flight was seen
	// running a digest the proof does not cover ("" when none): a rollback.
	Unproven string
	// Unseen is true while the canary in flight has ready pods whose
	// digests were not read yet: no weight goes to it before they are.
	Unseen bool
}

// Workload is what the controller observed of the Deployment that
// spec.workloadRef names.
type Workload struct {
	// Exists is false without a workloadRef or when it is missing.
	Exists bool
	// Name is the Deployment's name.
	Name string
	// SpecReplicas and ReadyReplicas are the Deployment's.
	SpecReplicas, ReadyReplicas int32
	// ScaleDown is true when it goes to zero once a color serves.
	ScaleDown bool
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
	// ScaleWorkload sets the replicas of the Deployment spec.workloadRef
	// names.
	ScaleWorkload ActionKind = "ScaleWorkload"
	// CreateJob creates the Job named Job for the job check Metric at Step.
	CreateJob ActionKind = "CreateJob"
	// DeleteJob deletes the Job named Job, its pods with it.
	DeleteJob ActionKind = "DeleteJob"
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
	// Job, Metric and Step name a Job and its check (CreateJob, DeleteJob).
	Job    string
	Metric string
	Step   int32
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
