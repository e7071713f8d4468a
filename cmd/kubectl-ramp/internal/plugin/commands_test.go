package plugin_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// contains fails unless text matches every regular expression.
func contains(t *testing.T, text string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(text) {
			t.Errorf("output does not match %q:\n%s", p, text)
		}
	}
}

// list and status show a rollout in flight at a step with checks: the
// step, the weight bar, both revisions with their images, the last check
// against its threshold, and what the rollout waits for.
func TestListAndStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("shop", "registry.example/shop:v1", v1.Step{Weight: 10}, v1.Step{Weight: 50, Hold: hold(time.Hour)}, v1.Step{Weight: 100}))
	stable := f.get("shop").Status.StableRevision

	r := f.run("list")
	f.expect(r, 0)
	contains(t, r.out,
		`(?m)^NAME\s+PHASE\s+STEP\s+WEIGHT\s+STABLE\s+CANARY\s+AGE$`,
		`(?m)^shop\s+Healthy\s+-\s+\[                    \] 0%\s+blue@`+stable+`\s+-\s+\d+s$`)
	r = f.run("status", "shop")
	f.expect(r, 0)
	contains(t, r.out, `Stable:\s+blue@`+stable+`\s+registry.example/shop:v1\n`, `Canary:\s+-\n`,
		`Waiting for:\s+nothing: a change of spec.template starts a rollout`)

	prom.Set(f.ns, "shop-green", errorMetric, testenv.Answer{Value: 0.002})
	f.setImage("shop", "registry.example/shop:v2")
	f.atStep("shop", 1, 50)
	f.eventually(10*time.Second, "a check at step 1", func() bool {
		st := f.get("shop").Status
		return st.Analysis != nil && len(st.Analysis.Metrics) == 1 && st.Analysis.Metrics[0].CheckedAt != nil &&
			!st.Analysis.Metrics[0].CheckedAt.Before(st.StepStartedAt)
	})
	canary := f.get("shop").Status.CanaryRevision

	r = f.run("status", "shop")
	f.expect(r, 0)
	contains(t, r.out,
		`Name:\s+shop\n`,
		`Phase:\s+Progressing\n`,
		`Step:\s+1/3  10% \[50%\] 100%\n`,
		`Weight:\s+\[##########          \] 50% to green\n`,
		`Stable:\s+blue@`+stable+`  registry.example/shop:v1\n`,
		`Canary:\s+green@`+canary+`  registry.example/shop:v2\n`,
		`Checks:\s+every 1s, 0 failed \(limit 0\), last \d+s ago\n`,
		`\n  error-rate  0\.002 <= 0\.01  Passed  \d+s ago`,
		`Waiting for:\s+the hold of step 1 to end at \d\d:\d\d:\d\dZ \(in (59|60)m\)\n`)
	if strings.Contains(r.out, "Paused:") {
		t.Errorf("a progressing rollout shows pause reasons:\n%s", r.out)
	}

	r = f.run("list")
	f.expect(r, 0)
	contains(t, r.out, `(?m)^shop\s+Progressing\s+1/3\s+\[##########          \] 50%\s+blue@`+stable+`\s+green@`+canary+`\s+\d+s$`)
	r = f.run("list", "-A")
	f.expect(r, 0)
	contains(t, r.out, `(?m)^NAMESPACE\s+NAME\s+PHASE`, `(?m)^`+f.ns+`\s+shop\s+Progressing\s+1/3\s`)

	r = f.run("status", "nosuch")
	f.expect(r, 1)
	contains(t, r.err, `rollout "nosuch" not found in namespace "`+f.ns+`"`)
}

