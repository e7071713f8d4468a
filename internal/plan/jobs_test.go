package plan

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// smokeCheck is the job check of the tests: steps 0 and 1, timeout 5m.
var smokeCheck = &v1.JobCheck{Steps: []int32{0, 1}, Timeout: dur(5 * time.Minute)}

// withSmoke adds the job check "smoke" and the steps 0 (blue-green's
// smoke test first), 50, 100.
func withSmoke(s *v1.RolloutSpec) {
	s.Steps = []v1.Step{step(0), step(50), step(100)}
	s.Analysis.Metrics = append(s.Analysis.Metrics, v1.Metric{Name: "smoke", Job: smokeCheck})
}

// smokeName is the name of the smoke Job at step i of revB.
func smokeName(i int32) string { return JobName("shop", "smoke", revB, i, smokeCheck) }

// smokeJob is the observed smoke Job at step i, created at t0.
func smokeJob(i int32, phase JobPhase, reason string) Job {
	return Job{Name: smokeName(i), Metric: "smoke", Revision: revB, Step: i, Created: t0, Phase: phase, Reason: reason, Message: "pod exited 1"}
}

// withJobs is o with the given Jobs observed.
func withJobs(o Observations, jobs ...Job) Observations {
	o.Jobs = Jobs{Rollout: "shop", Items: jobs}
	return o
}

// jobRecorded is st with the smoke check's result for the Job of step i.
func jobRecorded(st *v1.RolloutStatus, i int32, phase v1.CheckPhase, at time.Duration) *v1.RolloutStatus {
	st.Analysis.Metrics = append(st.Analysis.Metrics, v1.MetricStatus{Name: "smoke", Phase: phase, Value: smokeName(i), Message: "job " + string(phase), CheckedAt: mts(at)})
	return st
}

func createJob(i int32) Action {
	return Action{Kind: CreateJob, Job: smokeName(i), Metric: "smoke", Step: i}
}

func deleteJob(i int32) Action {
	return Action{Kind: DeleteJob, Job: smokeName(i), Metric: "smoke", Step: i}
}

