package controllers

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// +kubebuilder:rbac:groups=ramp.dev,resources=verifications,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// Indexes of Verifications and of the Rollouts that require them.
const (
	// verificationEnvIndex indexes Verifications by spec.environment.
	verificationEnvIndex = "ramp.dev/verification-environment"
	// verificationRolloutIndex indexes Verifications by "namespace/rollout".
	verificationRolloutIndex = "ramp.dev/verification-rollout"
	// requiresIndex indexes Rollouts by each environment their
	// spec.promotion.requires names.
	requiresIndex = "ramp.dev/requires"
)

// namespaceLook is how long a namespace's environment label is trusted.
const namespaceLook = time.Minute

// environments remembers the ramp.dev/environment label of namespaces.
type environments struct {
	mu   sync.Mutex
	seen map[string]envLook
}

type envLook struct {
	env string
	at  time.Time
}

// environment is the Rollout's environment: spec.environment, else its
// namespace's (see namespaceEnv).
func (r *RolloutReconciler) environment(ctx context.Context, ro *v1.Rollout) string {
	if ro.Spec.Environment != "" {
		return ro.Spec.Environment
	}
	return r.namespaceEnv(ctx, ro.Namespace)
}

// namespaceEnv is a namespace's environment: its ramp.dev/environment
// label, else its name. The label is read at most once a minute per
// namespace; a failed read keeps the last answer (the name at first).
func (r *RolloutReconciler) namespaceEnv(ctx context.Context, namespace string) string {
	e := &r.envs
	now := r.now()
	e.mu.Lock()
	look, ok := e.seen[namespace]
	e.mu.Unlock()
	if ok && now.Sub(look.at) < namespaceLook {
		return look.env
	}
	env := namespace
	if ok {
		env = look.env
	}
	if r.Reader != nil {
		var ns corev1.Namespace
		if err := r.Reader.Get(ctx, types.NamespacedName{Name: namespace}, &ns); err == nil {
			env = namespace
			if l := ns.Labels[v1.LabelEnvironment]; l != "" && len(validation.IsDNS1123Label(l)) == 0 {
				env = l
			}
		}
	}
	e.mu.Lock()
	if e.seen == nil {
		e.seen = map[string]envLook{}
	}
	e.seen[namespace] = envLook{env: env, at: now}
	e.mu.Unlock()
	return env
}

// recordPending says why the Verification status.verification names is not
// written as status shows it ("" when it is, or needs no writing).
func (r *RolloutReconciler) recordPending(ctx context.Context, ro *v1.Rollout) (string, error) {
	rec := ro.Status.Verification
	if rec == nil || rec.Record.Outcome == v1.VerificationRunning {
		return "", nil
	}
	var cur v1.Verification
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: rec.Name}, &cur)
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("Verification %s (%s) is not there yet", rec.Name, rec.Record.Outcome), nil
	case err != nil:
		return "", fmt.Errorf("get verification %s: %w", rec.Name, err)
	case cur.Spec.Outcome != rec.Record.Outcome && cur.Spec.Outcome == v1.VerificationWatching:
		return fmt.Sprintf("Verification %s still says %s, not %s", rec.Name, cur.Spec.Outcome, rec.Record.Outcome), nil
	}
	return "", nil
}

