package analysis_test

import (
	"strings"
	"testing"

	"github.com/ramp-dev/ramp/analysis"
	"github.com/ramp-dev/ramp/api/v1alpha1"
)

// designQuery is the error-rate query of DESIGN.md.
const designQuery = `sum(rate(http_requests_total{namespace="{{ .Namespace }}",service="{{ .CanaryService }}",code=~"5.."}[{{ .Interval }}]))`

// limitCases are query templates that would hold a worker at full CPU or run
// the controller out of memory, each with the refusal ValidateMetrics and
// Render must give. None of them is ever executed unbounded: the structural
// ones are refused before execution starts (cases prefixed with a failing
// {{ index .Namespace 99 }} show it: execution would have stopped there with
// another message), the others stop at the 64 KiB caps.
var limitCases = map[string]struct {
	query   string
	wantErr string
}{
	"nested range of 70 characters": {
		query:   `sum(x{a="{{range 1000000}}{{range 1000000}}{{end}}{{end}}"}) > bool 0`,
		wantErr: "range is not allowed in a query template",
	},
	"range refused before anything executes": {
		query:   `{{ index .Namespace 99 }}{{ range 1000000 }}{{ range 1000000 }}{{ end }}{{ end }}`,
		wantErr: "range is not allowed in a query template",
	},
	"range in a branch the sample does not take": {
		query:   `vector(1){{ if eq .Step 99 }}{{ range 3 }}x{{ end }}{{ end }}`,
		wantErr: "range is not allowed in a query template",
	},
	"range with else": {
		query:   `{{ range 0 }}x{{ else }}vector(1){{ end }}`,
		wantErr: "range is not allowed in a query template",
	},
	"template": {
		query:   `{{ index .Namespace 99 }}{{ template "x" }}`,
		wantErr: "template and block are not allowed in a query template",
	},
	"define": {
		query:   `vector(1){{ define "x" }}vector(2){{ end }}`,
		wantErr: "define and block are not allowed in a query template",
	},
	"define named like the metric": {
		query:   `{{ define "m" }}vector(2){{ end }}`,
		wantErr: "define and block are not allowed in a query template",
	},
	"recursive define": {
		query:   `vector(1){{ define "x" }}{{ template "x" }}{{ template "x" }}{{ end }}`,
		wantErr: "not allowed in a query template",
	},
	"block": {
		query:   `{{ block "x" . }}vector(1){{ end }}`,
		wantErr: "template and block are not allowed in a query template",
	},
	"printf width bomb": {
		query:   `{{ index .Namespace 99 }}{{ printf "%99999999d" 1 }}`,
		wantErr: "printf width or precision 99999999 is more than 64 in a query template",
	},
	"printf width fmt would build": {
		query:   `{{ printf "%999999d%999999d" 1 2 }}`,
		wantErr: "printf width or precision 999999 is more than 64 in a query template",
	},
	"printf width after zero flags": {
		query:   `{{ printf "%0000099999s" "x" }}`,
		wantErr: "printf width or precision 99999 is more than 64",
	},
	"printf precision": {
		query:   `{{ printf "%.999999f" 1.0 }}`,
		wantErr: "printf width or precision 999999 is more than 64",
	},
	"printf star width": {
		query:   `{{ printf "%*d" 999999 1 }}`,
		wantErr: "printf width or precision from an argument (*) is not allowed in a query template",
	},
	"printf width in a branch the sample does not take": {
		query:   `vector(1){{ if eq .Step 99 }}{{ printf "%999999d" 1 }}{{ end }}`,
		wantErr: "printf width or precision 999999 is more than 64",
	},
	"printf width in a piped format": {
		query:   `{{ "%999999d" | printf }}`,
		wantErr: "printf width or precision 999999 is more than 64",
	},
	"js": {
		query:   `{{ js .Namespace }}`,
		wantErr: "function js is not allowed in a query template",
	},
	"html in a pipeline": {
		query:   `{{ .Namespace | html }}`,
		wantErr: "function html is not allowed in a query template",
	},
	"urlquery": {
		query:   `{{ urlquery .Namespace }}`,
		wantErr: "function urlquery is not allowed in a query template",
	},
	"call": {
		query:   `{{ call .Namespace }}`,
		wantErr: "function call is not allowed in a query template",
	},
	"query text too long": {
		query:   "vector(1)" + strings.Repeat(" ", 8*1024),
		wantErr: "query is 8201 bytes, more than the 8192 allowed",
	},
	"nested with doubling": {
		query: `{{ with printf "%64s" "x" }}{{ with print . . . . . . . . }}{{ with print . . . . . . . . }}` +
			`{{ with print . . . . . . . . }}{{ len (print . . . . . . . .) }}{{ end }}{{ end }}{{ end }}{{ end }}`,
		wantErr: "error calling print: query template builds more than 64 KiB of text",
	},
	"variable doubling": {
		query:   `{{ $x := printf "%64s" "x" }}` + strings.Repeat(`{{ $x = print $x $x }}`, 11) + `{{ len $x }}`,
		wantErr: "error calling print: query template builds more than 64 KiB of text",
	},
	"printf repeating an argument": {
		query: `{{ with printf "%64s" "x" }}{{ with print . . . . . . . . . . . . . . . . }}` +
			`{{ len (printf "` + strings.Repeat("%[1]s", 70) + `" .) }}{{ end }}{{ end }}`,
		wantErr: "error calling printf: query template builds more than 64 KiB of text",
	},
	"renders more than 64 KiB": {
		query:   `{{ with printf "%64s" "x" }}` + strings.Repeat(`{{.}}`, 1100) + `{{ end }}`,
		wantErr: "query renders to more than 64 KiB",
	},
}

