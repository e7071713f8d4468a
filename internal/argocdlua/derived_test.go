package argocdlua

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// setCondition sets the status and reason of a condition in a Rollout's
// status.conditions.
func setCondition(t *testing.T, obj map[string]any, typ, status, reason, message string) {
	t.Helper()
	conds, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
	for i, c := range conds {
		m := c.(map[string]any)
		if m["type"] == typ {
			m["status"], m["reason"], m["message"] = status, reason, message
			conds[i] = m
		}
	}
	if err := unstructured.SetNestedSlice(obj, conds, "status", "conditions"); err != nil {
		t.Fatal(err)
	}
}

// States envtest shows only for a moment, made from recorded Rollouts by
// setting the status fields the controller sets in them.
func TestDerivedStates(t *testing.T) {
	s, records := load(t)
	recorded := func(name string) map[string]any {
		for _, r := range records {
			if r.Name == name {
				return (&unstructured.Unstructured{Object: r.Object}).DeepCopy().Object
			}
		}
		t.Fatalf("no record %s", name)
		return nil
	}
	for name, tc := range map[string]struct {
		from    string
		edit    func(map[string]any)
		health  Health // an empty message: the recorded status.message
		enabled []string
	}{
		"rolling back": {from: "progressing_step", edit: func(o map[string]any) {
			st := o["status"].(map[string]any)
			st["rollbackReason"] = "aborted by ramp.dev/abort: bad"
			st["message"] = "rolling back: aborted by ramp.dev/abort: bad; waiting for the routes to carry 0% to green"
			setCondition(t, o, "Progressing", "True", "RollingBack", "")
		}, health: Health{"Degraded", "rolling back: aborted by ramp.dev/abort: bad; waiting for the routes to carry 0% to green"}, enabled: nil},
		"healthy phase, pods not all ready": {from: "healthy", edit: func(o map[string]any) {
			setCondition(t, o, "Ready", "False", "Healthy", "blue has 3/4 ready pods")
		}, health: Health{"Progressing", "blue has 3/4 ready pods"}},
		"watching the last promotion": {from: "healthy", edit: func(o map[string]any) {
			o["status"].(map[string]any)["postPromotionUntil"] = "2026-12-02T02:10:00Z"
		}, health: Health{Status: "Healthy"}, enabled: []string{"abort"}},
		"paused by a spelling of true": {from: "progressing_step", edit: func(o map[string]any) {
			o["metadata"].(map[string]any)["annotations"] = map[string]any{"ramp.dev/pause": "YES"}
		}, health: Health{Status: "Progressing"}, enabled: []string{"abort", "promote-full", "resume"}},
		"promote-full asked already": {from: "progressing_step", edit: func(o map[string]any) {
			o["status"].(map[string]any)["promoteFull"] = true
		}, health: Health{Status: "Progressing"}, enabled: []string{"abort", "pause"}},
		"gate passed already": {from: "suspended_gate", edit: func(o map[string]any) {
			o["status"].(map[string]any)["gatePassed"] = true
		}, health: Health{Status: "Suspended"}, enabled: []string{"abort", "pause", "promote-full"}},
		"a phase this script does not know": {from: "healthy", edit: func(o map[string]any) {
			o["status"].(map[string]any)["phase"] = "Exploded"
		}, health: Health{Status: "Unknown"}},
	} {
		t.Run(name, func(t *testing.T) {
			obj := recorded(tc.from)
			tc.edit(obj)
			want := tc.health
			if want.Message == "" {
				want.Message, _, _ = unstructured.NestedString(obj, "status", "message")
				if want.Status == "Unknown" {
					want.Message = "unknown phase Exploded: " + want.Message
				}
			}
			u := &unstructured.Unstructured{Object: obj}
			h, err := s.HealthOf(u)
			if err != nil {
				t.Fatal(err)
			}
			if h != want {
				t.Errorf("health %+v, want %+v", h, want)
			}
			enabled, err := s.Enabled(u)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(enabled, tc.enabled) {
				t.Errorf("enabled %v, want %v", enabled, tc.enabled)
			}
		})
	}
}
