package controllers

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete

// The labels of a job check's Job: ramp.dev/rollout (v1.LabelRollout) puts
// it in the cache; these say what it was created for.
const (
	labelJobCheck    = "ramp.dev/check"
	labelJobRevision = "ramp.dev/revision"
	labelJobStep     = "ramp.dev/step"
)

// The environment a job check's containers are given.
const (
	EnvNamespace     = "RAMP_NAMESPACE"
	EnvRollout       = "RAMP_ROLLOUT"
	EnvRevision      = "RAMP_REVISION"
	EnvCanaryService = "RAMP_CANARY_SERVICE"
	EnvStableService = "RAMP_STABLE_SERVICE"
	EnvServicePort   = "RAMP_SERVICE_PORT"
	EnvCanaryURL     = "RAMP_CANARY_URL"
)

// jobChecks makes no request: a job check is judged by the plan from the
// Jobs observed (see plan/jobs.go), once per step it names.
func (r *RolloutReconciler) jobChecks(context.Context, *v1.Rollout, []plan.MetricSource) []plan.Check {
	return nil
}

// refusedJobs remembers, for a while, why the API server refused to create
// a Job, until the plan has recorded it as the check's Error: a Job that
// was never created leaves nothing in the cluster to observe.
var refusedJobs = struct {
	sync.Mutex
	m map[types.NamespacedName]refusal
}{m: map[types.NamespacedName]refusal{}}

type refusal struct {
	why string
	at  time.Time
}

// refusalMemory bounds how long a refusal is remembered.
const refusalMemory = 10 * time.Minute

// observeJobs reads the Jobs the Rollout owns, and the creations refused.
func (r *RolloutReconciler) observeJobs(ctx context.Context, ro *v1.Rollout) (plan.Jobs, error) {
	out := plan.Jobs{Rollout: ro.Name}
	var list batchv1.JobList
	if err := r.Client.List(ctx, &list, client.InNamespace(ro.Namespace), client.MatchingLabels{v1.LabelRollout: ro.Name}); err != nil {
		return out, fmt.Errorf("list jobs: %w", err)
	}
	for i := range list.Items {
		j := &list.Items[i]
		if !metav1.IsControlledBy(j, ro) {
			continue
		}
		step, _ := strconv.ParseInt(j.Labels[labelJobStep], 10, 32)
		o := plan.Job{Name: j.Name, Metric: j.Labels[labelJobCheck], Revision: j.Labels[labelJobRevision], Step: int32(step),
			Created: j.CreationTimestamp.Time, Phase: plan.JobRunning, Deleting: !j.DeletionTimestamp.IsZero()}
		for _, c := range j.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				continue
			}
			switch c.Type {
			case batchv1.JobComplete:
				o.Phase = plan.JobComplete
			case batchv1.JobFailed:
				o.Phase, o.Reason, o.Message = plan.JobFailed, c.Reason, c.Message
			}
		}
		out.Items = append(out.Items, o)
	}
	refusedJobs.Lock()
	defer refusedJobs.Unlock()
	now := r.now()
	for k, v := range refusedJobs.m {
		switch {
		case now.Sub(v.at) > refusalMemory:
			delete(refusedJobs.m, k)
		case k.Namespace == ro.Namespace && len(k.Name) > len(ro.Name) && k.Name[:len(ro.Name)+1] == ro.Name+"-":
			if out.Refused == nil {
				out.Refused = map[string]string{}
			}
			out.Refused[k.Name] = v.why
		}
	}
	return out, nil
}

