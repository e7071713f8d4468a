package charttest

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Every object the chart renders, for the defaults and every variant, and
// every CRD of crds/, is accepted by the real API server: a server-side
// apply with dryRun=All, so schema validation (the CRDs' too) and admission
// run as for `helm install`, nothing is stored.
func TestServerSideDryRun(t *testing.T) {
	e := cluster(t)
	installServiceMonitorCRD(t)
	ctx := context.Background()
	for name, vals := range variants {
		t.Run(name, func(t *testing.T) {
			release := newNamespace(t, "ramp")
			vals := withNamespaces(t, vals)
			r := render(t, chartDir(t), "ramp", release, vals)
			for _, o := range append(append([]*unstructured.Unstructured{}, r.CRDs...), r.Objects...) {
				if err := dryRunApply(ctx, e.Client, o); err != nil {
					t.Errorf("server-side dry run of %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
				}
			}
		})
	}

	// The dry run does validate: broken copies of rendered objects are refused.
	t.Run("broken objects are refused", func(t *testing.T) {
		release := newNamespace(t, "ramp")
		r := render(t, chartDir(t), "ramp", release, variants["serviceMonitor"])
		d := r.one(t, "Deployment").DeepCopy()
		_ = unstructured.SetNestedField(d.Object, int64(-1), "spec", "replicas")
		sm := r.one(t, "ServiceMonitor").DeepCopy()
		unstructured.RemoveNestedField(sm.Object, "spec", "endpoints")
		for _, o := range []*unstructured.Unstructured{d, sm} {
			if err := dryRunApply(ctx, e.Client, o); err == nil {
				t.Errorf("a broken %s was accepted", o.GetKind())
			}
		}
	})
}

func dryRunApply(ctx context.Context, c client.Client, o *unstructured.Unstructured) error {
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.DryRunAll, client.ForceOwnership, client.FieldOwner("helm"))
}

// withNamespaces replaces the namespaces a variant names (watchNamespaces,
// grafanaDashboard.namespace) with new ones of this test, which exist.
func withNamespaces(t *testing.T, vals map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range vals {
		out[k] = v
	}
	if ws, ok := out["watchNamespaces"].([]any); ok {
		var fresh []any
		for range ws {
			fresh = append(fresh, newNamespace(t, "team"))
		}
		out["watchNamespaces"] = fresh
	}
	if g, ok := out["grafanaDashboard"].(map[string]any); ok && g["namespace"] != nil {
		g2 := map[string]any{}
		for k, v := range g {
			g2[k] = v
		}
		g2["namespace"] = newNamespace(t, "monitoring")
		out["grafanaDashboard"] = g2
	}
	return out
}

// The controller's pod passes the "restricted" Pod Security Standard: a pod
// of the rendered template is admitted (dry run) in a namespace that
// enforces it, where a pod that may escalate privileges is refused.
func TestPodSecurityRestricted(t *testing.T) {
	e := cluster(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ramp-restricted-", Labels: map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	}}}
	if err := e.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	r := render(t, chartDir(t), "ramp", ns.Name, nil)
	installRBAC(t, r) // the ServiceAccount the pod runs as
	d := deployment(t, r)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ramp-", Namespace: ns.Name, Labels: d.Spec.Template.Labels},
		Spec:       d.Spec.Template.Spec,
	}
	if err := e.Client.Create(ctx, pod.DeepCopy(), client.DryRunAll); err != nil {
		t.Fatalf("the controller's pod is refused where the restricted standard is enforced: %v", err)
	}
	bad := pod.DeepCopy()
	escalate := true
	bad.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = &escalate
	err := e.Client.Create(ctx, bad, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Fatalf("a pod that may escalate privileges was not refused by Pod Security admission (%v): the check above proves nothing", err)
	}
}