func TestJobChecks(t *testing.T) {
	spec := newSpec(withSmoke)
	s30 := 30 * time.Second
	runCases(t, map[string]nextCase{
		"step 0, pods ready: the Job is created, the route stays at 0": {
			spec: spec,
			prev: pending(0, 0),
			obs:  withJobs(observe(s30, revB, dep(revB, 2, 2), routeTo(0))),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				Actions: []Action{createJob(0)}},
			msg: "step 0/3: 0% to green, smoke: starting job " + smokeName(0),
		},
		"step 0, pods not ready: no Job yet": {
			spec: spec,
			prev: pending(0, 0),
			obs:  withJobs(observe(s30, revB, dep(revB, 2, 0), routeTo(0))),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				WaitingForPodsSince: ts(s30), RequeueAfter: 10 * time.Minute},
			msg: "waiting for green pods before job " + smokeName(0),
		},
		"step 0, Job running: held at 0 until its timeout": {
			spec: spec,
			prev: pending(0, 0),
			obs:  withJobs(observe(s30, revB, dep(revB, 2, 2), routeTo(0)), smokeJob(0, JobRunning, "")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				RequeueAfter: 5*time.Minute - s30},
			msg: "smoke: job " + smokeName(0) + " running since 10:00:00 (timeout 5m0s)",
		},
		"step 0, Job complete: Passed, the 0% step starts": {
			spec: spec,
			prev: pending(0, 0),
			obs:  withJobs(observe(s30, revB, dep(revB, 2, 2), routeTo(0)), smokeJob(0, JobComplete, "")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				StepStartedAt: mts(s30), RequeueAfter: time.Minute},
			events: []string{"JobPassed", "StepStarted"},
		},
		"step 0, Job failed: rolled back at once, the Job deleted, the route never moved": {
			spec: spec,
			prev: pending(0, 0),
			obs:  withJobs(observe(s30, revB, dep(revB, 2, 2), routeTo(0)), smokeJob(0, JobFailed, "BackoffLimitExceeded")),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, FailedChecks: 1,
				Actions: []Action{scale(v1.Green, 0), deleteJob(0)}},
			msg:    "rolled back: smoke: job " + smokeName(0) + " failed: BackoffLimitExceeded: pod exited 1",
			events: []string{"CheckFailed", "RolledBack"},
		},
		"step 0, Job failed with failureLimit 3: still rolled back": {
			spec: newSpec(withSmoke, withFailureLimit(3)),
			prev: pending(0, 0),
			obs:  withJobs(observe(s30, revB, dep(revB, 2, 2), routeTo(0)), smokeJob(0, JobFailed, "")),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, FailedChecks: 1,
				Actions: []Action{scale(v1.Green, 0), deleteJob(0)}},
			msg: "rolled back: smoke: job " + smokeName(0) + " failed: pod exited 1",
		},
		"step 0, Job past its timeout: Error, deleted, held": {
			spec: spec,
			prev: pending(0, 0),
			obs:  withJobs(observe(6*time.Minute, revB, dep(revB, 2, 2), routeTo(0)), smokeJob(0, JobRunning, "")),
			want: want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				ErrorSince: ts(6 * time.Minute), RequeueAfter: 10 * time.Minute, Actions: []Action{deleteJob(0)}},
			msg:      "smoke Error: job " + smokeName(0) + " ran past its timeout 5m0s",
			pausedBy: v1.ReasonChecksUndecided,
			events:   []string{"CheckError"},
		},
		"step 0, Job failed by its deadline: Error, kept as the record": {
			spec: spec,
			prev: pending(0, 0),
			obs:  withJobs(observe(6*time.Minute, revB, dep(revB, 2, 2), routeTo(0)), smokeJob(0, JobFailed, JobReasonDeadline)),
			want: want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				ErrorSince: ts(6 * time.Minute), RequeueAfter: 10 * time.Minute},
			msg: "ran past its timeout 5m0s",
		},
		"step 0, Error recorded and the Job gone: not run again": {
			spec: spec,
			prev: mod(jobRecorded(pending(0, 0), 0, v1.CheckError, time.Minute), func(st *v1.RolloutStatus) { st.Analysis.ErrorSince = ts(time.Minute) }),
			obs:  withJobs(observe(5*time.Minute, revB, dep(revB, 2, 2), routeTo(0))),
			want: want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				ErrorSince: ts(time.Minute), RequeueAfter: 6 * time.Minute},
			pausedBy: v1.ReasonChecksUndecided,
		},
		"step 0, Error for progressDeadline: rolled back": {
			spec: spec,
			prev: mod(jobRecorded(pending(0, 0), 0, v1.CheckError, time.Minute), func(st *v1.RolloutStatus) { st.Analysis.ErrorSince = ts(time.Minute) }),
			obs:  withJobs(observe(11*time.Minute, revB, dep(revB, 2, 2), routeTo(0))),
			want: want{Phase: v1.PhaseRolledBack, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, ErrorSince: ts(time.Minute),
				Actions: []Action{scale(v1.Green, 0)}},
			msg: "rolled back: checks answered Error for longer than progressDeadline 10m0s",
		},
		"a passing query check does not end the Job's Error": {
			spec: spec,
			prev: mod(jobRecorded(pending(1, 0), 1, v1.CheckError, time.Minute), func(st *v1.RolloutStatus) { st.Analysis.ErrorSince = ts(time.Minute) }),
			obs:  withChecks(withJobs(observe(2*time.Minute, revB, dep(revB, 4, 4), routeTo(0))), results(v1.CheckPassed, "0")),
			want: want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, CurrentStep: 1,
				ErrorSince: ts(time.Minute), RequeueAfter: 9 * time.Minute},
		},
		"the API server refused the Job: Error naming why": {
			spec: spec,
			prev: pending(0, 0),
			obs: mod2(withJobs(observe(s30, revB, dep(revB, 2, 2), routeTo(0))), func(o *Observations) {
				o.Jobs.Refused = map[string]string{smokeName(0): `Job.batch "x" is invalid: spec.template.spec.containers: Required value`}
			}),
			want: want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB,
				ErrorSince: ts(s30), RequeueAfter: 10 * time.Minute},
			msg: "the API server refused job " + smokeName(0) + `: Job.batch "x" is invalid`,
		},
		"step 1 (50%), Job running: the route keeps step 0's 0%": {
			spec: spec,
			prev: pending(1, 0),
			obs:  withJobs(observe(s30, revB, dep(revB, 4, 4), routeTo(0)), smokeJob(1, JobRunning, "")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, CurrentStep: 1,
				RequeueAfter: 5*time.Minute - s30},
		},
		"step 1, Job complete: 50% is written": {
			spec: spec,
			prev: pending(1, 0),
			obs:  withJobs(observe(s30, revB, dep(revB, 4, 4), routeTo(0)), smokeJob(1, JobComplete, "")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, CurrentStep: 1,
				Actions: []Action{setW(v1.Green, 50)}},
		},
		"step 1, after a restart: the recorded pass stands, no Job is made again": {
			spec: spec,
			prev: jobRecorded(pending(1, 0), 1, v1.CheckPassed, 10*time.Second),
			obs:  withJobs(observe(s30, revB, dep(revB, 4, 4), routeTo(0))),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, CurrentStep: 1,
				Actions: []Action{setW(v1.Green, 50)}},
		},
		"step 1: the Job of step 0 and one of an old revision are deleted": {
			spec: spec,
			prev: pending(1, 0),
			obs: withJobs(observe(s30, revB, dep(revB, 4, 4), routeTo(0)), smokeJob(0, JobComplete, ""), smokeJob(1, JobRunning, ""),
				Job{Name: "shop-smoke-s0-old", Metric: "smoke", Revision: revA, Phase: JobComplete}),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, CurrentStep: 1,
				RequeueAfter: 5*time.Minute - s30,
				Actions:      []Action{deleteJob(0), {Kind: DeleteJob, Job: "shop-smoke-s0-old", Metric: "smoke"}}},
		},
		"step 2 runs no Job: 100% is written": {
			spec: spec,
			prev: pending(2, 50),
			obs:  withJobs(observe(s30, revB, dep(revB, 4, 4), routeTo(50)), smokeJob(1, JobComplete, "")),
			want: want{Phase: v1.PhaseProgressing, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB, CurrentStep: 2, CanaryWeight: 50,
				Actions: []Action{setW(v1.Green, 100), deleteJob(1)}},
		},
		"paused: no Job is started": {
			spec:     spec,
			prev:     pending(0, 0),
			obs:      withAnn(withJobs(observe(s30, revB, dep(revB, 2, 2), routeTo(0))), v1.AnnotationPause, "true"),
			want:     want{Phase: v1.PhasePaused, StableColor: v1.Blue, StableRevision: revA, CanaryRevision: revB},
			msg:      "held: paused by ramp.dev/pause",
			pausedBy: v1.ReasonPausedByAnnotation,
		},
		"healthy: a leftover Job is deleted": {
			spec: spec,
			prev: healthy(),
			obs:  withJobs(Observations{Now: t0, Revision: revA, Blue: dep(revA, 4, 4), Route: routeTo(0)}, smokeJob(1, JobComplete, "")),
			want: want{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: revA, Actions: []Action{deleteJob(1)}},
		},
	})
}

