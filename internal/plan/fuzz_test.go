package plan

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// fuzzSpecs are the Rollouts FuzzNext drives; the first byte picks one.
var fuzzSpecs = []func() *v1.RolloutSpec{
	func() *v1.RolloutSpec { return newSpec() },
	func() *v1.RolloutSpec {
		return newSpec(withSteps(step(10), gate(50), held(80, 90*time.Second), step(100)), withFailureLimit(1),
			func(s *v1.RolloutSpec) { *s.Replicas = 3 })
	},
	func() *v1.RolloutSpec {
		return newSpec(withoutAnalysis, withSteps(step(5), step(50), step(100)), func(s *v1.RolloutSpec) { *s.Replicas = 1 })
	},
	func() *v1.RolloutSpec {
		return newSpec(withSteps(step(1), held(25, 30*time.Second), step(100)),
			func(s *v1.RolloutSpec) { *s.Replicas, s.ScaleDownDelay = 10, dur(0) })
	},
}

// fuzzer is a world driven by fuzz bytes: each byte is one event followed by
// one reconcile.
type fuzzer struct {
	*world
	revs, values int
	requeue      time.Duration
}

// event applies the event of byte b and describes it. The low four bits
// pick the event, the high four its argument: 0 wait, 1 wait for the
// requeue asked for, 2 a new template (or back to stable), 3 every pod
// ready, 4 canary pods partly ready, 5 canary status lags, 6-9 checks answer
// Passed, Failed, Inconclusive, Error, 10 pause on/off, 11-14 promote,
// promote-full, abort, retry, 15 route drift (or a route problem).
func (f *fuzzer) event(b byte) string {
	op, arg := b%16, int32(b/16)
	canary := f.st.StableColor.Other()
	one := func(key string) string {
		if arg == 0 { // set again to the value it has (or to "")
			f.obs.Annotations[key] = f.obs.Annotations[key]
		} else {
			f.values++
			f.obs.Annotations[key] = fmt.Sprint("v", f.values)
		}
		return key + "=" + f.obs.Annotations[key]
	}
	switch op {
	case 0:
		d := time.Duration(arg)*10*time.Second + time.Second
		f.obs.Now = f.obs.Now.Add(d)
		return "wait " + d.String()
	case 1:
		d := f.requeue
		if d == 0 {
			d = time.Duration(arg+1) * time.Minute
		}
		f.obs.Now = f.obs.Now.Add(d)
		return "wait for requeue " + d.String()
	case 2:
		if arg%4 == 0 && f.st.StableRevision != "" {
			f.obs.Revision = f.st.StableRevision
		} else {
			f.revs++
			f.obs.Revision = fmt.Sprint("rev-", f.revs)
		}
		return "template " + f.obs.Revision
	case 3:
		f.settle()
		return "all pods ready"
	case 4:
		f.ready(canary, arg%5)
		return fmt.Sprintf("%s has %d ready", canary, arg%5)
	case 5:
		f.deployment(canary).Generation++
		return string(canary) + " status lags"
	case 6, 7, 8, 9:
		p := []v1.CheckPhase{v1.CheckPassed, v1.CheckFailed, v1.CheckInconclusive, v1.CheckError}[op-6]
		if arg >= 8 {
			f.answer = [2]v1.CheckPhase{p, p}
			return "checks answer " + string(p)
		}
		f.answer[arg%2] = p
		return fmt.Sprintf("metric %d answers %s", arg%2, p)
	case 10:
		if arg%2 == 1 {
			f.obs.Annotations[v1.AnnotationPause] = "true"
			return "pause"
		}
		delete(f.obs.Annotations, v1.AnnotationPause)
		return "unpause"
	case 11:
		return one(v1.AnnotationPromote)
	case 12:
		return one(v1.AnnotationPromoteFull)
	case 13:
		return one(v1.AnnotationAbort)
	case 14:
		return one(v1.AnnotationRetry)
	default:
		if arg == 15 {
			if f.obs.Route.Problem == "" {
				f.obs.Route.Problem = "httpRoutes: shop has no backendRef shop-green"
			} else {
				f.obs.Route.Problem = ""
			}
			return fmt.Sprintf("route problem %q", f.obs.Route.Problem)
		}
		if arg <= 10 {
			f.obs.Route = Route{Uniform: true, Blue: 100 - arg*10, Green: arg * 10, Problem: f.obs.Route.Problem}
		} else {
			f.obs.Route = Route{Blue: 100, Green: arg, Problem: f.obs.Route.Problem}
		}
		return fmt.Sprintf("route drifts to %+v", f.obs.Route)
	}
}

