package argocdlua

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ramp-dev/ramp/internal/testenv"
)

func load(t *testing.T) (*Scripts, []Record) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	records, err := ReadRecords(filepath.Join(root, RecordDir))
	if err != nil {
		t.Fatal(err)
	}
	return s, records
}

// annotationOf is the one key the actions may set.
var annotationOf = map[string]string{
	"pause": "ramp.dev/pause", "resume": "ramp.dev/pause", "promote": "ramp.dev/promote",
	"promote-full": "ramp.dev/promote-full", "abort": "ramp.dev/abort", "retry": "ramp.dev/retry",
}

// TestRecordedRollouts runs health.lua and discovery.lua on the Rollouts
// the envtest suite recorded in every phase (RAMP_RECORD=1 go test
// ./controllers -run TestArgoCDHealth) and expects what that run asserted.
func TestRecordedRollouts(t *testing.T) {
	s, records := load(t)
	seen := map[string]bool{}
	for _, r := range records {
		t.Run(r.Name, func(t *testing.T) {
			obj := &unstructured.Unstructured{Object: r.Object}
			h, err := s.HealthOf(obj)
			if err != nil {
				t.Fatal(err)
			}
			if h != r.Health {
				t.Errorf("health %+v, recorded %+v", h, r.Health)
			}
			seen[h.Status] = true
			enabled, err := s.Enabled(obj)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(enabled, r.Enabled) {
				t.Errorf("enabled actions %v, recorded %v", enabled, r.Enabled)
			}
		})
	}
	for _, want := range []string{"Healthy", "Progressing", "Suspended", "Degraded"} {
		if !seen[want] {
			t.Errorf("no recorded Rollout is %s", want)
		}
	}
}

// TestRecordedActions runs every action on every recorded Rollout: an
// enabled one patches its one annotation and nothing else (no status), a
// disabled one is refused.
func TestRecordedActions(t *testing.T) {
	s, records := load(t)
	if len(s.Actions) != len(annotationOf) {
		t.Fatalf("actions %v, want those of %v", s.Actions, annotationOf)
	}
	for _, r := range records {
		for name := range s.Actions {
			t.Run(r.Name+"/"+name, func(t *testing.T) {
				live := &unstructured.Unstructured{Object: r.Object}
				updated, err := s.Run(name, live)
				if !slices.Contains(r.Enabled, name) {
					if err == nil {
						t.Fatalf("ran although disabled")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				patch, status, err := Patch(live, updated)
				if err != nil {
					t.Fatal(err)
				}
				if status != nil {
					t.Fatalf("patches status: %s", status)
				}
				var p map[string]map[string]map[string]string
				if err := json.Unmarshal(patch, &p); err != nil {
					t.Fatalf("patch %s: %v", patch, err)
				}
				ann := p["metadata"]["annotations"]
				if len(p) != 1 || len(p["metadata"]) != 1 || len(ann) != 1 || ann[annotationOf[name]] == "" {
					t.Fatalf("patch %s, want only metadata.annotations[%s]", patch, annotationOf[name])
				}
				switch name {
				case "pause":
					// Paused now: pause is no longer offered, resume is.
					if enabled, _ := s.Enabled(updated); slices.Contains(enabled, "pause") || !slices.Contains(enabled, "resume") {
						t.Errorf("after pause, enabled %v", enabled)
					}
				case "resume":
				default:
					// Run again on the patched object: a one-shot sets a new value.
					again, err := s.Run(name, updated)
					if err != nil {
						t.Fatal(err)
					}
					if again.GetAnnotations()[annotationOf[name]] == ann[annotationOf[name]] {
						t.Errorf("ran twice, set %q twice", ann[annotationOf[name]])
					}
				}
			})
		}
	}
}
