//go:build e2e

package scenarios

import (
	"fmt"
	"math"
	"time"

	"testing"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/e2e/loadgen"
	"github.com/ramp-dev/ramp/e2e/stack"
)

// settle leaves out requests sent right around a weight change.
const settle = 100 * time.Millisecond

// TestA_HealthyPromotion: a healthy v2 goes 1 → 5 → 25 → 50 → 100 % and is
// promoted; at each step the share answered by v2 matches the weight within
// ±3 points over ≥ 300 requests.
func TestA_HealthyPromotion(t *testing.T) {
	e := setup(t)
	e.deployV1()
	e.deploy(stack.Version{Tag: "v2"})
	e.waitFor(3*time.Minute, "v2 promoted to green", promoted(v1.Green))
	time.Sleep(time.Second)
	res := e.load.Stop()
	e.load = nil

	changes := e.greenWeights()
	var weights []int
	for i, c := range changes {
		w := c.Weights[e.s.Name+"-green"]
		if w == 0 {
			continue
		}
		weights = append(weights, w)
		to := time.Now()
		if i+1 < len(changes) {
			to = changes[i+1].At
		}
		tally := loadgen.Count(res, c.At.Add(settle), to)
		row := stepRow{Weight: w, Requests: tally.Total, V2: tally.Versions["v2"], Share: tally.Share("v2")}
		e.logf("weight %3d%%: %d requests, v2 answered %d (%.1f%%), %d failed", w, tally.Total, row.V2, row.Share, tally.Failed)
		report.mu.Lock()
		report.steps = append(report.steps, row)
		report.mu.Unlock()
		if tally.Total < 300 {
			t.Errorf("weight %d%%: only %d requests", w, tally.Total)
		}
		if math.Abs(row.Share-float64(w)) > 3 {
			t.Errorf("weight %d%%: v2 share %.1f%%, want within ±3", w, row.Share)
		}
	}
	if fmt.Sprint(weights) != "[1 5 25 50 100]" {
		t.Errorf("green weights in HAProxy %v, want [1 5 25 50 100]", weights)
	}
	all := loadgen.Count(res, time.Time{}, time.Now())
	if all.Failed != 0 {
		t.Errorf("%d of %d requests failed: %v", all.Failed, all.Total, all.Codes)
	}
}

// rollback runs a bad v2 to its rollback and records the figures.
func rollback(t *testing.T, scenario string, bad stack.Version, metric string) {
	e := setup(t)
	e.deployV1()
	e.deploy(bad)
	ro := e.waitFor(3*time.Minute, "bad v2 rolled back", func(ro *v1.Rollout) bool { return ro.Status.Phase == v1.PhaseRolledBack })
	time.Sleep(2 * time.Second)
	res := e.load.Stop()
	e.load = nil

	var failed v1.MetricStatus
	if ro.Status.Analysis != nil {
		for _, m := range ro.Status.Analysis.Metrics {
			if m.Phase == v1.CheckFailed {
				failed = m
			}
		}
	}
	if failed.Name != metric {
		t.Errorf("failed metric %q (%+v), want %s", failed.Name, ro.Status.Analysis, metric)
	}
	if ro.Status.CanaryWeight != 0 || ro.Status.StableColor != v1.Blue {
		t.Errorf("after rollback: weight %d stable %s, want 0 and blue", ro.Status.CanaryWeight, ro.Status.StableColor)
	}
	secs, err := e.s.Controller.Metric(e.ctx, "ramp_rollback_seconds_sum")
	if err != nil {
		t.Fatal(err)
	}
	// The route write that set green to 0 after it carried traffic.
	var routeZero time.Time
	wasUp := false
	for _, c := range e.routes.Changes() {
		w := c.Weights[e.s.Name+"-green"]
		if w > 0 {
			wasUp = true
		} else if wasUp && routeZero.IsZero() {
			routeZero = c.At
		}
	}
	var gwZero time.Time
	wasUp = false
	for _, c := range e.greenWeights() {
		if w := c.Weights[e.s.Name+"-green"]; w > 0 {
			wasUp = true
		} else if wasUp && gwZero.IsZero() {
			gwZero = c.At
		}
	}
	if routeZero.IsZero() || gwZero.IsZero() {
		t.Fatalf("no route write / gateway change to 0%% seen (route %v, gateway %v)", routeZero, gwZero)
	}
	breach := routeZero.Add(-time.Duration(secs * float64(time.Second)))
	row := rollbackRow{Scenario: scenario, Metric: failed.Name, Value: failed.Value, ControllerSecs: secs, GatewaySecs: gwZero.Sub(breach).Seconds()}
	for _, r := range res {
		if r.Version != bad.Tag {
			continue
		}
		row.Requests++
		if !r.Sent.Before(breach) {
			row.AfterBreach++
		}
		if !r.Sent.Before(gwZero) {
			row.AfterGateway++
		}
	}
	e.logf("rollback: %+v", row)
	report.mu.Lock()
	report.rollbacks = append(report.rollbacks, row)
	report.mu.Unlock()
	if row.AfterGateway != 0 {
		t.Errorf("%d requests answered by %s after the gateway carried 0%%", row.AfterGateway, bad.Tag)
	}
	if running := e.s.Pods.Running(); running[v1.Green].Version != "" {
		// The canary color is scaled to zero on a rollback.
		if _, err := e.s.WaitFor(e.ctx, 30*time.Second, "green scaled to zero", func(*v1.Rollout) bool {
			return e.s.Pods.Running()[v1.Green].Version == ""
		}); err != nil {
			t.Error(err)
		}
	}
}

