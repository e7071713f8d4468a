package plan

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// progress takes the rollout in flight through its steps. A rollback comes
// before anything that holds (see rollbackRules), and holding comes before
// moving forward.
func (m *machine) progress() {
	canary := m.st.StableColor.Other()
	last := int32(len(m.steps) - 1)
	if m.st.CurrentStep > last { // the steps were shortened in flight
		m.st.CurrentStep = last
	}
	if m.st.Phase == v1.PhaseFailed {
		m.st.Phase = v1.PhaseProgressing // the problem that failed it is gone
	}
	breach := m.recordChecks()
	if jb := m.judgeJobs(); breach == "" {
		breach = jb
	}
	ready, known := m.obs.Deployment(canary).ReadyFor(m.st.CanaryRevision)
	if known && ready >= m.podsFor(m.st.CurrentStep) {
		m.st.WaitingForPodsSince = nil // the pods are there; whatever holds now, it is not them
	}
	if m.invalid == "" {
		m.st.HeldSince = nil
	} else if m.st.HeldSince == nil {
		now := m.now()
		m.st.HeldSince = &now
		m.event(true, "InvalidSpec", "held in flight (checks go on, a breach or abort still rolls back, progressDeadline %s applies): %s", m.spec.Deadline(), m.invalid)
	}
	if reason := m.rollbackReason(breach, ready, known); reason != "" {
		m.rollback(reason)
		return
	}
	if m.invalid != "" {
		// Held, not frozen: the valid checks go on, and a breach, an abort
		// and the deadlines (this one too) still roll back.
		m.hold(v1.ReasonInvalid, m.invalid)
		m.until(m.st.HeldSince.Add(m.spec.Deadline()))
	}
	m.applyGateControls()

	pauseReason, paused := m.holdReason()
	for range 2 { // at most one advance per reconcile: the next step's weight is written at once
		if !m.stepWeight(canary, ready, known, pauseReason, paused) {
			break
		}
		if !m.advance(pauseReason, paused) {
			break
		}
		if m.st.CanaryRevision == "" { // promoted
			return
		}
	}
	m.scale(m.st.StableColor, m.spec.DesiredReplicas())
	next := min(m.st.CurrentStep+1, last)
	if d := m.obs.Deployment(canary); d.Exists && d.Revision != m.st.CanaryRevision && m.obs.Route.Share(canary) > 0 {
		// A new revision replaces the canary's pods only once the routes
		// are seen sending it nothing: no traffic reaches pods no check saw.
		m.requeueChecks()
		return
	}
	m.apply(canary, max(m.podsFor(next), m.podsFor(m.st.CurrentStep)))
	m.requeueChecks()
}

// rollbackRule is one reason to roll back a rollout in flight. Its check
// returns why, or "" when the rule does not apply.
type rollbackRule struct {
	name  string
	check func(m *machine, breach string, ready int32, known bool) string
}

// rollbackRules are the reasons to roll back, in their order of precedence.
// Nothing that holds a rollout (a pause, a window, a spec or route problem,
// a gate) comes before them.
var rollbackRules = []rollbackRule{
	{"Aborted", func(m *machine, _ string, _ int32, _ bool) string {
		reason, ok := m.ctl.abortReason()
		if !ok {
			return ""
		}
		m.st.AbortReason = reason
		return "aborted by " + v1.AnnotationAbort + ": " + reason
	}},
	{"CheckFailed", func(_ *machine, breach string, _ int32, _ bool) string { return breach }},
	{"ImageUnproven", func(m *machine, _ string, _ int32, _ bool) string {
		if m.obs.Proof.Unproven != "" {
			return "unproven image: " + m.obs.Proof.Unproven
		}
		return ""
	}},
	{"NoReadyPods", func(m *machine, _ string, ready int32, known bool) string {
		if known && ready == 0 && m.st.CanaryWeight > 0 {
			return fmt.Sprintf("%s has no ready pods at %d%%", m.st.StableColor.Other(), m.st.CanaryWeight)
		}
		return ""
	}},
	{"PodsDeadline", func(m *machine, _ string, _ int32, _ bool) string {
		if w := m.st.WaitingForPodsSince; w != nil && !m.obs.Now.Before(w.Add(m.spec.Deadline())) {
			return fmt.Sprintf("canary pods not ready within progressDeadline %s", m.spec.Deadline())
		}
		return ""
	}},
	{"ErrorDeadline", func(m *machine, _ string, _ int32, _ bool) string {
		if a := m.st.Analysis; a != nil && a.ErrorSince != nil && !m.obs.Now.Before(a.ErrorSince.Add(m.spec.Deadline())) {
			return fmt.Sprintf("checks answered Error for longer than progressDeadline %s", m.spec.Deadline())
		}
		return ""
	}},
	{"HeldDeadline", func(m *machine, _ string, _ int32, _ bool) string {
		if h := m.st.HeldSince; h != nil && !m.obs.Now.Before(h.Add(m.spec.Deadline())) {
			return fmt.Sprintf("held by a problem for longer than progressDeadline %s: %s", m.spec.Deadline(), m.invalid)
		}
		return ""
	}},
}

