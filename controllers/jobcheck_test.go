package controllers_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/controllers"
	"github.com/ramp-dev/ramp/internal/plan"
)

// smokeRollout is a blue-green Rollout: a first step of weight 0 whose job
// check "smoke" (a smoke test) must pass before any traffic moves, then
// 100 %. Its error-rate query goes on as in every test Rollout.
func (f *fixture) smokeRollout(name string, timeout time.Duration) *v1.Rollout {
	ro := f.rollout(name, name+":v1")
	ro.Spec.Steps = []v1.Step{{Weight: 0}, {Weight: 100}}
	ro.Spec.Analysis.Metrics = append(ro.Spec.Analysis.Metrics, v1.Metric{
		Name: "smoke",
		Job: &v1.JobCheck{
			Timeout: &metav1.Duration{Duration: timeout},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "smoke", Image: "curlimages/curl:8.10.1",
				Command: []string{"sh", "-c", `curl -fsS "$RAMP_CANARY_URL/healthz"`},
				Env:     []corev1.EnvVar{{Name: "RAMP_ROLLOUT", Value: "overridden"}, {Name: "MINE", Value: "kept"}},
			}}}},
		},
	})
	return ro
}

// jobs lists the Jobs of Rollout name.
func (f *fixture) jobs(name string) []batchv1.Job {
	f.t.Helper()
	var list batchv1.JobList
	if err := f.c.List(f.ctx, &list, client.InNamespace(f.ns), client.MatchingLabels{v1.LabelRollout: name}); err != nil {
		f.t.Fatal(err)
	}
	return list.Items
}

// waitJob waits for Rollout name to have exactly one Job, and returns it.
func (f *fixture) waitJob(name string) batchv1.Job {
	f.t.Helper()
	var out batchv1.Job
	f.eventually(20*time.Second, "a smoke Job", func() bool {
		js := f.jobs(name)
		if len(js) == 1 {
			out = js[0]
		}
		return len(js) == 1
	}, func() string { return f.get(name).Status.Message })
	return out
}

// finishJob plays the Job controller: it writes the status of a Job that
// ended, as kube-controller-manager would (the terminal condition after
// the one that announces it).
func (f *fixture) finishJob(name string, ok bool, reason, message string) {
	f.t.Helper()
	var j batchv1.Job
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, &j); err != nil {
		f.t.Fatal(err)
	}
	now := metav1.Now()
	start := metav1.NewTime(now.Add(-time.Second))
	j.Status.StartTime = &start
	if ok {
		j.Status.Succeeded = 1
		j.Status.CompletionTime = &now
		j.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "CompletionsReached"},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "CompletionsReached"},
		}
	} else {
		j.Status.Failed = 1
		j.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: reason, Message: message},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: reason, Message: message},
		}
	}
	if err := f.c.Status().Update(f.ctx, &j); err != nil {
		f.t.Fatalf("write the Job's status: %v", err)
	}
}

func envOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

