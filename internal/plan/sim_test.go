package plan

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// world is a small cluster that runs Next like the controller does: checks
// when they are due, the decided status kept as the next prev, and the
// decision's actions applied to the Deployments and the route.
type world struct {
	spec   *v1.RolloutSpec
	st     v1.RolloutStatus
	obs    Observations     // Checks unused: filled per reconcile
	answer [2]v1.CheckPhase // what each metric's next check answers
	// routeStuck makes every route write fail to take: the routes keep
	// what they carry (another controller reverts them, say).
	routeStuck bool
}

func newWorld(spec *v1.RolloutSpec) *world {
	return &world{spec: spec, answer: [2]v1.CheckPhase{v1.CheckPassed, v1.CheckPassed},
		obs: Observations{Now: t0, Revision: revA, Route: routeTo(0), Annotations: map[string]string{}}}
}

// observation is what the controller would pass to Next now.
func (w *world) observation() Observations {
	o := w.obs
	o.Annotations = map[string]string{}
	for k, v := range w.obs.Annotations {
		o.Annotations[k] = v
	}
	if w.spec.Analysis != nil && ChecksDue(w.spec, &w.st, o.Now) {
		for i, m := range w.spec.Analysis.Metrics {
			if m.Job != nil {
				continue // judged from the Jobs (see act and finishJobs)
			}
			p := w.answer[i%2]
			o.Checks = append(o.Checks, Check{Metric: m.Name, Phase: p, Value: "0", Message: m.Name + " " + string(p)})
		}
	}
	return o
}

// reconcile decides, keeps the status and applies the actions.
func (w *world) reconcile() Decision {
	d, _ := w.reconcileCount()
	return d
}

// reconcileCount is reconcile that also says how many actions changed something.
func (w *world) reconcileCount() (Decision, int) {
	d := Next(w.spec, &w.st, w.observation())
	n := w.act(d.Actions)
	w.st = *d.Status.DeepCopy()
	return d, n
}

func (w *world) deployment(c v1.Color) *Deployment {
	if c == v1.Green {
		return &w.obs.Green
	}
	return &w.obs.Blue
}

// act applies actions as the controller does, skipping what already
// matches, and returns how many changed something.
func (w *world) act(actions []Action) int {
	n := 0
	for _, a := range actions {
		d := w.deployment(a.Color)
		switch a.Kind {
		case SetWeights:
			if w.routeStuck || w.obs.Route.Has(a.Color, a.Weight) {
				continue
			}
			w.obs.Route = Route{Rules: []Weights{WeightsFor(a.Color, a.Weight)}, Rejected: w.obs.Route.Rejected}
		case ApplyDeployment:
			if d.Exists && d.Revision == w.obs.Revision && d.SpecReplicas == a.Replicas && !d.Drifted {
				continue
			}
			if !d.Exists || d.Revision != w.obs.Revision || d.Drifted {
				d.ReadyReplicas = 0 // pods of the new template start unready
			}
			d.Exists, d.Revision, d.Drifted = true, w.obs.Revision, false
			resize(d, a.Replicas)
		case ScaleDeployment:
			if !d.Exists || d.SpecReplicas == a.Replicas {
				continue
			}
			resize(d, a.Replicas)
		case CreateJob:
			if slices.ContainsFunc(w.obs.Jobs.Items, func(j Job) bool { return j.Name == a.Job }) {
				continue
			}
			w.obs.Jobs.Items = append(w.obs.Jobs.Items, Job{Name: a.Job, Metric: a.Metric, Step: a.Step, Created: w.obs.Now, Phase: JobRunning})
		case DeleteJob:
			w.obs.Jobs.Items = slices.DeleteFunc(w.obs.Jobs.Items, func(j Job) bool { return j.Name == a.Job })
		}
		n++
	}
	return n
}

func resize(d *Deployment, n int32) {
	d.SpecReplicas = n
	d.Generation++
	d.ReadyReplicas = min(d.ReadyReplicas, n)
}

// ready lets color c's status catch up with n of its pods ready.
func (w *world) ready(c v1.Color, n int32) {
	d := w.deployment(c)
	if !d.Exists {
		return
	}
	d.ObservedGeneration = d.Generation
	d.Replicas, d.UpdatedReplicas, d.ReadyReplicas = d.SpecReplicas, d.SpecReplicas, min(n, d.SpecReplicas)
}