// rollbackReason runs the rollback rules in order and returns the first
// reason, or "".
func (m *machine) rollbackReason(breach string, ready int32, known bool) string {
	for _, r := range rollbackRules {
		if why := r.check(m, breach, ready, known); why != "" {
			return why
		}
	}
	return ""
}

// applyGateControls acts on ramp.dev/promote and ramp.dev/promote-full.
func (m *machine) applyGateControls() {
	last := int32(len(m.steps) - 1)
	if m.ctl.promoteFull {
		m.ctl.promoteFull = false
		m.st.PromoteFull = true
		m.event(false, "PromoteFull", "ramp.dev/promote-full: skipping to 100%% and promoting")
	}
	if m.st.PromoteFull && m.st.CurrentStep != last {
		m.st.CurrentStep = last
		m.st.StepStartedAt = nil
		m.st.GatePassed = false
	}
	step := m.steps[m.st.CurrentStep]
	if step.Pause != nil && step.Pause.Approvals > 0 {
		m.collectApprovals()
	}
	if m.ctl.promote {
		m.ctl.promote = false
		if step.Pause != nil && step.Pause.Approvals > 0 {
			m.event(true, "ControlIgnored", "%s ignored: step %d needs %d approvals (kubectl ramp approve)", v1.AnnotationPromote, m.st.CurrentStep, step.Pause.Approvals)
		} else if step.Pause != nil && !m.st.GatePassed {
			m.st.GatePassed = true
			m.event(false, "GatePassed", "ramp.dev/promote passed the gate of step %d", m.st.CurrentStep)
		} else {
			m.event(true, "ControlIgnored", "ramp.dev/promote ignored: step %d has no gate waiting", m.st.CurrentStep)
		}
	}
	for _, c := range m.ctl.ignored("the rollout is in flight") {
		m.event(true, "ControlIgnored", "%s", c)
	}
}