// writeRecord makes the Verification status.verification names hold what
// status says once the run is no longer Running, then keeps the newest
// historyLimit records of the Rollout. A record is never given an owner
// reference: it outlives its Rollout, and a copy in another cluster must
// not be collected there. A Passed or Failed record is never changed.
func (r *RolloutReconciler) writeRecord(ctx context.Context, ro *v1.Rollout) error {
	rec := ro.Status.Verification
	if rec == nil || rec.Record.Outcome == v1.VerificationRunning {
		return nil
	}
	want := &v1.Verification{
		ObjectMeta: metav1.ObjectMeta{Namespace: ro.Namespace, Name: rec.Name, Labels: recordLabels(ro, &rec.Record)},
		Spec:       rec.Record,
	}
	var cur v1.Verification
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(want), &cur)
	if apierrors.IsNotFound(err) {
		if err := r.Client.Create(ctx, want); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return nil // the cache has not seen it yet; its event brings the Rollout back
			}
			return fmt.Errorf("create verification %s: %w", rec.Name, err)
		}
		r.Recorder.Eventf(ro, nil, corev1.EventTypeNormal, "Verified", "Verified", "Verification %s: %s in %s (%s)", rec.Name, rec.Record.Outcome, rec.Record.Environment, rec.Record.Reason)
		return r.pruneRecords(ctx, ro, rec.Name)
	}
	if err != nil {
		return fmt.Errorf("get verification %s: %w", rec.Name, err)
	}
	if cur.Spec.Outcome != v1.VerificationWatching || equality.Semantic.DeepEqual(cur.Spec, want.Spec) {
		return nil
	}
	base := cur.DeepCopy()
	cur.Spec = want.Spec
	if err := r.Client.Patch(ctx, &cur, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("update verification %s: %w", rec.Name, err)
	}
	r.Recorder.Eventf(ro, nil, corev1.EventTypeNormal, "Verified", "Verified", "Verification %s: %s in %s (%s)", rec.Name, rec.Record.Outcome, rec.Record.Environment, rec.Record.Reason)
	return nil
}

// recordLabels are a Verification's labels: its Rollout and environment,
// where they fit a label value.
func recordLabels(ro *v1.Rollout, rec *v1.VerificationSpec) map[string]string {
	out := map[string]string{v1.LabelEnvironment: rec.Environment}
	if len(validation.IsValidLabelValue(ro.Name)) == 0 {
		out[v1.LabelRollout] = ro.Name
	}
	return out
}

// pruneRecords deletes the oldest Verifications of the Rollout beyond its
// historyLimit, never the one just written.
func (r *RolloutReconciler) pruneRecords(ctx context.Context, ro *v1.Rollout, keep string) error {
	var list v1.VerificationList
	if err := r.Client.List(ctx, &list, client.InNamespace(ro.Namespace), client.MatchingFields{verificationRolloutIndex: ro.Namespace + "/" + ro.Name}); err != nil {
		return fmt.Errorf("list verifications: %w", err)
	}
	items := list.Items
	if !slices.ContainsFunc(items, func(v v1.Verification) bool { return v.Name == keep }) {
		items = append(items, v1.Verification{ObjectMeta: metav1.ObjectMeta{Name: keep, CreationTimestamp: metav1.NewTime(r.now())}})
	}
	limit := ro.Spec.HistoryLimit()
	if len(items) <= limit {
		return nil
	}
	sort.SliceStable(items, func(i, j int) bool { return recordTime(&items[i]).After(recordTime(&items[j])) })
	for i := limit; i < len(items); i++ {
		if items[i].Name == keep {
			continue
		}
		if err := r.Client.Delete(ctx, &items[i]); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete verification %s: %w", items[i].Name, err)
		}
	}
	return nil
}

// recordTime orders a Rollout's records: when they started.
func recordTime(v *v1.Verification) time.Time {
	if v.Spec.StartedAt != nil {
		return v.Spec.StartedAt.Time
	}
	return v.CreationTimestamp.Time
}

// rolloutsOfVerification maps a Verification to its own Rollout (whose next
// revision may wait for it to be written) and to every Rollout that
// requires its environment (whose revision may wait for the proof).
func (r *RolloutReconciler) rolloutsOfVerification(ctx context.Context, o client.Object) []reconcile.Request {
	v := o.(*v1.Verification)
	out := []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: v.Namespace, Name: v.Spec.Rollout}}}
	for _, req := range r.rolloutsByKey(ctx, requiresIndex, v.Spec.Environment) {
		if req.NamespacedName != out[0].NamespacedName {
			out = append(out, req)
		}
	}
	return out
}

// requiredEnvironments are the index keys of a Rollout's spec.promotion.requires.
func requiredEnvironments(ro *v1.Rollout) []string {
	if ro.Spec.Promotion == nil {
		return nil
	}
	var out []string
	for _, req := range ro.Spec.Promotion.Requires {
		out = append(out, req.Environment)
	}
	return out
}
