package controllers

import (
	"strings"
	"testing"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// The namespace's webhooks are read as the CRD would accept them: each
// entry it would refuse is left out and named.
func TestParseWebhooks(t *testing.T) {
	for name, tc := range map[string]struct {
		data    string
		names   []string
		problem string
	}{
		"one":  {"- {name: a, url: 'https://x.example/h'}", []string{"a"}, ""},
		"json": {`[{"name": "a", "url": "http://x:8080/h", "format": "teams"}]`, []string{"a"}, ""},
		"from secret": {"- name: a\n  format: slack\n  urlFrom: {secretKeyRef: {name: s, key: url}}\n  moments: [RolledBack]",
			[]string{"a"}, ""},
		"empty":          {"  ", nil, "no webhooks under key webhooks"},
		"not a list":     {"name: a", nil, "is not a list of webhooks"},
		"on is true":     {"- name: a\n  url: https://x/h\n  on: [Promoted]", nil, `unknown field "true" (YAML reads a key on as true: the field is moments)`},
		"unknown field":  {"- {name: a, url: 'https://x/h', channel: ops}", nil, `unknown field "channel"`},
		"ftp":            {"- {name: a, url: 'ftp://x/h'}\n- {name: b, url: 'https://x/h'}", []string{"b"}, `webhook 0 ("a"): url must be an http:// or https:// URL`},
		"both":           {"- {name: a, url: 'https://x/h', urlFrom: {secretKeyRef: {name: s, key: k}}}", nil, "exactly one of url and urlFrom"},
		"neither":        {"- {name: a}", nil, "exactly one of url and urlFrom"},
		"format":         {"- {name: a, url: 'https://x/h', format: discord}", nil, `unknown format "discord"`},
		"moment":         {"- {name: a, url: 'https://x/h', moments: [Deployed]}", nil, `unknown moment "Deployed"`},
		"name":           {"- {name: Ops Channel, url: 'https://x/h'}", nil, "name must be a DNS label"},
		"duplicate":      {"- {name: a, url: 'https://x/h'}\n- {name: a, url: 'https://y/h'}", []string{"a"}, `webhook 1: name "a" is used twice`},
		"secret no key":  {"- {name: a, urlFrom: {secretKeyRef: {name: s}}}", nil, "needs name and key"},
		"format default": {"- {name: a, url: 'https://x/h'}", []string{"a"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			hooks, problem := parseWebhooks(tc.data)
			var names []string
			for _, h := range hooks {
				names = append(names, h.Name)
				if h.Format == "" {
					t.Errorf("webhook %s without a format", h.Name)
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.names, ",") {
				t.Errorf("webhooks %v, want %v", names, tc.names)
			}
			if (tc.problem == "") != (problem == "") || !strings.Contains(problem, tc.problem) {
				t.Errorf("problem %q, want %q", problem, tc.problem)
			}
		})
	}
	hooks, _ := parseWebhooks("- {name: a, url: 'https://x/h'}")
	if hooks[0].Format != v1.FormatJSON || !hooks[0].Wants(v1.MomentRolledBack) || hooks[0].Wants(v1.MomentRolloutStarted) {
		t.Errorf("defaults: %+v", hooks[0])
	}
}
