//go:build e2e

package scenarios

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/e2e/harness"
	"github.com/ramp-dev/ramp/e2e/loadgen"
	"github.com/ramp-dev/ramp/e2e/stack"
)

// Rate is the load sent through the gateway, in requests per second. Each
// step holds at least one 5 s analysis interval, so a step sees about 750
// requests (≥ 300 even when a busy machine delays the gateway by a second).
const Rate = 150

var bins string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "ramp-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	err = stack.Build(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	table := report.table()
	fmt.Print(table)
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" && code == 0 {
		if err := writeResults(table); err != nil {
			fmt.Fprintln(os.Stderr, "write RESULTS.md:", err)
		}
	}
	os.Exit(code)
}

// env is one scenario's stack and load.
type env struct {
	t      *testing.T
	ctx    context.Context
	s      *stack.Stack
	load   *loadgen.Gen
	routes *stack.RouteLog
	start  time.Time
}

// setup starts a stack for the test; opts change its options (a metrics
// API, for one).
func setup(t *testing.T, opts ...func(*stack.Options)) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	dir, err := os.MkdirTemp("", "ramp-e2e-"+strings.ToLower(t.Name())+"-")
	if err != nil {
		t.Fatal(err)
	}
	o := stack.Options{Dir: dir, Bins: bins, Logf: func(f string, a ...any) {
		t.Logf(time.Now().Format("15:04:05.000 ")+f, a...)
	}}
	for _, opt := range opts {
		opt(&o)
	}
	s, err := stack.Start(ctx, o)
	e := &env{t: t, ctx: ctx, s: s, start: time.Now()}
	t.Cleanup(func() {
		if e.load != nil {
			e.load.Stop()
		}
		if s != nil {
			s.Stop()
		}
		if left := append(leftovers(dir), leftovers(bins)...); len(left) > 0 {
			t.Errorf("processes left behind: %v", left)
		}
		if t.Failed() {
			t.Logf("logs kept in %s", dir)
		} else {
			_ = os.RemoveAll(dir)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.routes, err = s.WatchRoute(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// deployV1 deploys v1, waits until the gateway answers it, and starts the load.
func (e *env) deployV1() {
	e.t.Helper()
	if err := e.s.Deploy(e.ctx, stack.Version{Tag: "v1"}); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.s.WaitFor(e.ctx, time.Minute, "v1 Healthy on blue", func(ro *v1.Rollout) bool {
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableColor == v1.Blue
	}); err != nil {
		e.t.Fatal(err)
	}
	e.waitForGateway("v1")
	e.logf("v1 serves on blue; sending %d requests/s through the gateway", Rate)
	e.load = loadgen.Start(e.s.URL, Rate)
}

func (e *env) logf(f string, a ...any) {
	e.t.Helper()
	e.t.Logf(time.Now().Format("15:04:05.000 ")+f, a...)
}

func (e *env) deploy(v stack.Version) {
	e.t.Helper()
	e.logf("deploying %s", v.Tag)
	if err := e.s.Deploy(e.ctx, v); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) waitFor(timeout time.Duration, what string, cond func(*v1.Rollout) bool) *v1.Rollout {
	e.t.Helper()
	ro, err := e.s.WaitFor(e.ctx, timeout, what, cond)
	if err != nil {
		e.t.Fatal(err)
	}
	e.logf("%s: phase %s step %d weight %d: %s", what, ro.Status.Phase, ro.Status.CurrentStep, ro.Status.CanaryWeight, ro.Status.Message)
	return ro
}

func promoted(color v1.Color) func(*v1.Rollout) bool {
	return func(ro *v1.Rollout) bool {
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableColor == color
	}
}

// greenWeights are the HAProxy weights of the green server over time.
func (e *env) greenWeights() []stack.WeightChange {
	backend := e.s.Namespace + "_" + e.s.Name
	var out []stack.WeightChange
	last := -1
	for _, c := range e.s.Weights.Changes() {
		if c.Backend != backend {
			continue
		}
		w, ok := c.Weights[e.s.Name+"-green"]
		if !ok || w == last {
			continue
		}
		last = w
		out = append(out, c)
	}
	return out
}

// leftovers lists processes whose command line names the scenario's folder.
func leftovers(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, dir) {
			out = append(out, en.Name()+": "+cmd)
		}
	}
	return out
}

// report collects the figures the suite prints and keeps in RESULTS.md.
var report = &figures{}

type stepRow struct {
	Weight   int
	Requests int
	V2       int
	Share    float64
}

type rollbackRow struct {
	Scenario       string
	Metric         string
	Value          string
	ControllerSecs float64 // ramp_rollback_seconds: failing check → route written
	GatewaySecs    float64 // failing check → HAProxy at 0 % canary
	AfterBreach    int     // requests the bad version answered after the failing check
	AfterGateway   int     // ... after HAProxy carried 0 %
	Requests       int     // requests the bad version answered in all
}

type figures struct {
	mu        sync.Mutex
	steps     []stepRow
	rollbacks []rollbackRow
	notes     map[string]string
	sections  map[string]string // a scenario's own section, by scenario letter
	timelines []string          // PNG files beside RESULTS.md
}

func (f *figures) section(scenario, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sections == nil {
		f.sections = map[string]string{}
	}
	f.sections[scenario] = text
}

func (f *figures) note(scenario, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.notes == nil {
		f.notes = map[string]string{}
	}
	f.notes[scenario] = text
}

func (f *figures) table() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	if len(f.steps) > 0 {
		b.WriteString("\n### a. v2 share at each step (client-side, per request)\n\n")
		b.WriteString("| route weight to v2 | requests | answered by v2 | v2 share | off by |\n| ---: | ---: | ---: | ---: | ---: |\n")
		for _, r := range f.steps {
			fmt.Fprintf(&b, "| %d %% | %d | %d | %.1f %% | %+.1f |\n", r.Weight, r.Requests, r.V2, r.Share, r.Share-float64(r.Weight))
		}
	}
	if len(f.rollbacks) > 0 {
		b.WriteString("\n### b, c. rollbacks\n\n")
		b.WriteString("| scenario | failed metric | value | check → route 0 % (ramp_rollback_seconds) | check → gateway 0 % | bad-version answers after check | after gateway 0 % | bad-version answers in all |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, r := range f.rollbacks {
			fmt.Fprintf(&b, "| %s | %s | %s | %.3f s | %.3f s | %d | %d | %d |\n", r.Scenario, r.Metric, short(r.Value), r.ControllerSecs, r.GatewaySecs, r.AfterBreach, r.AfterGateway, r.Requests)
		}
	}
	if len(f.notes) > 0 {
		b.WriteString("\n### other scenarios\n\n")
		keys := make([]string, 0, len(f.notes))
		for k := range f.notes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "- **%s**: %s\n", k, f.notes[k])
		}
	}
	keys := make([]string, 0, len(f.sections))
	for k := range f.sections {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(f.sections[k])
	}
	if len(f.timelines) > 0 {
		b.WriteString("\n## Timelines (drawn from the real Prometheus by scenario g)\n\n")
		for _, png := range f.timelines {
			fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(png, ".png"), png)
		}
	}
	return b.String()
}

func writeResults(table string) error {
	root, err := harness.RepoRoot()
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	text := "# End-to-end results\n\n" +
		"Produced by `go test -tags e2e -count=1 -v -timeout 40m ./e2e/scenarios/` (what `make e2e` runs) on " +
		time.Now().UTC().Format("2006-01-02 15:04 MST") + " (" + host + ", " + fmt.Sprint(runtime.NumCPU()) + " cores).\n" +
		"Load: " + fmt.Sprint(Rate) + " requests/s through HAProxy; analysis every 5 s over a 5 s window, 1 s scrapes.\n" +
		table
	return os.WriteFile(filepath.Join(root, "e2e", "RESULTS.md"), []byte(text), 0o644)
}

// short rounds a check value to three significant digits.
func short(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return v
	}
	return strconv.FormatFloat(f, 'g', 3, 64)
}
