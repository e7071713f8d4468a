package controllers_test

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// comparing is a Rollout whose error rate is judged against the stable
// color's, measured in the same check: at most 1.5 times stable, or stable
// plus half a point.
func (f *fixture) comparing(name string) *v1.Rollout {
	ro := f.rollout(name, name+":v1")
	m := &ro.Spec.Analysis.Metrics[0]
	m.Query = errorMetric + `{namespace="{{ .Namespace }}",service="{{ .Service }}"}`
	m.Max = nil
	m.CompareToStable = &v1.StableComparison{MaxRatio: new(1.5), MaxIncrease: new(0.005)}
	ro.Spec.Steps = []v1.Step{{Weight: 20}, {Weight: 100}}
	return ro
}

// TestCompareToStable: an incident that raises both colors' error rate to
// 8 % does not roll back a canary that is as bad as stable, and a canary at
// 8 % beside a stable color at 1 % is rolled back, with both values in
// status and the reason.
func TestCompareToStable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.comparing("same"))
	f.healthy(f.comparing("worse"))
	for _, c := range []string{"blue", "green"} {
		prom.Set(f.ns, "same-"+c, errorMetric, testenv.Answer{Value: 0.08})
	}
	prom.Set(f.ns, "worse-blue", errorMetric, testenv.Answer{Value: 0.01})
	prom.Set(f.ns, "worse-green", errorMetric, testenv.Answer{Value: 0.08})
	f.setImage("same", "same:v2")
	f.setImage("worse", "worse:v2")

	f.eventually(30*time.Second, "worse rolled back", func() bool { return f.phase("worse") == v1.PhaseRolledBack },
		func() string { return f.get("worse").Status.Message })
	st := f.get("worse").Status
	t.Logf("worse: %s; metric %+v", st.Message, st.Analysis.Metrics[0])
	if want := "error-rate = 0.08: 0.08 > 0.015 allowed by stable 0.01 ×1.5 or +0.005"; !strings.Contains(st.Message, want) {
		t.Errorf("worse: message %q, want it to contain %q", st.Message, want)
	}
	if ms := st.Analysis.Metrics; len(ms) != 1 || ms[0].Value != "0.08" || ms[0].StableValue != "0.01" {
		t.Errorf("worse: metric status %+v, want value 0.08 beside stable 0.01", ms)
	}

	f.eventually(30*time.Second, "same promoted", func() bool {
		ro := f.get("same")
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableColor == v1.Green
	}, func() string { return f.get("same").Status.Message })
	t.Logf("same: %s; metric %+v", f.get("same").Status.Message, f.get("same").Status.Analysis.Metrics[0])
	if b, g := f.weights("same"); b != 0 || g != 100 {
		t.Errorf("same: route blue %d green %d, want all on green", b, g)
	}
}

// TestConsecutiveFailuresAndNoTraffic: a metric that must fail 3 times in a
// row holds its step through the first two failures, then rolls back; a
// canary that gets no traffic (no data, noData: hold) is rolled back once
// its inconclusiveLimit passes instead of being held forever.
func TestConsecutiveFailuresAndNoTraffic(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	flaky := f.rollout("flaky", "flaky:v1")
	flaky.Spec.Analysis.Metrics[0].ConsecutiveFailures = 3
	quiet := f.rollout("quiet", "quiet:v1")
	quiet.Spec.Analysis.Metrics[0].InconclusiveLimit = &v1.InconclusiveLimit{After: metav1.Duration{Duration: 3 * time.Second}, Then: v1.InconclusiveFail}
	f.healthy(flaky)
	f.healthy(quiet)

	prom.Set(f.ns, "flaky-green", errorMetric, testenv.Answer{Value: 0.4})
	prom.Set(f.ns, "quiet-green", errorMetric, testenv.Answer{NoData: true})
	f.setImage("flaky", "flaky:v2")
	f.setImage("quiet", "quiet:v2")

	var held []string
	f.eventually(30*time.Second, "flaky rolled back", func() bool {
		st := f.get("flaky").Status
		if st.Phase == v1.PhasePaused && len(held) < 8 && (len(held) == 0 || held[len(held)-1] != st.Message) {
			held = append(held, st.Message)
		}
		return st.Phase == v1.PhaseRolledBack
	})
	st := f.get("flaky").Status
	if st.Analysis.FailedChecks != 1 || st.Analysis.Metrics[0].FailuresInARow != 3 {
		t.Errorf("flaky: failed checks %d, failures in a row %d; want 1 failure, counted at the 3rd in a row", st.Analysis.FailedChecks, st.Analysis.Metrics[0].FailuresInARow)
	}
	saw := strings.Join(held, " | ")
	t.Logf("flaky held: %s; then %s", saw, st.Message)
	for _, want := range []string{"error-rate Failed 1 of 3 in a row", "error-rate Failed 2 of 3 in a row"} {
		if !strings.Contains(saw, want) {
			t.Errorf("flaky: held messages %q, want one saying %q", saw, want)
		}
	}

	f.eventually(30*time.Second, "quiet rolled back", func() bool { return f.phase("quiet") == v1.PhaseRolledBack })
	st = f.get("quiet").Status
	t.Logf("quiet: %s", st.Message)
	if !strings.Contains(st.Message, "Inconclusive for 3s (inconclusiveLimit: fail)") {
		t.Errorf("quiet: message %q, want the inconclusive limit named", st.Message)
	}
	if b, g := f.weights("quiet"); b != 100 || g != 0 {
		t.Errorf("quiet: route blue %d green %d, want all back on blue", b, g)
	}
}
