package plan

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// progress takes the rollout in flight through its steps. The order of its
// rules is the order of their precedence: a rollback comes before anything
// that holds, and holding comes before moving forward.
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
	if reason, ok := m.ctl.abortReason(); ok {
		m.st.AbortReason = reason
		m.rollback("aborted by ramp.dev/abort: " + reason)
		return
	}
	if breach != "" {
		m.rollback(breach)
		return
	}
	ready, known := m.obs.Deployment(canary).ReadyFor(m.st.CanaryRevision)
	if known && ready == 0 && m.st.CanaryWeight > 0 {
		m.rollback(fmt.Sprintf("%s has no ready pods at %d%%", canary, m.st.CanaryWeight))
		return
	}
	deadline := m.spec.Deadline()
	if known && ready >= ReplicasFor(m.spec.DesiredReplicas(), m.steps[m.st.CurrentStep].Weight) {
		m.st.WaitingForPodsSince = nil // the pods are there; whatever holds now, it is not them
	}
	if w := m.st.WaitingForPodsSince; w != nil && !m.obs.Now.Before(w.Add(deadline)) {
		m.rollback(fmt.Sprintf("canary pods not ready within progressDeadline %s", deadline))
		return
	}
	if a := m.st.Analysis; a != nil && a.ErrorSince != nil && !m.obs.Now.Before(a.ErrorSince.Add(deadline)) {
		m.rollback(fmt.Sprintf("checks answered Error for longer than progressDeadline %s", deadline))
		return
	}
	m.applyGateControls()

	paused := m.holdReason()
	for range 2 { // at most one advance per reconcile: the next step's weight is set at once
		if !m.stepWeight(canary, ready, known, paused) {
			break
		}
		if !m.advance(paused) {
			break
		}
		if m.st.CanaryRevision == "" { // promoted
			return
		}
	}
	m.scale(m.st.StableColor, m.spec.DesiredReplicas())
	next := min(m.st.CurrentStep+1, last)
	m.apply(canary, ReplicasFor(m.spec.DesiredReplicas(), max(m.steps[next].Weight, m.steps[m.st.CurrentStep].Weight)))
	if m.st.Phase != v1.PhaseRolledBack {
		m.requeueChecks()
	}
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

// stepWeight sets the current step's weight once the canary has the ready
// pods it needs, and keeps the routes carrying the decided weight. It
// reports whether the step's weight is in effect.
func (m *machine) stepWeight(canary v1.Color, ready int32, known bool, paused string) bool {
	target := m.steps[m.st.CurrentStep].Weight
	need := ReplicasFor(m.spec.DesiredReplicas(), target)
	readyFor := func(w int32) bool { return w == 0 || (known && ready >= ReplicasFor(m.spec.DesiredReplicas(), w)) }

	// StepStartedAt is nil until the step's weight is set: a step whose
	// weight equals the last one's still starts (and holds) on its own.
	if m.st.StepStartedAt == nil || m.st.CanaryWeight != target {
		switch {
		case paused != "" && target > m.st.CanaryWeight:
			m.held = paused
			if readyFor(target) {
				m.st.WaitingForPodsSince = nil // held by the pause, not by pods
			} else if m.st.WaitingForPodsSince == nil {
				now := m.now()
				m.st.WaitingForPodsSince = &now
			}
		case readyFor(target):
			m.st.CanaryWeight = target
			// Status keeps microseconds: round the start up, so that a step
			// read back after a restart still lasts at least its hold.
			started := metav1.NewMicroTime(ceilMicro(m.obs.Now))
			m.st.StepStartedAt = &started
			m.st.WaitingForPodsSince = nil
			m.setWeight(canary, target, false)
			m.event(false, "StepStarted", "step %d/%d: %d%% to %s", m.st.CurrentStep, len(m.steps), target, canary)
			return true
		default:
			if m.st.WaitingForPodsSince == nil {
				now := m.now()
				m.st.WaitingForPodsSince = &now
			}
			m.until(m.st.WaitingForPodsSince.Add(m.spec.Deadline()))
			m.held = ""
			m.waiting = fmt.Sprintf("%d%% to %s, waiting for %s pods: %d/%d ready for %d%%", m.st.CanaryWeight, canary, canary, ready, need, target)
		}
		m.keepRoute(canary, ready, known)
		return false
	}
	if !m.keepRoute(canary, ready, known) {
		return false
	}
	m.st.WaitingForPodsSince = nil
	return true
}

// keepRoute repairs routes that do not carry the decided weight: at once when
// that lowers the canary's share, once its pods are ready when it raises it.
func (m *machine) keepRoute(canary v1.Color, ready int32, known bool) bool {
	w, ok := m.obs.Route.Weight(canary)
	if ok && w == m.st.CanaryWeight {
		return true
	}
	if ok && w > m.st.CanaryWeight || m.st.CanaryWeight == 0 ||
		known && ready >= ReplicasFor(m.spec.DesiredReplicas(), m.st.CanaryWeight) {
		m.setWeight(canary, m.st.CanaryWeight, false)
		return true
	}
	if !ok {
		// Routes disagree and the canary cannot take the decided weight:
		// the safe place for traffic is the stable color.
		m.setWeight(canary, 0, false)
	}
	if m.st.WaitingForPodsSince == nil {
		now := m.now()
		m.st.WaitingForPodsSince = &now
	}
	m.until(m.st.WaitingForPodsSince.Add(m.spec.Deadline()))
	return false
}

// advance moves past the current step when its hold has passed, every metric
// passed at it, its gate (if any) is open and nothing pauses the rollout. It
// reports whether the rollout moved.
func (m *machine) advance(paused string) bool {
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
		m.held = why
	case paused != "":
		m.held = paused
	case !gateOpen && checked && !m.obs.Now.Before(holdEnd):
		m.held = fmt.Sprintf("step %d waits for %s", i, gateWait)
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
	m.st.Approvals = nil
	return true
}

// holdReason says what holds a rollout in flight at its weight: the pause
// annotation or a closed deploy window; "" when nothing does.
func (m *machine) holdReason() string {
	switch {
	case m.obs.Annotations[v1.AnnotationPause] == "true":
		return "paused by " + v1.AnnotationPause
	case m.obs.WindowClosed != "":
		if !m.obs.WindowNext.IsZero() {
			m.until(m.obs.WindowNext)
		}
		return "deploy window: " + m.obs.WindowClosed
	}
	return ""
}

// requeueChecks asks to look again when the next check is due.
func (m *machine) requeueChecks() {
	if at, ok := NextCheckAt(m.spec, &m.st); ok {
		m.until(at)
	}
	if a := m.st.Analysis; a != nil && a.ErrorSince != nil {
		m.until(a.ErrorSince.Add(m.spec.Deadline()))
	}
}

// Watching reports whether the checks watch a promoted color (see
// spec.postPromotion) rather than a canary.
func Watching(st *v1.RolloutStatus) bool {
	return st.PostPromotionUntil != nil && st.CanaryRevision == ""
}

// NextCheckAt is when the metrics are next due for a check: on the grid of
// analysis intervals from the moment the current weight took effect (or the
// promotion, while watching after it). It is false when no check is planned.
func NextCheckAt(spec *v1.RolloutSpec, st *v1.RolloutStatus) (time.Time, bool) {
	if spec.Analysis == nil {
		return time.Time{}, false
	}
	interval := spec.AnalysisInterval()
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