// TestB_ErrorRateRollback: a v2 answering 5xx to 10 % of requests is rolled back.
func TestB_ErrorRateRollback(t *testing.T) {
	rollback(t, "b. 10 % 5xx", stack.Version{Tag: "v2", ErrorRate: "0.1"}, "error-rate")
}

// TestC_LatencyRollback: a v2 with high p99 latency is rolled back.
func TestC_LatencyRollback(t *testing.T) {
	rollback(t, "c. +600 ms latency", stack.Version{Tag: "v2", Latency: "600ms"}, "p99-latency")
}

// TestD_PauseHoldsAndResumes: ramp.dev/pause holds the weight; removing it resumes.
func TestD_PauseHoldsAndResumes(t *testing.T) {
	e := setup(t)
	e.deployV1()
	e.deploy(stack.Version{Tag: "v2"})
	e.waitFor(2*time.Minute, "step 2 (25%)", func(ro *v1.Rollout) bool { return ro.Status.CanaryWeight == 25 })
	if err := e.s.Annotate(e.ctx, v1.AnnotationPause, "true"); err != nil {
		t.Fatal(err)
	}
	ro := e.waitFor(30*time.Second, "paused", func(ro *v1.Rollout) bool { return ro.Status.Phase == v1.PhasePaused })
	held := ro.Status.CanaryWeight
	pausedAt := time.Now()
	hold := 4 * stack.AnalysisInterval
	for time.Since(pausedAt) < hold {
		ro, err := e.s.Rollout(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ro.Status.CanaryWeight != held || ro.Status.Phase != v1.PhasePaused {
			t.Fatalf("paused rollout moved: phase %s weight %d (held %d)", ro.Status.Phase, ro.Status.CanaryWeight, held)
		}
		time.Sleep(200 * time.Millisecond)
	}
	gw := e.greenWeights()
	if last := gw[len(gw)-1]; last.Weights[e.s.Name+"-green"] != int(held) || last.At.After(pausedAt) {
		t.Errorf("gateway changed while paused: %+v", last)
	}
	if err := e.s.Annotate(e.ctx, v1.AnnotationPause, ""); err != nil {
		t.Fatal(err)
	}
	resumedAt := time.Now()
	e.waitFor(2*time.Minute, "v2 promoted after resume", promoted(v1.Green))
	report.note("d. pause", fmt.Sprintf("paused at %d %%: weight and gateway unchanged for %.0f s (%d analysis intervals); after removing the annotation promoted in %.1f s",
		held, hold.Seconds(), int(hold/stack.AnalysisInterval), time.Since(resumedAt).Seconds()))
}

// TestE_ControllerKilled: the controller is SIGKILLed mid-rollout and started
// again; the rollout ends right and no request fails meanwhile.
func TestE_ControllerKilled(t *testing.T) {
	e := setup(t)
	e.deployV1()
	e.deploy(stack.Version{Tag: "v2"})
	ro := e.waitFor(2*time.Minute, "step 2 (25%)", func(ro *v1.Rollout) bool { return ro.Status.CanaryWeight == 25 })
	e.logf("SIGKILL ramp-controller")
	killedAt := time.Now()
	e.s.Controller.Kill()
	down := 3 * stack.AnalysisInterval
	time.Sleep(down)
	if now, err := e.s.Rollout(e.ctx); err != nil || now.Status.CanaryWeight != ro.Status.CanaryWeight {
		t.Errorf("rollout moved without a controller: %+v %v", now.Status, err)
	}
	e.logf("starting ramp-controller again")
	if err := e.s.Controller.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	restartedAt := time.Now()
	e.waitFor(2*time.Minute, "v2 promoted after restart", promoted(v1.Green))
	time.Sleep(time.Second)
	res := e.load.Stop()
	e.load = nil
	all := loadgen.Count(res, time.Time{}, time.Now())
	during := loadgen.Count(res, killedAt, time.Now())
	if all.Failed != 0 {
		t.Errorf("%d of %d requests failed: %v", all.Failed, all.Total, all.Codes)
	}
	var weights []int
	for _, c := range e.greenWeights() {
		weights = append(weights, c.Weights[e.s.Name+"-green"])
	}
	if fmt.Sprint(weights) != "[0 1 5 25 50 100]" {
		t.Errorf("green weights in HAProxy %v, want [0 1 5 25 50 100] (no step repeated or skipped)", weights)
	}
	report.note("e. controller SIGKILL", fmt.Sprintf("killed at 25 %%, down %.0f s, promoted %.1f s after the restart; requests from the kill to the end: %d, failed: %d (whole run %d/%d); HAProxy weights %v",
		down.Seconds(), time.Since(restartedAt).Seconds(), during.Total, during.Failed, all.Failed, all.Total, weights))
}

// TestF_PrometheusDown: with Prometheus stopped the rollout holds and never
// promotes; when it is back the rollout goes on.
func TestF_PrometheusDown(t *testing.T) {
	e := setup(t)
	e.deployV1()
	e.deploy(stack.Version{Tag: "v2"})
	e.waitFor(2*time.Minute, "step 1 (5%)", func(ro *v1.Rollout) bool { return ro.Status.CanaryWeight == 5 })
	e.logf("stopping prometheus")
	e.s.Prometheus.Stop()
	ro := e.waitFor(time.Minute, "held on errors", func(ro *v1.Rollout) bool { return ro.Status.Phase == v1.PhasePaused })
	held := ro.Status.CanaryWeight
	heldAt := time.Now()
	hold := 6 * stack.AnalysisInterval
	var errors int
	for time.Since(heldAt) < hold {
		ro, err := e.s.Rollout(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ro.Status.CanaryWeight != held || ro.Status.StableColor != v1.Blue || ro.Status.Phase != v1.PhasePaused {
			t.Fatalf("rollout moved without Prometheus: phase %s weight %d stable %s", ro.Status.Phase, ro.Status.CanaryWeight, ro.Status.StableColor)
		}
		if ro.Status.Analysis != nil {
			for _, m := range ro.Status.Analysis.Metrics {
				if m.Phase == v1.CheckError {
					errors++
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if errors == 0 {
		t.Errorf("no check reported Error while Prometheus was down")
	}
	e.logf("starting prometheus again")
	if err := e.s.Prometheus.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	backAt := time.Now()
	e.waitFor(2*time.Minute, "v2 promoted with prometheus back", promoted(v1.Green))
	report.note("f. prometheus down", fmt.Sprintf("stopped at 5 %%; held (phase Paused, checks Error) at %d %% for %.0f s, never promoted; promoted %.1f s after Prometheus was back (status.message while held: `%s`)",
		held, hold.Seconds(), time.Since(backAt).Seconds(), ro.Status.Message))
}
