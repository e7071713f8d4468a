package metrics

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Every query of the Grafana dashboard names only metrics the controller
// exports (histograms by their _bucket/_sum/_count series), and every panel
// has a query.
func TestDashboardNamesRealMetrics(t *testing.T) {
	files, err := filepath.Glob("../../charts/ramp/dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards found (%v)", err)
	}
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	ro, st := sample()
	m.Observe(ro, st)
	m.Check(ro, "error-rate", "Passed")
	m.StepFinished(ro, 1)
	m.Finished(ro, "promoted")
	m.RolledBack(ro, 1)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, mf := range mfs {
		known[mf.GetName()] = true
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			known[mf.GetName()+suffix] = true
		}
	}
	name := regexp.MustCompile(`\bramp_[a-z_]+`)
	for _, f := range files {
		qs, err := DashboardQueries(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) < 6 {
			t.Errorf("%s: %d queries, want the panels of the dashboards issue", f, len(qs))
		}
		for _, q := range qs {
			ms := name.FindAllString(q.Expr, -1)
			if len(ms) == 0 {
				t.Errorf("%s: panel %q query %s reads no Ramp metric", f, q.Panel, q.RefID)
			}
			for _, n := range ms {
				if !known[n] {
					t.Errorf("%s: panel %q names %s, which the controller does not export", f, q.Panel, n)
				}
			}
			if s := Substitute(q.Expr, "shop", "shop", "1m"); strings.Contains(s, "$") {
				t.Errorf("%s: panel %q keeps an unknown variable: %s", f, q.Panel, s)
			}
		}
	}
}
