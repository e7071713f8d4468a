package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// PanelQuery is one PromQL query of a Grafana dashboard panel.
type PanelQuery struct {
	Panel string
	RefID string
	Expr  string
}

// DashboardQueries reads the queries of every panel of a Grafana dashboard
// JSON file, so that tests can check them against the metrics (unit) and
// run them against a real Prometheus (end to end).
func DashboardQueries(path string) ([]PanelQuery, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", path, err)
	}
	var out []PanelQuery
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = append(out, PanelQuery{Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
		}
	}
	return out, nil
}

// Substitute fills a dashboard's template variables for one rollout and a
// range, as Grafana would.
func Substitute(expr, namespace, rollout, rng string) string {
	r := strings.NewReplacer("$namespace", namespace, "$rollout", rollout, "$__rate_interval", rng, "$__range", rng)
	return r.Replace(expr)
}
