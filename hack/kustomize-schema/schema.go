package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"sigs.k8s.io/yaml"
)

// kept are the keywords of a CRD schema that kustomize reads: the shape of
// the object and the list semantics. Descriptions, validation and defaults
// are for the API server, which has the CRD itself.
var kept = []string{
	"type", "format",
	"x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields",
	"x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
}

const (
	patchStrategy = "x-kubernetes-patch-strategy"
	patchMergeKey = "x-kubernetes-patch-merge-key"
	ownModule     = "github.com/ramp-dev/ramp/"
)

// Schema turns a CRD (YAML, as controller-gen writes it) into an OpenAPI
// document in the form kustomize's openapi field reads: one definition per
// served version, named after the kind's group in reverse, that carries
// x-kubernetes-group-version-kind. root is the Go type of the kind; its
// fields' tags give the patch strategies. The status is left out: kustomize
// patches manifests, which have none.
//
// builtin are definitions to carry along unchanged. kustomize reads a custom
// schema instead of its built-in one, not beside it: without them, a
// Deployment's patch in the same build would replace its containers.
func Schema(crdYAML []byte, root reflect.Type, builtin map[string]any) ([]byte, error) {
	var crd struct {
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Served bool   `json:"served"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(crdYAML, &crd); err != nil {
		return nil, fmt.Errorf("parse the CRD: %w", err)
	}
	defs := map[string]any{}
	for k, v := range builtin {
		defs[k] = v
	}
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		s := v.Schema.OpenAPIV3Schema
		props, _ := s["properties"].(map[string]any)
		delete(props, "status")
		out, err := walk(s, root, crd.Spec.Names.Kind)
		if err != nil {
			return nil, err
		}
		out["x-kubernetes-group-version-kind"] = []any{map[string]any{
			"group": crd.Spec.Group, "version": v.Name, "kind": crd.Spec.Names.Kind,
		}}
		name := reverse(crd.Spec.Group) + "." + v.Name + "." + crd.Spec.Names.Kind
		if _, ok := defs[name]; ok {
			return nil, fmt.Errorf("definition %s is built in already", name)
		}
		defs[name] = out
	}
	if len(defs) == 0 {
		return nil, fmt.Errorf("the CRD serves no version")
	}
	b, err := json.MarshalIndent(map[string]any{"definitions": defs}, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// reverse turns ramp.dev into dev.ramp, as Kubernetes names its definitions.
func reverse(group string) string {
	parts := strings.Split(group, ".")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ".")
}

// walk copies schema s of Go type t, keeping only what kustomize reads, and
// sets the patch strategy of each list from its field's tags. at names the
// place in the object, for errors.
func walk(s map[string]any, t reflect.Type, at string) (map[string]any, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]any{}
	for _, k := range kept {
		if v, ok := s[k]; ok {
			out[k] = v
		}
	}
	if props, ok := s["properties"].(map[string]any); ok && len(props) > 0 {
		if t.Kind() != reflect.Struct {
			return nil, fmt.Errorf("%s: the CRD has properties, the Go type is %s", at, t)
		}
		fields := jsonFields(t)
		outProps := map[string]any{}
		for name, p := range props {
			f, ok := fields[name]
			if !ok {
				return nil, fmt.Errorf("%s.%s: in the CRD, not in %s", at, name, t)
			}
			child, err := walk(p.(map[string]any), f.Type, at+"."+name)
			if err != nil {
				return nil, err
			}
			if err := strategy(child, f, t); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", at, name, err)
			}
			outProps[name] = child
		}
		out["properties"] = outProps
	}
	if items, ok := s["items"].(map[string]any); ok {
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return nil, fmt.Errorf("%s: the CRD has items, the Go type is %s", at, t)
		}
		child, err := walk(items, t.Elem(), at+"[]")
		if err != nil {
			return nil, err
		}
		out["items"] = child
	}
	if ap, ok := s["additionalProperties"].(map[string]any); ok {
		if t.Kind() != reflect.Map {
			return nil, fmt.Errorf("%s: the CRD has additionalProperties, the Go type is %s", at, t)
		}
		child, err := walk(ap, t.Elem(), at+"{}")
		if err != nil {
			return nil, err
		}
		out["additionalProperties"] = child
	}
	return out, nil
}

// strategy sets the patch strategy and merge key of field f (of struct
// owner) on its schema s. A Kubernetes type says them in its patchStrategy
// and patchMergeKey tags, exactly as Kubernetes' own OpenAPI does (and
// kubectl's strategic merge). Ramp's types have no such tags: a list the
// CRD declares a map (+listType=map) is merged on its map keys.
func strategy(s map[string]any, f reflect.StructField, owner reflect.Type) error {
	if ps, ok := f.Tag.Lookup("patchStrategy"); ok {
		s[patchStrategy] = ps
		if mk, ok := f.Tag.Lookup("patchMergeKey"); ok {
			s[patchMergeKey] = mk
		}
		return nil
	}
	if !strings.HasPrefix(owner.PkgPath(), ownModule) || s["x-kubernetes-list-type"] != "map" {
		return nil
	}
	keys, _ := s["x-kubernetes-list-map-keys"].([]any)
	if len(keys) == 0 {
		return fmt.Errorf("a map list without keys")
	}
	s[patchStrategy] = "merge"
	s[patchMergeKey] = keys[0]
	return nil
}

// jsonFields are the fields of struct t by JSON name, with the fields of
// embedded inline structs (TypeMeta) lifted.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" && (f.Anonymous || strings.Contains(opts, "inline")) {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}
