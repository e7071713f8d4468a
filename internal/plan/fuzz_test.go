package plan

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

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
	func() *v1.RolloutSpec { // a preview step at full size, then a step with more pods than its weight needs
		full, three := intstr.FromString("100%"), intstr.FromInt32(3)
		return newSpec(withSteps(v1.Step{Weight: 0, Replicas: &full}, v1.Step{Weight: 10, Replicas: &three}, step(100)),
			func(s *v1.RolloutSpec) { *s.Replicas = 5 })
	},
	func() *v1.RolloutSpec { // blue-green's smoke test at 0 %, and a load test before 50 %
		return newSpec(withSteps(step(0), step(20), step(50), step(100)), func(s *v1.RolloutSpec) {
			s.Analysis.Metrics = append(s.Analysis.Metrics, v1.Metric{Name: "smoke", Job: &v1.JobCheck{Steps: []int32{0, 2}, Timeout: dur(3 * time.Minute)}})
		})
	},
}

// fuzzer is a world driven by fuzz bytes: each byte is one event followed by
// one reconcile.
type fuzzer struct {
	*world
	revs, values int
	requeue      time.Duration
	lose         bool // the actions of the next decision are lost
	// readySeen records the color/revision pairs seen with ready pods: the
	// world never takes them away but through Ramp's own scale-downs.
	readySeen map[string]bool
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
		f.worldTouched(canary)
		f.ready(canary, arg%5)
		return fmt.Sprintf("%s has %d ready", canary, arg%5)
	case 5:
		f.worldTouched(canary)
		switch arg % 4 {
		case 1:
			f.lose = true
			return "the writes of the next decision fail (or the controller restarts after its status write)"
		case 2:
			if f.obs.Route.Rejected == "" {
				f.obs.Route.Rejected = "parent gw: Accepted=False"
			} else {
				f.obs.Route.Rejected = ""
			}
			return fmt.Sprintf("gateway verdict %q", f.obs.Route.Rejected)
		case 3:
			if d := f.deployment(canary); d.Exists {
				d.Drifted = true
				return string(canary) + " template hand-edited"
			}
			return "nothing to hand-edit"
		}
		f.deployment(canary).Generation++
		return string(canary) + " status lags"
	case 6, 7, 8, 9:
		p := []v1.CheckPhase{v1.CheckPassed, v1.CheckFailed, v1.CheckInconclusive, v1.CheckError}[op-6]
		if arg >= 8 {
			f.answer = [2]v1.CheckPhase{p, p}
			return "checks answer " + string(p)
		}
		f.answer[arg%2] = p
		if arg%4 == 3 {
			f.finishJobs(p)
			return fmt.Sprintf("metric %d answers %s, and so do the running Jobs", arg%2, p)
		}
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
			f.obs.Route = Route{Rules: []Weights{{Blue: 100 - arg*10, Green: arg * 10}}, Problem: f.obs.Route.Problem}
		} else {
			f.obs.Route = Route{Rules: []Weights{{Blue: 100, Green: arg}, {Blue: 0, Green: 0}}, Problem: f.obs.Route.Problem}
		}
		return fmt.Sprintf("route drifts to %+v", f.obs.Route)
	}
}

// worldTouched forgets that color c had ready pods: the world, not Ramp,
// takes them away (or makes them unknown) now.
func (f *fuzzer) worldTouched(c v1.Color) {
	for k := range f.readySeen {
		if strings.HasPrefix(k, string(c)+"/") {
			delete(f.readySeen, k)
		}
	}
}

