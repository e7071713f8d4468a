package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// records lists the Verifications of Rollout name, by their spec.rollout.
func (f *fixture) records(name string) []v1.Verification {
	f.t.Helper()
	var list v1.VerificationList
	if err := f.c.List(f.ctx, &list, client.InNamespace(f.ns)); err != nil {
		f.t.Fatal(err)
	}
	var out []v1.Verification
	for _, v := range list.Items {
		if v.Spec.Rollout == name {
			out = append(out, v)
		}
	}
	return out
}

// recordOf is the record of revision rev with outcome, or nil.
func (f *fixture) recordOf(name, rev string, outcome v1.VerificationOutcome) *v1.Verification {
	for _, v := range f.records(name) {
		if v.Spec.Revision == rev && v.Spec.Outcome == outcome {
			return &v
		}
	}
	return nil
}

func describeRecords(list []v1.Verification) string {
	var b strings.Builder
	for _, v := range list {
		fmt.Fprintf(&b, "%s: %s %s %s images=%v upstream=%v override=%v; ", v.Name, v.Spec.Environment, v.Spec.Revision, v.Spec.Outcome, v.Spec.Images, v.Spec.Upstream, v.Spec.Override)
	}
	return b.String()
}

// TestVerificationRecords: a promoted revision is recorded Passed (Watching
// first while its postPromotion watch runs) with the environment of its
// namespace's label, the digests its ready pods ran, its checks and times;
// a rolled-back one is recorded Failed with the rollback reason. Records
// have no owner reference and outlive the Rollout.
func TestVerificationRecords(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.labelEnvironment("staging")
	b, c := digest("b"), digest("c")
	ro := f.rollout("rec", "shop:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 50, Pause: &v1.PauseGate{Approvals: 1}}, {Weight: 100}}
	ro.Spec.PostPromotion = &v1.PostPromotion{Hold: metav1.Duration{Duration: 3 * time.Second}}
	f.healthy(ro)

	f.pod("rec", v1.Green, "rec-green-1", "shop:v2", "registry.example/shop@"+b, true)
	f.setImage("rec", "shop:v2")
	f.eventually(20*time.Second, "at the approval gate", func() bool {
		st := f.get("rec").Status
		return st.Phase == v1.PhasePaused && strings.Contains(st.Message, "1 approvals (0 so far)")
	}, func() string { return f.get("rec").Status.Message })
	// The approval passes the gate in the decision that counts it: the
	// record keeps the approver all the same.
	st := f.get("rec").Status
	f.annotate("rec", v1.ApprovalKey("alice"), v1.ApprovalValue(st.CanaryRevision, st.CurrentStep, "alice"))
	var v2 string
	f.eventually(20*time.Second, "v2 recorded Watching during its watch", func() bool {
		v2 = f.get("rec").Status.StableRevision
		return f.recordOf("rec", v2, v1.VerificationWatching) != nil
	}, func() string { return describeRecords(f.records("rec")) + " status: " + f.get("rec").Status.Message })
	f.eventually(20*time.Second, "v2 recorded Passed once the watch ended", func() bool {
		return f.recordOf("rec", v2, v1.VerificationPassed) != nil
	}, func() string { return describeRecords(f.records("rec")) })
	pass := f.recordOf("rec", v2, v1.VerificationPassed)
	s := pass.Spec
	switch {
	case s.Environment != "staging":
		t.Errorf("environment %q, want staging from the namespace label", s.Environment)
	case len(s.Images) != 1 || s.Images[0].Image != "shop:v2" || strings.Join(s.Images[0].Digests, ",") != b:
		t.Errorf("images %v, want shop:v2 as %s", s.Images, b)
	case len(s.Approvers) != 1 || s.Approvers[0].User != "alice":
		t.Errorf("approvers %v, want alice", s.Approvers)
	case len(s.Checks) != 1 || s.Checks[0].Name != "error-rate" || s.Checks[0].Phase != v1.CheckPassed:
		t.Errorf("checks %v, want error-rate Passed", s.Checks)
	case s.StartedAt == nil || s.PromotedAt == nil || s.WatchEndedAt == nil || s.FinishedAt == nil ||
		s.PromotedAt.Before(s.StartedAt) || s.WatchEndedAt.Before(s.PromotedAt):
		t.Errorf("times started %v promoted %v watch end %v finished %v", s.StartedAt, s.PromotedAt, s.WatchEndedAt, s.FinishedAt)
	case len(pass.OwnerReferences) != 0:
		t.Errorf("owner references %v: a record must outlive its Rollout", pass.OwnerReferences)
	case pass.Labels[v1.LabelRollout] != "rec" || pass.Labels[v1.LabelEnvironment] != "staging":
		t.Errorf("labels %v", pass.Labels)
	}
	shown := pass.DeepCopy()
	shown.ManagedFields = nil
	if y, err := yaml.Marshal(shown); err == nil {
		t.Logf("passed:\n%s", y)
	}

	// A Passed record is a record: the API server refuses to change it.
	edit := pass.DeepCopy()
	edit.Spec.Outcome = v1.VerificationFailed
	if err := f.c.Update(f.ctx, edit); err == nil || !strings.Contains(err.Error(), "cannot be changed") {
		t.Errorf("changing a Passed record: %v, want refused", err)
	}

	// A record lost after the status said Passed (a failed write, a crash
	// between the two writes, someone deleting it) is written again from
	// the status before anything else starts.
	if err := f.c.Delete(f.ctx, pass); err != nil {
		t.Fatal(err)
	}
	f.eventually(10*time.Second, "the lost record written again", func() bool {
		again := f.recordOf("rec", v2, v1.VerificationPassed)
		return again != nil && again.UID != pass.UID && again.Name == pass.Name
	}, func() string { return describeRecords(f.records("rec")) })

	// v3 runs on blue (the canary now) and breaches: recorded Failed.
	f.pod("rec", v1.Blue, "rec-blue-3", "shop:v3", "registry.example/shop@"+c, true)
	prom.Set(f.ns, "rec-blue", errorMetric, testenv.Answer{Value: 0.4})
	f.setImage("rec", "shop:v3")
	f.eventually(20*time.Second, "rolled back", func() bool { return f.phase("rec") == v1.PhaseRolledBack })
	v3 := f.get("rec").Status.CanaryRevision
	f.eventually(10*time.Second, "v3 recorded Failed", func() bool { return f.recordOf("rec", v3, v1.VerificationFailed) != nil },
		func() string { return describeRecords(f.records("rec")) })
	fail := f.recordOf("rec", v3, v1.VerificationFailed).Spec
	if !strings.Contains(fail.Reason, "error-rate") || fail.FinishedAt == nil || fail.PromotedAt != nil {
		t.Errorf("failed record: reason %q finished %v promoted %v", fail.Reason, fail.FinishedAt, fail.PromotedAt)
	}
	t.Logf("failed: %s", describeRecords([]v1.Verification{*f.recordOf("rec", v3, v1.VerificationFailed)}))

	// The Rollout goes; its records stay.
	if err := f.c.Delete(f.ctx, f.get("rec")); err != nil {
		t.Fatal(err)
	}
	f.eventually(20*time.Second, "Rollout gone", func() bool {
		var list v1.RolloutList
		_ = f.c.List(f.ctx, &list, client.InNamespace(f.ns))
		return len(list.Items) == 0
	})
	if n := len(f.records("rec")); n != 2 {
		t.Errorf("%d records after the Rollout was deleted, want 2: %s", n, describeRecords(f.records("rec")))
	}
}

// upstream creates a record as Rollout "shop" of environment env would
// have written it: image ran as digest, finished at finished.
func (f *fixture) upstream(name, env, image, dgst string, outcome v1.VerificationOutcome, finished time.Time) {
	f.t.Helper()
	at := metav1.NewTime(finished)
	start := metav1.NewTime(finished.Add(-time.Minute))
	f.create(&v1.Verification{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: v1.VerificationSpec{Rollout: "shop-" + env, Environment: env, Revision: "r" + name, Outcome: outcome,
			Reason: string(outcome), StartedAt: &start, FinishedAt: &at,
			Images: []v1.ContainerImages{{Name: "app", Image: image, Digests: []string{dgst}}}},
	})
}

// waitingForProof waits until Rollout name holds its new revision for
// missing proof with a message containing want, and returns the revision.
func (f *fixture) waitingForProof(name, want string) string {
	f.t.Helper()
	f.eventually(10*time.Second, "waits for proof: "+want, func() bool {
		ro := f.get(name)
		c := meta.FindStatusCondition(ro.Status.Conditions, v1.ConditionProgressing)
		return ro.Status.Phase == v1.PhasePaused && ro.Status.CanaryRevision == "" && c != nil && c.Status == metav1.ConditionFalse &&
			c.Reason == v1.ReasonProofMissing && strings.Contains(c.Message, want)
	}, func() string { ro := f.get(name); return string(ro.Status.Phase) + ": " + ro.Status.Message })
	ro := f.get(name)
	f.t.Logf("waiting: %s", ro.Status.Message)
	if b, g := f.weights(name); b != 100 || g != 0 {
		f.t.Errorf("while waiting for proof the route carries blue %d / green %d, want 100/0", b, g)
	}
	rev, _, _ := strings.Cut(strings.TrimPrefix(ro.Status.Message, "new revision "), " ")
	return rev
}

// labelEnvironment labels the fixture's namespace as environment env.
func (f *fixture) labelEnvironment(env string) {
	f.t.Helper()
	var ns corev1.Namespace
	if err := f.c.Get(f.ctx, client.ObjectKey{Name: f.ns}, &ns); err != nil {
		f.t.Fatal(err)
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[v1.LabelEnvironment] = env
	if err := f.c.Update(f.ctx, &ns); err != nil {
		f.t.Fatal(err)
	}
}

// prodRollout is a production Rollout requiring staging's proof, 4 s old.
func (f *fixture) prodRollout() {
	ro := f.rollout("prod", "registry.example/shop:v1")
	ro.Spec.Environment = "prod"
	ro.Spec.Steps = []v1.Step{{Weight: 50}, {Weight: 100}}
	f.healthy(ro) // v1 is in production already: proof is asked of what comes next
	f.update("prod", func(ro *v1.Rollout) {
		ro.Spec.Promotion = &v1.Promotion{Requires: []v1.PromotionRequirement{{Environment: "staging", Soak: &metav1.Duration{Duration: 4 * time.Second}}}}
	})
}

// TestPromotionRequiresStagingProof: a production Rollout refuses a digest
// staging has no record of, and one whose record claims staging from a
// namespace that is not staging's; it waits for the soak of a fresh Passed
// record of a namespace its requirement lists and starts by itself once it
// is old enough (its pods' digests read before any weight), and records
// the staging record it relied on.
func TestPromotionRequiresStagingProof(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.prodRollout()
	x := digest("1")
	img := "registry.example/shop@" + x
	f.setImage("prod", img)
	f.waitingForProof("prod", x[:19]+" has no Passed verification in staging")
	f.eventually(5*time.Second, "a ProofMissing event", func() bool { return f.hasEvent("prod", v1.ReasonProofMissing, "no Passed verification") })

	// The fixture's namespace is not labelled staging: a record there
	// claiming staging proves nothing, until the requirement names it.
	f.upstream("staging-x", "staging", img, x, v1.VerificationPassed, time.Now())
	f.waitingForProof("prod", "in namespace(s) "+f.ns+" were ignored")
	f.update("prod", func(ro *v1.Rollout) { ro.Spec.Promotion.Requires[0].Namespaces = []string{f.ns} })
	f.waitingForProof("prod", "soaks for 4s")
	f.pod("prod", v1.Green, "prod-green-1", img, img, true)
	f.eventually(15*time.Second, "started by itself once the soak ended", func() bool { return f.get("prod").Status.CanaryRevision != "" },
		func() string { return f.get("prod").Status.Message })
	f.eventually(20*time.Second, "promoted", func() bool {
		ro := f.get("prod")
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableColor == v1.Green
	}, func() string { return f.get("prod").Status.Message })
	stable := f.get("prod").Status.StableRevision
	f.eventually(10*time.Second, "prod's run recorded", func() bool { return f.recordOf("prod", stable, v1.VerificationPassed) != nil },
		func() string { return describeRecords(f.records("prod")) })
	rec := f.recordOf("prod", stable, v1.VerificationPassed)
	if rec.Spec.Environment != "prod" || strings.Join(rec.Spec.Upstream, ",") != f.ns+"/staging-x" {
		t.Fatalf("prod's record: %s", describeRecords(f.records("prod")))
	}
	t.Logf("prod record: %s", describeRecords([]v1.Verification{*rec}))
}

// TestPromotionRefusesWhatStagingDidNotPass: a digest whose later staging
// run failed, and a tag staging saw as two digests (pushed again), do not
// start; a tag resolved to one staging digest starts, and is rolled back
// before any weight when its pods pulled another digest; the override
// annotation starts a refused revision and is recorded.
func TestPromotionRefusesWhatStagingDidNotPass(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.labelEnvironment("staging") // staging's records count here; prod says its own environment
	f.prodRollout()
	old := time.Now().Add(-time.Hour)

	y := digest("2")
	f.upstream("staging-y1", "staging", "registry.example/shop:v2", y, v1.VerificationPassed, old)
	f.upstream("staging-y2", "staging", "registry.example/shop:v2", y, v1.VerificationFailed, time.Now())
	f.setImage("prod", "registry.example/shop@"+y)
	f.waitingForProof("prod", "failed in staging ("+f.ns+"/staging-y2")

	p, q := digest("3"), digest("4")
	f.upstream("staging-p", "staging", "registry.example/shop:v3", p, v1.VerificationPassed, old)
	f.upstream("staging-q", "staging", "registry.example/shop:v3", q, v1.VerificationPassed, old.Add(time.Minute))
	f.setImage("prod", "registry.example/shop:v3")
	f.waitingForProof("prod", "the tag was pushed again")

	// v4 passed staging as r; prod's pods pull the tag as s.
	r, s := digest("5"), digest("6")
	f.upstream("staging-r", "staging", "registry.example/shop:v4", r, v1.VerificationPassed, old)
	green := f.recordWeights("prod", v1.Green)
	f.pod("prod", v1.Green, "prod-green-4", "registry.example/shop:v4", "registry.example/shop@"+s, true)
	f.setImage("prod", "registry.example/shop:v4")
	f.eventually(20*time.Second, "rolled back: its pods run an unproven digest", func() bool {
		ro := f.get("prod")
		return ro.Status.Phase == v1.PhaseRolledBack && strings.Contains(ro.Status.Message+ro.Status.RollbackReason, "unproven image")
	}, func() string { ro := f.get("prod"); return string(ro.Status.Phase) + ": " + ro.Status.Message })
	green.Stop()
	for _, w := range green.Weights() {
		if w != 0 {
			t.Errorf("the unproven digest got weights %v, want none", green.Weights())
			break
		}
	}
	t.Logf("rolled back: %s", f.get("prod").Status.RollbackReason)

	// The override starts the revision staging failed, and says so.
	f.setImage("prod", "registry.example/shop@"+y)
	rev := f.waitingForProof("prod", "failed in staging")
	f.pod("prod", v1.Green, "prod-green-5", "registry.example/shop@"+y, "registry.example/shop@"+y, true)
	f.annotate("prod", v1.AnnotationPromotionOverride, rev+"/INC-1234: hotfix approved by the on-call lead")
	f.eventually(20*time.Second, "promoted by the override", func() bool {
		ro := f.get("prod")
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableRevision == rev
	}, func() string { return f.get("prod").Status.Message })
	f.eventually(10*time.Second, "the override's run recorded", func() bool { return f.recordOf("prod", rev, v1.VerificationPassed) != nil },
		func() string { return describeRecords(f.records("prod")) })
	rec := f.recordOf("prod", rev, v1.VerificationPassed)
	if hasDigest := len(rec.Spec.Images) == 1 && len(rec.Spec.Images[0].Digests) == 1 && rec.Spec.Images[0].Digests[0] == y; !hasDigest {
		t.Errorf("the override's record does not hold the digest that ran: %v", rec.Spec.Images)
	}
	if rec.Spec.Override == nil || !strings.Contains(rec.Spec.Override.Reason, "INC-1234") || !strings.Contains(rec.Spec.Override.Missing, "failed in staging") {
		t.Fatalf("override not recorded: %s", describeRecords(f.records("prod")))
	}
	if !f.hasEvent("prod", v1.ReasonProofOverridden, "INC-1234") {
		t.Errorf("no ProofOverridden event:\n%s", f.dumpEvents("prod"))
	}
	t.Logf("override record: %s", describeRecords([]v1.Verification{*rec}))
}

// TestPromotionRequiresItsOwnEnvironment: a Rollout whose namespace makes
// it the environment its promotion.requires names (which CEL cannot see)
// never starts a new revision, and says why.
func TestPromotionRequiresItsOwnEnvironment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.labelEnvironment("prod")
	ro := f.rollout("self", "registry.example/shop:v1")
	f.healthy(ro)
	f.update("self", func(ro *v1.Rollout) {
		ro.Spec.Promotion = &v1.Promotion{Requires: []v1.PromotionRequirement{{Environment: "prod"}}}
		ro.Spec.Template.Spec.Containers[0].Image = "registry.example/shop:v2"
	})
	f.waitingForProof("self", "promotion.requires names this Rollout's own environment prod")
}

// TestFirstVersionNeedsProof: a new production Rollout does not deploy an
// image staging did not pass, not even as its first version: nothing is
// created, the status says which proof is missing; it deploys by itself
// once the proof appears.
func TestFirstVersionNeedsProof(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	d := digest("7")
	img := "registry.example/shop@" + d
	ro := f.rollout("fresh", img)
	ro.Spec.Environment = "prod"
	ro.Spec.Promotion = &v1.Promotion{Requires: []v1.PromotionRequirement{{Environment: "staging", Namespaces: []string{f.ns}}}}
	f.create(f.route("fresh"), ro)
	f.eventually(10*time.Second, "the first version waits for proof", func() bool {
		st := f.get("fresh").Status
		c := meta.FindStatusCondition(st.Conditions, v1.ConditionProgressing)
		return st.Phase == v1.PhasePaused && c != nil && c.Reason == v1.ReasonProofMissing &&
			strings.Contains(st.Message, "first version") && strings.Contains(st.Message, "no Passed verification in staging")
	}, func() string { return f.get("fresh").Status.Message })
	t.Logf("waiting: %s", f.get("fresh").Status.Message)
	var blue appsv1.Deployment
	if err := f.c.Get(f.ctx, client.ObjectKey{Namespace: f.ns, Name: "fresh-blue"}, &blue); !apierrors.IsNotFound(err) {
		t.Errorf("blue Deployment before its image was proven: %v", err)
	}
	f.upstream("staging-fresh", "staging", img, d, v1.VerificationPassed, time.Now())
	f.eventually(20*time.Second, "deployed once proven", func() bool { return f.phase("fresh") == v1.PhaseHealthy },
		func() string { return f.get("fresh").Status.Message })
}
