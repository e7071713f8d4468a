package plan

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// MinRequeue is the shortest wait Next ever asks for: no stuck state can
// make the controller look again faster than this.
const MinRequeue = 100 * time.Millisecond

// Next decides what a Rollout does now. It is pure: the same inputs give the
// same decision, and it never reads the wall clock.
func Next(spec *v1.RolloutSpec, prev *v1.RolloutStatus, obs Observations) Decision {
	m := &machine{spec: spec, obs: obs, prev: prev, st: *prev.DeepCopy(), steps: spec.EffectiveSteps()}
	m.run()
	return m.finish()
}

// machine holds one decision in the making.
type machine struct {
	spec  *v1.RolloutSpec
	obs   Observations
	prev  *v1.RolloutStatus
	st    v1.RolloutStatus
	steps []v1.Step

	situation Situation
	ctl       controls
	route     []Action // route writes: always run first
	deploy    []Action // deployment writes: run after the route
	events    []Event
	requeue   time.Duration
	held      string   // why a rollout in flight does not move, for phase Paused
	heldBy    string   // the Paused condition's reason for held
	waiting   string   // what a rollout in flight waits for, while Progressing
	jobs      []Action // Job creations of the job checks (see jobs.go)
	invalid   string   // why the Rollout cannot be acted on
}

func (m *machine) now() metav1.Time { return metav1.NewTime(m.obs.Now) }

