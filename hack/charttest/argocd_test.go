package charttest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The argocd-cm keys of ramp.dev/Rollout.
const (
	healthKey  = "resource.customizations.health.ramp.dev_Rollout"
	actionsKey = "resource.customizations.actions.ramp.dev_Rollout"
)

// argoActions is the value of actionsKey as Argo CD reads it.
type argoActions struct {
	Discovery   string `yaml:"discovery.lua"`
	Definitions []struct {
		Name   string `yaml:"name"`
		Script string `yaml:"action.lua"`
	} `yaml:"definitions"`
}

func argocdConfigMap(t *testing.T, r *rendered) *corev1.ConfigMap {
	t.Helper()
	var found []*corev1.ConfigMap
	for _, o := range r.find("ConfigMap") {
		if strings.HasSuffix(o.GetName(), "-argocd-cm") {
			var cm corev1.ConfigMap
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &cm); err != nil {
				t.Fatal(err)
			}
			found = append(found, &cm)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d argocd-cm ConfigMaps rendered, want 1: %s", len(found), r.summary())
	}
	return found[0]
}

// checkArgoCDKeys: the ConfigMap holds the two argocd-cm keys and nothing
// else, and what Argo CD reads from them is, byte for byte, the Lua files
// of charts/ramp/argocd: health.lua, actions/discovery.lua and one
// definition per actions/<name>/action.lua.
func checkArgoCDKeys(t *testing.T, data map[string]string) {
	t.Helper()
	dir := filepath.Join(chartDir(t), "argocd")
	file := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var keys []string
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{actionsKey, healthKey}; !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	if data[healthKey] != file("health.lua") {
		t.Errorf("%s is not health.lua:\n%s", healthKey, data[healthKey])
	}
	var actions argoActions
	dec := yaml.NewDecoder(strings.NewReader(data[actionsKey]))
	dec.KnownFields(true)
	if err := dec.Decode(&actions); err != nil {
		t.Fatalf("%s: %v\n%s", actionsKey, err, data[actionsKey])
	}
	if actions.Discovery != file("actions/discovery.lua") {
		t.Errorf("discovery.lua differs:\n%s", actions.Discovery)
	}
	files, err := filepath.Glob(filepath.Join(dir, "actions", "*", "action.lua"))
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, f := range files {
		want = append(want, filepath.Base(filepath.Dir(f)))
	}
	for _, d := range actions.Definitions {
		got = append(got, d.Name)
		if d.Script != file(filepath.Join("actions", d.Name, "action.lua")) {
			t.Errorf("action %s differs from actions/%s/action.lua:\n%s", d.Name, d.Name, d.Script)
		}
	}
	slices.Sort(got) // Helm's Glob order, by path
	if !slices.Equal(got, want) || len(got) != 6 {
		t.Errorf("definitions %q, want %q (pause, resume, promote, promote-full, abort, retry)", got, want)
	}
}

// TestRenderArgoCDCustomizations: off by default; on, one ConfigMap whose
// data are the argocd-cm keys, read from the chart's Lua files, in the
// namespace asked for.
func TestRenderArgoCDCustomizations(t *testing.T) {
	dir := chartDir(t)
	for _, o := range render(t, dir, "ramp", "ramp-system", nil).find("ConfigMap") {
		if strings.HasSuffix(o.GetName(), "-argocd-cm") {
			t.Fatalf("rendered %s by default", o.GetName())
		}
	}
	r := render(t, dir, "ramp", "ramp-system", map[string]any{"argocd": map[string]any{"customizations": map[string]any{"enabled": true}}})
	cm := argocdConfigMap(t, r)
	if cm.Name != "ramp-argocd-cm" || cm.Namespace != "ramp-system" {
		t.Errorf("ConfigMap %s/%s, want ramp-system/ramp-argocd-cm", cm.Namespace, cm.Name)
	}
	checkArgoCDKeys(t, cm.Data)
	if want := "kubectl -n ramp-system get configmap ramp-argocd-cm -o jsonpath='{.data}'"; !strings.Contains(r.Notes, want) {
		t.Errorf("NOTES.txt does not give the merge into argocd-cm (%s):\n%s", want, r.Notes)
	}

	r = render(t, dir, "ramp", "ramp-system", map[string]any{"argocd": map[string]any{"customizations": map[string]any{
		"enabled": true, "namespace": "argocd", "labels": map[string]any{"team": "sre"}, "annotations": map[string]any{"note": "merge into argocd-cm"},
	}}})
	cm = argocdConfigMap(t, r)
	if cm.Namespace != "argocd" || cm.Labels["team"] != "sre" || cm.Labels["app.kubernetes.io/part-of"] != "ramp" || cm.Annotations["note"] != "merge into argocd-cm" {
		t.Errorf("ConfigMap %s/%s, labels %v, annotations %v", cm.Namespace, cm.Name, cm.Labels, cm.Annotations)
	}
	checkArgoCDKeys(t, cm.Data)

	if _, err := tryRender(dir, "ramp", "ramp-system", map[string]any{"argocd": map[string]any{"customizations": map[string]any{"enabled": "yes"}}}); err == nil {
		t.Error("the schema took argocd.customizations.enabled: \"yes\"")
	}
}

