package plan

import (
	"fmt"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// emptyValue stands for an empty annotation value in status.controls.
const emptyValue = "(empty)"

// orEmptyValue is v as status.controls records it.
func orEmptyValue(v string) string {
	if v == "" {
		return emptyValue
	}
	return v
}

// controls are the one-shot annotations set to a value not acted on yet.
type controls struct {
	promote, promoteFull, abort, retry bool
	abortValue                         string
	// paused is ramp.dev/pause read as a boolean; pauseIgnored says why a
	// new value that is not one was ignored ("" when none).
	paused       bool
	pauseIgnored string
}

// readControls finds one-shot annotations with new values and records the
// values in status, so that each value acts exactly once, across restarts
// too: the status is written before any action runs.
func readControls(ann map[string]string, st *v1.RolloutStatus) controls {
	if st.Controls == nil {
		st.Controls = &v1.ControlsStatus{}
	}
	var c controls
	take := func(key string, seen *string) bool {
		v, ok := ann[key]
		if ok && v == "" {
			v = emptyValue // an empty value acts once, like any other
		}
		if !ok || v == *seen {
			return false
		}
		*seen = v
		return true
	}
	c.promote = take(v1.AnnotationPromote, &st.Controls.Promote)
	c.promoteFull = take(v1.AnnotationPromoteFull, &st.Controls.PromoteFull)
	c.abort = take(v1.AnnotationAbort, &st.Controls.Abort)
	c.abortValue = st.Controls.Abort
	c.retry = take(v1.AnnotationRetry, &st.Controls.Retry)
	p := ann[v1.AnnotationPause]
	paused, understood := v1.PauseValue(p)
	c.paused = paused
	if !understood && p != st.Controls.Pause {
		c.pauseIgnored = fmt.Sprintf("%s=%q ignored: not a boolean (true/false, yes/no, on/off, 1/0); the rollout is not paused", v1.AnnotationPause, p)
	}
	st.Controls.Pause = p
	return c
}

// abortReason consumes a pending abort.
func (c *controls) abortReason() (string, bool) {
	if !c.abort {
		return "", false
	}
	c.abort = false
	reason := c.abortValue
	if reason == "" || reason == emptyValue {
		reason = "no reason given"
	}
	return reason, true
}

// ignored consumes every pending control, saying why each had no effect.
func (c *controls) ignored(why string) []string {
	var out []string
	for _, p := range []struct {
		on   *bool
		name string
	}{
		{&c.promote, v1.AnnotationPromote},
		{&c.promoteFull, v1.AnnotationPromoteFull},
		{&c.abort, v1.AnnotationAbort},
		{&c.retry, v1.AnnotationRetry},
	} {
		if *p.on {
			*p.on = false
			out = append(out, p.name+" ignored: "+why)
		}
	}
	return out
}