// TestJobCheckPasses: a smoke Job gates the first weight. It is created
// once the canary's pods are ready, with the RAMP_ environment and
// restartPolicy Never, owned by the Rollout; the route sends the canary
// nothing until it completes, a controller restart meanwhile changing
// nothing; then the weight is set and the canary promoted, and the Job is
// deleted.
func TestJobCheckPasses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.smokeRollout("shop", 10*time.Minute)
	f.healthy(ro)
	green := f.recordWeights("shop", v1.Green)
	defer green.Stop()
	f.setImage("shop", "shop:v2")

	j := f.waitJob("shop")
	rev := f.get("shop").Status.CanaryRevision
	if !strings.HasPrefix(j.Name, "shop-smoke-s0-") || j.Labels["ramp.dev/revision"] != rev || j.Labels["ramp.dev/step"] != "0" || j.Labels["ramp.dev/check"] != "smoke" {
		t.Fatalf("job %s labels %v", j.Name, j.Labels)
	}
	if !metav1.IsControlledBy(&j, f.get("shop")) {
		t.Fatalf("job %s is not owned by the Rollout: %v", j.Name, j.OwnerReferences)
	}
	spec := j.Spec.Template.Spec
	env := envOf(spec.Containers[0])
	want := map[string]string{
		"RAMP_NAMESPACE": f.ns, "RAMP_ROLLOUT": "shop", "RAMP_REVISION": rev,
		"RAMP_CANARY_SERVICE": "shop-green", "RAMP_STABLE_SERVICE": "shop-blue", "RAMP_SERVICE_PORT": "80",
		"RAMP_CANARY_URL": "http://shop-green." + f.ns + ".svc:80", "MINE": "kept",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if spec.RestartPolicy != corev1.RestartPolicyNever || *j.Spec.BackoffLimit != 0 || *j.Spec.ActiveDeadlineSeconds != 600 {
		t.Errorf("restartPolicy %s, backoffLimit %d, activeDeadlineSeconds %d", spec.RestartPolicy, *j.Spec.BackoffLimit, *j.Spec.ActiveDeadlineSeconds)
	}
	t.Logf("job %s env: %v", j.Name, spec.Containers[0].Env)

	// A controller restart while it runs neither makes a second Job nor
	// forgets the first.
	f.stopManager()
	f.startManager()
	// While it runs the canary gets nothing, checks go on and say why.
	time.Sleep(1500 * time.Millisecond)
	if js := f.jobs("shop"); len(js) != 1 || js[0].UID != j.UID {
		t.Fatalf("after a restart: %d Jobs", len(js))
	}
	st := f.get("shop").Status
	if _, g := f.weights("shop"); g != 0 || st.Phase != v1.PhaseProgressing || st.StepStartedAt != nil || !strings.Contains(st.Message, "job "+j.Name+" running since ") {
		t.Fatalf("while the Job runs: green %d, %s: %s", g, st.Phase, st.Message)
	}
	t.Logf("while the Job runs: %s", st.Message)

	f.finishJob(j.Name, true, "", "")
	f.eventually(20*time.Second, "promoted", func() bool {
		ro := f.get("shop")
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableColor == v1.Green
	}, func() string { return f.get("shop").Status.Message })
	f.eventually(10*time.Second, "the Job deleted", func() bool { return len(f.jobs("shop")) == 0 })
	seen := green.Weights()
	if seen[0] != 0 || !slices.Contains(seen, 100) {
		t.Fatalf("green weights %v", seen)
	}
	t.Logf("green weights over the rollout: %v", seen)
}

// TestJobCheckFails: a failed smoke Job rolls the canary back before it
// ever got traffic, and the Job goes.
func TestJobCheckFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.smokeRollout("shop", 10*time.Minute)
	f.healthy(ro)
	green := f.recordWeights("shop", v1.Green)
	defer green.Stop()
	f.setImage("shop", "shop:v2")
	j := f.waitJob("shop")
	f.finishJob(j.Name, false, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
	f.eventually(20*time.Second, "rolled back", func() bool { return f.phase("shop") == v1.PhaseRolledBack },
		func() string { return f.get("shop").Status.Message })
	st := f.get("shop").Status
	want := "rolled back: smoke: job " + j.Name + " failed: BackoffLimitExceeded: Job has reached the specified backoff limit"
	if st.Message != want {
		t.Fatalf("message %q, want %q", st.Message, want)
	}
	var ms v1.MetricStatus
	for _, m := range st.Analysis.Metrics {
		if m.Name == "smoke" {
			ms = m
		}
	}
	if ms.Phase != v1.CheckFailed || ms.Value != j.Name || st.Analysis.FailedChecks != 1 {
		t.Fatalf("smoke status %+v, failedChecks %d", ms, st.Analysis.FailedChecks)
	}
	f.eventually(10*time.Second, "the Job deleted", func() bool { return len(f.jobs("shop")) == 0 })
	if seen := green.Weights(); slices.ContainsFunc(seen, func(w int32) bool { return w > 0 }) {
		t.Fatalf("the canary got traffic: green weights %v", seen)
	}
	t.Logf("%s; green weights %v", st.Message, green.Weights())
}

