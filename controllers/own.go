package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
)

// refusedRetry is how long a write the API server refused holds the Rollout
// before it is tried again (a change of the spec tries at once).
const refusedRetry = time.Minute

// foreign returns a problem when obj, which has the name of color c's
// Deployment or Service, is not Ramp's for this Rollout: another owner
// controls it, or it has neither an owner reference to the Rollout nor
// Ramp's labels (then another application's object has that name). An
// object with Ramp's labels and no controller is adopted (a Rollout
// re-created after an orphan delete).
func foreign(ro *v1.Rollout, c v1.Color, obj client.Object, kind string) *plan.Problem {
	if ref := metav1.GetControllerOf(obj); ref != nil {
		if ref.UID == ro.UID {
			return nil
		}
		if ref.Kind != "Rollout" || ref.Name != ro.Name {
			return &plan.Problem{Reason: v1.ReasonForeignObject, Message: fmt.Sprintf(
				"%s %s/%s is controlled by %s %s, not by this Rollout: Ramp will not take it over; rename one of them",
				kind, obj.GetNamespace(), obj.GetName(), ref.Kind, ref.Name)}
		}
		return nil // an earlier Rollout of this name: adopted like an orphan
	}
	l := obj.GetLabels()
	if l[v1.LabelRollout] == ro.Name && l[v1.LabelColor] == string(c) {
		return nil
	}
	return &plan.Problem{Reason: v1.ReasonForeignObject, Message: fmt.Sprintf(
		"%s %s/%s exists and was not created by Ramp for this Rollout (no %s=%s label, no owner reference): Ramp will not take it over; rename one of them",
		kind, obj.GetNamespace(), obj.GetName(), v1.LabelRollout, ro.Name)}
}

// claim makes the Rollout the controller of an adopted object.
func (r *RolloutReconciler) claim(ctx context.Context, ro *v1.Rollout, obj client.Object) error {
	if ref := metav1.GetControllerOf(obj); ref != nil && ref.UID == ro.UID {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	refs := obj.GetOwnerReferences()[:0:0]
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller == nil || !*ref.Controller {
			refs = append(refs, ref)
		}
	}
	obj.SetOwnerReferences(refs)
	if err := ctrl.SetControllerReference(ro, obj, r.Client.Scheme()); err != nil {
		return err
	}
	if err := r.Client.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("adopt %s: %w", obj.GetName(), err)
	}
	return nil
}

// isRefusal reports whether err is the API server refusing an object as
// written (invalid, or denied by an admission policy or webhook): trying the
// same write again cannot help.
func isRefusal(err error) bool {
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err)
}

// refusedProblems keeps a refusal recorded on the Valid condition for this
// generation for refusedRetry, so that the plan holds instead of writing the
// refused object again at once.
func refusedProblems(ro *v1.Rollout, now time.Time) []plan.Problem {
	c := meta.FindStatusCondition(ro.Status.Conditions, v1.ConditionValid)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1.ReasonRefused ||
		c.ObservedGeneration != ro.Generation || now.Sub(c.LastTransitionTime.Time) >= refusedRetry {
		return nil
	}
	return []plan.Problem{{Reason: v1.ReasonRefused, Message: c.Message}}
}

// recordRefusal writes a refused write onto the Valid condition and as an
// event: the user must change the spec.
func (r *RolloutReconciler) recordRefusal(ctx context.Context, ro *v1.Rollout, what string, err error) error {
	msg := fmt.Sprintf("the API server refused %s: %v", what, err)
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	st := ro.Status.DeepCopy()
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: v1.ConditionValid, Status: metav1.ConditionFalse, Reason: v1.ReasonRefused,
		Message: msg, ObservedGeneration: ro.Generation, LastTransitionTime: metav1.NewTime(r.now()),
	})
	st.Message = msg
	r.Recorder.Eventf(ro, nil, "Warning", v1.ReasonRefused, "Refused", "%s", msg)
	return r.patchStatus(ctx, r.Client, ro, *st)
}
