package plan

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// TestProofRules: a new revision (the first version too) waits for its proof (and for the last
// run's record) with all traffic on stable, Progressing=False ProofMissing
// and a requeue at the soak's end; an override starts it; a template change
// in flight whose revision lacks proof abandons the canary; in flight, a
// canary whose digests are not read yet gets no weight, and an unproven
// digest rolls back.
func TestProofRules(t *testing.T) {
	spec := newSpec(withSteps(step(10), step(100)))
	soakEnd := t0.Add(30 * time.Minute)
	for name, tc := range map[string]struct {
		st    *v1.RolloutStatus
		obs   Observations
		check func(t *testing.T, d Decision)
	}{
		"missing proof holds the start": {
			st:  healthy(),
			obs: withProof(observe(0, revB, Deployment{}, routeTo(0)), Proof{Missing: "sha256:aa has no Passed verification in staging", RecheckAt: soakEnd}),
			check: func(t *testing.T, d Decision) {
				c := meta.FindStatusCondition(d.Status.Conditions, v1.ConditionProgressing)
				if d.Status.CanaryRevision != "" || d.Status.Phase != v1.PhasePaused || c == nil || c.Reason != v1.ReasonProofMissing ||
					!strings.Contains(d.Status.Message, "no Passed verification in staging") {
					t.Errorf("status %+v, Progressing %+v", d.Status, c)
				}
				if d.RequeueAfter != 30*time.Minute {
					t.Errorf("requeue %v, want the soak's end", d.RequeueAfter)
				}
				if !hasEvent(d, v1.ReasonProofMissing) {
					t.Errorf("events %v, want ProofMissing", d.Events)
				}
				for _, a := range d.Actions {
					if a.Kind == ApplyDeployment && a.Color == v1.Green {
						t.Errorf("green deployed while its proof is missing: %v", d.Actions)
					}
				}
			},
		},
		"the first version waits for its proof": {
			st:  &v1.RolloutStatus{},
			obs: withProof(Observations{Now: t0, Revision: revA}, Proof{Missing: "sha256:aa has no Passed verification in staging"}),
			check: func(t *testing.T, d Decision) {
				c := meta.FindStatusCondition(d.Status.Conditions, v1.ConditionProgressing)
				if len(d.Actions) != 0 || d.Status.StableRevision != "" || d.Status.Phase != v1.PhasePaused || c == nil || c.Reason != v1.ReasonProofMissing ||
					!strings.Contains(d.Status.Message, "first version rev-a waits") {
					t.Errorf("actions %v status %+v", d.Actions, d.Status)
				}
			},
		},
		"the first version deploys once proven": {
			st:  &v1.RolloutStatus{},
			obs: Observations{Now: t0, Revision: revA},
			check: func(t *testing.T, d Decision) {
				if !hasAction(d, apply(v1.Blue, 4)) || d.Status.StableRevision != revA {
					t.Errorf("actions %v status %+v", d.Actions, d.Status)
				}
			},
		},
		"the override deploys an unproven first version, and says so": {
			st:  &v1.RolloutStatus{},
			obs: withProof(Observations{Now: t0, Revision: revA}, Proof{Missing: "x", Override: "bootstrap"}),
			check: func(t *testing.T, d Decision) {
				if !hasAction(d, apply(v1.Blue, 4)) || !hasEvent(d, v1.ReasonProofOverridden) {
					t.Errorf("actions %v events %v", d.Actions, d.Events)
				}
			},
		},
		"the last run's record not written holds the start": {
			st: healthy(),
			obs: func() Observations {
				o := observe(0, revB, Deployment{}, routeTo(0))
				o.RecordPending = "Verification x (Passed) is not there yet"
				return o
			}(),
			check: func(t *testing.T, d Decision) {
				if d.Status.CanaryRevision != "" || !strings.Contains(d.Status.Message, "record of the last run is not written yet") {
					t.Errorf("status %+v", d.Status)
				}
			},
		},
		"the override starts it": {
			st:  healthy(),
			obs: withProof(observe(0, revB, Deployment{}, routeTo(0)), Proof{Missing: "x", Override: "INC-1"}),
			check: func(t *testing.T, d Decision) {
				if d.Status.CanaryRevision != revB || d.Status.CanaryStartedAt == nil || !hasEvent(d, v1.ReasonProofOverridden) {
					t.Errorf("status %+v events %v", d.Status, d.Events)
				}
			},
		},
		"a new template in flight without proof abandons the canary": {
			st:  flying(0, 10, 0),
			obs: withProof(observe(time.Minute, revC, dep(revB, 1, 1), routeTo(10)), Proof{Missing: "x"}),
			check: func(t *testing.T, d Decision) {
				if d.Status.CanaryRevision != "" || !hasAction(d, setW(v1.Green, 0)) {
					t.Errorf("status %+v actions %v", d.Status, d.Actions)
				}
			},
		},
		"in flight, unread digests get no weight": {
			st:  pending(0, 0),
			obs: withProof(observe(0, revB, dep(revB, 1, 1), routeTo(0)), Proof{Unseen: true}),
			check: func(t *testing.T, d Decision) {
				for _, a := range d.Actions {
					if a.Kind == SetWeights && a.Weight > 0 {
						t.Errorf("weight given before the digests were read: %v", d.Actions)
					}
				}
				if d.Status.Phase != v1.PhasePaused {
					t.Errorf("phase %s, want Paused", d.Status.Phase)
				}
			},
		},
		"in flight, read and proven digests get their weight": {
			st:  pending(0, 0),
			obs: withProof(observe(0, revB, dep(revB, 1, 1), routeTo(0)), Proof{}),
			check: func(t *testing.T, d Decision) {
				if !hasAction(d, setW(v1.Green, 10)) {
					t.Errorf("actions %v, want 10%% to green", d.Actions)
				}
			},
		},
		"in flight, an unproven digest rolls back": {
			st:  flying(0, 10, 0),
			obs: withProof(observe(time.Second, revB, dep(revB, 1, 1), routeTo(10)), Proof{Unproven: "container app runs shop:v2 as sha256:bb"}),
			check: func(t *testing.T, d Decision) {
				if !strings.Contains(d.Status.RollbackReason, "unproven image") || !hasAction(d, rollbackW(v1.Green)) {
					t.Errorf("status %+v actions %v", d.Status, d.Actions)
				}
			},
		},
	} {
		t.Run(name, func(t *testing.T) { tc.check(t, Next(spec, tc.st, tc.obs)) })
	}
}

func withProof(o Observations, p Proof) Observations { o.Proof = p; return o }

func hasAction(d Decision, a Action) bool {
	for _, got := range d.Actions {
		if got == a {
			return true
		}
	}
	return false
}