func TestValidateMetricsRefusesUnboundedTemplates(t *testing.T) {
	for name, tc := range limitCases {
		t.Run(name, func(t *testing.T) {
			errs := analysis.ValidateMetrics([]v1alpha1.Metric{{Name: "m", Query: tc.query, Max: new(1.0)}})
			want := "spec.analysis.metrics[0].query: "
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), want) || !strings.Contains(errs[0].Error(), tc.wantErr) {
				t.Fatalf("ValidateMetrics = %v, want one error starting %q and containing %q", errs, want, tc.wantErr)
			}
			if got := analysis.ValidMetrics([]v1alpha1.Metric{{Name: "m", Query: tc.query}}); len(got) != 0 {
				t.Errorf("ValidMetrics kept %q", tc.query)
			}
		})
	}
}

func TestRenderRefusesUnboundedTemplates(t *testing.T) {
	for name, tc := range limitCases {
		t.Run(name, func(t *testing.T) {
			got, err := analysis.Render(tc.query, shopVars)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Render = %d bytes, error %v; want an error containing %q", len(got), err, tc.wantErr)
			}
		})
	}
}

func TestQueryTemplatesWithinLimits(t *testing.T) {
	big := shopVars
	big.Namespace = strings.Repeat("n", 70*1024)
	tests := map[string]struct {
		query   string
		vars    analysis.Vars
		want    string
		wantErr string
	}{
		"the query of DESIGN.md": {
			query: designQuery, vars: shopVars,
			want: `sum(rate(http_requests_total{namespace="shop",service="shop-green",code=~"5.."}[1m30s]))`,
		},
		"the latency query of DESIGN.md": {
			query: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="{{ .CanaryService }}"}[{{ .Interval }}])))`,
			vars:  shopVars,
			want:  `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="shop-green"}[1m30s])))`,
		},
		"printf of the step":         {query: `step="{{ printf "%d" .Step }}"`, vars: shopVars, want: `step="2"`},
		"printf width at the limit":  {query: `{{ printf "%64s" "x" | len }}`, vars: shopVars, want: "64"},
		"printf precision":           {query: `{{ printf "%.2f" 0.5 }}`, vars: shopVars, want: "0.50"},
		"printf percent sign":        {query: `{{ printf "%d%%" 5 }}`, vars: shopVars, want: "5%"},
		"with":                       {query: `{{ with .CanaryRevision }}rev="{{ . }}"{{ end }}`, vars: shopVars, want: `rev="7f5c8d6b4"`},
		"else with":                  {query: `{{ with "" }}a{{ else with .StableColor }}{{ . }}{{ end }}`, vars: shopVars, want: "blue"},
		"a variable":                 {query: `{{ $ns := .Namespace }}{{ $ns }}/{{ $.Rollout }}`, vars: shopVars, want: "shop/shop"},
		"print":                      {query: `{{ print .CanaryColor "-" .Step }}`, vars: shopVars, want: "green-2"},
		"query at the length limit":  {query: "vector(1)" + strings.Repeat(" ", 8*1024-9), vars: shopVars, want: "vector(1)" + strings.Repeat(" ", 8*1024-9)},
		"output of exactly 64 KiB":   {query: `{{ .Namespace }}`, vars: func() analysis.Vars { v := shopVars; v.Namespace = strings.Repeat("n", 64*1024); return v }(), want: strings.Repeat("n", 64*1024)},
		"vars rendering past 64 KiB": {query: `{{ .Namespace }}`, vars: big, wantErr: "query renders to more than 64 KiB"},
		"text past 64 KiB after vars": {
			query: `x{{ .Namespace }}` + strings.Repeat("y", 100), vars: func() analysis.Vars { v := shopVars; v.Namespace = strings.Repeat("n", 64*1024-50); return v }(),
			wantErr: "query renders to more than 64 KiB",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := analysis.Render(tc.query, tc.vars)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Render = %d bytes, error %v; want an error containing %q", len(got), err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render(%.60q): %v", tc.query, err)
			}
			if got != tc.want {
				t.Errorf("Render(%.60q) = %.60q, want %.60q", tc.query, got, tc.want)
			}
			if errs := analysis.ValidateMetrics([]v1alpha1.Metric{{Name: "m", Query: tc.query}}); errs != nil {
				t.Errorf("ValidateMetrics(%.60q) = %v, want none", tc.query, errs)
			}
		})
	}
}
