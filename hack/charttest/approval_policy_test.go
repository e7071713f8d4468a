package charttest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// The chart renders the approval policy and its binding by default, not
// with approvalPolicy.enabled=false, and refuses to render it for an API
// server older than 1.30, which does not serve admissionregistration.k8s.io/v1
// ValidatingAdmissionPolicies.
func TestRenderApprovalPolicy(t *testing.T) {
	r := render(t, chartDir(t), "ramp", "ramp-system", nil)
	wantNames(t, r, "ValidatingAdmissionPolicy", "ramp-approvals")
	wantNames(t, r, "ValidatingAdmissionPolicyBinding", "ramp-approvals")
	b := r.one(t, "ValidatingAdmissionPolicyBinding").Object
	spec, _ := b["spec"].(map[string]any)
	if spec["policyName"] != "ramp-approvals" {
		t.Errorf("the binding names policy %v, want ramp-approvals", spec["policyName"])
	}
	if actions, _ := spec["validationActions"].([]any); len(actions) != 1 || actions[0] != "Deny" {
		t.Errorf("the binding's validationActions are %v, want [Deny]", spec["validationActions"])
	}

	off := render(t, chartDir(t), "ramp", "ramp-system", map[string]any{"approvalPolicy": map[string]any{"enabled": false}})
	wantNames(t, off, "ValidatingAdmissionPolicy")
	wantNames(t, off, "ValidatingAdmissionPolicyBinding")

	c, err := loader.Load(chartDir(t))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := chartutil.ParseKubeVersion("v1.29.4")
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun, install.ClientOnly = true, true
	install.ReleaseName, install.Namespace, install.KubeVersion = "ramp", "ramp-system", kv
	if _, err := install.Run(c, map[string]any{}); err == nil || !strings.Contains(err.Error(), "approvalPolicy.enabled needs Kubernetes 1.30") {
		t.Errorf("rendering for Kubernetes 1.29: %v, want the approvalPolicy error", err)
	}
	if _, err := install.Run(c, map[string]any{"approvalPolicy": map[string]any{"enabled": false}}); err != nil {
		t.Errorf("rendering for Kubernetes 1.29 without the policy: %v", err)
	}
}

// approvalPatch is a JSON merge patch of a Rollout's annotations; a nil
// value removes the annotation.
func approvalPatch(t *testing.T, annotations map[string]*string) client.Patch {
	t.Helper()
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		t.Fatal(err)
	}
	return client.RawPatch(types.MergePatchType, b)
}

func strPtr(s string) *string { return &s }

