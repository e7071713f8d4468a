package main

import (
	"context"
	"sync"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// weightAt is the moment the harness saw a route carry a canary weight.
type weightAt struct {
	Weight int32
	At     time.Time
}

// track is what the harness saw of one rollout during the wave.
type track struct {
	phase       v1.Phase
	stableColor v1.Color
	stepStart   map[int32]time.Time // status.stepStartedAt of each step, as stored
	routes      []weightAt          // each change of the green (canary) weight
	promotedAt  time.Time           // status first seen promoted to green
	rolledAt    time.Time           // status first seen RolledBack
}

// recorder watches Rollouts and HTTPRoutes through informers and records,
// with the harness's clock, when each status and each weight appeared.
type recorder struct {
	mu       sync.Mutex
	wave     bool
	tracks   map[string]*track
	onWeight func(rollout string, weight int32) // called outside the lock
}

func newRecorder() *recorder { return &recorder{tracks: map[string]*track{}} }

func (r *recorder) get(name string) *track {
	t := r.tracks[name]
	if t == nil {
		t = &track{stepStart: map[int32]time.Time{}}
		r.tracks[name] = t
	}
	return t
}

func (r *recorder) start(ctx context.Context, ca cache.Cache) error {
	ri, err := ca.GetInformer(ctx, &v1.Rollout{})
	if err != nil {
		return err
	}
	if _, err := ri.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    r.rollout,
		UpdateFunc: func(_, o any) { r.rollout(o) },
	}); err != nil {
		return err
	}
	hi, err := ca.GetInformer(ctx, &gatewayv1.HTTPRoute{})
	if err != nil {
		return err
	}
	_, err = hi.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    r.route,
		UpdateFunc: func(_, o any) { r.route(o) },
	})
	return err
}

// startWave begins recording steps and weights.
func (r *recorder) startWave() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wave = true
}

func (r *recorder) rollout(o any) {
	now := time.Now()
	ro, ok := o.(*v1.Rollout)
	if !ok {
		return
	}
	st := &ro.Status
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.get(ro.Name)
	t.phase, t.stableColor = st.Phase, st.StableColor
	if !r.wave {
		return
	}
	if st.CanaryRevision != "" && st.StepStartedAt != nil {
		if _, seen := t.stepStart[st.CurrentStep]; !seen {
			t.stepStart[st.CurrentStep] = st.StepStartedAt.Time
		}
	}
	if st.Phase == v1.PhaseHealthy && st.StableColor == v1.Green && t.promotedAt.IsZero() {
		t.promotedAt = now
	}
	if st.Phase == v1.PhaseRolledBack && t.rolledAt.IsZero() {
		t.rolledAt = now
	}
}

func (r *recorder) route(o any) {
	now := time.Now()
	rt, ok := o.(*gatewayv1.HTTPRoute)
	if !ok || len(rt.Spec.Rules) == 0 {
		return
	}
	green := int32(-1)
	for _, b := range rt.Spec.Rules[0].BackendRefs {
		if string(b.Name) == rt.Name+"-green" {
			green = 1
			if b.Weight != nil {
				green = *b.Weight
			}
		}
	}
	if green < 0 {
		return
	}
	r.mu.Lock()
	if !r.wave {
		r.mu.Unlock()
		return
	}
	t := r.get(rt.Name)
	last := int32(0)
	if n := len(t.routes); n > 0 {
		last = t.routes[n-1].Weight
	}
	changed := green != last
	if changed {
		t.routes = append(t.routes, weightAt{Weight: green, At: now})
	}
	cb := r.onWeight
	r.mu.Unlock()
	if changed && cb != nil {
		cb(rt.Name, green)
	}
}

// counts returns how many of the rollouts named so that include holds are
// in each end state.
func (r *recorder) counts(include func(name string) bool) (healthyBlue, promoted, rolledBack int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, t := range r.tracks {
		if !include(name) {
			continue
		}
		switch {
		case t.phase == v1.PhaseHealthy && t.stableColor == v1.Blue:
			healthyBlue++
		case t.phase == v1.PhaseHealthy && t.stableColor == v1.Green:
			promoted++
		case t.phase == v1.PhaseRolledBack:
			rolledBack++
		}
	}
	return
}

// phases counts the rollouts named so that include holds by phase, for
// progress lines.
func (r *recorder) phases(include func(name string) bool) map[v1.Phase]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[v1.Phase]int{}
	for name, t := range r.tracks {
		if include(name) {
			out[t.phase]++
		}
	}
	return out
}

// anyRollout and normalRollout select the rollouts counts and phases look at.
func anyRollout(string) bool      { return true }
func normalRollout(n string) bool { return !isHang(n) }
