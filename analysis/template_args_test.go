package analysis_test

import (
	"strings"
	"testing"

	"github.com/ramp-dev/ramp/analysis"
	"github.com/ramp-dev/ramp/api/v1alpha1"
)

func TestRenderArgs(t *testing.T) {
	v := shopVars
	v.Args = map[string]string{"job": "checkout", "codes": "5..|429"}
	got, err := analysis.Render(`sum(rate(x{job="{{ .Args.job }}",code=~"{{ .Args.codes }}",svc="{{ .CanaryService }}"}[1m]))`, v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `sum(rate(x{job="checkout",code=~"5..|429",svc="shop-green"}[1m]))`; got != want {
		t.Fatalf("rendered %q, want %q", got, want)
	}
	// An argument the Vars lack fails at execution (missingkey=error).
	if _, err := analysis.Render(`x{job="{{ .Args.nope }}"}`, v); err == nil {
		t.Fatal("an argument missing from Vars rendered")
	}
}

func TestValidateTemplateMetrics(t *testing.T) {
	tests := map[string]struct {
		query string
		args  []string
		want  string // "" when valid
	}{
		"declared argument":           {query: `x{job="{{ .Args.job }}"}`, args: []string{"job"}},
		"declared, in an if branch":   {query: `{{ if eq .Step 9 }}x{job="{{ .Args.job }}"}{{ else }}y{{ end }}`, args: []string{"job"}},
		"with variables too":          {query: `x{job="{{ $.Args.job }}",ns="{{ .Namespace }}"}`, args: []string{"job"}},
		"undeclared argument":         {query: `x{job="{{ .Args.jbo }}"}`, args: []string{"job"}, want: "unknown argument .Args.jbo at"},
		"names the declared ones":     {query: `x{a="{{ .Args.c }}"}`, args: []string{"b", "a"}, want: "declared arguments: .Args.a, .Args.b"},
		"undeclared in a dead branch": {query: `{{ if false }}{{ .Args.ghost }}{{ end }}x`, args: []string{"job"}, want: "unknown argument .Args.ghost"},
		"the map alone":               {query: `x{a="{{ index .Args "job" }}"}`, args: []string{"job"}, want: ".Args at"},
		"deeper than a name":          {query: `x{a="{{ .Args.job.x }}"}`, args: []string{"job"}, want: "unknown argument .Args.job.x"},
		"range still refused":         {query: `{{ range $i := .Args }}x{{ end }}`, args: []string{"job"}, want: "range is not allowed"},
		"unknown plain field still":   {query: `x{a="{{ .Nope }}"}`, args: []string{"job"}, want: "unknown field .Nope"},
		"minSamples reads args too":   {query: `x{job="{{ .Args.job }}"}`, args: []string{"job"}},
		"not .Args in the known list": {query: `x{a="{{ .Foo }}"}`, want: "known fields: .Namespace"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := []v1alpha1.Metric{{Name: "m", Query: tc.query}}
			errs := analysis.ValidateTemplateMetrics(m, tc.args)
			if tc.want == "" {
				if len(errs) != 0 {
					t.Fatalf("refused: %v", errs)
				}
				if len(analysis.ValidMetrics(m, tc.args...)) != 1 {
					t.Fatal("ValidMetrics dropped a valid template metric")
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) || !strings.HasPrefix(errs[0].Error(), "spec.metrics[0].query: ") {
				t.Fatalf("errors %v, want one spec.metrics[0].query error containing %q", errs, tc.want)
			}
			if len(analysis.ValidMetrics(m, tc.args...)) != 0 {
				t.Fatal("ValidMetrics kept an invalid template metric")
			}
		})
	}
	guarded := []v1alpha1.Metric{{Name: "m", Query: "x", MinSamples: &v1alpha1.SampleGuard{Query: `n{job="{{ .Args.jbo }}"}`}}}
	if errs := analysis.ValidateTemplateMetrics(guarded, []string{"job"}); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "spec.metrics[0].minSamples.query: unknown argument .Args.jbo") {
		t.Fatalf("minSamples errors %v", errs)
	}
	if strings.Contains(analysis.ValidateTemplateMetrics([]v1alpha1.Metric{{Name: "m", Query: "{{ .Nope }}"}}, nil)[0].Error(), ".Args") {
		t.Fatal("the known fields list .Args as a field of its own")
	}
}

// A Rollout's own metrics declare no arguments: .Args is refused there, and
// ValidMetrics without args drops them.
func TestInlineMetricsHaveNoArgs(t *testing.T) {
	m := []v1alpha1.Metric{{Name: "m", Query: `x{job="{{ .Args.job }}"}`}}
	errs := analysis.ValidateMetrics(m)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "spec.analysis.metrics[0].query: unknown argument .Args.job") ||
		!strings.Contains(errs[0].Error(), "no arguments are declared") {
		t.Fatalf("errors %v", errs)
	}
	if len(analysis.ValidMetrics(m)) != 0 {
		t.Fatal("ValidMetrics kept an inline metric reading .Args")
	}
}

// Arguments cannot grow a query past the render cap: a 1 KiB value repeated
// is still bounded by the 64 KiB cap, and print of the whole Vars counts them.
func TestArgsRenderBounded(t *testing.T) {
	v := shopVars
	v.Args = map[string]string{"a": strings.Repeat("x", 1024)}
	q := strings.Repeat("{{ .Args.a }}", 70)
	if _, err := analysis.Render(q, v); err == nil || !strings.Contains(err.Error(), "renders to more than 64 KiB") {
		t.Fatalf("err %v, want the render cap", err)
	}
	var b strings.Builder
	b.WriteString("{{ $x := print . }}")
	for range 7 {
		b.WriteString("{{ $x = print $x $x }}")
	}
	b.WriteString("x")
	if _, err := analysis.Render(b.String(), v); err == nil || !strings.Contains(err.Error(), "builds more than 64 KiB") {
		t.Fatalf("err %v, want the print budget", err)
	}
}

func TestValidateArgValue(t *testing.T) {
	tests := map[string]struct {
		value string
		want  string
	}{
		"service name":       {value: "shop-green"},
		"regex":              {value: "5..|429"},
		"duration":           {value: "5m"},
		"number":             {value: "0.01"},
		"recording rule":     {value: "job:http_requests:rate5m"},
		"empty":              {value: ""},
		"ends a string":      {value: `x"} or vector(1) #`, want: `'"'`},
		"single quote":       {value: "x'", want: `'\''`},
		"backslash":          {value: `x\`, want: `'\\'`},
		"backtick":           {value: "x`", want: "'`'"},
		"ends a range":       {value: "5m]", want: "']'"},
		"ends a selector":    {value: "x}", want: "'}'"},
		"ends a call":        {value: "x)", want: "')'"},
		"white space":        {value: "1 or up", want: "' '"},
		"newline":            {value: "a\nb", want: `'\n'`},
		"template delimiter": {value: "{{ .Namespace }}", want: "'{'"},
		"non-ASCII":          {value: "é", want: "'é'"},
		"too long":           {value: strings.Repeat("a", 1025), want: "more than the 1024 allowed"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := analysis.ValidateArgValue(tc.value)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err %v, want one containing %s", err, tc.want)
			}
		})
	}
}
