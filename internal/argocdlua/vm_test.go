package argocdlua

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The runner is as strict as Argo CD: only the libraries Argo CD opens,
// its JSON encoding of tables, its health status codes.
func TestRunLikeArgoCD(t *testing.T) {
	obj := map[string]any{"metadata": map[string]any{"name": "shop", "generation": int64(3), "labels": map[string]any{}}, "list": []any{"a", "b"}}
	for name, tc := range map[string]struct {
		script string
		want   string // JSON, or a regexp of the error after "error: "
		err    bool
	}{
		"obj is fed in":          {script: `return {name = obj.metadata.name, gen = obj.metadata.generation + 1, second = obj.list[2]}`, want: `{"gen":4,"name":"shop","second":"b"}`},
		"empty table is []":      {script: `return {labels = obj.metadata.labels}`, want: `{"labels":[]}`},
		"array":                  {script: `return {1, "two", true}`, want: `[1,"two",true]`},
		"no string library":      {script: `return {s = string.lower("A")}`, err: true, want: `index a non-table object\(nil\) with key 'lower'`},
		"no math library":        {script: `return {n = math.floor(1.5)}`, err: true, want: `index a non-table object\(nil\) with key 'floor'`},
		"no io":                  {script: `return {f = io.open("/etc/passwd")}`, err: true, want: `index a non-table object\(nil\) with key 'open'`},
		"os is only time, date":  {script: `return {exit = os.exit == nil, exec = os.execute == nil, time = type(os.time()), date = type(os.date())}`, want: `{"date":"string","exec":true,"exit":true,"time":"number"}`},
		"require os":             {script: `local os = require("os"); return {t = type(os.time)}`, want: `{"t":"function"}`},
		"sparse array refused":   {script: `return {[1] = "a", [3] = "c"}`, err: true, want: `sparse`},
		"mixed keys refused":     {script: `local t = {"a"}; t.x = 1; return t`, err: true, want: `mixed`},
		"shared table refused":   {script: `local t = {}; t.x = 1; return {a = t, b = t}`, err: true, want: `nested`},
		"not a table":            {script: `return "Healthy"`, err: true, want: `table`},
		"endless script stopped": {script: `while true do end`, err: true, want: `context deadline exceeded`},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := run(obj, tc.script)
			if tc.err {
				if err == nil || !regexp.MustCompile(tc.want).MatchString(err.Error()) {
					t.Fatalf("error %v, want one matching %q (output %s)", err, tc.want, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got %s, want %s", out, tc.want)
			}
		})
	}
}

func TestOsDate(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 50, 7, 0, time.UTC)
	for format, want := range map[string]string{
		"%Y-%m-%dT%H:%M:%SZ": "2026-12-02T01:50:07Z",
		"%F %T %%":           "2026-12-02 01:50:07 %",
		"%a %b %j %w %q":     "Wed Dec 336 3 %q",
	} {
		if got := strftime(at, format); got != want {
			t.Errorf("strftime(%q) = %q, want %q", format, got, want)
		}
	}
	out, err := run(nil, `return {now = os.date("!%Y-%m-%dT%H:%M:%SZ")}`)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\{"now":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\}$`).Match(out) {
		t.Errorf("os.date: %s", out)
	}
}

// A status code Argo CD does not know is Unknown, as Argo CD reports it.
func TestHealthStatusChecked(t *testing.T) {
	s := &Scripts{Health: `return {status = "Fine", message = "all good"}`}
	h, err := s.HealthOf(&unstructured.Unstructured{Object: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != "Unknown" || !strings.Contains(h.Message, "invalid health status") {
		t.Errorf("health %+v", h)
	}
}

// An action that empties a map gets the live map back (Argo CD's guard
// against Lua's empty table encoding as []), so removing the last
// annotation patches nothing: resume sets "false" instead.
func TestEmptiedMapRestored(t *testing.T) {
	live := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ramp.dev/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": "shop", "annotations": map[string]any{"ramp.dev/pause": "true"}},
	}}
	s := &Scripts{Discovery: `return {remove = {}}`, Actions: map[string]string{"remove": `obj.metadata.annotations["ramp.dev/pause"] = nil; return obj`}}
	updated, err := s.Run("remove", live)
	if err != nil {
		t.Fatal(err)
	}
	patch, status, err := Patch(live, updated)
	if err != nil || patch != nil || status != nil {
		t.Fatalf("patch %s, status %s, error %v; want nothing", patch, status, err)
	}
}
