package charttest

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/ramp-dev/ramp/internal/testenv"
)

// kubeVersion is the Kubernetes version the chart is rendered for: the one
// of the envtest kube-apiserver and of the k8s.io modules (v0.37.2).
const kubeVersion = "v1.37.2"

// chartDir is charts/ramp of the repository.
func chartDir(t testing.TB) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "charts", "ramp")
}

func loadChart(t testing.TB, dir string) *chart.Chart {
	t.Helper()
	c, err := loader.Load(dir)
	if err != nil {
		t.Fatalf("load chart %s: %v", dir, err)
	}
	return c
}

// rendered is what `helm install` would create, split into objects.
type rendered struct {
	// Objects are the templates' objects, in Helm's install order.
	Objects []*unstructured.Unstructured
	// CRDs are the objects of crds/, which Helm creates before the rest.
	CRDs []*unstructured.Unstructured
	// Notes is the rendered NOTES.txt.
	Notes string
}

// render renders the chart in dir as `helm install --dry-run` would,
// client-side, for release name in namespace with vals over values.yaml.
func render(t testing.TB, dir, name, namespace string, vals map[string]any) *rendered {
	t.Helper()
	r, err := tryRender(dir, name, namespace, vals)
	if err != nil {
		t.Fatalf("render %s with %v: %v", dir, vals, err)
	}
	return r
}

func tryRender(dir, name, namespace string, vals map[string]any) (*rendered, error) {
	c, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return nil, err
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.ReleaseName = name
	install.Namespace = namespace
	install.KubeVersion = kv
	install.IncludeCRDs = false
	if vals == nil {
		vals = map[string]any{}
	}
	rel, err := install.Run(c, vals)
	if err != nil {
		return nil, err
	}
	out := &rendered{Notes: rel.Info.Notes}
	if out.Objects, err = decodeObjects(rel.Manifest); err != nil {
		return nil, err
	}
	for _, f := range c.CRDObjects() {
		objs, err := decodeObjects(string(f.File.Data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Filename, err)
		}
		out.CRDs = append(out.CRDs, objs...)
	}
	return out, nil
}

// decodeObjects splits a multi-document YAML stream into objects.
func decodeObjects(manifest string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// find returns the rendered objects of kind, sorted by namespace/name.
func (r *rendered) find(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.Objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].GetNamespace()+"/"+out[i].GetName() < out[j].GetNamespace()+"/"+out[j].GetName()
	})
	return out
}

// one returns the only rendered object of kind, failing otherwise.
func (r *rendered) one(t testing.TB, kind string) *unstructured.Unstructured {
	t.Helper()
	objs := r.find(kind)
	if len(objs) != 1 {
		t.Fatalf("rendered %d objects of kind %s, want 1; rendered: %s", len(objs), kind, r.summary())
	}
	return objs[0]
}

// summary lists the rendered objects as kind/namespace/name.
func (r *rendered) summary() string {
	var b bytes.Buffer
	for i, o := range r.Objects {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s/%s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
	}
	return b.String()
}
