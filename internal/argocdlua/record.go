package argocdlua

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// RecordDir is where recorded Rollouts are kept, from the repository root.
const RecordDir = "internal/argocdlua/testdata"

// RecordEnv, set to 1, makes the envtest suite record the Rollouts it
// checks into RecordDir.
const RecordEnv = "RAMP_RECORD"

// Record is a Rollout as the API server stored it in one phase of a real
// run, with the health and the enabled actions the run asserted on it.
type Record struct {
	// Name is the file's name without .yaml.
	Name    string         `json:"-"`
	Health  Health         `json:"health"`
	Enabled []string       `json:"enabled"`
	Object  map[string]any `json:"object"`
}

const recordHeader = "# A Rollout as the API server stored it in a real envtest run, with the\n" +
	"# Argo CD health and enabled actions asserted on it (controllers/argocd_test.go,\n" +
	"# " + RecordEnv + "=1). TestRecordedRollouts runs the Lua on it again.\n"

// Write writes r to dir/<name>.yaml, without the object's managedFields.
func (r Record) Write(dir string) error {
	obj := (&unstructured.Unstructured{Object: r.Object}).DeepCopy()
	obj.SetManagedFields(nil)
	r.Object = obj.Object
	b, err := yaml.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, r.Name+".yaml"), append([]byte(recordHeader), b...), 0o644)
}

// ReadRecords reads every dir/*.yaml, sorted by name. Objects hold numbers
// as int64, as the live objects Argo CD reads do.
func ReadRecords(dir string) ([]Record, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Record
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		var shape struct {
			Health  Health                    `json:"health"`
			Enabled []string                  `json:"enabled"`
			Object  unstructured.Unstructured `json:"object"`
		}
		if err := json.Unmarshal(j, &shape); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, Record{Name: filepath.Base(f[:len(f)-len(".yaml")]), Health: shape.Health, Enabled: shape.Enabled, Object: shape.Object.Object})
	}
	return out, nil
}
