package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ramp-dev/ramp/analysis"
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/metrics"
	"github.com/ramp-dev/ramp/internal/plan"
	"github.com/ramp-dev/ramp/internal/windows"
	"github.com/ramp-dev/ramp/traffic"
)

// confirmAfter bounds the wait for a look after acting.
const confirmAfter = 5 * time.Second

// RolloutReconciler takes Rollouts through their steps.
type RolloutReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// Reader reads from the API server directly (Secrets).
	Reader client.Reader
	// Recorder records the events of every transition.
	Recorder events.EventRecorder
	// Router reads and sets route weights.
	Router traffic.Router
	// Urgent and UrgentRouter write the status and routes of a rollback.
	// They have a rate limit of their own, so that a rollback never waits
	// behind the step transitions of other Rollouts; Client and Router when
	// nil.
	Urgent       client.Client
	UrgentRouter traffic.Router
	// Providers hands out Prometheus providers.
	Providers analysis.Factory
	// Checks runs the checks outside the reconcile; one of 32 slots when nil
	// at SetupWithManager.
	Checks *CheckPool
	// Metrics are the dashboard metrics.
	Metrics *metrics.Metrics
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Notify sends the moments the written status shows to the Rollout's
	// webhooks, apart from the reconcile; none are sent when nil.
	Notify *Notifier

	// images remembers the last pod lists of status.images.
	images imageLooks
	// envs remembers the environment labels of namespaces.
	envs environments
}

// +kubebuilder:rbac:groups=ramp.dev,resources=rollouts,verbs=list;watch;patch
// +kubebuilder:rbac:groups=ramp.dev,resources=rollouts/status,verbs=patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=grpcroutes,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=ramp-system
// +kubebuilder:rbac:groups="",resources=events,verbs=create,namespace=ramp-system

