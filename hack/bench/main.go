// Command bench is Ramp's scale benchmark (`make bench`, issue 7). For each
// N it starts a real kube-apiserver and etcd (envtest), runs ramp-controller
// as its own process against them, creates N Rollouts with their HTTPRoutes,
// stands in for the deployment controller, changes every image at once and
// lets the rollouts walk the default steps against a scripted Prometheus that
// makes a share of them breach at 25 %. It measures step lag, rollback
// latency, the controller's memory, CPU and API requests, and Prometheus
// queries per interval, then writes the tables and plot of docs/BENCHMARKS.md.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ramp-dev/ramp/internal/testenv"
)

// config is what one benchmark run is asked to do.
type config struct {
	sizes          []int
	breachShare    float64
	interval       time.Duration
	timeout        time.Duration
	controllerArgs []string
	hang           int // Rollouts beside the N whose Prometheus never answers
	root           string
	results        string // none written when empty
	doc            string // none written when empty
	png            string // none written when empty
	trace          string // a rollout whose recorded timeline is printed
	profile        string // folder for CPU profiles of the wave; none when empty
	audit          string // API server audit log file; none when empty
}

func main() {
	if err := run(); err != nil {
		log.Fatalf("bench: %v", err)
	}
}

func run() error {
	var c config
	sizes := flag.String("n", "100,1000,10000", "comma-separated numbers of rollouts, one run each")
	flag.Float64Var(&c.breachShare, "breach", 0.1, "share of the rollouts scripted to breach at the 25% step")
	flag.DurationVar(&c.interval, "interval", 10*time.Second, "analysis interval (and so the hold) of every step")
	flag.DurationVar(&c.timeout, "timeout", 0, "give up on one size after this long (setup and rollout wave together); 0: 10m + 0.3s per rollout (1h at 10,000)")
	args := flag.String("controller-args", "", "extra flags for ramp-controller, space-separated (default: its own defaults)")
	flag.IntVar(&c.hang, "hang", 0, "also run this many Rollouts whose Prometheus never answers (timeout 1m), changed in the same wave; they count in none of the figures")
	flag.StringVar(&c.results, "results", "hack/bench/results.json", "raw results, merged by N (and -hang, controller flags) across runs; empty: not written")
	flag.StringVar(&c.doc, "doc", "docs/BENCHMARKS.md", "document whose generated block receives the tables; empty: not written")
	flag.StringVar(&c.png, "png", "docs/bench.png", "plot of step lag and memory against N; empty: not drawn")
	compare := flag.String("compare", "", "only print a Markdown table comparing the results of label=file.json,... (hack/bench/hanging.sh)")
	reportOnly := flag.Bool("report", false, "only rewrite the document and plot from -results")
	flag.StringVar(&c.profile, "profile", "", "write 30s CPU profiles of the controller and kube-apiserver, taken 5s into the wave, to this folder")
	flag.StringVar(&c.audit, "audit", "", "have the API server write an audit log of every request to this file (costs API server CPU: for finding requests, not for figures)")
	flag.StringVar(&c.trace, "trace", "", "print the recorded timeline of this rollout (e.g. r00001)")
	flag.Parse()
	if *compare != "" {
		return printComparison(os.Stdout, *compare)
	}
	if c.hang < 0 {
		return fmt.Errorf("-hang: %d is negative", c.hang)
	}
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel))) // quiet: errors only
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-n: %q is not a positive number", s)
		}
		c.sizes = append(c.sizes, n)
	}
	c.controllerArgs = strings.Fields(*args)
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	c.root = root
	for _, p := range []*string{&c.results, &c.doc, &c.png} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(root, *p)
		}
	}
	all := map[string]*Result{}
	if c.results != "" {
		if all, err = loadResults(c.results); err != nil {
			return err
		}
	}
	if *reportOnly {
		return writeReport(c, all)
	}
	bin, cleanup, err := buildController(root)
	if err != nil {
		return err
	}
	defer cleanup()
	for _, n := range c.sizes {
		logf("=== N=%d ===", n)
		res, err := runSize(c, bin, n)
		if err != nil {
			return fmt.Errorf("N=%d: %w", n, err)
		}
		all[res.key()] = res
		if c.results != "" {
			if err := saveResults(c.results, all); err != nil {
				return err
			}
		}
		if err := writeReport(c, all); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(res, "", "  ")
		logf("result N=%d:\n%s", n, b)
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
