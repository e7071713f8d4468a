package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// newBareFixture is a namespace with no controller (records and status
// are what the test writes), labeled ramp.dev/environment=envName unless it
// is "".
func newBareFixture(t *testing.T, prefix, envName string) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns, err := testenvNamespace(ctx, prefix, envName)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, ns: ns, c: env.Client}
}

// testenvNamespace creates a namespace named prefix-<random> with the
// environment label.
func testenvNamespace(ctx context.Context, prefix, envName string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if envName != "" {
		ns.Labels = map[string]string{v1.LabelEnvironment: envName}
	}
	if err := env.Client.Create(ctx, ns); err != nil {
		return "", err
	}
	return ns.Name, nil
}

// putRecord creates a Verification in the fixture's namespace.
func (f *fixture) putRecord(name string, spec v1.VerificationSpec) {
	f.t.Helper()
	r := &v1.Verification{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name}, Spec: spec}
	if spec.Rollout != "" && spec.Environment != "" {
		r.Labels = map[string]string{v1.LabelRollout: spec.Rollout, v1.LabelEnvironment: spec.Environment}
	}
	if err := f.c.Create(f.ctx, r); err != nil {
		f.t.Fatalf("create verification %s: %v", name, err)
	}
}

// putStatus writes a Rollout's status as a controller would.
func (f *fixture) putStatus(name string, set func(*v1.RolloutStatus)) {
	f.t.Helper()
	var ro v1.Rollout
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, &ro); err != nil {
		f.t.Fatal(err)
	}
	set(&ro.Status)
	if err := f.c.Status().Update(f.ctx, &ro); err != nil {
		f.t.Fatalf("update status of %s: %v", name, err)
	}
}