// fuzzSeeds are event sequences through the main paths, for FuzzNext's corpus.
func fuzzSeeds() [][]byte {
	const ( // events, as event reads them
		wait, requeue, newRev, back, settle, oneReady, lag = 0x50, 0x01, 0x12, 0x02, 0x03, 0x14, 0x05
		pass, fail, failOne, inconclusive, errs            = 0x86, 0x87, 0x07, 0x88, 0x89
		pause, unpause, promote, promoteFull, abort, retry = 0x1a, 0x0a, 0x1b, 0x1c, 0x1d, 0x1e
		drift, split, problem                              = 0x5f, 0xcf, 0xff
		lose, reject, handEdit                             = 0x15, 0x25, 0x35
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
	seed(0, up, []byte{requeue, reject, requeue, reject, handEdit, settle, requeue, lose, requeue, settle}, steps) // the closed loop
	seed(1, up, []byte{lose, requeue, settle, promote, lose, requeue, fail, lose, requeue, requeue, settle}, steps)
	const jobPass, jobFail = 0x36, 0x37                                                                                                        // the running Jobs complete / fail
	seed(5, up, []byte{settle, jobPass, requeue, settle}, steps, []byte{jobPass, settle}, steps, steps)                                        // smoke and load tests pass, promoted
	seed(5, up, []byte{settle, jobFail, requeue, settle})                                                                                      // the smoke test fails: rolled back
	seed(5, up, []byte{settle, lose, requeue, jobPass, lose, requeue, settle}, steps, []byte{wait, wait, wait, wait, requeue, requeue}, steps) // lost writes, a load test past its timeout
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
		fz := &fuzzer{world: newWorld(spec), readySeen: map[string]bool{}}
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
			// A rollback ends on a serving color with ready pods, if it had any.
			if st := d.Status; st.Phase == v1.PhaseRolledBack && prev.Phase != v1.PhaseRolledBack && fz.readySeen[string(st.StableColor)+"/"+st.StableRevision] {
				if n, _ := obs.Deployment(st.StableColor).ReadyFor(st.StableRevision); n == 0 {
					t.Fatalf("after %q: rolled back onto %s, which lost its ready pods of %s", trail, st.StableColor, st.StableRevision)
				}
			}
			fz.st = *d.Status.DeepCopy()
			fz.requeue = d.RequeueAfter
			if fz.lose {
				// The writes fail, or the controller dies after the status
				// write: the next reconcile must still do the right thing.
				fz.lose = false
				continue
			}
			fz.act(d.Actions)
			for _, c := range []v1.Color{v1.Blue, v1.Green} {
				if dep := fz.obs.Deployment(c); dep.Exists {
					if n, _ := dep.ReadyFor(dep.Revision); n > 0 {
						fz.readySeen[string(c)+"/"+dep.Revision] = true
					}
				}
			}
			if err := routeInvariants(spec, fz.obs.Route, d.Status); err != nil && !invalid(obs) && fz.obs.Route.Rejected == "" {
				t.Fatalf("after %q: %v (actions %+v)", trail, err, d.Actions)
			}
		}
	})
}

