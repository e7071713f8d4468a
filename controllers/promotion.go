package controllers

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/plan"
	"github.com/ramp-dev/ramp/internal/proof"
)

// observeProof finds what spec.promotion.requires decides for the
// template's images, from the Verifications in the cache: whether the
// revision may start (and on which records), and for the canary in flight
// whether its pods were seen running the digests the proof covers.
func (r *RolloutReconciler) observeProof(ctx context.Context, ro *v1.Rollout, w *world, images []v1.ColorImages) (plan.Proof, error) {
	var out plan.Proof
	if ro.Spec.Promotion == nil || len(ro.Spec.Promotion.Requires) == 0 {
		return out, nil
	}
	for _, req := range ro.Spec.Promotion.Requires {
		if req.Environment == w.obs.Environment {
			// Its own runs would prove its own images (CEL refuses this
			// when spec.environment says so; here the namespace does).
			out.Missing = fmt.Sprintf("promotion.requires names this Rollout's own environment %s: its own runs cannot prove an image for it", req.Environment)
			return out, nil
		}
	}
	var records []v1.Verification
	for _, req := range ro.Spec.Promotion.Requires {
		var list v1.VerificationList
		if err := r.Client.List(ctx, &list, client.MatchingFields{verificationEnvIndex: req.Environment}); err != nil {
			return out, fmt.Errorf("list verifications of %s: %w", req.Environment, err)
		}
		records = append(records, list.Items...)
	}
	records, ignored := proof.Trusted(ro.Spec.Promotion.Requires, records, func(ns string) string { return r.namespaceEnv(ctx, ns) })
	rev := w.obs.Revision
	verdict := proof.Check(ro.Spec.Promotion.Requires, proof.Images(&ro.Spec.Template.Spec), records, w.obs.Now)
	out.Missing, out.RecheckAt, out.Upstream = verdict.Missing, verdict.RecheckAt, verdict.Upstream
	if out.Missing != "" && ignored != "" {
		out.Missing += " (" + ignored + ")"
	}
	reason, problem := proof.Override(ro.Annotations, rev)
	out.Override = reason
	if problem != "" && out.Missing != "" {
		out.Missing += " (" + problem + ")"
	}

	st := &ro.Status
	if !plan.InFlight(st) || st.CanaryRevision != rev {
		return out, nil
	}
	if rec := st.Verification; rec != nil && rec.Record.Revision == rev && rec.Record.Override != nil {
		return out, nil // started by the override: its digests are its own
	}
	canary := st.StableColor.Other()
	ready, _ := w.obs.Deployment(canary).ReadyFor(rev)
	seen := findImages(images, canary)
	switch {
	case seen != nil && seen.Revision == rev && seen.Pods > 0:
		out.Unproven = verdict.Unproven(seen.Containers)
	case ready > 0:
		out.Unseen = true // ready by the Deployment, not read yet
	}
	return out, nil
}