func histAt(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

func histDigest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// history lists a Rollout's runs newest first, the one in flight (from
// status) on top, with digests, outcome, times after the start,
// approvers, override and rollback reasons; records of another Rollout
// are left out; the header has the environment, the proof required, the
// deploy windows and the gates.
func TestHistory(t *testing.T) {
	t.Parallel()
	f := newBareFixture(t, "prod", "prod")
	ro := testenv.Rollout(f.ns, "shop", "registry.example/shop@"+histDigest("3"), prom.URL)
	ro.Spec.Steps = []v1.Step{{Weight: 10}, {Weight: 50, Pause: &v1.PauseGate{Approvals: 2}}, {Weight: 100}}
	ro.Spec.DeployWindows = []v1.DeployWindow{
		{Kind: v1.WindowAllow, Schedule: "0 8 * * 1-5", Duration: metav1.Duration{Duration: 10 * time.Hour}, TimeZone: "Europe/Berlin"},
		{Kind: v1.WindowDeny, Schedule: "0 16 * * 5", Duration: metav1.Duration{Duration: 64 * time.Hour}, TimeZone: "Europe/Berlin"},
	}
	ro.Spec.Promotion = &v1.Promotion{Requires: []v1.PromotionRequirement{{Environment: "staging", Soak: hold(time.Hour)}}}
	if err := f.c.Create(f.ctx, ro); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Truncate(time.Second).Add(-3 * time.Hour)
	img := func(d string) []v1.ContainerImages {
		return []v1.ContainerImages{{Name: "app", Image: "registry.example/shop@" + d, Digests: []string{d}}}
	}
	f.putRecord(fmt.Sprintf("shop-6d8f7c9b5-%d", base.Unix()), v1.VerificationSpec{
		Rollout: "shop", Environment: "prod", Revision: "6d8f7c9b5", Outcome: v1.VerificationPassed, Images: img(histDigest("1")),
		Approvers: []v1.Approval{{User: "alice"}, {User: "bob"}},
		StartedAt: histAt(base), PromotedAt: histAt(base.Add(12 * time.Minute)), WatchEndedAt: histAt(base.Add(42 * time.Minute)), FinishedAt: histAt(base.Add(42 * time.Minute)),
		Upstream: []string{fmt.Sprintf("staging/shop-6d8f7c9b5-%d", base.Add(-2*time.Hour).Unix())},
	})
	f.putRecord(fmt.Sprintf("shop-7f5c8d6b4-%d", base.Add(time.Hour).Unix()), v1.VerificationSpec{
		Rollout: "shop", Environment: "prod", Revision: "7f5c8d6b4", Outcome: v1.VerificationFailed, Images: img(histDigest("2")),
		Reason:    "error-rate 0.05 > 0.01 at step 0",
		StartedAt: histAt(base.Add(time.Hour)), FinishedAt: histAt(base.Add(time.Hour + 3*time.Minute)),
		Override: &v1.ProofOverride{Reason: "INC-42 hotfix", Missing: "sha256:222222222222 has no Passed verification in staging"},
	})
	f.putRecord(fmt.Sprintf("cart-5b4c3d2e1-%d", base.Add(2*time.Hour).Unix()), v1.VerificationSpec{
		Rollout: "cart", Environment: "prod", Revision: "5b4c3d2e1", Outcome: v1.VerificationPassed, Images: img(histDigest("4")),
		StartedAt: histAt(base.Add(2 * time.Hour)), FinishedAt: histAt(base.Add(2 * time.Hour)),
	})
	f.putStatus("shop", func(st *v1.RolloutStatus) {
		st.Phase, st.StableColor, st.StableRevision, st.CanaryRevision = v1.PhasePaused, v1.Blue, "6d8f7c9b5", "8a9b7c6d5"
		st.CanaryStartedAt = histAt(base.Add(170 * time.Minute))
		st.Approvals = []v1.Approval{{User: "carol"}}
		st.Images = []v1.ColorImages{
			{Color: v1.Blue, Revision: "6d8f7c9b5", Pods: 4, Containers: img(histDigest("1"))},
			{Color: v1.Green, Revision: "8a9b7c6d5", Pods: 1, Containers: img(histDigest("3"))},
		}
	})

	r := f.run("history", "shop")
	f.expect(r, 0)
	contains(t, r.out,
		`Rollout:\s+`+f.ns+`/shop\n`,
		`Environment:\s+prod\n`,
		`Requires:\s+staging passed at least 1h0m0s ago\n`,
		`Windows:\s+allow "0 8 \* \* 1-5" for 10h0m0s \(Europe/Berlin\), deny "0 16 \* \* 5" for 64h0m0s \(Europe/Berlin\); (open now|closed now: .+)\n`,
		`Gates:\s+step 1 at 50%: 2 approvals\n`,
		`Records:\s+2 kept \(at most 20, spec.promotion.historyLimit\)\n`,
		`(?m)^REVISION\s+OUTCOME\s+STARTED\s+PROMOTED\s+WATCH-END\s+FINISHED\s+DIGESTS\s+APPROVERS\s+NOTES$`,
		`(?m)^8a9b7c6d5\s+Running \(Paused\)\s+`+histStamp(base.Add(170*time.Minute))+`\s+-\s+-\s+-\s+sha256:333333333333\s+carol\s+-$`,
		`(?m)^7f5c8d6b4\s+Failed\s+`+histStamp(base.Add(time.Hour))+`\s+-\s+-\s+\+3m\s+sha256:222222222222\s+-\s+override: INC-42 hotfix; rolled back: error-rate 0.05 > 0.01 at step 0$`,
		`(?m)^6d8f7c9b5\s+Passed\s+`+histStamp(base)+`\s+\+12m\s+\+42m\s+\+42m\s+sha256:111111111111\s+alice,bob\s+proof: staging/shop-6d8f7c9b5-`+fmt.Sprint(base.Add(-2*time.Hour).Unix())+`$`)
	if i, j, k := strings.Index(r.out, "\n8a9b7c6d5"), strings.Index(r.out, "\n7f5c8d6b4"), strings.Index(r.out, "\n6d8f7c9b5"); i < 0 || !(i < j && j < k) {
		t.Errorf("want the runs newest first:\n%s", r.out)
	}
	if strings.Contains(r.out, "5b4c3d2e1") {
		t.Errorf("history shows a run of another rollout:\n%s", r.out)
	}

	r = f.run("history", "shop", "-o", "json")
	f.expect(r, 0)
	var list v1.VerificationList
	if err := json.Unmarshal([]byte(r.out), &list); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.out)
	}
	var got []string
	for _, it := range list.Items {
		got = append(got, it.Name+":"+it.Spec.Revision+":"+string(it.Spec.Outcome))
	}
	if want := []string{":8a9b7c6d5:Running", fmt.Sprintf("shop-7f5c8d6b4-%d:7f5c8d6b4:Failed", base.Add(time.Hour).Unix()), fmt.Sprintf("shop-6d8f7c9b5-%d:6d8f7c9b5:Passed", base.Unix())}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("-o json runs %v, want %v", got, want)
	}
	if list.Items[0].Spec.Environment != "prod" || list.Items[1].ManagedFields != nil {
		t.Errorf("-o json: the run in flight in environment %q, managed fields %v", list.Items[0].Spec.Environment, list.Items[1].ManagedFields)
	}
	if list.Kind != "VerificationList" || list.Items[1].Spec.Override == nil || list.Items[1].Spec.Override.Reason != "INC-42 hotfix" {
		t.Errorf("-o json: kind %q, override %+v", list.Kind, list.Items[1].Spec.Override)
	}
	r = f.run("history", "shop", "-o", "yaml")
	f.expect(r, 0)
	contains(t, r.out, `(?m)^kind: VerificationList$`, `reason: INC-42 hotfix`)

	// The controller keeps the record of the run in flight in
	// status.verification (Running): the same run, shown once.
	f.putStatus("shop", func(st *v1.RolloutStatus) {
		st.Phase = v1.PhaseProgressing
		st.Verification = &v1.VerificationRecord{Name: fmt.Sprintf("shop-8a9b7c6d5-%d", base.Add(170*time.Minute).Unix()), Record: v1.VerificationSpec{
			Rollout: "shop", Environment: "prod", Revision: "8a9b7c6d5", Outcome: v1.VerificationRunning, Images: img(histDigest("3")),
			StartedAt: histAt(base.Add(170 * time.Minute)), Approvers: []v1.Approval{{User: "carol"}},
		}}
	})
	r = f.run("history", "shop")
	f.expect(r, 0)
	contains(t, r.out, `(?m)^8a9b7c6d5\s+Running \(Progressing\)\s+`+histStamp(base.Add(170*time.Minute))+`\s+-\s+-\s+-\s+sha256:333333333333\s+carol\s+-$`)
	if n := strings.Count(r.out, "\n8a9b7c6d5"); n != 1 {
		t.Errorf("the run in flight is listed %d times:\n%s", n, r.out)
	}

	// Promoted, its watch under way: the record status holds is Watching
	// and not written yet as a Verification.
	f.putStatus("shop", func(st *v1.RolloutStatus) {
		st.Phase, st.StableRevision, st.CanaryRevision = v1.PhaseHealthy, "8a9b7c6d5", ""
		st.Verification = &v1.VerificationRecord{Name: fmt.Sprintf("shop-8a9b7c6d5-%d", base.Add(170*time.Minute).Unix()), Record: v1.VerificationSpec{
			Rollout: "shop", Environment: "prod", Revision: "8a9b7c6d5", Outcome: v1.VerificationWatching, Images: img(histDigest("3")),
			StartedAt: histAt(base.Add(170 * time.Minute)), PromotedAt: histAt(base.Add(175 * time.Minute)),
		}}
	})
	r = f.run("history", "shop")
	f.expect(r, 0)
	contains(t, r.out, `(?m)^8a9b7c6d5\s+Watching \(not written yet\)\s+`+histStamp(base.Add(170*time.Minute))+`\s+\+5m\s+-\s+-\s+sha256:333333333333\s`)
	if n := strings.Count(r.out, "\n8a9b7c6d5"); n != 1 {
		t.Errorf("the run in flight is listed %d times:\n%s", n, r.out)
	}

	r = f.run("history", "nosuch")
	f.expect(r, 1)
	contains(t, r.err, `rollout "nosuch" not found`)
	r = f.run("history", "shop", "-o", "wide")
	f.expect(r, 1)
	contains(t, r.err, `--output "wide": want json or yaml`)
}

func histStamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