// With the chart's ValidatingAdmissionPolicy installed, on the real API
// server: a user may write an approval only in their own name, once;
// nobody may write or rewrite one in someone else's name; edits that leave
// the approvals as they are pass, whoever makes them, the controller's
// finalizer patch included; removing an approval passes (it can only delay
// a gate, never open one).
func TestApprovalPolicy(t *testing.T) {
	e := cluster(t)
	ctx := context.Background()
	release := newNamespace(t, "ramp")
	r := render(t, chartDir(t), "ramp", release, nil)
	for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
		o := r.one(t, kind).DeepCopy()
		if err := e.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %s %s: %v", kind, o.GetName(), err)
		}
		t.Cleanup(func() { _ = e.Client.Delete(context.Background(), o) })
	}

	ns := newNamespace(t, "team")
	ro := testenv.Rollout(ns, "web", "registry.example/web:1", prom.URL)
	ro.Labels = map[string]string{"team": "web"}
	if err := e.Client.Create(ctx, ro); err != nil {
		t.Fatalf("create the Rollout as an admin: %v", err)
	}
	t.Cleanup(func() { _ = e.Client.DeleteAllOf(context.Background(), &v1.Rollout{}, client.InNamespace(ns)) })
	key := types.NamespacedName{Namespace: ns, Name: "web"}

	// alice, bob and mallory may create, get, update and patch Rollouts in
	// ns; RBAC does not tell them apart.
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "rollout-steerer", Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"ramp.dev"}, Resources: []string{"rollouts"}, Verbs: []string{"create", "get", "update", "patch"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "rollout-steerer", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
	}
	for _, u := range []string{"alice", "bob", "mallory"} {
		binding.Subjects = append(binding.Subjects, rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: "User", Name: u})
	}
	for _, o := range []client.Object{role, binding} {
		if err := e.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	as := func(user string) client.Client {
		cfg := rest.CopyConfig(e.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
		c, err := client.New(cfg, client.Options{Scheme: e.Scheme})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice, bob, mallory := as("alice"), as("bob"), as("mallory")
	approval := func(user string, step int32, named string) map[string]*string {
		return map[string]*string{v1.ApprovalKey(user): strPtr(v1.ApprovalValue("5d8f9c7b6", step, named))}
	}
	patch := func(c client.Client, p client.Patch, opts ...client.PatchOption) error {
		obj := &v1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}
		return c.Patch(ctx, obj, p, opts...)
	}
	forgery := func(key, named, by string) string {
		return "approval annotation " + key + " names user " + named + " but was written by " + by
	}

	// The policy is enforced a moment after it is created, and the grants
	// a moment after the RoleBinding: wait for both with dry runs, until a
	// forgery is refused by the policy and a real approval is admitted.
	deadline := time.Now().Add(30 * time.Second)
	for {
		forged := patch(mallory, approvalPatch(t, approval("alice", 0, "alice")), client.DryRunAll)
		real := patch(alice, approvalPatch(t, approval("alice", 0, "alice")), client.DryRunAll)
		if forged != nil && strings.Contains(forged.Error(), forgery(v1.ApprovalKey("alice"), "alice", "mallory")) && real == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the approval policy is not enforced after 30s: mallory's forgery: %v; alice's approval: %v", forged, real)
		}
		time.Sleep(100 * time.Millisecond)
	}

	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: refused: %v", what, err)
		}
	}
	refused := func(what string, err error, want string) {
		t.Helper()
		switch {
		case err == nil:
			t.Errorf("%s: admitted", what)
		case !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err):
			t.Errorf("%s: %v, want a refusal by the approval policy", what, err)
		case !strings.Contains(err.Error(), want):
			t.Errorf("%s: refused with %q, want a message containing %q", what, err, want)
		default:
			t.Logf("%s: refused: %v", what, err)
		}
	}

	allowed("alice approves as alice", patch(alice, approvalPatch(t, approval("alice", 0, "alice"))))
	allowed("bob approves as bob", patch(bob, approvalPatch(t, approval("bob", 0, "bob"))))

	carol := v1.ApprovalKey("carol")
	refused("mallory approves as a made-up user carol", patch(mallory, approvalPatch(t, approval("carol", 0, "carol"))),
		forgery(carol, "carol", "mallory"))
	refused("mallory rewrites alice's approval for another step", patch(mallory, approvalPatch(t, approval("alice", 1, "alice"))),
		forgery(v1.ApprovalKey("alice"), "alice", "mallory"))
	refused("mallory writes an approval naming alice under her own key", patch(mallory, approvalPatch(t, approval("mallory", 0, "alice"))),
		forgery(v1.ApprovalKey("mallory"), "alice", "mallory"))
	refused("mallory writes a second approval naming alice in one update along with her own",
		patch(mallory, approvalPatch(t, map[string]*string{
			v1.ApprovalKey("mallory"): strPtr(v1.ApprovalValue("5d8f9c7b6", 0, "mallory")),
			carol:                     strPtr(v1.ApprovalValue("5d8f9c7b6", 0, "alice")),
		})),
		forgery(carol, "alice", "mallory"))
	refused("alice writes a second approval in her name", patch(alice, approvalPatch(t, approval("carol", 0, "alice"))),
		"approval annotation "+carol+" names user alice, whom another approval annotation names already")
	refused("mallory writes an approval that is no <revision>/<step>/<user>", patch(mallory, approvalPatch(t, map[string]*string{carol: strPtr("yes")})),
		"approval annotation "+carol+` has the value "yes", want <canaryRevision>/<step>/<user>`)

	// A forged approval is refused in a create too, and a Rollout created
	// with an approval of its creator is admitted.
	created := func(c client.Client, named string) error {
		ro := testenv.Rollout(ns, "web-2", "registry.example/web:1", prom.URL)
		ro.Annotations = map[string]string{v1.ApprovalKey(named): v1.ApprovalValue("5d8f9c7b6", 0, named)}
		return c.Create(ctx, ro, client.DryRunAll)
	}
	refused("mallory creates a Rollout approved by alice", created(mallory, "alice"), forgery(v1.ApprovalKey("alice"), "alice", "mallory"))
	allowed("mallory creates a Rollout approved by mallory", created(mallory, "mallory"))

	// Writes that leave the approvals as they were pass, whoever sends them.
	allowed("mallory relabels the approved Rollout", mallory.Patch(ctx, &v1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}},
		client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"payments"}}}`))))
	var got v1.Rollout
	if err := mallory.Get(ctx, key, &got); err != nil {
		t.Fatal(err)
	}
	got.Spec.Template.Spec.Containers[0].Image = "registry.example/web:2"
	allowed("mallory updates the approved Rollout's image with a full update", mallory.Update(ctx, &got))

	// The controller, as the chart's ServiceAccount under the chart's RBAC,
	// puts its finalizer on the approved Rollout as controllers/delete.go
	// does.
	installRBAC(t, r)
	controller, err := client.New(impersonating(t, e.Config, r), client.Options{Scheme: e.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Client.Get(ctx, key, &got); err != nil {
		t.Fatal(err)
	}
	base := got.DeepCopy()
	controllerutil.AddFinalizer(&got, v1.FinalizerTraffic)
	allowed("the controller adds its finalizer to the approved Rollout",
		controller.Patch(ctx, &got, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})))
	// No controller runs here to take the finalizer off again: do it when
	// the test ends, so that the cleanup's delete goes through.
	t.Cleanup(func() {
		var ro v1.Rollout
		if err := e.Client.Get(context.Background(), key, &ro); err != nil {
			return
		}
		base := ro.DeepCopy()
		controllerutil.RemoveFinalizer(&ro, v1.FinalizerTraffic)
		_ = e.Client.Patch(context.Background(), &ro, client.MergeFrom(base))
	})

	// Removing an approval is allowed to anyone who may patch the Rollout:
	// it delays the gate, it cannot open it.
	allowed("mallory removes alice's approval", patch(mallory, approvalPatch(t, map[string]*string{v1.ApprovalKey("alice"): nil})))

	if err := e.Client.Get(ctx, key, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{v1.ApprovalKey("bob"): v1.ApprovalValue("5d8f9c7b6", 0, "bob")}
	approvals := map[string]string{}
	for k, v := range got.Annotations {
		if strings.HasPrefix(k, v1.ApprovalAnnotationPrefix) {
			approvals[k] = v
		}
	}
	if len(approvals) != len(want) || approvals[v1.ApprovalKey("bob")] != want[v1.ApprovalKey("bob")] {
		t.Errorf("approval annotations at the end: %v, want bob's only: %v", approvals, want)
	}
	if got.Labels["team"] != "payments" || got.Spec.Template.Spec.Containers[0].Image != "registry.example/web:2" || !controllerutil.ContainsFinalizer(&got, v1.FinalizerTraffic) {
		t.Errorf("the admitted edits are not all there: labels %v, image %s, finalizers %v", got.Labels, got.Spec.Template.Spec.Containers[0].Image, got.Finalizers)
	}
}
