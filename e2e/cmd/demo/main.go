// Command demo shows Ramp to a newcomer in about three minutes: it starts the
// whole end-to-end stack on this machine (a local control plane with kwok,
// HAProxy as the gateway, Prometheus, the demo app and ramp-controller),
// deploys demo v1, rolls out a healthy v2 (promoted step by step) and a bad
// v3 that answers 500 to 10 % of requests (rolled back), printing the progress
// live. Ctrl-C stops everything it started.
//
//	make demo     # or: go run ./e2e/cmd/demo
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/e2e/loadgen"
	"github.com/ramp-dev/ramp/e2e/stack"
)

const rate = 50 // requests per second through the gateway

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx)
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		fmt.Println("\nstopped (Ctrl-C); everything the demo started has been stopped")
	default:
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) (err error) {
	dir, err := os.MkdirTemp("", "ramp-demo-")
	if err != nil {
		return err
	}
	start := time.Now()
	say := func(format string, a ...any) {
		fmt.Printf("%6.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	fmt.Println("Ramp demo: a Rollout named shop, steps 1 → 5 → 25 → 50 → 100 %, checked by Prometheus every 5 s")
	fmt.Println("(error rate ≤ 1 % from the gateway's metrics, p99 latency ≤ 0.5 s from the app's). Ctrl-C stops it.")
	fmt.Println("logs and configuration:", dir)
	s, err := stack.Start(ctx, stack.Options{Dir: dir, Logf: func(f string, a ...any) {
		if !strings.HasPrefix(f, "pods:") {
			say(f, a...)
		}
	}})
	var load *loadgen.Gen
	defer func() {
		fmt.Println("stopping the stack …")
		if load != nil {
			load.Stop()
		}
		if s != nil {
			s.Stop()
		}
		if err == nil || errors.Is(err, context.Canceled) {
			_ = os.RemoveAll(dir)
		} else {
			fmt.Println("logs kept in", dir)
		}
	}()
	if err != nil {
		return err
	}

	say("deploying demo v1 (the first version serves 100 %% at once)")
	if err := s.Deploy(ctx, stack.Version{Tag: "v1"}); err != nil {
		return err
	}
	if _, err := s.WaitFor(ctx, time.Minute, "v1 Healthy", func(ro *v1.Rollout) bool { return ro.Status.Phase == v1.PhaseHealthy }); err != nil {
		return err
	}
	load = loadgen.Start(s.URL, rate)
	say("v1 serves; sending %d requests/s to %s", rate, s.URL)
	time.Sleep(2 * time.Second)

	fmt.Println()
	say("ROLLOUT 1: v2, a healthy version")
	if err := s.Deploy(ctx, stack.Version{Tag: "v2"}); err != nil {
		return err
	}
	ro, err := watch(ctx, s, load, say, "v2")
	if err != nil {
		return err
	}
	say("→ %s: %s (v2 is stable now; v1 is scaled down after scaleDownDelay)", ro.Status.Phase, ro.Status.Message)
	time.Sleep(2 * time.Second)

	fmt.Println()
	say("ROLLOUT 2: v3, a bad version that answers 500 to 10 %% of requests")
	if err := s.Deploy(ctx, stack.Version{Tag: "v3", ErrorRate: "0.1"}); err != nil {
		return err
	}
	if ro, err = watch(ctx, s, load, say, "v3"); err != nil {
		return err
	}
	say("→ %s: %s", ro.Status.Phase, ro.Status.Message)
	if secs, err := s.Controller.Metric(ctx, "ramp_rollback_seconds_sum"); err == nil {
		say("from the failing check to the route at 0 %% took %.3f s (ramp_rollback_seconds)", secs)
	}
	time.Sleep(3 * time.Second)
	all := loadgen.Count(load.Results(), time.Time{}, time.Now())
	fmt.Println()
	say("done: %d requests, answered by %s; %d were not 200 (v3's 500s before the rollback)", all.Total, versions(all), all.Failed)
	return nil
}

// watch prints the rollout's progress every second until it is promoted or
// rolled back.
func watch(ctx context.Context, s *stack.Stack, load *loadgen.Gen, say func(string, ...any), version string) (*v1.Rollout, error) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	begun := false
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		ro, err := s.Rollout(ctx)
		if err != nil {
			return nil, err
		}
		st := ro.Status
		now := time.Now()
		last := loadgen.Count(load.Results(), now.Add(-time.Second), now)
		line := fmt.Sprintf("%-11s step %d/%d  weight %3d%% → %-5s", st.Phase, st.CurrentStep+1, len(ro.Spec.EffectiveSteps()), st.CanaryWeight, st.StableColor.Other())
		if st.Phase == v1.PhaseHealthy || st.Phase == v1.PhaseRolledBack {
			line = fmt.Sprintf("%-11s all traffic on %-5s        ", st.Phase, st.StableColor)
		}
		if st.Analysis != nil {
			for _, m := range st.Analysis.Metrics {
				line += fmt.Sprintf("  %s %s", m.Name, value(m))
			}
		}
		line += fmt.Sprintf("  | last 1 s: %s, %d not 200", versions(last), last.Failed)
		say("%s", line)
		if st.CanaryRevision != "" || st.CanaryWeight > 0 {
			begun = true
		}
		switch {
		case begun && st.Phase == v1.PhaseHealthy && s.Pods.Running()[st.StableColor].Version == version:
			return ro, nil
		case st.Phase == v1.PhaseRolledBack || st.Phase == v1.PhaseFailed:
			return ro, nil
		}
	}
}

func value(m v1.MetricStatus) string {
	var f float64
	if _, err := fmt.Sscan(m.Value, &f); err == nil {
		return fmt.Sprintf("%.3f", f)
	}
	return strings.ToLower(string(m.Phase))
}

func versions(t loadgen.Tally) string {
	if t.Total == 0 {
		return "no answers"
	}
	var parts []string
	for _, v := range []string{"v1", "v2", "v3"} {
		if n := t.Versions[v]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", v, t.Share(v)))
		}
	}
	return strings.Join(parts, " ")
}