// pause holds a rollout in flight and resume lets it go on; both write
// only ramp.dev/pause and print what the controller made of it.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("pause", "pause:v1", v1.Step{Weight: 10, Hold: hold(time.Hour)}, v1.Step{Weight: 100}))

	r := f.run("pause", "pause")
	f.expect(r, 0)
	contains(t, r.out, `controller: nothing in flight: the next rollout holds before its first step until resumed`)
	r = f.run("resume", "pause")
	f.expect(r, 0)

	f.setImage("pause", "pause:v2")
	f.atStep("pause", 0, 10)
	r = f.run("pause", "pause")
	f.expect(r, 0)
	if got := f.get("pause").Annotations[v1.AnnotationPause]; got != "true" {
		t.Fatalf("%s = %q, want true", v1.AnnotationPause, got)
	}
	contains(t, r.out,
		`rollout `+f.ns+`/pause: ramp.dev/pause="true"\n`,
		`controller: holding: paused by ramp.dev/pause\n`,
		`phase:\s+Paused\n`,
		`step:\s+0/2\n`,
		`weight:\s+\[##                  \] 10% to green\n`)
	r = f.run("status", "pause")
	contains(t, r.out, `Phase:\s+Paused\n`, `Paused:\s+paused by ramp.dev/pause\n`,
		`Waiting for:\s+ramp.dev/pause to be removed \(kubectl ramp resume pause\); the hold of step 0 to end`)

	r = f.run("resume", "pause")
	f.expect(r, 0)
	if _, ok := f.get("pause").Annotations[v1.AnnotationPause]; ok {
		t.Fatalf("%s still set after resume", v1.AnnotationPause)
	}
	contains(t, r.out, `ramp.dev/pause removed\n`, `controller: resumed\n`, `phase:\s+Progressing\n`)
}

// promote passes a manual gate once; with nothing in flight the controller
// ignores it and the plugin says so. watch --timeout gives up at a gate.
func TestPromoteAtGate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("gate", "gate:v1", v1.Step{Weight: 10}, v1.Step{Weight: 50, Pause: &v1.PauseGate{}}, v1.Step{Weight: 100}))

	r := f.run("promote", "gate")
	f.expect(r, 1)
	contains(t, r.err, `the controller ignored ramp.dev/promote: nothing is in flight`)
	ignored := f.get("gate").Annotations[v1.AnnotationPromote]

	f.setImage("gate", "gate:v2")
	f.eventually(30*time.Second, "waiting at the gate", func() bool {
		st := f.get("gate").Status
		return st.Phase == v1.PhasePaused && st.CurrentStep == 1 && strings.Contains(st.Message, v1.AnnotationPromote)
	})
	r = f.run("status", "gate")
	contains(t, r.out, `Step:\s+1/3  10% \[50%\(gate\)\] 100%\n`, `Paused:\s+step 1 waits for ramp.dev/promote \(its value "[^"]+" was spent already: set a new one, as kubectl ramp promote does\)\n`,
		`Waiting for:\s+ramp.dev/promote \(kubectl ramp promote gate\)\n`)
	r = f.run("watch", "gate", "--timeout", "1s")
	f.expect(r, 1)
	contains(t, r.err, `rollout gate did not finish within 1s`)
	contains(t, r.out, `Phase:\s+Paused\n`)
	r = f.run("approve", "gate")
	f.expect(r, 1)
	contains(t, r.err, `nothing to approve: the gate of step 1/3 takes ramp.dev/promote, not approvals`)

	r = f.run("promote", "gate")
	f.expect(r, 0)
	value := f.get("gate").Annotations[v1.AnnotationPromote]
	if _, err := time.Parse(time.RFC3339Nano, value); err != nil || value == ignored {
		t.Fatalf("%s = %q: want a new RFC 3339 time (the ignored one was %q)", v1.AnnotationPromote, value, ignored)
	}
	contains(t, r.out, `rollout `+f.ns+`/gate: ramp.dev/promote="`+regexp.QuoteMeta(value)+`"\n`, `controller: gate (of step 1 )?passed`)
	f.eventually(20*time.Second, "promoted", func() bool { return f.get("gate").Status.StableColor == v1.Green })
}

// promote --full skips the remaining steps.
func TestPromoteFull(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("full", "full:v1", v1.Step{Weight: 10, Hold: hold(time.Hour)}, v1.Step{Weight: 100}))
	f.setImage("full", "full:v2")
	canary := f.atStep("full", 0, 10).Status.CanaryRevision

	r := f.run("promote", "full", "--full")
	f.expect(r, 0)
	value := f.get("full").Annotations[v1.AnnotationPromoteFull]
	if _, err := time.Parse(time.RFC3339Nano, value); err != nil {
		t.Fatalf("%s = %q: %v", v1.AnnotationPromoteFull, value, err)
	}
	if got := f.get("full").Annotations[v1.AnnotationPromote]; got != "" {
		t.Errorf("promote --full also set %s=%q", v1.AnnotationPromote, got)
	}
	contains(t, r.out, `ramp.dev/promote-full="`+regexp.QuoteMeta(value)+`"\n`, `controller: remaining steps skipped`)
	f.eventually(20*time.Second, "promoted", func() bool { return f.get("full").Status.StableRevision == canary })
}

