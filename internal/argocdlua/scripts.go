package argocdlua

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Dir is where the chart keeps the Lua sources, from the repository root.
const Dir = "charts/ramp/argocd"

// Scripts are the health check, the action discovery and the actions (by
// name) of ramp.dev/Rollout, as the chart puts them into argocd-cm.
type Scripts struct {
	Health    string
	Discovery string
	Actions   map[string]string
}

// Load reads the scripts under root/charts/ramp/argocd: health.lua,
// actions/discovery.lua and actions/<name>/action.lua.
func Load(root string) (*Scripts, error) {
	dir := filepath.Join(root, Dir)
	read := func(rel string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		return string(b), err
	}
	s := &Scripts{Actions: map[string]string{}}
	var err error
	if s.Health, err = read("health.lua"); err != nil {
		return nil, err
	}
	if s.Discovery, err = read("actions/discovery.lua"); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "actions", "*", "action.lua"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f))
		if s.Actions[name], err = read(filepath.Join("actions", name, "action.lua")); err != nil {
			return nil, err
		}
	}
	if len(s.Actions) == 0 {
		return nil, fmt.Errorf("no actions/*/action.lua under %s", dir)
	}
	return s, nil
}

// Health is Argo CD's health of a resource.
type Health struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// healthStatuses are the status codes Argo CD accepts from a script.
var healthStatuses = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

// HealthOf runs the health check on obj. A status Argo CD does not know is
// Unknown, with the message Argo CD gives it.
func (s *Scripts) HealthOf(obj *unstructured.Unstructured) (Health, error) {
	out, err := run(obj.Object, s.Health)
	if err != nil {
		return Health{}, fmt.Errorf("health.lua: %w", err)
	}
	var h Health
	if err := json.Unmarshal(out, &h); err != nil {
		return Health{}, fmt.Errorf("health.lua returned %s: %w", out, err)
	}
	if !slices.Contains(healthStatuses, h.Status) {
		return Health{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return h, nil
}

// Action is one entry of the discovery's result.
type Action struct {
	Name      string `json:"-"`
	Disabled  bool   `json:"disabled,omitempty"`
	IconClass string `json:"iconClass,omitempty"`
}

// Discover runs the discovery on obj and returns its actions by name.
func (s *Scripts) Discover(obj *unstructured.Unstructured) ([]Action, error) {
	out, err := run(obj.Object, s.Discovery)
	if err != nil {
		return nil, fmt.Errorf("discovery.lua: %w", err)
	}
	if string(out) == "[]" {
		return nil, nil
	}
	var byName map[string]json.RawMessage
	if err := json.Unmarshal(out, &byName); err != nil {
		return nil, fmt.Errorf("discovery.lua returned %s: %w", out, err)
	}
	var actions []Action
	for name, raw := range byName {
		a := Action{Name: name}
		if string(raw) != "[]" { // an empty table: enabled, nothing more
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("discovery.lua: action %s: %w", name, err)
			}
		}
		actions = append(actions, a)
	}
	slices.SortFunc(actions, func(a, b Action) int { return strings.Compare(a.Name, b.Name) })
	return actions, nil
}

// Enabled runs the discovery and returns the names of the enabled actions,
// sorted.
func (s *Scripts) Enabled(obj *unstructured.Unstructured) ([]string, error) {
	actions, err := s.Discover(obj)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, a := range actions {
		if !a.Disabled {
			names = append(names, a.Name)
		}
	}
	return names, nil
}

// Run runs the action name on the live object and returns the object the
// action returned, with the maps the JSON encoding emptied into arrays
// restored, as Argo CD applies it. An action the discovery does not offer
// on live, or offers disabled, is refused, as Argo CD's UI and API do.
func (s *Scripts) Run(name string, live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	script, ok := s.Actions[name]
	if !ok {
		return nil, fmt.Errorf("no action %q", name)
	}
	enabled, err := s.Enabled(live)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(enabled, name) {
		return nil, fmt.Errorf("action %q is not available on %s (enabled: %v)", name, live.GetName(), enabled)
	}
	out, err := run(live.DeepCopy().Object, script)
	if err != nil {
		return nil, fmt.Errorf("action %s: %w", name, err)
	}
	updated := &unstructured.Unstructured{}
	if err := updated.UnmarshalJSON(out); err != nil {
		return nil, fmt.Errorf("action %s returned %s: %w", name, out, err)
	}
	restoreEmptyMaps(updated.Object, live.Object)
	return updated, nil
}

// Patch is the JSON merge patch Argo CD sends to turn live into updated,
// split as Argo CD splits it: status, for the status subresource, and the
// rest. Either is nil when it would change nothing.
func Patch(live, updated *unstructured.Unstructured) (object, status []byte, err error) {
	from, err := json.Marshal(live.Object)
	if err != nil {
		return nil, nil, err
	}
	to, err := json.Marshal(updated.Object)
	if err != nil {
		return nil, nil, err
	}
	diff, err := jsonpatch.CreateMergePatch(from, to)
	if err != nil {
		return nil, nil, fmt.Errorf("merge patch: %w", err)
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(diff, &parts); err != nil {
		return nil, nil, err
	}
	if st, ok := parts["status"]; ok {
		status, err = json.Marshal(map[string]json.RawMessage{"status": st})
		if err != nil {
			return nil, nil, err
		}
		delete(parts, "status")
	}
	if len(parts) > 0 {
		if object, err = json.Marshal(parts); err != nil {
			return nil, nil, err
		}
	}
	return object, status, nil
}