func (m *machine) event(warning bool, reason, format string, args ...any) {
	m.events = append(m.events, Event{Warning: warning, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// after asks to look again in d (the earliest request wins), never sooner
// than MinRequeue.
func (m *machine) after(d time.Duration) {
	d = max(d, MinRequeue)
	if m.requeue == 0 || d < m.requeue {
		m.requeue = d
	}
}

func (m *machine) until(t time.Time) { m.after(t.Sub(m.obs.Now)) }

// hold records what keeps a rollout in flight at its weight.
func (m *machine) hold(reason, why string) {
	if m.held == "" {
		m.held, m.heldBy = why, reason
	}
}

// InFlight reports whether a canary revision is being rolled out (not
// rolled back, not being rolled back).
func InFlight(st *v1.RolloutStatus) bool { return inFlight(st) }

func inFlight(st *v1.RolloutStatus) bool {
	return st.CanaryRevision != "" && st.Phase != v1.PhaseRolledBack && st.RollbackReason == ""
}

func (m *machine) run() {
	m.ctl = readControls(m.obs.Annotations, &m.st)
	if m.ctl.pauseIgnored != "" {
		m.event(true, "ControlIgnored", "%s", m.ctl.pauseIgnored)
	}
	m.invalid = m.problem()
	m.situation = Classify(m.spec, &m.st, m.obs)
	switch m.situation {
	case SituationInvalid:
		for _, c := range m.ctl.ignored("the Rollout is invalid and nothing is in flight") {
			m.event(true, "ControlIgnored", "%s", c)
		}
		m.fail(m.invalid)
	case SituationFirstVersion:
		m.firstVersion()
	case SituationAdopting:
		m.adopt()
	case SituationRollingBack:
		m.rollingBack()
	case SituationSteady, SituationWatching:
		m.steady()
	case SituationRolledBack:
		m.rolledBack()
	case SituationWaitingForWindow:
		m.waitForWindow()
	case SituationAwaitingProof:
		m.waitForProof()
	case SituationStarting:
		m.start()
		m.progress()
	case SituationInFlight:
		m.progress()
	}
}

func (m *machine) problem() string {
	if len(m.obs.SpecProblems) > 0 {
		return m.obs.SpecProblems[0]
	}
	if len(m.obs.Problems) > 0 {
		return m.obs.Problems[0].Message
	}
	if m.obs.Route.Problem != "" {
		return m.obs.Route.Problem
	}
	return startBlocked(&m.st, m.obs)
}

// fail holds everything as it is: nothing can be steered as written. A
// rolled-back Rollout stays RolledBack (the phase remembers that its canary
// revision must not come back by itself).
func (m *machine) fail(problem string) {
	if m.st.Phase != v1.PhaseRolledBack {
		m.st.Phase = v1.PhaseFailed
	}
	m.st.Message = problem
	if m.prev.Message != problem {
		reason := "InvalidSpec"
		if m.templateBlocked() {
			reason = v1.ReasonTemplateUnresolved
		}
		m.event(true, reason, "%s", problem)
	}
}

// waitForWindow keeps a new revision from starting while deploy windows
// are closed; the stable color goes on serving.
func (m *machine) waitForWindow() {
	m.waitToStart(v1.ReasonDeployWindow, "deploy window: "+m.obs.WindowClosed, m.obs.WindowNext)
}

// waitToStart holds a new revision before it starts, for reason: the
// stable color serves everything, and the Rollout looks again at next
// (when not zero).
func (m *machine) waitToStart(reason, why string, next time.Time) {
	// Forget a rolled-back revision: the template moved on, and a Paused
	// phase with a canary revision would read as a rollout in flight.
	m.st.CanaryRevision = ""
	m.clearFlight()
	m.st.Phase = v1.PhasePaused
	m.hold(reason, why)
	m.st.Message = fmt.Sprintf("new revision %s waits: %s", m.obs.Revision, m.held)
	m.setWeight(m.st.StableColor.Other(), 0, false)
	m.scale(m.st.StableColor, m.spec.DesiredReplicas())
	if !next.IsZero() {
		m.until(next)
	}
	for _, c := range m.ctl.ignored("no rollout has started") {
		m.event(true, "ControlIgnored", "%s", c)
	}
}

// firstVersion deploys the first revision to blue; it serves at once.
func (m *machine) firstVersion() {
	m.st.StableColor = v1.Blue
	m.st.StableRevision = m.obs.Revision
	m.st.CanaryRevision = ""
	m.st.CanaryWeight = 0
	m.st.CurrentStep = 0
	m.st.Phase = v1.PhaseProgressing
	m.st.Message = "deploying the first version to blue"
	if m.obs.Proof.Missing != "" && m.obs.Proof.Override != "" {
		m.event(true, v1.ReasonProofOverridden, "first version %s deployed without its proof by %s (%s): %s", m.obs.Revision, v1.AnnotationPromotionOverride, m.obs.Proof.Override, m.obs.Proof.Missing)
	}
	m.apply(v1.Blue, m.spec.DesiredReplicas())
	if w := m.obs.Workload; w.Exists {
		// Migrating: the user's Deployment serves until blue is ready.
		m.st.Message = fmt.Sprintf("bringing blue up from Deployment %s; the routes move to it once its pods are ready", w.Name)
		m.event(false, "Deploying", "first version %s deployed to blue from Deployment %s", m.obs.Revision, w.Name)
	} else {
		m.setWeight(v1.Green, 0, false)
		m.event(false, "Deploying", "first version %s deployed to blue with all traffic", m.obs.Revision)
	}
	for _, c := range m.ctl.ignored("nothing is in flight") {
		m.event(true, "ControlIgnored", "%s", c)
	}
}

// steady keeps the stable color serving everything: the template is the
// stable revision, either because nothing changed or because it changed back.
func (m *machine) steady() {
	if m.st.PostPromotionUntil != nil && m.watchAfterPromotion() {
		return
	}
	stable, other := m.st.StableColor, m.st.StableColor.Other()
	switch {
	case inFlight(&m.st):
		m.event(false, "ReturnedToStable", "template is back at stable revision %s: all traffic to %s, %s (%s) abandoned", m.st.StableRevision, stable, other, m.st.CanaryRevision)
		m.st.ScaleDownAt = nil
	case m.st.Phase == v1.PhaseRolledBack:
		m.event(false, "ReturnedToStable", "template is back at stable revision %s", m.st.StableRevision)
	}
	m.clearFlight()
	m.st.CanaryRevision = ""
	ready, _ := m.obs.Deployment(stable).ReadyFor(m.st.StableRevision)
	// Migrating: the user's Deployment serves, the routes were never
	// steered (no rule sends anything to either color) and the stable
	// color is short of pods. Once a color got traffic, drift is repaired
	// at once as always.
	migrating := m.obs.Workload.Exists && m.obs.Workload.ReadyReplicas > 0 && ready < m.spec.DesiredReplicas() &&
		m.obs.Route.Share(stable) == 0 && m.obs.Route.Share(other) == 0
	if !migrating {
		m.setWeight(other, 0, false)
	}
	m.apply(stable, m.spec.DesiredReplicas())
	m.scaleDownOther()

	switch {
	case migrating && !m.obs.Route.Has(other, 0):
		// The user's Deployment still serves as it did: the routes move
		// only to a color whose pods are all ready.
		m.st.Phase = v1.PhaseProgressing
		m.st.Message = fmt.Sprintf("waiting for %s pods before moving the routes from Deployment %s: %d/%d ready", stable, m.obs.Workload.Name, ready, m.spec.DesiredReplicas())
	case !m.obs.Route.Has(other, 0):
		m.st.Phase = v1.PhaseProgressing
		m.st.Message = fmt.Sprintf("sending all traffic to %s (%s)", stable, m.st.StableRevision)
	case m.obs.Route.Rejected != "":
		m.st.Phase = v1.PhaseProgressing
		m.st.Message = "all traffic to " + string(stable) + ", not in effect: " + m.obs.Route.Rejected
	case m.prev.Phase == v1.PhaseHealthy || ready >= m.spec.DesiredReplicas() || inFlight(m.prev):
		m.st.Phase = v1.PhaseHealthy
		m.st.Message = fmt.Sprintf("%s (%s) serves all traffic", stable, m.st.StableRevision)
		if u := m.st.PostPromotionUntil; u != nil {
			m.st.Message += fmt.Sprintf("; checks go on until %s", u.UTC().Format("15:04:05"))
		}
	default:
		m.st.Phase = v1.PhaseProgressing
		m.st.Message = fmt.Sprintf("waiting for %s pods: %d/%d ready", stable, ready, m.spec.DesiredReplicas())
	}
	m.scaleDownWorkload(ready)
	for _, c := range m.ctl.ignored("nothing is in flight") {
		m.event(true, "ControlIgnored", "%s", c)
	}
}

// scaleDownWorkload scales the Deployment spec.workloadRef names to zero
// once the stable color serves all traffic with all its pods ready, and the
// routes are seen carrying that.
func (m *machine) scaleDownWorkload(stableReady int32) {
	w := m.obs.Workload
	if !w.Exists || !w.ScaleDown || w.SpecReplicas == 0 || m.st.Phase != v1.PhaseHealthy {
		return
	}
	if stableReady < m.spec.DesiredReplicas() || !m.obs.Route.InEffect(m.st.StableColor.Other(), 0) {
		return
	}
	m.deploy = append(m.deploy, Action{Kind: ScaleWorkload, Replicas: 0})
	m.event(false, "WorkloadScaledDown", "Deployment %s scaled to zero: %s serves all traffic with %d ready pods", w.Name, m.st.StableColor, stableReady)
}

// scaleDownOther scales the color that is not stable to zero once its
// scaleDownAt has passed (at once when none is set) and the routes are seen
// sending it nothing: no pod that may still get traffic goes away.
func (m *machine) scaleDownOther() {
	other := m.st.StableColor.Other()
	d := m.obs.Deployment(other)
	if !d.Exists || d.SpecReplicas == 0 {
		if m.st.PostPromotionUntil == nil {
			// A watch after promotion may scale it up again to switch back.
			m.st.ScaleDownAt = nil
		}
		return
	}
	if at := m.st.ScaleDownAt; at != nil && m.obs.Now.Before(at.Time) {
		m.until(at.Time)
		return
	}
	if !m.obs.Route.Has(other, 0) {
		return // the route write comes first; its watch event brings us back
	}
	m.scale(other, 0)
	if m.st.ScaleDownAt != nil {
		m.event(false, "ScaledDown", "%s scaled to zero after scaleDownDelay", other)
	}
	m.st.ScaleDownAt = nil
}

// rolledBack keeps a rolled-back revision off the traffic until the template
// changes or ramp.dev/retry asks to try it again.
func (m *machine) rolledBack() {
	if p := startBlocked(&v1.RolloutStatus{StableRevision: m.st.StableRevision}, m.obs); m.ctl.retry && p != "" {
		m.ctl.retry = false
		m.event(true, v1.ReasonTemplateUnresolved, "ramp.dev/retry ignored: %s cannot start: %s", m.st.CanaryRevision, p)
	}
	if p := proofBlocked(m.obs); m.ctl.retry && p != "" {
		m.ctl.retry = false
		m.event(true, v1.ReasonProofMissing, "ramp.dev/retry ignored: %s cannot start: %s", m.st.CanaryRevision, p)
	}
	if m.ctl.retry {
		m.ctl.retry = false
		m.event(false, "Retry", "ramp.dev/retry: rolling out %s again from step 0", m.st.CanaryRevision)
		m.start()
		m.progress()
		return
	}
	m.keepRolledBack()
	for _, c := range m.ctl.ignored("the rollout was rolled back") {
		m.event(true, "ControlIgnored", "%s", c)
	}
}

// keepRolledBack holds all traffic on the stable color and, once the routes
// are seen carrying that, scales the canary to zero.
func (m *machine) keepRolledBack() {
	canary := m.st.StableColor.Other()
	m.setWeight(canary, 0, true)
	if m.obs.Route.Has(canary, 0) {
		m.scale(canary, 0)
	}
	m.scale(m.st.StableColor, m.spec.DesiredReplicas())
}

// rollingBack goes on with a decided rollback until every route carries 0 %
// canary; only then is the phase RolledBack.
func (m *machine) rollingBack() {
	canary := m.st.StableColor.Other()
	m.keepRolledBack()
	if m.obs.Route.Has(canary, 0) {
		m.st.Phase = v1.PhaseRolledBack
		m.st.CanaryWeight = 0
		m.st.Message = "rolled back: " + m.st.RollbackReason
		m.st.RollbackReason = ""
	} else {
		m.st.Phase = v1.PhaseProgressing
		m.st.Message = fmt.Sprintf("rolling back: %s; waiting for the routes to carry 0%% to %s", m.st.RollbackReason, canary)
		m.after(confirmRollback)
	}
	for _, c := range m.ctl.ignored("a rollback is under way") {
		m.event(true, "ControlIgnored", "%s", c)
	}
}

// confirmRollback is how soon a rollback whose route write has not shown
// yet is looked at again (failed writes back off in the controller).
const confirmRollback = time.Second

// clearFlight forgets the per-rollout progress.
func (m *machine) clearFlight() {
	m.keepApprovers()
	m.st.CanaryWeight = 0
	m.st.StepStartedAt = nil
	m.st.WaitingForPodsSince = nil
	m.st.HeldSince = nil
	m.st.GatePassed = false
	m.st.PromoteFull = false
	m.st.Approvals = nil
}

// start begins rolling out the template's revision at step 0, abandoning a
// canary in flight.
func (m *machine) start() {
	canary := m.st.StableColor.Other()
	switch {
	case inFlight(&m.st):
		m.event(false, "Restarted", "template changed in flight: %s abandoned, %s starts at step 0", m.st.CanaryRevision, m.obs.Revision)
		m.setWeight(canary, 0, false)
	case m.st.CanaryRevision != m.obs.Revision:
		m.event(false, "RolloutStarted", "rolling out %s to %s", m.obs.Revision, canary)
	}
	m.clearFlight()
	m.st.CanaryRevision = m.obs.Revision
	m.st.RollbackReason = ""
	m.st.CurrentStep = 0
	m.st.ScaleDownAt = nil
	m.st.PostPromotionUntil = nil
	m.st.AbortReason = ""
	m.st.Analysis = &v1.AnalysisStatus{Templates: m.snapshot()}
	m.st.Phase = v1.PhaseProgressing
	now := m.now()
	m.st.WaitingForPodsSince = &now
	m.st.CanaryStartedAt = &now
	if m.obs.Proof.Missing != "" && m.obs.Proof.Override != "" {
		m.event(true, v1.ReasonProofOverridden, "%s starts without its proof by %s (%s): %s", m.obs.Revision, v1.AnnotationPromotionOverride, m.obs.Proof.Override, m.obs.Proof.Missing)
	}
	m.obs.Checks = nil // any checks of this reconcile were of the abandoned canary
}

// rollback decides to send all traffic to the stable color; the canary is
// scaled to zero once the routes are seen carrying that.
func (m *machine) rollback(reason string) {
	canary := m.st.StableColor.Other()
	m.route = nil
	m.deploy = nil
	m.held, m.heldBy, m.waiting = "", "", ""
	m.clearFlight()
	m.st.RollbackReason = reason
	m.event(true, "RolledBack", "all traffic back to %s (%s): %s", m.st.StableColor, m.st.StableRevision, reason)
	m.setWeightForce(canary, 0, true)
	m.rollingBack()
}

// promote makes the canary color stable.
func (m *machine) promote() {
	canary := m.st.StableColor.Other()
	keep := m.spec.ScaleDown()
	m.st.PreviousRevision = m.st.StableRevision
	m.st.PostPromotionUntil = nil
	if pp := m.spec.PostPromotion; pp != nil && m.spec.Analysis != nil {
		until := metav1.NewTime(m.obs.Now.Add(pp.Hold.Duration))
		m.st.PostPromotionUntil = &until
		keep = max(keep, pp.Hold.Duration)
	}
	m.event(false, "Promoted", "%s (%s) is stable; %s keeps its pods for %s", canary, m.st.CanaryRevision, m.st.StableColor, keep)
	m.st.StableColor = canary
	m.st.StableRevision = m.st.CanaryRevision
	m.st.CanaryRevision = ""
	m.clearFlight()
	at := metav1.NewTime(m.obs.Now.Add(keep))
	m.st.ScaleDownAt = &at
	m.st.Phase = v1.PhaseHealthy
	m.st.Message = fmt.Sprintf("%s (%s) serves all traffic", canary, m.st.StableRevision)
	if m.st.PostPromotionUntil != nil {
		m.st.Message += fmt.Sprintf("; checks go on until %s", m.st.PostPromotionUntil.UTC().Format("15:04:05"))
		m.requeueChecks()
	}
	m.route = nil
	m.deploy = nil
	m.setWeight(canary.Other(), 0, false)
	m.apply(canary, m.spec.DesiredReplicas())
	m.scaleDownOther()
}

// setWeight asks the routes to carry weight on color c (and the rest on the
// other), unless every steered rule does already.
func (m *machine) setWeight(c v1.Color, weight int32, rollback bool) {
	if m.obs.Route.Has(c, weight) {
		m.route = nil
		return
	}
	m.setWeightForce(c, weight, rollback)
}

func (m *machine) setWeightForce(c v1.Color, weight int32, rollback bool) {
	m.route = append(m.route[:0], Action{Kind: SetWeights, Color: c, Weight: weight, Rollback: rollback})
}

// apply asks for color c's Deployment to run spec.template with replicas,
// unless it does already.
func (m *machine) apply(c v1.Color, replicas int32) {
	d := m.obs.Deployment(c)
	if d.Exists && d.Revision == m.obs.Revision && !d.Drifted && !d.Outdated && d.SpecReplicas == replicas {
		return
	}
	m.deploy = append(m.deploy, Action{Kind: ApplyDeployment, Color: c, Replicas: replicas})
}

func (m *machine) scale(c v1.Color, replicas int32) {
	d := m.obs.Deployment(c)
	if !d.Exists || d.SpecReplicas == replicas {
		return
	}
	m.deploy = append(m.deploy, Action{Kind: ScaleDeployment, Color: c, Replicas: replicas})
}

// ReplicasFor is the number of canary pods a weight needs: ceil(replicas *
// weight / 100), at least one.
func ReplicasFor(replicas, weight int32) int32 {
	n := (int64(replicas)*int64(weight) + 99) / 100
	return int32(max(n, 1))
}

// CanaryReplicas is the number of canary pods step s runs: what its weight
// needs, or more when its replicas asks for more.
func CanaryReplicas(spec *v1.RolloutSpec, s v1.Step) int32 {
	desired := spec.DesiredReplicas()
	n := ReplicasFor(desired, s.Weight)
	if s.Replicas != nil {
		if r, err := intstr.GetScaledValueFromIntOrPercent(s.Replicas, int(desired), true); err == nil {
			n = max(n, int32(min(r, maxReplicas)))
		}
	}
	return n
}

// maxReplicas is the most pods the CRD lets spec.replicas ask for.
const maxReplicas = 10000