// A passed step with a Job is not held by it again: the Job's check is no
// metric the step's end waits for.
func TestJobCheckDoesNotHoldTheStepEnd(t *testing.T) {
	spec := newSpec(withSmoke)
	prev := jobRecorded(flying(1, 50, 0), 1, v1.CheckPassed, 0)
	prev = checked(prev, v1.CheckPassed, 2*time.Minute, "error-rate", "latency")
	d := Next(spec, prev, withJobs(observe(2*time.Minute, revB, dep(revB, 4, 4), routeTo(50)), smokeJob(1, JobComplete, "")))
	if d.Status.CurrentStep != 2 {
		t.Fatalf("step %d, want 2: %s", d.Status.CurrentStep, d.Status.Message)
	}
}

func TestJobName(t *testing.T) {
	n := JobName("shop", "smoke", "7f5c8d6b4", 0, smokeCheck)
	if !strings.HasPrefix(n, "shop-smoke-s0-") || len(n) != len("shop-smoke-s0-")+8 {
		t.Fatalf("name %q", n)
	}
	if JobName("shop", "smoke", "7f5c8d6b4", 1, smokeCheck) == n || JobName("shop", "smoke", "8a", 0, smokeCheck) == n {
		t.Fatal("the step and revision must change the name")
	}
	other := &v1.JobCheck{Steps: []int32{0, 1}, Timeout: &metav1.Duration{Duration: time.Minute}}
	if JobName("shop", "smoke", "7f5c8d6b4", 0, other) == n {
		t.Fatal("the Job check's settings must change the name")
	}
	if JobName("a", "b-smoke", "7f5c8d6b4", 0, smokeCheck) == JobName("a-b", "smoke", "7f5c8d6b4", 0, smokeCheck) {
		t.Fatal("two Rollouts share a Job name")
	}
	long := JobName(strings.Repeat("r", 63), strings.Repeat("m", 63), "7f5c8d6b4", 31, smokeCheck)
	if len(long) > 63 || !strings.HasSuffix(long, "-s31-"+long[len(long)-8:]) {
		t.Fatalf("long name %q (%d)", long, len(long))
	}
}