// fuzzSeeds are event sequences through the main paths, for FuzzNext's corpus.
func fuzzSeeds() [][]byte {
	const ( // events, as event reads them
		wait, requeue, newRev, back, settle, oneReady, lag = 0x50, 0x01, 0x12, 0x02, 0x03, 0x14, 0x05
		pass, fail, failOne, inconclusive, errs            = 0x86, 0x87, 0x07, 0x88, 0x89
		pause, unpause, promote, promoteFull, abort, retry = 0x1a, 0x0a, 0x1b, 0x1c, 0x1d, 0x1e
		drift, split, problem                              = 0x5f, 0xcf, 0xff
	)
	up := []byte{settle, settle, newRev, settle}                       // first version, healthy, a new revision ready
	steps := []byte{requeue, settle, requeue, settle, requeue, settle} // three steps
	var seeds [][]byte
	seed := func(spec byte, parts ...[]byte) {
		seeds = append(seeds, append([]byte{spec}, slices.Concat(parts...)...))
	}
	seed(0, up, steps, steps, steps)                                              // a healthy rollout, promoted
	seed(0, up, steps, []byte{failOne, requeue, settle, retry, settle}, steps)    // a failed check, retried
	seed(1, up, steps, []byte{promote, requeue, settle, failOne, requeue}, steps) // gate, a tolerated failure
	seed(1, up, []byte{requeue, abort, retry, settle, abort, requeue, retry}, steps)
	seed(0, up, []byte{requeue, pause, requeue, requeue, fail, unpause}, up, []byte{promoteFull, settle, requeue})
	seed(2, up, []byte{drift, split, lag, oneReady, requeue, back, newRev, wait, settle}, steps)
	seed(0, up, []byte{requeue, problem, requeue, problem, settle}, steps)
	seed(3, up, []byte{inconclusive, requeue, pass, requeue, errs, requeue, wait}, steps, []byte{requeue, requeue})
	return seeds
}

// FuzzNext drives the step machine through random events, feeding each
// decision back as the next status and its actions into the cluster, and
// checks the invariants of DESIGN.md after every call.
func FuzzNext(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 400 {
			return
		}
		spec := fuzzSpecs[int(data[0])%len(fuzzSpecs)]()
		fz := &fuzzer{world: newWorld(spec)}
		var trail []string
		for _, b := range data[1:] {
			trail = append(trail, fz.event(b))
			prev := fz.st.DeepCopy()
			obs := fz.observation()
			d := Next(spec, prev, obs)
			if again := Next(spec, prev, obs); !reflect.DeepEqual(d, again) {
				t.Fatalf("Next is not deterministic after %q", trail)
			}
			if !reflect.DeepEqual(prev, fz.st.DeepCopy()) {
				t.Fatalf("Next changed its prev status after %q", trail)
			}
			if err := decisionInvariants(spec, prev, obs, d); err != nil {
				t.Fatalf("after %q:\n%v\nprev %+v\nstatus %+v\nactions %+v", trail, err, *prev, d.Status, d.Actions)
			}
			fz.act(d.Actions)
			fz.st = *d.Status.DeepCopy()
			fz.requeue = d.RequeueAfter
			if err := routeInvariants(fz.obs.Route, d.Status); err != nil && !invalid(obs) {
				t.Fatalf("after %q: %v (actions %+v)", trail, err, d.Actions)
			}
		}
	})
}

