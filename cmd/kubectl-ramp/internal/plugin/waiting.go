package plugin

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// waitingFor says what the rollout waits for next, read from its spec and
// status in the order the step machine applies its rules.
func waitingFor(ro *v1.Rollout, now time.Time) string {
	st := &ro.Status
	switch {
	case st.Phase == "":
		return "the controller to see the Rollout (is ramp-controller running?)"
	case st.Phase == v1.PhaseFailed:
		msg := st.Message
		if c := meta.FindStatusCondition(st.Conditions, v1.ConditionValid); c != nil && c.Status == metav1.ConditionFalse {
			msg = c.Message
			if c.Reason == v1.ReasonTemplateUnresolved {
				return "the template or argument, then the revision starts by itself: " + msg
			}
		}
		return "a fix to the Rollout: " + msg
	case st.RollbackReason != "":
		return fmt.Sprintf("the routes to carry 0%% to %s: rolling back (%s)", st.StableColor.Other(), st.RollbackReason)
	case st.Phase == v1.PhaseRolledBack:
		return fmt.Sprintf("a new template, or %s to roll %s out again (kubectl ramp retry %s)", v1.AnnotationRetry, st.CanaryRevision, ro.Name)
	case !inFlight(st):
		return idleWaiting(ro, now)
	}
	return strings.Join(flightWaiting(ro, now), "; ")
}

func heldMessage(ro *v1.Rollout) string {
	msg, _ := held(ro)
	return msg
}

// held is the Paused condition's message and reason (one of the v1.Reason
// constants) while the rollout is held.
func held(ro *v1.Rollout) (msg, reason string) {
	if c := meta.FindStatusCondition(ro.Status.Conditions, v1.ConditionPaused); c != nil && c.Status == metav1.ConditionTrue {
		return c.Message, c.Reason
	}
	return "", ""
}

// idleWaiting is what a Rollout with nothing in flight waits for.
func idleWaiting(ro *v1.Rollout, now time.Time) string {
	st := &ro.Status
	switch {
	case st.Phase == v1.PhasePaused: // a new revision that deploy windows keep from starting
		if h := heldMessage(ro); h != "" {
			return h
		}
		return st.Message
	case st.Phase == v1.PhaseProgressing:
		return st.Message
	case ro.Generation != st.ObservedGeneration && st.ObservedGeneration != 0:
		return fmt.Sprintf("the controller to act on generation %d (observed %d)", ro.Generation, st.ObservedGeneration)
	case st.PostPromotionUntil != nil && st.PostPromotionUntil.After(now):
		return fmt.Sprintf("the checks after the promotion to end at %s (%s)", clock(st.PostPromotionUntil.Time), in(st.PostPromotionUntil.Time, now))
	}
	return "nothing: a change of spec.template starts a rollout"
}

// flightWaiting lists what a rollout in flight waits for, first things first.
func flightWaiting(ro *v1.Rollout, now time.Time) []string {
	st, name := &ro.Status, ro.Name
	var out []string
	if paused, _ := v1.PauseValue(ro.Annotations[v1.AnnotationPause]); paused {
		out = append(out, fmt.Sprintf("%s to be removed (kubectl ramp resume %s)", v1.AnnotationPause, name))
	}
	switch h, reason := held(ro); reason {
	case v1.ReasonDeployWindow:
		out = append(out, h)
	case v1.ReasonInvalid:
		return append(out, "a fix to the Rollout or its routes (held, checks go on): "+h)
	case v1.ReasonRouteNotInEffect:
		return append(out, "the routes to carry the step's weight: "+h)
	}
	steps := ro.Spec.EffectiveSteps()
	i := min(max(st.CurrentStep, 0), int32(len(steps)-1))
	step := steps[i]
	canary := st.StableColor.Other()
	if st.PromoteFull {
		out = append(out, fmt.Sprintf("the promotion of %s (%s asked to skip the remaining steps)", canary, v1.AnnotationPromoteFull))
	}
	if st.CanaryWeight != step.Weight || st.StepStartedAt == nil {
		if len(out) > 0 { // paused: the weight is not raised, pods or not
			return out
		}
		if st.WaitingForPodsSince == nil && st.StepStartedAt == nil {
			return append(out, fmt.Sprintf("the routes to be seen carrying %d%% to %s", step.Weight, canary))
		}
		w := fmt.Sprintf("%s pods ready for %d%%", canary, step.Weight)
		if s := st.WaitingForPodsSince; s != nil {
			deadline := s.Add(ro.Spec.Deadline())
			w += fmt.Sprintf(" (rolls back %s, at %s, if they are not)", in(deadline, now), clock(deadline))
		}
		return append(out, w)
	}
	if st.PromoteFull {
		return out
	}
	if end := st.StepStartedAt.Add(ro.Spec.StepHold(step)); now.Before(end) {
		out = append(out, fmt.Sprintf("the hold of step %d to end at %s (%s)", i, clock(end), in(end, now)))
	}
	out = append(out, pendingChecks(ro, now)...)
	switch need, have := gateNeeds(step), int32(len(st.Approvals)); {
	case step.Pause == nil:
	case need > 0 && have < need:
		out = append(out, fmt.Sprintf("%d more approval(s) of %d (kubectl ramp approve %s)", need-have, need, name))
	case need == 0 && !st.GatePassed:
		out = append(out, fmt.Sprintf("%s (kubectl ramp promote %s)", v1.AnnotationPromote, name))
	}
	if len(out) == 0 {
		if int(i) == len(steps)-1 {
			return []string{fmt.Sprintf("the controller to promote %s", canary)}
		}
		return []string{fmt.Sprintf("the controller to move to step %d (%d%%)", i+1, steps[i+1].Weight)}
	}
	return out
}

// pendingChecks names the metrics that have not passed at this step yet,
// and when they are checked next.
func pendingChecks(ro *v1.Rollout, now time.Time) []string {
	st := &ro.Status
	if ro.Spec.Analysis == nil || st.StepStartedAt == nil {
		return nil
	}
	var undecided, unchecked []string
	for _, s := range plan.Metrics(&ro.Spec, st) {
		m := s.Metric
		ms := plan.MetricStatusOf(st, m.Name)
		switch {
		case ms == nil || ms.CheckedAt == nil || ms.CheckedAt.Before(st.StepStartedAt):
			unchecked = append(unchecked, m.Name)
		case ms.Phase == v1.CheckPassed:
		default:
			u := fmt.Sprintf("%s to pass (last %s", m.Name, ms.Phase)
			if ms.Message != "" {
				u += ": " + ms.Message
			}
			undecided = append(undecided, u+")")
		}
	}
	if len(undecided) == 0 && len(unchecked) == 0 {
		return nil
	}
	out := undecided
	next := "the next check"
	if len(unchecked) > 0 {
		next = "a check of " + strings.Join(unchecked, ", ")
	}
	if at, ok := plan.NextCheckAt(&ro.Spec, st); ok {
		next += fmt.Sprintf(" (%s)", in(at, now))
	}
	return append(out, next)
}

// gateNeeds is the number of approvals a step's gate needs; zero for a
// gate that ramp.dev/promote opens, or for no gate.
func gateNeeds(step v1.Step) int32 {
	if step.Pause == nil {
		return 0
	}
	return step.Pause.Approvals
}