// stepWeight brings the current step's weight into effect and keeps it
// there. It writes the step's weight once the canary has the ready pods it
// needs (and nothing holds an increase), and reports true only while every
// steered route is observed carrying it with no gateway rejecting it: the
// step's clock starts then, and starts again after any interruption.
func (m *machine) stepWeight(canary v1.Color, ready int32, known bool, pauseReason, paused string) bool {
	target := m.steps[m.st.CurrentStep].Weight
	need := m.podsFor(m.st.CurrentStep)
	// readyFor reports whether the canary has the pods weight w needs:
	// the current step's pods for its own weight (a weight 0 preview step
	// too), what the weight needs for any other.
	readyFor := func(w int32) bool {
		if w == target {
			return known && ready >= need
		}
		return w == 0 || (known && ready >= ReplicasFor(m.spec.DesiredReplicas(), w))
	}
	inEffect := func(w int32) bool { return m.obs.Route.InEffect(canary, w) && !m.obs.Deployment(canary).Drifted }
	if m.st.StepStartedAt == nil && m.jobGate(canary, known && ready >= need, pauseReason, paused) {
		return false // the step's Jobs run before its weight is set
	}

	if m.st.StepStartedAt != nil {
		if inEffect(target) {
			m.st.CanaryWeight = target
			m.st.WaitingForPodsSince = nil
			return true
		}
		m.st.StepStartedAt = nil
		m.event(true, "StepInterrupted", "step %d: %d%% to %s is no longer in effect (%s); the step starts again once it is", m.st.CurrentStep, target, canary, m.notInEffect(canary, target))
	}

	want := m.st.CanaryWeight
	switch {
	case target > 0 && m.obs.Route.Has(canary, target) && m.obs.Deployment(canary).LastReady(m.st.CanaryRevision) >= need:
		// Written already: a pause holds the weight the routes carry, and a
		// pod status catching up with a scale is no reason to take it back.
		// Only if its last status showed the pods the weight needs: a hand
		// edit that sent the weight ahead of the pods is drift, taken back.
		// (A weight 0 step is "written" from the start: it waits for its
		// pods below.)
		want = target
	case paused != "" && target > m.st.CanaryWeight:
		m.hold(pauseReason, paused)
		if readyFor(target) {
			m.st.WaitingForPodsSince = nil // held by the pause, not by pods
		} else if m.st.WaitingForPodsSince == nil {
			now := m.now()
			m.st.WaitingForPodsSince = &now
		}
	case readyFor(target):
		want = target
	default:
		if m.st.WaitingForPodsSince == nil {
			now := m.now()
			m.st.WaitingForPodsSince = &now
		}
		m.until(m.st.WaitingForPodsSince.Add(m.spec.Deadline()))
		m.waiting = fmt.Sprintf("%d%% to %s, waiting for %s pods: %d/%d ready for %d%%", m.st.CanaryWeight, canary, canary, ready, need, target)
	}
	if want == target && inEffect(target) && (target > 0 || readyFor(target)) {
		m.st.CanaryWeight = target
		// Status keeps microseconds: round the start up, so that a step
		// read back after a restart still lasts at least its hold.
		started := metav1.NewMicroTime(ceilMicro(m.obs.Now))
		m.st.StepStartedAt = &started
		m.st.WaitingForPodsSince = nil
		m.event(false, "StepStarted", "step %d/%d: %d%% to %s in effect", m.st.CurrentStep, len(m.steps), target, canary)
		return true
	}
	if share := m.obs.Route.Least(canary); want > share && !readyFor(want) {
		// Raising the canary's share needs its pods: keep what it gets now,
		// with both weights of every rule set right.
		want = share
	}
	m.setWeight(canary, want, false)
	if want == target {
		switch {
		case !m.obs.Route.Has(canary, target):
		case m.obs.Route.Rejected != "" || m.obs.Route.Problem != "" || m.obs.Deployment(canary).Drifted:
			m.hold(v1.ReasonRouteNotInEffect, m.notInEffect(canary, target))
		case m.waiting != "": // a weight 0 step waits for its pods
		default: // a gateway has not caught up yet
			m.waiting = fmt.Sprintf("%d%% to %s in effect, %d%% written: %s", m.st.CanaryWeight, canary, target, m.notInEffect(canary, target))
		}
		if !m.obs.Route.Has(canary, target) && m.waiting == "" {
			m.waiting = fmt.Sprintf("%d%% to %s in effect, setting %d%%", m.st.CanaryWeight, canary, target)
		}
	}
	return false
}

// podsFor is the number of canary pods step i runs.
func (m *machine) podsFor(i int32) int32 { return CanaryReplicas(m.spec, m.steps[i]) }

// notInEffect says why the routes do not count as carrying w on canary.
func (m *machine) notInEffect(canary v1.Color, w int32) string {
	r := m.obs.Route
	switch {
	case m.obs.Deployment(canary).Drifted:
		return fmt.Sprintf("the %s Deployment's template was edited; repairing it", canary)
	case r.Problem != "":
		return r.Problem
	case r.Rejected != "":
		return r.Rejected
	case r.Pending != "":
		return r.Pending
	case len(r.Rules) == 0:
		return "no steered rule observed"
	}
	for _, got := range r.Rules {
		if want := WeightsFor(canary, w); got != want {
			return fmt.Sprintf("a rule carries blue %d / green %d, want blue %d / green %d", got.Blue, got.Green, want.Blue, want.Green)
		}
	}
	return "not observed yet"
}

// advance moves past the current step when its hold has passed, every metric
// passed at it, its gate (if any) is open and nothing pauses the rollout. It
// reports whether the rollout moved. The next step's weight is in effect only
// once the routes are seen carrying it.
func (m *machine) advance(pauseReason, paused string) bool {
	i := m.st.CurrentStep
	step := m.steps[i]
	last := int32(len(m.steps) - 1)
	if m.st.PromoteFull && i == last {
		m.promote()
		return true
	}
	holdEnd := m.st.StepStartedAt.Add(m.spec.StepHold(step))
	checked, why := m.checksPassedSince(m.st.StepStartedAt.Time)
	gateOpen, gateWait := m.gate(step)
	switch {
	case why != "":
		m.hold(v1.ReasonChecksUndecided, why)
	case paused != "":
		m.hold(pauseReason, paused)
	case !gateOpen && checked && !m.obs.Now.Before(holdEnd):
		m.hold(v1.ReasonGate, fmt.Sprintf("step %d waits for %s", i, gateWait))
	}
	if m.obs.Now.Before(holdEnd) {
		m.until(holdEnd)
		return false
	}
	if !checked || !gateOpen || paused != "" {
		return false
	}
	if i == last {
		m.promote()
		return true
	}
	m.st.CurrentStep = i + 1
	m.st.StepStartedAt = nil
	m.st.GatePassed = false
	m.keepApprovers()
	m.st.Approvals = nil
	return true
}

