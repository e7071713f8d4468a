package charttest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ramp-dev/ramp/internal/testenv"
)

// The chart's crds/ are byte-for-byte the generated CRDs of config/crd
// (hack/sync-chart-crds.sh copies them; nobody edits them by hand).
func TestCRDsAreGenerated(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	generated, err := filepath.Glob(filepath.Join(root, "config", "crd", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	copied, err := filepath.Glob(filepath.Join(chartDir(t), "crds", "*"))
	if err != nil {
		t.Fatal(err)
	}
	base := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if !slices.Equal(base(generated), base(copied)) {
		t.Fatalf("charts/ramp/crds holds %q, config/crd %q: run hack/sync-chart-crds.sh", base(copied), base(generated))
	}
	for _, g := range generated {
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(chartDir(t), "crds", filepath.Base(g)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("charts/ramp/crds/%s differs from config/crd: run hack/sync-chart-crds.sh", filepath.Base(g))
		}
	}
}

// The upgrade the README documents works on a CRD that Helm created:
// `kubectl apply --server-side --force-conflicts` takes the fields over
// from Helm's field manager and writes the new schema; without
// --force-conflicts the API server refuses, which is why the flag is there.
func TestCRDUpgradeByServerSideApply(t *testing.T) {
	e := cluster(t)
	ctx := context.Background()
	r := render(t, chartDir(t), "ramp", "ramp-system", nil)
	// A copy of the Rollout CRD under a group of its own, so that the real
	// one stays as it is for the other tests.
	const group = "upgrade.ramp.dev"
	crd := func(description string) *unstructured.Unstructured {
		c := r.CRDs[0].DeepCopy()
		plural, _, _ := unstructured.NestedString(c.Object, "spec", "names", "plural")
		c.SetName(plural + "." + group)
		_ = unstructured.SetNestedField(c.Object, group, "spec", "group")
		versions, _, _ := unstructured.NestedSlice(c.Object, "spec", "versions")
		_ = unstructured.SetNestedField(versions[0].(map[string]any), description, "schema", "openAPIV3Schema", "description")
		_ = unstructured.SetNestedSlice(c.Object, versions, "spec", "versions")
		return c
	}
	old := crd("the previous release's Rollout")
	if err := e.Client.Create(ctx, old, client.FieldOwner("helm")); err != nil {
		t.Fatalf("create the CRD as helm install does: %v", err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), old) })

	next := crd("this release's Rollout")
	apply := func(opts ...client.ApplyOption) error {
		return e.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(next.DeepCopy()), append(opts, client.FieldOwner("kubectl"))...)
	}
	if err := apply(); !apierrors.IsConflict(err) {
		t.Errorf("server-side apply without --force-conflicts over helm's fields: %v, want a conflict", err)
	}
	if err := apply(client.ForceOwnership); err != nil {
		t.Fatalf("kubectl apply --server-side --force-conflicts: %v", err)
	}
	var got unstructured.Unstructured
	got.SetGroupVersionKind(old.GroupVersionKind())
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(old), &got); err != nil {
		t.Fatal(err)
	}
	versions, _, _ := unstructured.NestedSlice(got.Object, "spec", "versions")
	if d, _, _ := unstructured.NestedString(versions[0].(map[string]any), "schema", "openAPIV3Schema", "description"); d != "this release's Rollout" {
		t.Errorf("after the upgrade the CRD's schema says %q", d)
	}
}
