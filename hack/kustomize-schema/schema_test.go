package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ramp-dev/ramp/internal/testenv"
)

// The committed schema is what the generator makes of the CRD and the Go
// types today (as TestCRDsAreGenerated does for the chart's CRDs).
func TestSchemaIsGenerated(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, outputPath))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run make manifests (or go run ./hack/kustomize-schema)", outputPath)
	}
}

// The lists a strategic-merge patch of a Rollout merges, and on which key:
// the pod template's as Kubernetes' own schema says, Ramp's map lists on
// their map key. Steps are a sequence and stay replaced.
func TestMergeKeys(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, outputPath))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	rollout := doc.Definitions["dev.ramp.v1alpha1.Rollout"]
	if rollout == nil {
		t.Fatal("no definition dev.ramp.v1alpha1.Rollout")
	}
	if gvk := rollout["x-kubernetes-group-version-kind"]; !reflect.DeepEqual(gvk, []any{map[string]any{"group": "ramp.dev", "version": "v1alpha1", "kind": "Rollout"}}) {
		t.Errorf("x-kubernetes-group-version-kind = %v", gvk)
	}
	at := func(path ...string) map[string]any {
		s := rollout
		for _, p := range path {
			if p == "[]" {
				s, _ = s["items"].(map[string]any)
			} else {
				props, _ := s["properties"].(map[string]any)
				s, _ = props[p].(map[string]any)
			}
			if s == nil {
				t.Fatalf("no schema at %v", path)
			}
		}
		return s
	}
	tmpl := []string{"spec", "template", "spec"}
	for name, tc := range map[string]struct {
		path          []string
		strategy, key any
	}{
		"containers":         {append(tmpl, "containers"), "merge", "name"},
		"initContainers":     {append(tmpl, "initContainers"), "merge", "name"},
		"container env":      {append(tmpl, "containers", "[]", "env"), "merge", "name"},
		"container ports":    {append(tmpl, "containers", "[]", "ports"), "merge", "containerPort"},
		"volumeMounts":       {append(tmpl, "containers", "[]", "volumeMounts"), "merge", "mountPath"},
		"volumes":            {append(tmpl, "volumes"), "merge,retainKeys", "name"},
		"imagePullSecrets":   {append(tmpl, "imagePullSecrets"), "merge", "name"},
		"tolerations":        {append(tmpl, "tolerations"), nil, nil},
		"configRefs":         {[]string{"spec", "configRefs"}, "merge", "name"},
		"analysis metrics":   {[]string{"spec", "analysis", "metrics"}, "merge", "name"},
		"steps (a sequence)": {[]string{"spec", "steps"}, nil, nil},
	} {
		t.Run(name, func(t *testing.T) {
			s := at(tc.path...)
			if got := s["x-kubernetes-patch-strategy"]; got != tc.strategy {
				t.Errorf("patch strategy %v, want %v", got, tc.strategy)
			}
			if got := s["x-kubernetes-patch-merge-key"]; got != tc.key {
				t.Errorf("merge key %v, want %v", got, tc.key)
			}
		})
	}
	if _, ok := rollout["properties"].(map[string]any)["status"]; ok {
		t.Error("the schema has the status")
	}
	// kustomize reads this file instead of its built-in schema: the
	// built-in kinds must be in it.
	if d := doc.Definitions["io.k8s.api.apps.v1.Deployment"]; d == nil || d["x-kubernetes-group-version-kind"] == nil {
		t.Error("no io.k8s.api.apps.v1.Deployment with its group-version-kind")
	}
}