// In the simulated world: each Job created runs until the next look, then
// completes (or fails); the rollout goes through both job steps and is
// promoted, the route carrying nothing to the canary before the smoke test
// passed; a failed load test at step 2 rolls back from 20 %.
func TestJobChecksInTheWorld(t *testing.T) {
	for _, tc := range []struct {
		name     string
		loadTest v1.CheckPhase
		want     string
	}{
		{"both pass", v1.CheckPassed, "promoted"},
		{"the load test fails", v1.CheckFailed, "rolled back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := newSpec(withSteps(step(0), step(20), step(50), step(100)), func(s *v1.RolloutSpec) {
				s.Analysis.Metrics = append(s.Analysis.Metrics, v1.Metric{Name: "smoke", Job: &v1.JobCheck{Steps: []int32{0, 2}}})
			})
			w := newWorld(spec)
			w.obs.Jobs.Rollout = "shop"
			w.settle()
			w.run(t, 20) // the first version
			w.obs.Revision = revB
			created := map[int32]bool{}
			for range 200 {
				w.settle()
				if w.obs.Route.Share(v1.Green) > 0 && !created[0] {
					t.Fatalf("green carries %d%% before any Job", w.obs.Route.Share(v1.Green))
				}
				for _, j := range w.obs.Jobs.Items {
					if j.Phase == JobRunning && w.obs.Route.Share(v1.Green) > []int32{0, 20, 20}[min(j.Step, 2)] {
						t.Fatalf("green carries %d%% while the Job of step %d runs", w.obs.Route.Share(v1.Green), j.Step)
					}
				}
				switch p := v1.CheckPassed; {
				case slices.ContainsFunc(w.obs.Jobs.Items, func(j Job) bool { return j.Step == 2 }):
					w.finishJobs(tc.loadTest)
				default:
					w.finishJobs(p)
				}
				d, changed := w.reconcileCount()
				for _, a := range d.Actions {
					if a.Kind == CreateJob {
						created[a.Step] = true
					}
				}
				if d.Status.Phase == v1.PhaseHealthy && d.Status.StableRevision == revB || d.Status.Phase == v1.PhaseRolledBack {
					break
				}
				if changed == 0 {
					w.obs.Now = w.obs.Now.Add(max(d.RequeueAfter, time.Second))
				}
			}
			w.reconcile() // the cleanup after the end
			w.reconcile()
			got := map[bool]string{true: "promoted", false: "rolled back"}[w.st.StableRevision == revB && w.st.StableColor == v1.Green]
			if got != tc.want || !created[0] || !created[2] || created[1] || created[3] {
				t.Fatalf("%s (phase %s: %s), Jobs created at steps %v", got, w.st.Phase, w.st.Message, created)
			}
			if len(w.obs.Jobs.Items) != 0 {
				t.Fatalf("Jobs left: %+v", w.obs.Jobs.Items)
			}
		})
	}
}