// decisionInvariants checks one decision against its inputs.
func decisionInvariants(spec *v1.RolloutSpec, prev *v1.RolloutStatus, obs Observations, d Decision) error {
	st := d.Status
	steps := int32(len(spec.EffectiveSteps()))
	switch {
	case st.CanaryWeight < 0 || st.CanaryWeight > 100:
		return fmt.Errorf("canaryWeight %d", st.CanaryWeight)
	case st.CurrentStep < 0 || st.CurrentStep >= steps:
		return fmt.Errorf("currentStep %d of %d steps", st.CurrentStep, steps)
	case st.Phase == "":
		return fmt.Errorf("no phase")
	case d.RequeueAfter < 0:
		return fmt.Errorf("requeueAfter %s", d.RequeueAfter)
	case (st.CanaryRevision == "" || !inFlight(&st)) && st.CanaryWeight != 0:
		return fmt.Errorf("canaryWeight %d with nothing in flight", st.CanaryWeight)
	}
	retried := false
	if v, ok := obs.Annotations[v1.AnnotationRetry]; ok && (prev.Controls == nil || orEmpty(v) != prev.Controls.Retry) {
		retried = true
	}
	if st.CurrentStep < prev.CurrentStep && st.CanaryRevision == prev.CanaryRevision && !retried && prev.StableRevision != "" {
		return fmt.Errorf("currentStep went back from %d to %d without a new revision or retry", prev.CurrentStep, st.CurrentStep)
	}
	if prev.Phase == v1.PhaseRolledBack && st.CanaryRevision == prev.CanaryRevision && !retried &&
		st.Phase != v1.PhaseRolledBack {
		return fmt.Errorf("rolled-back %s is %s without a retry", prev.CanaryRevision, st.Phase)
	}
	// Invalid: nothing acts, and the phase says Failed, except that a
	// rolled-back Rollout stays RolledBack (its revision must not return).
	// An abort with only spec problems still rolls back.
	wantPhase := v1.PhaseFailed
	if prev.Phase == v1.PhaseRolledBack {
		wantPhase = v1.PhaseRolledBack
	}
	abortedThrough := st.Phase == v1.PhaseRolledBack && obs.Route.Problem == "" && prev.Phase != v1.PhaseRolledBack
	if invalid(obs) && !abortedThrough && (len(d.Actions) > 0 || st.Phase != wantPhase) {
		return fmt.Errorf("phase %s, actions %+v while the Rollout is invalid", st.Phase, d.Actions)
	}

	canary := prev.StableColor.Other()
	rev := st.CanaryRevision
	if rev == "" {
		rev = prev.CanaryRevision // promoted in this call
	}
	ready, known := obs.Deployment(canary).ReadyFor(rev)
	firstScale, rollbackAt := len(d.Actions), -1
	for i, a := range d.Actions {
		if a.Color != v1.Blue && a.Color != v1.Green {
			return fmt.Errorf("action %d: color %q", i, a.Color)
		}
		if a.Kind != SetWeights {
			firstScale = min(firstScale, i)
			continue
		}
		if a.Weight < 0 || a.Weight > 100 {
			return fmt.Errorf("action %d: weight %d", i, a.Weight)
		}
		if a.Rollback {
			rollbackAt = i
		}
		w := a.Weight
		if a.Color != canary {
			w = 100 - a.Weight
		}
		old, ok := obs.Route.Weight(canary)
		if prev.StableRevision != "" && (!ok || w > old) && w > 0 &&
			(!known || ready < ReplicasFor(spec.DesiredReplicas(), w)) {
			return fmt.Errorf("action %d raises %s to %d%% with %d ready pods (known %v)", i, canary, w, ready, known)
		}
	}
	if st.Phase == v1.PhaseRolledBack && prev.Phase != v1.PhaseRolledBack {
		if rollbackAt < 0 || d.Actions[rollbackAt].Color != canary || d.Actions[rollbackAt].Weight != 0 {
			return fmt.Errorf("rolled back without SetWeights(%s, 0, rollback)", canary)
		}
		if rollbackAt > firstScale {
			return fmt.Errorf("rollback route write at %d comes after a deployment write at %d", rollbackAt, firstScale)
		}
	} else if rollbackAt >= 0 {
		return fmt.Errorf("a rollback route write without a rollback")
	}
	return nil
}

func invalid(obs Observations) bool { return len(obs.SpecProblems) > 0 || obs.Route.Problem != "" }

// routeInvariants checks the route once the actions of a decision made on
// valid input ran: blue and green sum to 100 and the canary carries no more
// than decided.
func routeInvariants(r Route, st v1.RolloutStatus) error {
	if !r.Uniform || r.Blue+r.Green != 100 || r.Blue < 0 || r.Green < 0 {
		return fmt.Errorf("route %+v does not carry 100%% over blue and green", r)
	}
	if w, _ := r.Weight(st.StableColor.Other()); w > st.CanaryWeight {
		return fmt.Errorf("route carries %d%% on %s, decided %d%%", w, st.StableColor.Other(), st.CanaryWeight)
	}
	return nil
}

// orEmpty is a one-shot annotation value as status.controls records it.
func orEmpty(v string) string {
	if v == "" {
		return emptyValue
	}
	return v
}