// Reconcile observes one Rollout's world, decides with the step machine,
// writes the decided status, then acts.
func (r *RolloutReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var ro v1.Rollout
	if err := r.Client.Get(ctx, req.NamespacedName, &ro); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.Forget(req.Namespace, req.Name)
			r.Checks.Forget(req.NamespacedName)
			r.Notify.Forget(req.NamespacedName)
			r.images.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ro.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, &ro)
	}
	if err := r.ensureFinalizer(ctx, &ro); err != nil {
		return ctrl.Result{}, err
	}
	// After the finalizer's patch, whose answer would overwrite it.
	workload, templateProblem, err := r.resolveWorkload(ctx, &ro)
	if err != nil {
		return ctrl.Result{}, err
	}
	if templateProblem == "" {
		if templateProblem, err = r.resolveConfigs(ctx, &ro); err != nil {
			return ctrl.Result{}, err
		}
	}
	// What the colors run when a workload or configs resolve it: in memory
	// only, so the status patch's answer (the stored spec) must not replace it.
	var resolved *corev1.PodTemplateSpec
	if workload != nil || len(ro.Spec.ConfigRefs) > 0 {
		resolved = ro.Spec.Template.DeepCopy()
	}
	svcProblems, svcErr := r.ensureServices(ctx, &ro)
	w, err := r.observe(ctx, &ro)
	if err != nil {
		return ctrl.Result{}, err
	}
	w.workload = workload
	w.obs.Workload = workloadObservation(&ro, workload)
	if templateProblem != "" {
		w.obs.SpecProblems = append([]string{templateProblem}, w.obs.SpecProblems...)
	}
	w.obs.Problems = append(w.obs.Problems, svcProblems...)
	if w.obs.Templates, err = r.resolveTemplates(ctx, &ro, w.obs.Revision); err != nil {
		return ctrl.Result{}, err
	}
	w.obs.Now = r.now()
	if len(ro.Spec.DeployWindows) > 0 {
		ws := windows.Evaluate(ro.Spec.DeployWindows, w.obs.Now)
		if !ws.Open {
			w.obs.WindowClosed = ws.Reason
		}
		w.obs.WindowNext = ws.Next
	}
	// What the colors' pods run, before deciding: the proof of a canary's
	// digests is judged on it.
	images, imagesRequeue := r.observeImages(ctx, &ro, w, ro.Status.Images)
	w.obs.Environment = r.environment(ctx, &ro)
	if w.obs.Proof, err = r.observeProof(ctx, &ro, w, images); err != nil {
		return ctrl.Result{}, err
	}
	if w.obs.RecordPending, err = r.recordPending(ctx, &ro); err != nil {
		return ctrl.Result{}, err
	}
	checked, checking := r.takeChecks(&ro, w)

	prev := ro.Status.DeepCopy()
	d := plan.Next(&ro.Spec, prev, w.obs)
	// The status is decided from this generation: record it in the same
	// write rather than in one of its own once the actions are done.
	d.Status.ObservedGeneration = ro.Generation
	d.Status.Replicas, d.Status.Selector = scaleStatus(&ro, w)
	d.Status.Images = images
	d.Status.Verification = plan.Record(ro.Name, &d.Status, w.obs)
	r.recordMoments(ctx, &ro, prev, &d.Status, w.obs.Revision)
	writer, router := r.Client, r.Router
	if isRollback(d.Actions) && r.Urgent != nil && r.UrgentRouter != nil {
		writer, router = r.Urgent, r.UrgentRouter
	}
	if err := r.patchStatus(ctx, writer, &ro, d.Status); err != nil {
		return ctrl.Result{}, err
	}
	if resolved != nil {
		ro.Spec.Template = *resolved
	}
	r.observeMetrics(&ro, prev, &d, w.obs.Now)
	for _, e := range d.Events {
		kind := corev1.EventTypeNormal
		if e.Warning {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(&ro, nil, kind, e.Reason, e.Reason, "%s", e.Message)
	}
	r.sendMoments(ctx, &ro) // enqueues only: never waits for a webhook
	for _, a := range d.Actions {
		logger.V(1).Info("applying action", "rollout", klog.KObj(&ro), "kind", a.Kind, "color", a.Color, "replicas", a.Replicas, "weight", a.Weight)
		if err := r.act(ctx, router, &ro, w, a); err != nil {
			if a.Kind != plan.SetWeights && isRefusal(err) {
				// The API server refuses what the spec asks for: say so and
				// wait for a new spec, without a retry loop.
				if rerr := r.recordRefusal(ctx, &ro, fmt.Sprintf("the %s Deployment %s", a.Color, ColorName(&ro, a.Color)), err); rerr != nil {
					return ctrl.Result{}, rerr
				}
				return ctrl.Result{RequeueAfter: refusedRetry}, nil
			}
			r.Recorder.Eventf(&ro, nil, corev1.EventTypeWarning, "ActionFailed", string(a.Kind), "%s %s: %v", a.Kind, a.Color, err)
			return ctrl.Result{}, fmt.Errorf("%s %s: %w", a.Kind, a.Color, err)
		}
		if a.Kind == plan.SetWeights && a.Rollback && !checked.IsZero() {
			r.Metrics.RolledBack(&ro, r.now().Sub(checked))
		}
	}
	if svcErr != nil {
		return ctrl.Result{}, svcErr // after the plan acted: a Service error never blocks a rollback
	}
	if err := r.writeRecord(ctx, &ro); err != nil {
		r.Recorder.Eventf(&ro, nil, corev1.EventTypeWarning, "VerificationNotWritten", "Verified", "%v", err)
		return ctrl.Result{}, err // after the plan acted: a record never holds a rollback
	}
	if err := r.cleanConfigCopies(ctx, &ro, w); err != nil {
		return ctrl.Result{}, err
	}
	requeue := d.RequeueAfter
	if templateProblem != "" && (requeue == 0 || requeue > workloadRetry) {
		// The cache does not hold a Deployment or ConfigMap Ramp has not
		// labelled yet: look for it again, so the Rollout goes on once it
		// appears.
		requeue = workloadRetry
	}
	if imagesRequeue > 0 && (requeue == 0 || requeue > imagesRequeue) {
		requeue = imagesRequeue // a color's pods wait for their next look
	}
	if checking && requeue > 0 && requeue < checkingRequeue {
		// The checks under way bring the Rollout back when they finish.
		requeue = checkingRequeue
	}
	if len(d.Actions) > 0 && (requeue == 0 || requeue > confirmAfter) {
		// The watch events of what was just written bring the Rollout
		// back; this look confirms the cluster matches even without one.
		requeue = confirmAfter
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// observeMetrics updates the dashboard metrics from a decision.
func (r *RolloutReconciler) observeMetrics(ro *v1.Rollout, prev *v1.RolloutStatus, d *plan.Decision, now time.Time) {
	r.Metrics.Observe(ro, &d.Status)
	if s := prev.StepStartedAt; s != nil && (d.Status.StepStartedAt == nil || !d.Status.StepStartedAt.Equal(s)) {
		r.Metrics.StepFinished(ro, now.Sub(s.Time))
	}
	for _, e := range d.Events {
		switch e.Reason {
		case "Promoted":
			r.Metrics.Finished(ro, "promoted")
		case "RolledBack":
			r.Metrics.Finished(ro, "rolled_back")
		}
	}
}

func (r *RolloutReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// isRollback reports whether actions take traffic back to the stable color.
func isRollback(actions []plan.Action) bool {
	for _, a := range actions {
		if a.Kind == plan.SetWeights && a.Rollback {
			return true
		}
	}
	return false
}

// patchStatus writes the status through c when it changed (a merge patch:
// the controller is its only writer).
func (r *RolloutReconciler) patchStatus(ctx context.Context, c client.Client, ro *v1.Rollout, st v1.RolloutStatus) error {
	if equality.Semantic.DeepEqual(ro.Status, st) {
		return nil
	}
	base := ro.DeepCopy()
	ro.Status = st
	if err := c.Status().Patch(ctx, ro, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("patch status: %w", err)
	}
	return nil
}

// scaleStatus is what the scale subresource reports: the pods of both
// colors and the selector that finds them. An autoscaler's metrics then
// cover every pod that serves (the canary's and, after a promotion, the
// old color's too), divided by the pods they are counted over: its
// answer is the replicas the whole load needs, which is what the stable
// color must carry alone once a rollout is over.
func scaleStatus(ro *v1.Rollout, w *world) (int32, string) {
	var replicas int32
	for _, d := range w.deployments {
		replicas += d.Status.Replicas
	}
	if ro.Spec.Selector == nil {
		return replicas, ""
	}
	sel := ro.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[v1.LabelRollout] = ro.Name
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return replicas, "" // an invalid selector is reported on the Valid condition
	}
	return replicas, s.String()
}

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// act runs one action.
func (r *RolloutReconciler) act(ctx context.Context, router traffic.Router, ro *v1.Rollout, w *world, a plan.Action) error {
	switch a.Kind {
	case plan.SetWeights:
		_, err := router.SetWeights(ctx, w.target, traffic.WeightsFor(a.Color, a.Weight))
		return err
	case plan.ScaleWorkload:
		return r.scaleWorkload(ctx, w.workload, a.Replicas)
	case plan.CreateJob, plan.DeleteJob:
		return r.actJob(ctx, ro, a)
	case plan.ApplyDeployment:
		return r.applyDeployment(ctx, ro, w, a.Color, a.Replicas)
	case plan.ScaleDeployment:
		d := w.deployments[a.Color]
		if d == nil {
			return nil
		}
		base := d.DeepCopy()
		d.Spec.Replicas = &a.Replicas
		return client.IgnoreNotFound(r.Client.Patch(ctx, d, client.MergeFrom(base)))
	default:
		return fmt.Errorf("unknown action %q", a.Kind)
	}
}

// applyDeployment creates color c's Deployment with spec.template, or
// updates its template (when the revision differs) and replicas.
func (r *RolloutReconciler) applyDeployment(ctx context.Context, ro *v1.Rollout, w *world, c v1.Color, replicas int32) error {
	want := desiredDeployment(ro, c, w.obs.Revision, replicas)
	cur := w.deployments[c]
	if cur == nil {
		if err := ctrl.SetControllerReference(ro, want, r.Client.Scheme()); err != nil {
			return err
		}
		err := r.Client.Create(ctx, want)
		if apierrors.IsAlreadyExists(err) {
			// Created by an earlier reconcile; the cache has not seen it
			// yet and its watch event will bring the Rollout back.
			return nil
		}
		return err
	}
	base := cur.DeepCopy()
	cur.Annotations = withMetadata(cur.Annotations, want.Annotations, nil)
	cur.Labels = withMetadata(cur.Labels, want.Labels, nil)
	cur.Spec.Template = want.Spec.Template
	cur.Spec.Replicas = want.Spec.Replicas
	cur.Spec.MinReadySeconds = want.Spec.MinReadySeconds
	cur.Spec.RevisionHistoryLimit = want.Spec.RevisionHistoryLimit
	return r.Client.Patch(ctx, cur, client.MergeFrom(base))
}

// ensureServices creates the two color Services and keeps their selector
// and port as the Rollout says. A Service of that name that is not Ramp's,
// or one the API server refuses, is a problem for the plan; any other error
// is returned for a retry once the plan has acted.
func (r *RolloutReconciler) ensureServices(ctx context.Context, ro *v1.Rollout) ([]plan.Problem, error) {
	var problems []plan.Problem
	var errs []error
	for _, c := range []v1.Color{v1.Blue, v1.Green} {
		p, err := r.ensureService(ctx, ro, c)
		if p != nil {
			problems = append(problems, *p)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return problems, errors.Join(errs...)
}

func (r *RolloutReconciler) ensureService(ctx context.Context, ro *v1.Rollout, c v1.Color) (*plan.Problem, error) {
	want := desiredService(ro, c)
	refused := func(what string, err error) (*plan.Problem, error) {
		if isRefusal(err) {
			return &plan.Problem{Reason: v1.ReasonRefused, Message: fmt.Sprintf("the API server refused to %s Service %s: %v", what, want.Name, err)}, nil
		}
		return nil, fmt.Errorf("%s service %s: %w", what, want.Name, err)
	}
	var cur corev1.Service
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(want), &cur)
	if apierrors.IsNotFound(err) && r.Reader != nil {
		err = r.Reader.Get(ctx, client.ObjectKeyFromObject(want), &cur)
	}
	if apierrors.IsNotFound(err) {
		if err := ctrl.SetControllerReference(ro, want, r.Client.Scheme()); err != nil {
			return nil, err
		}
		if err := r.Client.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			return refused("create", err)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get service %s: %w", want.Name, err)
	}
	if p := foreign(ro, c, &cur, "Service"); p != nil {
		return p, nil
	}
	if err := r.claim(ctx, ro, &cur); err != nil {
		return nil, err
	}
	if equality.Semantic.DeepEqual(cur.Spec.Selector, want.Spec.Selector) && servicePortsMatch(cur.Spec.Ports, want.Spec.Ports) &&
		hasEntries(cur.Labels, want.Labels) && hasEntries(cur.Annotations, want.Annotations) {
		return nil, nil
	}
	base := cur.DeepCopy()
	cur.Spec.Selector = want.Spec.Selector
	cur.Spec.Ports = want.Spec.Ports
	// Entries are added, never removed: others (a mesh, a sync tool) may
	// label the Service too, and a merge patch keeps theirs.
	cur.Labels = withMetadata(cur.Labels, want.Labels, nil)
	cur.Annotations = withMetadata(cur.Annotations, want.Annotations, nil)
	if err := r.Client.Patch(ctx, &cur, client.MergeFrom(base)); err != nil {
		return refused("update", err)
	}
	return nil, nil
}

// hasEntries reports whether got has every entry of want.
func hasEntries(got, want map[string]string) bool {
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			return false
		}
	}
	return true
}

func servicePortsMatch(cur, want []corev1.ServicePort) bool {
	if len(cur) != len(want) {
		return false
	}
	for i := range cur {
		if cur[i].Name != want[i].Name || cur[i].Port != want[i].Port || cur[i].TargetPort != want[i].TargetPort ||
			cur[i].Protocol != want[i].Protocol || !equality.Semantic.DeepEqual(cur[i].AppProtocol, want[i].AppProtocol) {
			return false
		}
	}
	return true
}