// abort rolls back with the reason given, a repeated reason is a new
// value, retry starts the revision again, and abort without a reason names
// the caller.
func TestAbortAndRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("abort", "abort:v1", v1.Step{Weight: 10, Hold: hold(time.Hour)}, v1.Step{Weight: 100}))
	stable := f.get("abort").Status.StableRevision
	f.setImage("abort", "abort:v2")
	canary := f.atStep("abort", 0, 10).Status.CanaryRevision

	r := f.run("abort", "abort", "--reason", "error budget burning")
	f.expect(r, 0)
	first := f.get("abort")
	value := first.Annotations[v1.AnnotationAbort]
	contains(t, value, `^error budget burning \(at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\)$`)
	if first.Status.Phase != v1.PhaseRolledBack || first.Status.AbortReason != value {
		t.Fatalf("phase %s, abortReason %q; want RolledBack with %q", first.Status.Phase, first.Status.AbortReason, value)
	}
	contains(t, r.out, `controller: rolled back: all traffic to blue@`+stable+`\n`, `phase:\s+RolledBack\n`)
	r = f.run("status", "abort")
	contains(t, r.out, `Aborted:\s+`+regexp.QuoteMeta(value)+`\n`, `Canary:\s+green@`+canary+`  abort:v2  \(rolled back\)\n`,
		`Waiting for:\s+a new template, or ramp.dev/retry to roll `+canary+` out again \(kubectl ramp retry abort\)`)

	time.Sleep(2 * time.Millisecond) // the value carries milliseconds
	r = f.run("abort", "abort", "--reason", "error budget burning")
	f.expect(r, 1)
	if again := f.get("abort").Annotations[v1.AnnotationAbort]; again == value {
		t.Fatalf("a repeated reason wrote the same value %q", value)
	}
	contains(t, r.err, `the controller ignored ramp.dev/abort: nothing is in flight`)

	r = f.run("retry", "abort")
	f.expect(r, 0)
	if _, err := time.Parse(time.RFC3339Nano, f.get("abort").Annotations[v1.AnnotationRetry]); err != nil {
		t.Fatalf("%s: %v", v1.AnnotationRetry, err)
	}
	contains(t, r.out, `controller: rolling `+canary+` out again from step 0\n`)
	if st := f.get("abort").Status; st.Phase == v1.PhaseRolledBack || st.CanaryRevision != canary {
		t.Fatalf("after retry: phase %s, canary %s", st.Phase, st.CanaryRevision)
	}

	r = f.run("abort", "abort")
	f.expect(r, 0)
	contains(t, f.get("abort").Annotations[v1.AnnotationAbort], `^aborted by `+regexp.QuoteMeta(adminUser)+` via kubectl ramp \(at `)
}

// watch exits 0 once the revision in flight is promoted.
func TestWatchPromotion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("wp", "wp:v1", v1.Step{Weight: 50}, v1.Step{Weight: 100}))
	f.setImage("wp", "wp:v2")
	r := f.run("watch", "wp", "--timeout", "60s")
	f.expect(r, 0)
	canary := f.get("wp").Status.StableRevision
	contains(t, r.out, `Phase:\s+Progressing\n`, `\npromoted: green@`+canary+` serves all traffic\n$`)
}

// watch exits 2 when a breach rolls the rollout back.
func TestWatchRollback(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("wr", "wr:v1", v1.Step{Weight: 10, Hold: hold(time.Hour)}, v1.Step{Weight: 100}))
	f.setImage("wr", "wr:v2")
	f.atStep("wr", 0, 10)
	w := f.start("watch", "wr", "--timeout", "60s")
	f.eventually(10*time.Second, "watch showing the rollout in flight", func() bool {
		return strings.Contains(w.out.String(), "Waiting for:")
	})
	prom.Set(f.ns, "wr-green", errorMetric, testenv.Answer{Value: 0.5})
	r := w.wait()
	f.expect(r, 2)
	contains(t, r.out, `Weight:\s+\[##                  \] 10% to green\n`, `\nrolled back green@\w+: error-rate = 0.5`)
	contains(t, r.err, `rollout wr: rolled back`)
}
