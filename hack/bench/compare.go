package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// printComparison prints, for -compare "label=file.json,...", one Markdown
// row per result of each file (hack/bench/hanging.sh), then whether the
// rollback latency p99 of the run labelled "after" is within 2× of the run
// labelled "baseline", when both are there.
func printComparison(w io.Writer, spec string) error {
	type run struct {
		label string
		r     *Result
	}
	var runs []run
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		i := strings.LastIndex(part, "=") // a label may hold "=" (--check-workers=64)
		if i < 0 {
			return fmt.Errorf("-compare: %q is not label=file.json", part)
		}
		label, path := part[:i], part[i+1:]
		all, err := loadResults(path)
		if err != nil {
			return fmt.Errorf("-compare: %s: %w", path, err)
		}
		if len(all) == 0 {
			runs = append(runs, run{label: label})
		}
		for _, r := range sorted(all) {
			runs = append(runs, run{label, r})
		}
	}
	fmt.Fprintln(w, "| run | commit | N | hanging (timeout) | interval | breach → 0 % p50 / p99 | breaching check due → 0 % p50 / p99 | `ramp_rollback_seconds` p50 / p99 | step lag p99 | promoted / rolled back / stuck | hanging: queries / rolled back | wave | load at wave start | finished |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	p99 := map[string]*Result{}
	for _, x := range runs {
		r := x.r
		if r == nil {
			fmt.Fprintf(w, "| %s | – | – | – | – | no result | | | | | | | | false |\n", x.label)
			continue
		}
		p99[x.label] = r
		hang := "0"
		if r.Hang > 0 {
			hang = fmt.Sprintf("%d (%s)", r.Hang, r.HangTimeout)
		}
		if !r.waveRan() {
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | not reached | | | | | | | | false: %s |\n", x.label, r.Commit, r.N, hang, r.Interval, r.Note)
			continue
		}
		finished := fmt.Sprint(r.Finished)
		if r.Note != "" {
			finished += ": " + r.Note
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s / %s | %s / %s | %s / %s (n=%d) | %s | %d / %d / %d | %d / %d | %.0f s | %.2f | %s |\n",
			x.label, r.Commit, r.N, hang, r.Interval, sec(r.Breach.P50), sec(r.Breach.P99), sec(r.BreachDue.P50), sec(r.BreachDue.P99),
			histSec(r.RollbackHist.P50), histSec(r.RollbackHist.P99), r.RollbackHist.Count, sec(r.StepLag.P99),
			r.Promoted, r.RolledBack, r.Stuck, r.HangQueries, r.HangRolledBack, r.WaveSeconds, r.LoadWaveStart[0], finished)
	}
	base, after := p99["baseline"], p99["after"]
	if base == nil || after == nil || !base.waveRan() || !after.waveRan() {
		return nil
	}
	fmt.Fprintln(w)
	verdict := func(what string, b, a float64) {
		if math.IsNaN(a) || math.IsNaN(b) || a < 0 || b <= 0 {
			fmt.Fprintf(w, "- %s: not measured in both runs\n", what)
			return
		}
		ok := "holds"
		if a > 2*b {
			ok = "does not hold"
		}
		fmt.Fprintf(w, "- %s p99: after %s, baseline %s: %.2f× — within 2× %s\n", what, sec(a), sec(b), a/b, ok)
	}
	verdict("breach → 0 %", base.Breach.P99, after.Breach.P99)
	verdict("breaching check due → 0 %", base.BreachDue.P99, after.BreachDue.P99)
	verdict("`ramp_rollback_seconds`", base.RollbackHist.P99, after.RollbackHist.P99)
	return nil
}
