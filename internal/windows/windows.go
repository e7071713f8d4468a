// Package windows evaluates deploy windows as Argo CD's sync windows do:
// each window opens on a cron schedule in its time zone and stays open for
// its duration; an open deny window holds rollouts, and where any allow
// window exists, rollouts progress only inside one. Schedules are parsed by
// robfig/cron.
package windows

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// State is whether rollouts may progress now.
type State struct {
	// Open is true when progress is allowed.
	Open bool
	// Reason says why not, and when that may change.
	Reason string
	// Next is when the state may change next; zero when never.
	Next time.Time
}

type window struct {
	spec  v1.DeployWindow
	sched cron.Schedule
	loc   *time.Location
}

// Validate returns one message per window that cannot be read, each naming
// its field.
func Validate(ws []v1.DeployWindow) []string {
	var out []string
	for i, w := range ws {
		if _, err := parse(w); err != nil {
			out = append(out, fmt.Sprintf("spec.deployWindows[%d]: %v", i, err))
		}
	}
	return out
}

func parse(w v1.DeployWindow) (window, error) {
	loc := time.UTC
	if w.TimeZone != "" {
		l, err := time.LoadLocation(w.TimeZone)
		if err != nil {
			return window{}, fmt.Errorf("timeZone %q: %w", w.TimeZone, err)
		}
		loc = l
	}
	s, err := cron.ParseStandard(w.Schedule)
	if err != nil {
		return window{}, fmt.Errorf("schedule %q: %w", w.Schedule, err)
	}
	if w.Duration.Duration <= 0 {
		return window{}, fmt.Errorf("duration must be positive")
	}
	return window{spec: w, sched: s, loc: loc}, nil
}

// active returns when the window's current opening ends, if it is open at now.
func (w window) active(now time.Time) (time.Time, bool) {
	d := w.spec.Duration.Duration
	start := w.sched.Next(now.In(w.loc).Add(-d - time.Second))
	if start.IsZero() || start.After(now) {
		return time.Time{}, false
	}
	end := start.Add(d)
	return end, now.Before(end)
}

func (w window) describe() string {
	tz := w.spec.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	return fmt.Sprintf("%s window %q for %s (%s)", w.spec.Kind, w.spec.Schedule, w.spec.Duration.Duration, tz)
}

// Evaluate says whether rollouts may progress at now. Windows that do not
// parse are ignored here (Validate reports them).
func Evaluate(ws []v1.DeployWindow, now time.Time) State {
	var allows, denies []window
	for _, s := range ws {
		w, err := parse(s)
		if err != nil {
			continue
		}
		if s.Kind == v1.WindowDeny {
			denies = append(denies, w)
		} else {
			allows = append(allows, w)
		}
	}
	for _, w := range denies {
		if end, ok := w.active(now); ok {
			return State{Reason: fmt.Sprintf("inside %s until %s", w.describe(), end.In(w.loc).Format(time.RFC3339)), Next: end}
		}
	}
	if len(allows) == 0 {
		return State{Open: true, Next: nextOpening(denies, now)}
	}
	var firstEnd time.Time
	for _, w := range allows {
		if end, ok := w.active(now); ok {
			if firstEnd.IsZero() || end.Before(firstEnd) {
				firstEnd = end
			}
		}
	}
	if !firstEnd.IsZero() {
		next := firstEnd
		if d := nextOpening(denies, now); !d.IsZero() && d.Before(next) {
			next = d
		}
		return State{Open: true, Next: next}
	}
	opens := nextOpening(allows, now)
	return State{Reason: fmt.Sprintf("outside every allow window; the next opens at %s", opens.UTC().Format(time.RFC3339)), Next: opens}
}

// nextOpening is the earliest time after now one of ws opens.
func nextOpening(ws []window, now time.Time) time.Time {
	var next time.Time
	for _, w := range ws {
		t := w.sched.Next(now.In(w.loc))
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}