// TestArgoCDConfigMapMerge: the merge the README gives, on a real API
// server. The rendered ConfigMap is created in Argo CD's namespace, and its
// data merged into an argocd-cm that has settings of its own, as
//
//	kubectl -n argocd patch configmap argocd-cm --type merge \
//	  -p "{\"data\": $(kubectl -n argocd get configmap ramp-argocd-cm -o jsonpath='{.data}')}"
//
// does: argocd-cm keeps its own keys and gains Ramp's, unchanged.
func TestArgoCDConfigMapMerge(t *testing.T) {
	e := cluster(t)
	ctx := context.Background()
	ns := newNamespace(t, "argocd")
	r := render(t, chartDir(t), "ramp", "ramp-system", map[string]any{"argocd": map[string]any{"customizations": map[string]any{"enabled": true, "namespace": ns}}})
	obj := r.one(t, "ConfigMap")
	if obj.GetName() != "ramp-argocd-cm" {
		t.Fatalf("rendered ConfigMap %s", obj.GetName())
	}
	if err := e.Client.Create(ctx, obj.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	own := map[string]string{
		"url": "https://argocd.example",
		"resource.customizations.health.apps_Widget": "hs = {status = \"Healthy\"}\nreturn hs\n",
	}
	argocdCM := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "argocd-cm", Namespace: ns}, Data: own}
	if err := e.Client.Create(ctx, argocdCM); err != nil {
		t.Fatal(err)
	}

	// kubectl get ... -o jsonpath='{.data}', with kubectl's JSONPath: a map
	// prints as JSON.
	shipped := &unstructured.Unstructured{}
	shipped.SetAPIVersion("v1")
	shipped.SetKind("ConfigMap")
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "ramp-argocd-cm"}, shipped); err != nil {
		t.Fatal(err)
	}
	jp := jsonpath.New("data")
	if err := jp.Parse("{.data}"); err != nil {
		t.Fatal(err)
	}
	var data bytes.Buffer
	if err := jp.Execute(&data, shipped.Object); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data.Bytes()) {
		t.Fatalf("jsonpath {.data} printed no JSON: %s", data.String())
	}
	patch := []byte(`{"data": ` + data.String() + `}`)
	target := &unstructured.Unstructured{}
	target.SetAPIVersion("v1")
	target.SetKind("ConfigMap")
	target.SetNamespace(ns)
	target.SetName("argocd-cm")
	if err := e.Client.Patch(ctx, target, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}

	var merged corev1.ConfigMap
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "argocd-cm"}, &merged); err != nil {
		t.Fatal(err)
	}
	ramp := map[string]string{}
	for k, v := range merged.Data {
		if want, ok := own[k]; ok {
			if v != want {
				t.Errorf("argocd-cm's own %s changed to %q", k, v)
			}
			continue
		}
		ramp[k] = v
	}
	if len(merged.Data) != len(own)+2 {
		t.Errorf("argocd-cm has %d keys, want its %d and Ramp's 2", len(merged.Data), len(own))
	}
	checkArgoCDKeys(t, ramp)
}