// finishJobs ends every running Job as a check answering p would: Passed
// completes it, Failed fails it; other answers leave it running.
func (w *world) finishJobs(p v1.CheckPhase) {
	for i := range w.obs.Jobs.Items {
		j := &w.obs.Jobs.Items[i]
		switch {
		case j.Phase != JobRunning:
		case p == v1.CheckPassed:
			j.Phase = JobComplete
		case p == v1.CheckFailed:
			j.Phase, j.Reason = JobFailed, "BackoffLimitExceeded"
		}
	}
}

// settle makes every pod of both colors ready.
func (w *world) settle() {
	w.ready(v1.Blue, 1<<20)
	w.ready(v1.Green, 1<<20)
}

// run reconciles at each requested time, pods always ready, until nothing
// more is asked for or the rollout is Paused (it then waits for a person), and returns one line per change of weight or phase.
// After actions that changed something it reconciles again at once, as
// their watch events would.
func (w *world) run(t *testing.T, limit int) []string {
	t.Helper()
	var log []string
	last := ""
	for range limit {
		w.settle()
		d, changed := w.reconcileCount()
		line := fmt.Sprintf("%s %s step %d %d%% stable %s", w.obs.Now.Sub(t0), d.Status.Phase, d.Status.CurrentStep, d.Status.CanaryWeight, d.Status.StableColor)
		if now := line[len(fmt.Sprint(w.obs.Now.Sub(t0))):]; now != last {
			log, last = append(log, line), now
		}
		switch {
		case changed > 0:
		case d.RequeueAfter == 0 || d.Status.Phase == v1.PhasePaused:
			return log
		default:
			w.obs.Now = w.obs.Now.Add(d.RequeueAfter)
		}
	}
	t.Fatalf("still requeueing after %d reconciles: %v", limit, log)
	return nil
}

// A healthy step lasts its hold and no longer: the default steps take one
// interval each, the canary becomes stable after the last, and the old color
// is scaled down scaleDownDelay later. Each step shows twice at the same
// moment: the decision that writes its weight keeps the weight in effect
// before (canaryWeight counts only what the routes were seen carrying), and
// the reconcile its route write brings at once finds the weight in effect.
func TestHealthyRolloutTimeline(t *testing.T) {
	w := newWorld(newSpec())
	w.run(t, 5)
	if w.st.Phase != v1.PhaseHealthy || w.obs.Route.blue() != 100 {
		t.Fatalf("first version: phase %s, route %+v", w.st.Phase, w.obs.Route)
	}
	w.obs.Revision = revB
	got := w.run(t, 40)
	want := []string{
		"0s Progressing step 0 0% stable blue",
		"0s Progressing step 0 1% stable blue",
		"1m0s Progressing step 1 1% stable blue", // 5 % written
		"1m0s Progressing step 1 5% stable blue", // 5 % seen in effect: step 1 starts
		"2m0s Progressing step 2 5% stable blue",
		"2m0s Progressing step 2 25% stable blue",
		"3m0s Progressing step 3 25% stable blue",
		"3m0s Progressing step 3 50% stable blue",
		"4m0s Progressing step 4 50% stable blue",
		"4m0s Progressing step 4 100% stable blue",
		"5m0s Healthy step 4 0% stable green",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("timeline\n got %q\nwant %q", got, want)
	}
	if w.obs.Now != t0.Add(5*minute+30*second) || w.obs.Blue.SpecReplicas != 0 || w.obs.Green.SpecReplicas != 4 {
		t.Errorf("at t0+%s blue has %d replicas, green %d; want blue scaled to 0 at t0+5m30s", w.obs.Now.Sub(t0), w.obs.Blue.SpecReplicas, w.obs.Green.SpecReplicas)
	}
	if w.obs.Route.green() != 100 || w.st.StableRevision != revB || w.st.CanaryRevision != "" {
		t.Errorf("route %+v, status %+v", w.obs.Route, w.st)
	}
}