// TestJobCheckTimesOut: a Job still running past its timeout is an Error:
// it is deleted and not run again, the rollout holds, and once the Error has
// lasted progressDeadline it rolls back.
func TestJobCheckTimesOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.smokeRollout("shop", 2*time.Second)
	ro.Spec.ProgressDeadline = &metav1.Duration{Duration: 8 * time.Second}
	f.healthy(ro)
	f.setImage("shop", "shop:v2")
	j := f.waitJob("shop")
	f.eventually(15*time.Second, "Error, held", func() bool {
		st := f.get("shop").Status
		return st.Phase == v1.PhasePaused && strings.Contains(st.Message, "smoke Error: job "+j.Name+" ran past its timeout 2s")
	}, func() string { return f.get("shop").Status.Message })
	t.Logf("held: %s", f.get("shop").Status.Message)
	f.eventually(10*time.Second, "the Job deleted", func() bool { return len(f.jobs("shop")) == 0 })
	f.eventually(20*time.Second, "rolled back", func() bool { return f.phase("shop") == v1.PhaseRolledBack },
		func() string { return f.get("shop").Status.Message })
	t.Logf("%s", f.get("shop").Status.Message)
	if n := len(f.jobs("shop")); n != 0 {
		t.Fatalf("%d Jobs after the rollback: the timed-out Job was run again", n)
	}
	if _, g := f.weights("shop"); g != 0 {
		t.Fatalf("green %d after the rollback", g)
	}
}

// TestJobCheckRefused: a Job template the API server refuses is an Error
// check naming why, tried once.
func TestJobCheckRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.smokeRollout("shop", time.Minute)
	ro.Spec.Analysis.Metrics[1].Job.Template.Spec.Containers[0].Image = ""
	f.healthy(ro)
	f.setImage("shop", "shop:v2")
	f.eventually(15*time.Second, "Error naming the refusal", func() bool {
		st := f.get("shop").Status
		return st.Phase == v1.PhasePaused && strings.Contains(st.Message, "the API server refused job shop-smoke-s0-") && strings.Contains(st.Message, "image")
	}, func() string { return f.get("shop").Status.Message })
	t.Logf("held: %s", f.get("shop").Status.Message)
	checkedAt := func() metav1.MicroTime {
		for _, m := range f.get("shop").Status.Analysis.Metrics {
			if m.Name == "smoke" && m.CheckedAt != nil {
				return *m.CheckedAt
			}
		}
		return metav1.MicroTime{}
	}
	first := checkedAt()
	time.Sleep(2 * time.Second)
	if again := checkedAt(); !again.Equal(&first) || len(f.jobs("shop")) != 0 {
		t.Fatalf("the refusal was recorded again (%s, then %s) or a Job exists", first, again)
	}
}

// TestJobCheckForeignJob: a Job of the name Ramp would create that is not
// the Rollout's is an Error naming it, and is left alone.
func TestJobCheckForeignJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.smokeRollout("shop", time.Minute)
	f.healthy(ro)
	stored := f.get("shop")
	v2 := stored.Spec.Template.DeepCopy()
	v2.Spec.Containers[0].Image = "shop:v2"
	name := plan.JobName("shop", "smoke", controllers.Revision(v2), 0, stored.Spec.Analysis.Metrics[1].Job)
	foreign := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "other", Image: "busybox"}}}}},
	}
	f.create(foreign)
	f.setImage("shop", "shop:v2")
	f.eventually(15*time.Second, "Error naming the foreign Job", func() bool {
		st := f.get("shop").Status
		return st.Phase == v1.PhasePaused && strings.Contains(st.Message, "a Job "+name+" exists that this Rollout does not own")
	}, func() string { return f.get("shop").Status.Message })
	t.Logf("held: %s", f.get("shop").Status.Message)
	var j batchv1.Job
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, &j); err != nil || j.UID != foreign.UID {
		t.Fatalf("the foreign Job was touched: %v", err)
	}
}
