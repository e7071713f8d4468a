package main

import (
	"encoding/json"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// Builtin are the Kubernetes definitions kustomize uses when no custom
// schema is given (kyaml's compiled-in schema, of the kyaml version in
// go.mod), without their descriptions.
func Builtin() (map[string]any, error) {
	openapi.ResetOpenAPI()
	defer openapi.ResetOpenAPI()
	out := map[string]any{}
	for name, d := range openapi.Schema().Definitions {
		if !strings.HasPrefix(name, "io.k8s.") {
			continue // kustomize's own Kustomization kinds, which it always adds
		}
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		out[name] = undescribed(m)
	}
	return out, nil
}

// undescribed drops every description below v.
func undescribed(v any) any {
	switch v := v.(type) {
	case map[string]any:
		delete(v, "description")
		for k, e := range v {
			v[k] = undescribed(e)
		}
	case []any:
		for i, e := range v {
			v[i] = undescribed(e)
		}
	}
	return v
}
