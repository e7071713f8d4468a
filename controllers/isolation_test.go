package controllers_test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// hangingProm is a Prometheus that never answers (until the test ends).
func hangingProm(t *testing.T) string {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.URL
}

// A Prometheus that hangs delays neither the Rollout's own abort nor, with
// every worker of the controller taken by Rollouts asking it, another
// Rollout's breach rollback: checks run apart from the workers that decide.
// The queries hang for their whole timeout (1m); everything below happens
// long before any of them returns.
func TestHangingPrometheusDelaysNoRollback(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // two workers
	hang := hangingProm(t)
	stuck := func(name string) *v1.Rollout {
		ro := f.rollout(name, name+":v1")
		ro.Spec.Analysis.Prometheus.Address = hang
		ro.Spec.Analysis.Prometheus.Timeout = &metav1.Duration{Duration: time.Minute}
		ro.Spec.ProgressDeadline = &metav1.Duration{Duration: 10 * time.Minute}
		return ro
	}
	// The first version needs no checks; the next revision's first check
	// hangs at 1 %.
	for i := range 4 {
		f.healthy(stuck(fmt.Sprint("hang", i)))
	}
	f.healthy(f.rollout("fine", "fine:v1"))
	for i := range 4 {
		f.setImage(fmt.Sprint("hang", i), "v2")
	}
	f.eventually(10*time.Second, "every stuck canary at 1%", func() bool {
		for i := range 4 {
			if _, g := f.weights(fmt.Sprint("hang", i)); g != 1 {
				return false
			}
		}
		return true
	})
	time.Sleep(2 * time.Second) // their checks are due and hanging now

	f.annotate("hang0", v1.AnnotationAbort, "no answer")
	f.eventually(10*time.Second, "the abort acted while its query hangs", func() bool { b, g := f.weights("hang0"); return b == 100 && g == 0 })

	f.setImage("fine", "fine:v2")
	f.eventually(15*time.Second, "the healthy Rollout at 5%", func() bool { _, g := f.weights("fine"); return g == 5 })
	prom.Set(f.ns, "fine-green", errorMetric, testenv.Answer{Value: 0.5})
	f.eventually(10*time.Second, "the other Rollout rolled back while queries hang", func() bool { b, g := f.weights("fine"); return b == 100 && g == 0 })
}

// Controls are never silent: the usual spellings of true pause, a value
// that is not a boolean is reported, and a one-shot value set again at the
// next gate says it was acted on already.
func TestControlsAreNeverSilent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("ctl", "ctl:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 10, Pause: &v1.PauseGate{}}, {Weight: 50, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.healthy(ro)
	f.setImage("ctl", "ctl:v2")
	f.eventually(20*time.Second, "at the first gate", func() bool { return f.phase("ctl") == v1.PhasePaused && f.get("ctl").Status.CanaryWeight == 10 })

	f.annotate("ctl", v1.AnnotationPromote, "go")
	f.eventually(20*time.Second, "at the second gate", func() bool {
		st := f.get("ctl").Status
		return st.Phase == v1.PhasePaused && st.CanaryWeight == 50 && st.StepStartedAt != nil
	})
	f.eventually(10*time.Second, "the re-used promote value named", func() bool {
		return strings.Contains(f.get("ctl").Status.Message, `"go" was spent already`)
	}, func() string { return f.get("ctl").Status.Message })

	f.annotate("ctl", v1.AnnotationPause, "maybe")
	f.eventually(10*time.Second, "the pause value reported", func() bool { return f.hasEvent("ctl", "ControlIgnored", `ramp.dev/pause="maybe"`) })

	f.update("ctl", func(ro *v1.Rollout) { // one write: a new promote value, held by "True"
		ro.Annotations[v1.AnnotationPromote] = "go-again"
		ro.Annotations[v1.AnnotationPause] = "True"
	})
	f.eventually(10*time.Second, "paused by True", func() bool {
		c := meta.FindStatusCondition(f.get("ctl").Status.Conditions, v1.ConditionPaused)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == v1.ReasonPausedByAnnotation
	})
	time.Sleep(2 * time.Second)
	if _, g := f.weights("ctl"); g != 50 {
		t.Fatalf("moved to %d%% while paused by \"True\"", g)
	}
}

// Query templates cannot run without bound: range and its kin are refused
// by the API server, and what only the controller can tell (a printf width
// bomb) is a Valid=False condition naming the metric, while the controller
// goes on serving other Rollouts.
func TestUnboundedQueryTemplatesAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("loop", "loop:v1")
	ro.Spec.Analysis.Metrics[0].Query = `{{range 1000000}}{{range 1000000}}x{{end}}{{end}}`
	if err := f.c.Create(f.ctx, ro); err == nil || !strings.Contains(err.Error(), "range, template, block and define are not allowed") {
		t.Fatalf("create with a nested range: %v, want a refusal", err)
	}
	bomb := f.rollout("bomb", "bomb:v1")
	bomb.Spec.Analysis.Metrics[0].Query = strings.Repeat(`{{printf "%999999d" 1}}`, 100)
	f.create(f.route("bomb"), bomb)
	f.eventually(10*time.Second, "Valid=False naming the metric", func() bool {
		c := meta.FindStatusCondition(f.get("bomb").Status.Conditions, v1.ConditionValid)
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "spec.analysis.metrics[0].query") && strings.Contains(c.Message, "printf")
	}, func() string { return f.get("bomb").Status.Message })
	f.healthy(f.rollout("other", "other:v1")) // the controller still serves others
}

// A value that is not a finite number never passes a check: -Inf under a
// max-only bound rolls back instead of promoting, and the status stays short.
func TestNonFiniteValueNeverPasses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("inf", "inf:v1"))
	prom.Set(f.ns, "inf-green", errorMetric, testenv.Answer{Value: math.Inf(-1)})
	f.setImage("inf", "inf:v2")
	f.eventually(20*time.Second, "rolled back on -Inf", func() bool { return f.phase("inf") == v1.PhaseRolledBack },
		func() string { return f.get("inf").Status.Message })
	if st := f.get("inf").Status; st.StableColor != v1.Blue || !strings.Contains(st.Message, "not a finite number") {
		t.Fatalf("stable %s, message %q", st.StableColor, st.Message)
	}
}