// decisionInvariants checks one decision against its inputs.
func decisionInvariants(spec *v1.RolloutSpec, prev *v1.RolloutStatus, obs Observations, d Decision) error {
	st := d.Status
	steps := spec.EffectiveSteps()
	switch {
	case st.CanaryWeight < 0 || st.CanaryWeight > 100:
		return fmt.Errorf("canaryWeight %d", st.CanaryWeight)
	case st.CurrentStep < 0 || st.CurrentStep >= int32(len(steps)):
		return fmt.Errorf("currentStep %d of %d steps", st.CurrentStep, len(steps))
	case st.Phase == "":
		return fmt.Errorf("no phase")
	case d.RequeueAfter < 0 || d.RequeueAfter > 0 && d.RequeueAfter < MinRequeue:
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
	canary := prev.StableColor.Other()
	// No step counts as in effect before the routes carried it.
	if inFlight(&st) && st.StepStartedAt != nil && (prev.StepStartedAt == nil || !prev.StepStartedAt.Equal(st.StepStartedAt) || prev.CurrentStep != st.CurrentStep) {
		if w := steps[st.CurrentStep].Weight; !obs.Route.InEffect(st.StableColor.Other(), w) {
			return fmt.Errorf("step %d (%d%%) counted in effect on a route carrying %+v", st.CurrentStep, w, obs.Route)
		}
	}
	if inFlight(&st) && st.CanaryWeight != prev.CanaryWeight && st.CanaryWeight > 0 && !obs.Route.InEffect(canary, st.CanaryWeight) {
		return fmt.Errorf("canaryWeight %d recorded on a route carrying %+v", st.CanaryWeight, obs.Route)
	}
	// A step a job check names starts only once its Job passed.
	if inFlight(&st) && st.StepStartedAt != nil && (prev.StepStartedAt == nil || prev.CurrentStep != st.CurrentStep) && spec.Analysis != nil {
		for _, m := range spec.Analysis.Metrics {
			if m.Job == nil || !slices.Contains(JobSteps(m.Job), st.CurrentStep) {
				continue
			}
			name := JobName(obs.Jobs.Rollout, m.Name, st.CanaryRevision, st.CurrentStep, m.Job)
			if st.Analysis == nil || !slices.ContainsFunc(st.Analysis.Metrics, func(ms v1.MetricStatus) bool {
				return ms.Name == m.Name && ms.Value == name && ms.Phase == v1.CheckPassed
			}) {
				return fmt.Errorf("step %d started before its Job %s passed (analysis %+v)", st.CurrentStep, name, st.Analysis.Metrics)
			}
		}
	}
	// A rollback is RolledBack only once the routes carry 0 % canary.
	if st.Phase == v1.PhaseRolledBack && prev.Phase != v1.PhaseRolledBack {
		if !obs.Route.Has(st.StableColor.Other(), 0) {
			return fmt.Errorf("RolledBack on a route carrying %+v", obs.Route)
		}
	}
	// Invalid with nothing in flight: nothing moves.
	if invalid(obs) && !inFlight(prev) && prev.RollbackReason == "" && prev.StableRevision != "" {
		if len(d.Actions) > 0 {
			return fmt.Errorf("actions %+v while the Rollout is invalid and nothing is in flight", d.Actions)
		}
	}

	rev := st.CanaryRevision
	if rev == "" {
		rev = prev.CanaryRevision // promoted in this call
	}
	ready, known := obs.Deployment(canary).ReadyFor(rev)
	rollbackAt, firstScale := -1, len(d.Actions)
	for i, a := range d.Actions {
		if a.Kind == ScaleWorkload || a.Kind == CreateJob || a.Kind == DeleteJob {
			continue
		}
		if a.Color != v1.Blue && a.Color != v1.Green {
			return fmt.Errorf("action %d: color %q", i, a.Color)
		}
		if a.Kind != SetWeights {
			firstScale = min(firstScale, i)
			if a.Kind == ScaleDeployment && a.Replicas == 0 && !obs.Route.Has(a.Color.Other(), 100) && obs.Route.Share(a.Color) > 0 {
				return fmt.Errorf("action %d scales %s to zero while the routes send it %d%%", i, a.Color, obs.Route.Share(a.Color))
			}
			continue
		}
		if a.Weight < 0 || a.Weight > 100 {
			return fmt.Errorf("action %d: weight %d", i, a.Weight)
		}
		if obs.Route.Has(a.Color, a.Weight) {
			return fmt.Errorf("action %d writes weights the routes carry already", i)
		}
		if a.Rollback {
			rollbackAt = i
		}
		w := a.Weight
		if a.Color != canary {
			w = 100 - a.Weight
		}
		if prev.StableRevision != "" && w > obs.Route.Share(canary) && w > 0 &&
			(!known || ready < ReplicasFor(spec.DesiredReplicas(), w)) {
			return fmt.Errorf("action %d raises %s to %d%% with %d ready pods (known %v)", i, canary, w, ready, known)
		}
	}
	if st.RollbackReason != "" && prev.RollbackReason == "" && rollbackAt > firstScale {
		return fmt.Errorf("rollback route write at %d comes after a deployment write at %d", rollbackAt, firstScale)
	}
	return nil
}

func invalid(obs Observations) bool {
	return len(obs.SpecProblems) > 0 || len(obs.Problems) > 0 || obs.Route.Problem != ""
}

// routeInvariants checks the route once the actions of a decision ran
// without failing: every steered rule carries 100 % over blue and green, and
// the canary no more than the status holds in effect or is moving to.
func routeInvariants(spec *v1.RolloutSpec, r Route, st v1.RolloutStatus) error {
	for _, w := range r.Rules {
		if w.Blue+w.Green != 100 || w.Blue < 0 || w.Green < 0 {
			return fmt.Errorf("route %+v does not carry 100%% over blue and green", r)
		}
	}
	if !inFlight(&st) {
		return nil
	}
	allowed := max(st.CanaryWeight, spec.EffectiveSteps()[st.CurrentStep].Weight)
	if w := r.Share(st.StableColor.Other()); w > allowed {
		return fmt.Errorf("route carries %d%% on %s, in effect %d%%", w, st.StableColor.Other(), st.CanaryWeight)
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