// One-shot annotations act once per value, across a retry too.
func TestOneShotControlsActOncePerValue(t *testing.T) {
	gated := newSpec(withSteps(gate(10), gate(50), step(100)))
	w := newWorld(gated)
	w.run(t, 5)
	w.obs.Revision = revB
	w.run(t, 10) // waits at the first gate
	if w.st.Phase != v1.PhasePaused || w.st.CurrentStep != 0 || w.st.CanaryWeight != 10 {
		t.Fatalf("at the first gate: %s step %d %d%%", w.st.Phase, w.st.CurrentStep, w.st.CanaryWeight)
	}

	w.obs.Annotations[v1.AnnotationPromote] = "p1"
	w.run(t, 10)
	if w.st.CurrentStep != 1 || w.st.CanaryWeight != 50 || w.st.Phase != v1.PhasePaused || w.st.Controls.Promote != "p1" {
		t.Fatalf("p1 should pass the first gate only: %s step %d %d%%, controls %+v", w.st.Phase, w.st.CurrentStep, w.st.CanaryWeight, w.st.Controls)
	}
	w.obs.Annotations[v1.AnnotationPromote] = "p2"
	w.obs.Annotations[v1.AnnotationAbort] = "a1"
	d := w.reconcile()
	if d.Status.RollbackReason == "" || d.Status.AbortReason != "a1" || w.obs.Route.green() != 0 || w.obs.Green.SpecReplicas == 0 {
		t.Fatalf("abort a1: %s %q, route %+v, green replicas %d; want the route written first, green still up",
			d.Status.Phase, d.Status.AbortReason, w.obs.Route, w.obs.Green.SpecReplicas)
	}
	d = w.reconcile() // the route write's watch event
	if d.Status.Phase != v1.PhaseRolledBack || d.Status.AbortReason != "a1" || w.obs.Green.SpecReplicas != 0 {
		t.Fatalf("abort a1 once the route carries 0%%: %s %q, green replicas %d", d.Status.Phase, d.Status.AbortReason, w.obs.Green.SpecReplicas)
	}
	w.obs.Now = w.obs.Now.Add(time.Hour)
	if d := w.reconcile(); d.Status.Phase != v1.PhaseRolledBack || len(d.Actions) != 0 {
		t.Fatalf("without retry: %s, actions %+v", d.Status.Phase, d.Actions)
	}

	w.obs.Annotations[v1.AnnotationRetry] = "r1" // abort a1 stays set and is spent
	w.run(t, 10)
	if w.st.Phase != v1.PhasePaused || w.st.CurrentStep != 0 || w.st.CanaryWeight != 10 || w.st.AbortReason != "" {
		t.Fatalf("retry r1 should restart at step 0 up to the first gate: %s step %d %d%% %q", w.st.Phase, w.st.CurrentStep, w.st.CanaryWeight, w.st.AbortReason)
	}
	w.obs.Annotations[v1.AnnotationAbort] = "a2"
	w.reconcile()
	w.obs.Now = w.obs.Now.Add(time.Hour)
	if w.reconcile(); w.st.Phase != v1.PhaseRolledBack || w.st.AbortReason != "a2" {
		t.Fatalf("abort a2: %s %q", w.st.Phase, w.st.AbortReason)
	}
	if w.st.CurrentStep != 0 || w.obs.Green.SpecReplicas != 0 {
		t.Fatalf("retry r1 again must not restart: step %d, green replicas %d", w.st.CurrentStep, w.obs.Green.SpecReplicas)
	}
}

// A step's weight that the routes never carry never counts: however long the
// controller goes on, the rollout neither advances nor promotes, and the
// canary keeps the weight in effect before.
func TestRouteWritesThatDoNotTakeNeverAdvance(t *testing.T) {
	w := newWorld(newSpec())
	w.run(t, 5)
	w.obs.Revision = revB
	for w.st.CanaryWeight != 1 { // step 0 (1 %) in effect
		w.settle()
		if w.reconcile(); w.obs.Now.After(t0.Add(time.Hour)) {
			t.Fatalf("step 0 never took effect: %+v", w.st)
		}
	}
	w.routeStuck = true
	for i := range 500 {
		w.settle()
		d := w.reconcile()
		st := d.Status
		if st.CurrentStep > 1 || st.CanaryWeight != 1 || st.StableColor != v1.Blue || st.CanaryRevision != revB {
			t.Fatalf("reconcile %d at t0+%s: step %d %d%% stable %s canary %q: a weight the routes never carried counted",
				i, w.obs.Now.Sub(t0), st.CurrentStep, st.CanaryWeight, st.StableColor, st.CanaryRevision)
		}
		if st.CurrentStep == 1 && (st.StepStartedAt != nil || !slices.Contains(d.Actions, setW(v1.Green, 5))) {
			t.Fatalf("reconcile %d: step 1 started %v, actions %+v; want 5%% written again, never started", i, st.StepStartedAt, d.Actions)
		}
		step := d.RequeueAfter
		if step == 0 {
			step = time.Minute // a resync
		}
		w.obs.Now = w.obs.Now.Add(step)
	}
	if w.obs.Now.Before(t0.Add(3 * time.Hour)) {
		t.Fatalf("the loop covered only %s", w.obs.Now.Sub(t0))
	}
}
