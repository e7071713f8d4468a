package plan

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// TestRecordFollowsTheRun: a run's record starts Running with the run, and
// ends Passed at promotion (Watching first while a watch runs), or Failed at
// a rollback, with the digests, checks and approvers seen on the way; a
// finished record does not change.
func TestRecordFollowsTheRun(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	obs := func(at time.Duration) Observations {
		return Observations{Now: t0.Add(at), Environment: "staging", Proof: Proof{Upstream: []string{"dev/shop-r1"}}}
	}
	// record is Record on a decision's status, which carries the record of
	// the status it was decided from (as Next's does).
	record := func(prev, next *v1.RolloutStatus, o Observations) *v1.VerificationRecord {
		if next.Verification == nil {
			next.Verification = prev.Verification.DeepCopy()
		}
		return Record("shop", next, o)
	}
	started := metav1.NewTime(t0)
	steady := &v1.RolloutStatus{StableRevision: "r1", StableColor: v1.Blue, Phase: v1.PhaseHealthy}
	flying := &v1.RolloutStatus{StableRevision: "r1", StableColor: v1.Blue, CanaryRevision: "r2", Phase: v1.PhaseProgressing, CanaryStartedAt: &started,
		Approvals: []v1.Approval{{User: "alice"}},
		Images:    []v1.ColorImages{{Color: v1.Green, Revision: "r2", Pods: 2, Containers: []v1.ContainerImages{{Name: "app", Image: "shop:v2", Digests: []string{"sha256:aa"}}}}},
		Analysis:  &v1.AnalysisStatus{Metrics: []v1.MetricStatus{{Name: "error-rate", Phase: v1.CheckPassed, Value: "0.001"}}}}

	rec := record(steady, flying, obs(0))
	if rec == nil || rec.Record.Outcome != v1.VerificationRunning || rec.Name != RecordName("shop", "r2", started) ||
		rec.Record.Environment != "staging" || strings.Join(rec.Record.Upstream, ",") != "dev/shop-r1" {
		t.Fatalf("at start: %+v", rec)
	}
	prev := flying.DeepCopy()
	prev.Verification = rec
	next := prev.DeepCopy()
	next.Approvals = append(next.Approvals, v1.Approval{User: "bob"}) // a second approval of the gate
	rec = record(prev, next, obs(time.Minute))
	if got := len(rec.Record.Approvers); got != 2 {
		t.Errorf("approvers %v, want alice and bob", rec.Record.Approvers)
	}

	t.Run("promoted without a watch", func(t *testing.T) {
		p := next.DeepCopy()
		p.Verification = rec
		promoted := &v1.RolloutStatus{StableRevision: "r2", StableColor: v1.Green, Phase: v1.PhaseHealthy, Images: p.Images}
		got := record(p, promoted, obs(2*time.Minute))
		if got.Record.Outcome != v1.VerificationPassed || got.Record.PromotedAt == nil || got.Record.FinishedAt == nil ||
			len(got.Record.Images) != 1 || len(got.Record.Checks) != 1 {
			t.Errorf("promoted: %+v", got.Record)
		}
		p2 := promoted.DeepCopy()
		p2.Verification = got
		rolled := p2.DeepCopy()
		rolled.CanaryRevision, rolled.RollbackReason = "r2", "after promotion: x"
		if again := record(p2, rolled, obs(3*time.Minute)); again.Record.Outcome != v1.VerificationPassed {
			t.Errorf("a Passed record changed: %+v", again.Record)
		}
	})
	t.Run("promoted with a watch that passes", func(t *testing.T) {
		p := next.DeepCopy()
		p.Verification = rec
		until := metav1.NewTime(t0.Add(5 * time.Minute))
		watching := &v1.RolloutStatus{StableRevision: "r2", StableColor: v1.Green, Phase: v1.PhaseHealthy, PostPromotionUntil: &until}
		got := record(p, watching, obs(2*time.Minute))
		if got.Record.Outcome != v1.VerificationWatching || got.Record.FinishedAt != nil {
			t.Fatalf("watching: %+v", got.Record)
		}
		w := watching.DeepCopy()
		w.Verification = got
		done := w.DeepCopy()
		done.PostPromotionUntil = nil
		got = record(w, done, obs(5*time.Minute))
		if got.Record.Outcome != v1.VerificationPassed || got.Record.WatchEndedAt == nil {
			t.Errorf("after the watch: %+v", got.Record)
		}
	})
	t.Run("rolled back during the watch", func(t *testing.T) {
		until := metav1.NewTime(t0.Add(5 * time.Minute))
		w := &v1.RolloutStatus{StableRevision: "r2", StableColor: v1.Green, PostPromotionUntil: &until,
			Verification: &v1.VerificationRecord{Name: rec.Name, Record: *rec.Record.DeepCopy()}}
		w.Verification.Record.Outcome = v1.VerificationWatching
		back := &v1.RolloutStatus{StableRevision: "r1", StableColor: v1.Blue, CanaryRevision: "r2", RollbackReason: "after promotion: error-rate 0.4 > 0.01"}
		got := record(w, back, obs(3*time.Minute))
		if got.Record.Outcome != v1.VerificationFailed || !strings.Contains(got.Record.Reason, "error-rate") {
			t.Errorf("switched back: %+v", got.Record)
		}
	})
	t.Run("rolled back in flight", func(t *testing.T) {
		p := next.DeepCopy()
		p.Verification = rec
		back := p.DeepCopy()
		back.RollbackReason = "error-rate 0.4 > 0.01"
		got := record(p, back, obs(2*time.Minute))
		if got.Record.Outcome != v1.VerificationFailed || got.Record.FinishedAt == nil || got.Record.PromotedAt != nil {
			t.Errorf("rolled back: %+v", got.Record)
		}
	})
}

func TestRecordName(t *testing.T) {
	at := metav1.NewTime(time.Unix(1796188050, 0))
	if got := RecordName("shop", "5bb66d9c8c", at); got != "shop-5bb66d9c8c-1796188050" {
		t.Errorf("RecordName = %q", got)
	}
	long := strings.Repeat("a", 250)
	if got := RecordName(long, "5bb66d9c8c", at); len(got) > 253 || !strings.HasSuffix(got, "-5bb66d9c8c-1796188050") {
		t.Errorf("long RecordName = %q (%d)", got, len(got))
	}
}
