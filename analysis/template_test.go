package analysis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ramp-dev/ramp/analysis"
	"github.com/ramp-dev/ramp/api/v1alpha1"
)

var shopVars = analysis.Vars{
	Namespace:      "shop",
	Rollout:        "shop",
	CanaryService:  "shop-green",
	StableService:  "shop-blue",
	CanaryColor:    "green",
	StableColor:    "blue",
	CanaryRevision: "7f5c8d6b4",
	StableRevision: "6d8f7c9b5",
	Interval:       "1m30s",
	Step:           2,
}

func TestPromDuration(t *testing.T) {
	tests := map[string]struct {
		in   time.Duration
		want string
	}{
		"one minute":           {in: time.Minute, want: "1m"},
		"ninety seconds":       {in: 90 * time.Second, want: "1m30s"},
		"one second":           {in: time.Second, want: "1s"},
		"thirty seconds":       {in: 30 * time.Second, want: "30s"},
		"two hours":            {in: 2 * time.Hour, want: "2h"},
		"milliseconds kept":    {in: 1500 * time.Millisecond, want: "1s500ms"},
		"zero":                 {in: 0, want: "0s"},
		"sub-millisecond drop": {in: time.Second + time.Microsecond, want: "1s"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := analysis.PromDuration(tc.in); got != tc.want {
				t.Errorf("PromDuration(%s) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	tests := map[string]struct {
		query   string
		want    string
		wantErr string
	}{
		"namespace":       {query: "{{ .Namespace }}", want: "shop"},
		"rollout":         {query: "{{ .Rollout }}", want: "shop"},
		"canary service":  {query: "{{ .CanaryService }}", want: "shop-green"},
		"stable service":  {query: "{{ .StableService }}", want: "shop-blue"},
		"canary color":    {query: "{{ .CanaryColor }}", want: "green"},
		"stable color":    {query: "{{ .StableColor }}", want: "blue"},
		"canary revision": {query: "{{ .CanaryRevision }}", want: "7f5c8d6b4"},
		"stable revision": {query: "{{ .StableRevision }}", want: "6d8f7c9b5"},
		"interval":        {query: "{{ .Interval }}", want: "1m30s"},
		"step":            {query: "{{ .Step }}", want: "2"},
		"step in a condition": {
			query: `{{ if eq .Step 2 }}third{{ else }}other{{ end }}`,
			want:  "third",
		},
		"whole query": {
			query: `sum(rate(http_requests_total{namespace="{{ .Namespace }}",service="{{ .CanaryService }}",code=~"5.."}[{{ .Interval }}]))`,
			want:  `sum(rate(http_requests_total{namespace="shop",service="shop-green",code=~"5.."}[1m30s]))`,
		},
		"no template at all": {query: "vector(1)", want: "vector(1)"},
		"missing field":      {query: "{{ .Canary }}", wantErr: "can't evaluate field Canary"},
		"missing sub-field":  {query: "{{ .Namespace.Name }}", wantErr: "can't evaluate field Name"},
		"parse error":        {query: "{{ .Namespace ", wantErr: "unclosed action"},
		"unknown function":   {query: "{{ foo .Namespace }}", wantErr: `function "foo" not defined`},
		"blank result":       {query: `{{ "" }}  `, wantErr: "blank"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := analysis.Render(tc.query, shopVars)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Render(%q) error = %v, want one containing %q", tc.query, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render(%q): %v", tc.query, err)
			}
			if got != tc.want {
				t.Errorf("Render(%q) = %q, want %q", tc.query, got, tc.want)
			}
		})
	}
}

func TestValidateMetrics(t *testing.T) {
	good := v1alpha1.Metric{
		Name:  "error-rate",
		Query: `sum(rate(x{service="{{ .CanaryService }}"}[{{ .Interval }}]))`,
		Max:   new(0.01),
	}
	metric := func(name, query string) v1alpha1.Metric {
		return v1alpha1.Metric{Name: name, Query: query, Max: new(1.0)}
	}
	tests := map[string]struct {
		metrics []v1alpha1.Metric
		want    []string // one substring per expected error, in order
	}{
		"none": {},
		"fine": {metrics: []v1alpha1.Metric{good}},
		"all fields": {metrics: []v1alpha1.Metric{metric("all",
			"{{.Namespace}}{{.Rollout}}{{.CanaryService}}{{.StableService}}{{.CanaryColor}}"+
				"{{.StableColor}}{{.CanaryRevision}}{{.StableRevision}}{{.Interval}}{{.Step}}")}},
		"with moves dot off the Vars": {metrics: []v1alpha1.Metric{metric("with",
			`{{ with .CanaryService }}{{ . }}{{ end }}`)}},
		"parse error": {
			metrics: []v1alpha1.Metric{good, metric("error-rate", "{{ foo .Namespace }}")},
			want:    []string{`spec.analysis.metrics[1].query: template: error-rate:1: function "foo" not defined`},
		},
		"unknown field": {
			metrics: []v1alpha1.Metric{metric("latency", `x{service="{{ .Canary }}"}`)},
			want:    []string{"spec.analysis.metrics[0].query: unknown field .Canary at latency:1:"},
		},
		"unknown field lists the known ones": {
			metrics: []v1alpha1.Metric{metric("latency", `{{ .Canary }}`)},
			want:    []string{"known fields: .Namespace, .Rollout, .CanaryService, .StableService, .CanaryColor, .StableColor, .CanaryRevision, .StableRevision, .Interval, .Step, .Service, .Color, .Revision"},
		},
		"unknown field in a branch not taken": {
			metrics: []v1alpha1.Metric{metric("branch", `{{ if eq .Step 99 }}{{ .Revisions }}{{ else }}x{{ end }}`)},
			want:    []string{"spec.analysis.metrics[0].query: unknown field .Revisions"},
		},
		"unknown field through $": {
			metrics: []v1alpha1.Metric{metric("dollar", `{{ with .Namespace }}{{ $.Colour }}{{ end }}`)},
			want:    []string{"unknown field .Colour"},
		},
		"field of a string": {
			metrics: []v1alpha1.Metric{metric("sub", `{{ .Namespace.Name }}`)},
			want:    []string{"unknown field .Namespace.Name"},
		},
		"execution error": {
			metrics: []v1alpha1.Metric{metric("exec", `{{ index .Namespace 99 }}`)},
			want:    []string{"spec.analysis.metrics[0].query: template: exec:1:3: executing"},
		},
		"blank": {
			metrics: []v1alpha1.Metric{metric("blank", `{{/* nothing */}}`)},
			want:    []string{"spec.analysis.metrics[0].query: query renders to blank text"},
		},
		"several bad metrics, each named by index": {
			metrics: []v1alpha1.Metric{
				metric("a", "{{ .Nope }}"),
				good,
				metric("c", "{{ .Namespace"),
				metric("d", "{{ .Also }}"),
			},
			want: []string{
				"spec.analysis.metrics[0].query: unknown field .Nope",
				"spec.analysis.metrics[2].query: template: c:1:",
				"spec.analysis.metrics[3].query: unknown field .Also",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs := analysis.ValidateMetrics(tc.metrics)
			if len(errs) != len(tc.want) {
				t.Fatalf("ValidateMetrics returned %d errors %v, want %d", len(errs), errs, len(tc.want))
			}
			if len(tc.want) == 0 && errs != nil {
				t.Fatalf("ValidateMetrics = %#v, want nil", errs)
			}
			for i, err := range errs {
				if !strings.Contains(err.Error(), tc.want[i]) {
					t.Errorf("error %d = %q, want it to contain %q", i, err, tc.want[i])
				}
			}
		})
	}
}
