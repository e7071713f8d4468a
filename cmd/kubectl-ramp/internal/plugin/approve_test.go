package plugin_test

import (
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// approve writes the caller's approval (the user the API server knows,
// from a SelfSubjectReview) of the gate the rollout waits at, refuses when
// no gate with approvals waits, and two distinct approvers open the gate.
func TestApprove(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.allow("bob", "approver")
	f.healthy(f.rollout("appr", "appr:v1", v1.Step{Weight: 10}, v1.Step{Weight: 50, Pause: &v1.PauseGate{Approvals: 2}}, v1.Step{Weight: 100}))

	r := f.run("approve", "appr")
	f.expect(r, 1)
	contains(t, r.err, `nothing to approve: rollout appr has nothing in flight \(phase Healthy\)`)
	for k := range f.get("appr").Annotations {
		if strings.HasPrefix(k, v1.ApprovalAnnotationPrefix) {
			t.Fatalf("a refused approve wrote %s", k)
		}
	}

	f.setImage("appr", "appr:v2")
	f.eventually(30*time.Second, "waiting at the gate for approvals", func() bool {
		st := f.get("appr").Status
		return st.Phase == v1.PhasePaused && st.CurrentStep == 1 && strings.Contains(st.Message, "approvals")
	})
	canary := f.get("appr").Status.CanaryRevision
	r = f.run("status", "appr")
	contains(t, r.out, `Step:\s+1/3  10% \[50%\(gate, 2 approvals\)\] 100%\n`, `Approvals:\s+0 of 2\n`,
		`Waiting for:\s+2 more approval\(s\) of 2 \(kubectl ramp approve appr\)\n`)
	r = f.run("promote", "appr")
	f.expect(r, 1)
	contains(t, r.err, `the controller ignored ramp.dev/promote: the gate of step 1/3 needs 2 approvals \(kubectl ramp approve appr\)`)

	r = f.run("approve", "appr")
	f.expect(r, 0)
	if got, want := f.get("appr").Annotations[v1.ApprovalKey(adminUser)], v1.ApprovalValue(canary, 1, adminUser); got != want {
		t.Fatalf("annotation %s = %q, want %q", v1.ApprovalKey(adminUser), got, want)
	}
	contains(t, r.out, `controller: approval of `+adminUser+` recorded\n`, `approvals:\s+1 of 2 \(`+adminUser+`\)\n`, `phase:\s+Paused\n`)
	r = f.run("approve", "appr")
	f.expect(r, 1)
	contains(t, r.err, adminUser+` has approved the gate of step 1/3 already; approvals: 1 of 2 \(`+adminUser+`\)`)
	time.Sleep(2 * time.Second) // checks go on: one approval does not open the gate
	if st := f.get("appr").Status; st.CurrentStep != 1 || st.CanaryWeight != 50 {
		t.Fatalf("one approval of two opened the gate: step %d at %d%%", st.CurrentStep, st.CanaryWeight)
	}

	r = f.run("approve", "appr", "--as", "bob")
	f.expect(r, 0)
	if got, want := f.get("appr").Annotations[v1.ApprovalKey("bob")], v1.ApprovalValue(canary, 1, "bob"); got != want {
		t.Fatalf("annotation %s = %q, want %q", v1.ApprovalKey("bob"), got, want)
	}
	contains(t, r.out, `controller: approval of bob opened the gate of step 1/3\n`)
	f.eventually(20*time.Second, "promoted", func() bool { return f.get("appr").Status.StableRevision == canary })
}

// allow lets user read and annotate Rollouts in the fixture's namespace
// (what an approver needs), through a Role named role.
func (f *fixture) allow(user, role string) {
	f.t.Helper()
	r := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: role, Namespace: f.ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{v1.GroupVersion.Group}, Resources: []string{"rollouts"}, Verbs: []string{"get", "list", "watch", "patch"}}},
	}
	b := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role, Namespace: f.ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if err := f.c.Create(f.ctx, r); err != nil {
		f.t.Fatal(err)
	}
	if err := f.c.Create(f.ctx, b); err != nil {
		f.t.Fatal(err)
	}
}