// holdReason says what holds a rollout in flight at its weight: the pause
// annotation, a closed deploy window or a problem that appeared in flight;
// "" when nothing does.
func (m *machine) holdReason() (reason, why string) {
	switch {
	case m.invalid != "":
		return v1.ReasonInvalid, m.invalid
	case m.obs.Proof.Unseen:
		return v1.ReasonProofMissing, "reading the image digests the canary's ready pods run before any traffic goes to them"
	case m.ctl.paused:
		return v1.ReasonPausedByAnnotation, "paused by " + v1.AnnotationPause
	case m.obs.WindowClosed != "":
		if !m.obs.WindowNext.IsZero() {
			m.until(m.obs.WindowNext)
		}
		return v1.ReasonDeployWindow, "deploy window: " + m.obs.WindowClosed
	}
	return "", ""
}

// requeueChecks asks to look again when the next check is due.
func (m *machine) requeueChecks() {
	if at, ok := NextCheckAt(m.spec, &m.st); ok {
		m.until(at)
	}
	if a := m.st.Analysis; a != nil && a.ErrorSince != nil && inFlight(&m.st) {
		// Only a rollout in flight rolls back on lasting Errors; a deadline
		// already past would only ask again and again (MinRequeue).
		if at := a.ErrorSince.Add(m.spec.Deadline()); at.After(m.obs.Now) {
			m.until(at)
		}
	}
}

// Watching reports whether the checks watch a promoted color (see
// spec.postPromotion) rather than a canary.
func Watching(st *v1.RolloutStatus) bool {
	return st.PostPromotionUntil != nil && st.CanaryRevision == ""
}

// NextCheckAt is when the metrics are next due for a check: on the grid of
// the shortest interval (analysis.interval or a metric's own, see
// checkGrid) from the moment the current weight took effect (or the
// promotion, while watching after it). It is false when no check is
// planned. Which metrics are due then is DueMetrics'.
func NextCheckAt(spec *v1.RolloutSpec, st *v1.RolloutStatus) (time.Time, bool) {
	if spec.Analysis == nil {
		return time.Time{}, false
	}
	interval := checkGrid(spec, st)
	if Watching(st) {
		if spec.PostPromotion == nil {
			return time.Time{}, false // the watch was removed from the spec
		}
		until := st.PostPromotionUntil.Time
		start := until.Add(-spec.PostPromotion.Hold.Duration)
		next := start.Add(interval)
		if st.Analysis != nil && st.Analysis.LastCheckAt != nil && !st.Analysis.LastCheckAt.Time.Before(start) {
			next = start.Add((st.Analysis.LastCheckAt.Sub(start)/interval + 1) * interval)
		}
		return minTime(next, until), true
	}
	if !inFlight(st) {
		return time.Time{}, false
	}
	if st.StepStartedAt == nil {
		// Between two steps (the next waits for pods or a pause) the canary
		// carries the last weight: keep checking it on the same cadence.
		if st.CanaryWeight == 0 || st.Analysis == nil || st.Analysis.LastCheckAt == nil {
			return time.Time{}, false
		}
		return st.Analysis.LastCheckAt.Add(interval), true
	}
	start := st.StepStartedAt.Time
	if st.Analysis == nil || st.Analysis.LastCheckAt == nil || st.Analysis.LastCheckAt.Before(st.StepStartedAt) {
		return start.Add(interval), true
	}
	k := st.Analysis.LastCheckAt.Sub(start)/interval + 1
	return start.Add(k * interval), true
}

// ChecksDue reports whether the controller must run the checks now, before
// calling Next.
func ChecksDue(spec *v1.RolloutSpec, st *v1.RolloutStatus, now time.Time) bool {
	at, ok := NextCheckAt(spec, st)
	return ok && !now.Before(at)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ceilMicro rounds t up to a whole microsecond, the precision of a stored
// metav1.MicroTime.
func ceilMicro(t time.Time) time.Time {
	if r := t.Truncate(time.Microsecond); !r.Equal(t) {
		return r.Add(time.Microsecond)
	}
	return t
}