// actJob creates or deletes a job check's Job. A creation the API server
// refuses is remembered for the plan to record as the check's Error, and is
// no error here: it is not tried again.
func (r *RolloutReconciler) actJob(ctx context.Context, ro *v1.Rollout, a plan.Action) error {
	if a.Kind == plan.DeleteJob {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: a.Job}}
		err := r.Client.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground))
		return client.IgnoreNotFound(err)
	}
	var check *v1.JobCheck
	for _, s := range plan.Metrics(&ro.Spec, &ro.Status) {
		if s.Metric.Name == a.Metric && s.Metric.Job != nil {
			check = s.Metric.Job
		}
	}
	if check == nil {
		return nil // the check left the spec since the decision
	}
	job := desiredJob(ro, check, a)
	if err := ctrl.SetControllerReference(ro, job, r.Client.Scheme()); err != nil {
		return err
	}
	err := r.Client.Create(ctx, job)
	refuse := func(why string) {
		refusedJobs.Lock()
		refusedJobs.m[types.NamespacedName{Namespace: ro.Namespace, Name: a.Job}] = refusal{why: why, at: r.now()}
		refusedJobs.Unlock()
	}
	switch {
	case err == nil:
		return nil
	case apierrors.IsAlreadyExists(err):
		// Ours, created by an earlier reconcile the cache has not shown
		// yet; or someone else's, which the label-filtered cache may not
		// hold at all: read it live.
		var reader client.Reader = r.Client
		if r.Reader != nil {
			reader = r.Reader
		}
		var cur batchv1.Job
		switch gerr := reader.Get(ctx, client.ObjectKeyFromObject(job), &cur); {
		case apierrors.IsNotFound(gerr):
			return nil // deleted meanwhile: created again next time
		case gerr != nil:
			return fmt.Errorf("get job %s: %w", a.Job, gerr)
		case !metav1.IsControlledBy(&cur, ro):
			refuse(fmt.Sprintf("a Job %s exists that this Rollout does not own", a.Job))
		}
		return nil
	case isRefusal(err):
		refuse(err.Error())
		return nil
	}
	return fmt.Errorf("create job %s: %w", a.Job, err)
}

// desiredJob is the Job of a job check: its pod template with
// restartPolicy Never and the RAMP_ environment in every container, its
// backoffLimit, and its timeout as activeDeadlineSeconds (a real Job
// controller stops its pods then; Ramp deletes a Job it sees past it).
func desiredJob(ro *v1.Rollout, check *v1.JobCheck, a plan.Action) *batchv1.Job {
	canary, stable := ro.Status.StableColor.Other(), ro.Status.StableColor
	port := ro.Spec.Service.Port
	env := []corev1.EnvVar{
		{Name: EnvNamespace, Value: ro.Namespace},
		{Name: EnvRollout, Value: ro.Name},
		{Name: EnvRevision, Value: ro.Status.CanaryRevision},
		{Name: EnvCanaryService, Value: ColorName(ro, canary)},
		{Name: EnvStableService, Value: ColorName(ro, stable)},
		{Name: EnvServicePort, Value: strconv.Itoa(int(port))},
		{Name: EnvCanaryURL, Value: fmt.Sprintf("http://%s.%s.svc:%d", ColorName(ro, canary), ro.Namespace, port)},
	}
	tmpl := check.Template.DeepCopy()
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	for _, cs := range [][]corev1.Container{tmpl.Spec.InitContainers, tmpl.Spec.Containers} {
		for i := range cs {
			cs[i].Env = withEnv(cs[i].Env, env)
		}
	}
	backoff := check.BackoffLimit
	deadline := int64(plan.JobTimeout(check).Seconds())
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ro.Namespace, Name: a.Job,
			Labels: map[string]string{
				v1.LabelRollout:  ro.Name,
				labelJobCheck:    a.Metric,
				labelJobRevision: ro.Status.CanaryRevision,
				labelJobStep:     strconv.Itoa(int(a.Step)),
			},
		},
		Spec: batchv1.JobSpec{BackoffLimit: &backoff, ActiveDeadlineSeconds: &deadline, Template: *tmpl},
	}
}

// withEnv is env with add set, replacing entries of the same names.
func withEnv(env, add []corev1.EnvVar) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(env)+len(add))
	for _, e := range env {
		keep := true
		for _, a := range add {
			if e.Name == a.Name {
				keep = false
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	return append(out, add...)
}
