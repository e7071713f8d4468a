package plugin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(d)); return &t }

func mat(d time.Duration) *metav1.MicroTime { t := metav1.NewMicroTime(now.Add(d)); return &t }

func f64(f float64) *float64 { return &f }

// shop is a Rollout at step 2 of 1, 5, 25, 50(gate, 2 approvals), 100,
// 25 % to green, checked 3s ago.
func shop() *v1.Rollout {
	return &v1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "shop", Generation: 7, CreationTimestamp: metav1.NewTime(now.Add(-3 * time.Hour))},
		Spec: v1.RolloutSpec{
			Steps: []v1.Step{{Weight: 1}, {Weight: 5}, {Weight: 25, Hold: &metav1.Duration{Duration: 2 * time.Minute}},
				{Weight: 50, Pause: &v1.PauseGate{Approvals: 2}}, {Weight: 100}},
			Analysis: &v1.Analysis{
				Interval: &metav1.Duration{Duration: time.Minute},
				Metrics: []v1.Metric{
					{Name: "error-rate", Max: f64(0.01)},
					{Name: "p99-latency", Max: f64(0.5)},
					{Name: "success", Min: f64(0.99)},
				},
			},
		},
		Status: v1.RolloutStatus{
			ObservedGeneration: 7,
			Phase:              v1.PhaseProgressing,
			Message:            "step 2/5: 25% to green, error-rate Passed 0.002",
			StableColor:        v1.Blue, StableRevision: "6d8f7c9b5", CanaryRevision: "7f5c8d6b4",
			CurrentStep: 2, StepProgress: "2/5", CanaryWeight: 25,
			StepStartedAt: mat(-90 * time.Second),
			Analysis: &v1.AnalysisStatus{
				LastCheckAt: mat(-3 * time.Second),
				Metrics: []v1.MetricStatus{
					{Name: "error-rate", Phase: v1.CheckPassed, Value: "0.002", CheckedAt: mat(-3 * time.Second)},
					{Name: "p99-latency", Phase: v1.CheckPassed, Value: "0.31", CheckedAt: mat(-3 * time.Second)},
					{Name: "success", Phase: v1.CheckPassed, Value: "0.998", CheckedAt: mat(-3 * time.Second)},
				},
			},
		},
	}
}

func TestWeightBar(t *testing.T) {
	for w, want := range map[int32]string{
		0:   "[                    ] 0%",
		1:   "[                    ] 1%",
		5:   "[#                   ] 5%",
		25:  "[#####               ] 25%",
		50:  "[##########          ] 50%",
		99:  "[################### ] 99%",
		100: "[####################] 100%",
	} {
		if got := weightBar(w); got != want {
			t.Errorf("weightBar(%d) = %q, want %q", w, got, want)
		}
	}
}

func TestJudgement(t *testing.T) {
	for name, tc := range map[string]struct {
		value  string
		lo, hi *float64
		want   string
	}{
		"under max":   {"0.002", nil, f64(0.01), "0.002 <= 0.01"},
		"over max":    {"0.05", nil, f64(0.01), "0.05 > 0.01"},
		"over min":    {"0.998", f64(0.99), nil, "0.998 >= 0.99"},
		"under min":   {"0.5", f64(0.99), nil, "0.5 < 0.99"},
		"within both": {"3", f64(1), f64(5), "1 <= 3 <= 5"},
		"above both":  {"7", f64(1), f64(5), "7 > 5"},
		"NaN":         {"NaN", nil, f64(0.01), "NaN (<= 0.01)"},
		"no value":    {"", f64(1), f64(5), "? (1 <= x <= 5)"},
	} {
		if got := judgement(tc.value, tc.lo, tc.hi); got != tc.want {
			t.Errorf("%s: judgement = %q, want %q", name, got, tc.want)
		}
	}
}

func TestWaitingFor(t *testing.T) {
	pausedBy := func(reason, msg string) metav1.Condition {
		return metav1.Condition{Type: v1.ConditionPaused, Status: metav1.ConditionTrue, Reason: reason, Message: msg}
	}
	paused := func(msg string) metav1.Condition { return pausedBy(v1.ReasonDeployWindow, msg) }
	for name, tc := range map[string]struct {
		change func(*v1.Rollout)
		want   string
	}{
		"hold": {func(*v1.Rollout) {}, "the hold of step 2 to end at 10:00:30Z (in 30s)"},
		"hold and an unchecked metric": {func(ro *v1.Rollout) {
			ro.Status.Analysis.Metrics = ro.Status.Analysis.Metrics[:1]
		}, "the hold of step 2 to end at 10:00:30Z (in 30s); a check of p99-latency, success (in 30s)"},
		"undecided check": {func(ro *v1.Rollout) {
			ro.Status.StepStartedAt = mat(-4*time.Minute - 33*time.Second)
			ro.Status.Analysis.Metrics[1] = v1.MetricStatus{Name: "p99-latency", Phase: v1.CheckInconclusive, Message: "no data", CheckedAt: mat(-3 * time.Second)}
		}, "p99-latency to pass (last Inconclusive: no data); the next check (in 27s)"},
		"pods": {func(ro *v1.Rollout) {
			ro.Status.CurrentStep, ro.Status.WaitingForPodsSince = 3, at(-time.Minute)
			ro.Spec.ProgressDeadline = &metav1.Duration{Duration: 10 * time.Minute}
		}, "green pods ready for 50% (rolls back in 9m, at 10:09:00Z, if they are not)"},
		"pause annotation": {func(ro *v1.Rollout) {
			ro.Annotations = map[string]string{v1.AnnotationPause: "true"}
			ro.Status.CurrentStep = 3 // paused: pods are not the matter
		}, "ramp.dev/pause to be removed (kubectl ramp resume shop)"},
		"approvals": {func(ro *v1.Rollout) {
			ro.Status.CurrentStep, ro.Status.CanaryWeight, ro.Status.StepStartedAt = 3, 50, mat(-5*time.Minute)
			ro.Status.Approvals = []v1.Approval{{User: "alice"}}
		}, "1 more approval(s) of 2 (kubectl ramp approve shop)"},
		"promote gate": {func(ro *v1.Rollout) {
			ro.Spec.Steps[3].Pause.Approvals = 0
			ro.Status.CurrentStep, ro.Status.CanaryWeight, ro.Status.StepStartedAt = 3, 50, mat(-5*time.Minute)
		}, "ramp.dev/promote (kubectl ramp promote shop)"},
		"approved": {func(ro *v1.Rollout) {
			ro.Status.CurrentStep, ro.Status.CanaryWeight, ro.Status.StepStartedAt = 3, 50, mat(-5*time.Minute)
			ro.Status.Approvals = []v1.Approval{{User: "alice"}, {User: "bob"}}
		}, "the controller to move to step 4 (100%)"},
		"gate passed": {func(ro *v1.Rollout) {
			ro.Spec.Steps[3].Pause.Approvals = 0
			ro.Status.CurrentStep, ro.Status.CanaryWeight, ro.Status.StepStartedAt, ro.Status.GatePassed = 3, 50, mat(-5*time.Minute), true
		}, "the controller to move to step 4 (100%)"},
		"deploy window in flight": {func(ro *v1.Rollout) {
			ro.Status.StepStartedAt = mat(-5 * time.Minute)
			ro.Status.Conditions = []metav1.Condition{paused("deploy window: deny 0 22 * * 5 until Mon 00:00")}
		}, "deploy window: deny 0 22 * * 5 until Mon 00:00"},
		"a gateway rejects the step's weight": {func(ro *v1.Rollout) {
			ro.Status.StepStartedAt = nil
			ro.Status.Conditions = []metav1.Condition{pausedBy(v1.ReasonRouteNotInEffect, "parent gw reports Accepted=False")}
		}, "the routes to carry the step's weight: parent gw reports Accepted=False"},
		"a problem in flight": {func(ro *v1.Rollout) {
			ro.Status.StepStartedAt = mat(-5 * time.Minute)
			ro.Status.Conditions = []metav1.Condition{pausedBy(v1.ReasonInvalid, "spec.analysis.metrics[1].query: bad")}
		}, "a fix to the Rollout or its routes (held, checks go on): spec.analysis.metrics[1].query: bad"},
		"a step's weight written, not seen yet": {func(ro *v1.Rollout) {
			ro.Status.StepStartedAt, ro.Status.WaitingForPodsSince = nil, nil
		}, "the routes to be seen carrying 25% to green"},
		"rolling back": {func(ro *v1.Rollout) { ro.Status.RollbackReason = "error-rate = 0.2" },
			"the routes to carry 0% to green: rolling back (error-rate = 0.2)"},
		"deploy window before start": {func(ro *v1.Rollout) {
			ro.Status.CanaryRevision, ro.Status.Phase = "", v1.PhasePaused
			ro.Status.Conditions = []metav1.Condition{paused("deploy window: outside allow 0 9 * * 1-5")}
		}, "deploy window: outside allow 0 9 * * 1-5"},
		"rolled back": {func(ro *v1.Rollout) { ro.Status.Phase = v1.PhaseRolledBack },
			"a new template, or ramp.dev/retry to roll 7f5c8d6b4 out again (kubectl ramp retry shop)"},
		"failed": {func(ro *v1.Rollout) {
			ro.Status.Phase, ro.Status.Message = v1.PhaseFailed, "route shop: no backendRef shop-green"
		}, "a fix to the Rollout: route shop: no backendRef shop-green"},
		"idle": {func(ro *v1.Rollout) { ro.Status.CanaryRevision, ro.Status.Phase = "", v1.PhaseHealthy },
			"nothing: a change of spec.template starts a rollout"},
		"post-promotion": {func(ro *v1.Rollout) {
			ro.Status.CanaryRevision, ro.Status.Phase, ro.Status.PostPromotionUntil = "", v1.PhaseHealthy, at(4*time.Minute)
		}, "the checks after the promotion to end at 10:04:00Z (in 4m)"},
		"unobserved": {func(ro *v1.Rollout) {
			ro.Status.CanaryRevision, ro.Status.Phase, ro.Generation = "", v1.PhaseHealthy, 8
		},
			"the controller to act on generation 8 (observed 7)"},
	} {
		ro := shop()
		tc.change(ro)
		if got := waitingFor(ro, now); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", name, got, tc.want)
		}
	}
}

func TestFinished(t *testing.T) {
	for name, tc := range map[string]struct {
		change  func(*v1.Rollout)
		watched string
		code    int
		done    bool
	}{
		"in flight": {func(*v1.Rollout) {}, "7f5c8d6b4", 0, false},
		"promoted": {func(ro *v1.Rollout) {
			ro.Status.Phase, ro.Status.StableRevision, ro.Status.CanaryRevision = v1.PhaseHealthy, "7f5c8d6b4", ""
		}, "7f5c8d6b4", ExitOK, true},
		"watch after promotion ended": {func(ro *v1.Rollout) {
			ro.Status.Phase, ro.Status.StableRevision, ro.Status.CanaryRevision = v1.PhaseHealthy, "7f5c8d6b4", ""
		}, "7f5c8d6b4", ExitOK, true},
		"watching after promotion": {func(ro *v1.Rollout) {
			ro.Status.Phase, ro.Status.StableRevision, ro.Status.CanaryRevision = v1.PhaseHealthy, "7f5c8d6b4", ""
			ro.Status.PostPromotionUntil = at(time.Minute)
		}, "7f5c8d6b4", 0, false},
		"rolled back": {func(ro *v1.Rollout) { ro.Status.Phase = v1.PhaseRolledBack }, "7f5c8d6b4", ExitRolledBack, true},
		"failed":      {func(ro *v1.Rollout) { ro.Status.Phase = v1.PhaseFailed }, "", ExitFailed, true},
		"nothing in flight": {func(ro *v1.Rollout) { ro.Status.Phase, ro.Status.CanaryRevision = v1.PhaseHealthy, "" },
			"", ExitOK, true},
		"new spec not seen yet": {func(ro *v1.Rollout) {
			ro.Status.Phase, ro.Generation = v1.PhaseRolledBack, 8
		}, "", 0, false},
	} {
		ro := shop()
		tc.change(ro)
		code, msg, done := finished(ro, tc.watched, now)
		if code != tc.code || done != tc.done {
			t.Errorf("%s: finished = %d, %q, %v; want %d, %v", name, code, msg, done, tc.code, tc.done)
		}
	}
}

func TestApprovable(t *testing.T) {
	atGate := func(ro *v1.Rollout) {
		ro.Status.CurrentStep, ro.Status.CanaryWeight, ro.Status.StepProgress = 3, 50, "3/5"
	}
	for name, tc := range map[string]struct {
		change func(*v1.Rollout)
		want   string // "" when approvable
	}{
		"at the gate":  {atGate, ""},
		"no gate":      {func(*v1.Rollout) {}, "step 2/5 of rollout shop has no gate"},
		"promote gate": {func(ro *v1.Rollout) { atGate(ro); ro.Spec.Steps[3].Pause.Approvals = 0 }, "takes ramp.dev/promote, not approvals"},
		"open gate":    {func(ro *v1.Rollout) { atGate(ro); ro.Status.Approvals = []v1.Approval{{User: "a"}, {User: "b"}} }, "is open already, approved by a, b"},
		"one of two":   {func(ro *v1.Rollout) { atGate(ro); ro.Status.Approvals = []v1.Approval{{User: "a"}} }, ""},
		"idle":         {func(ro *v1.Rollout) { ro.Status.CanaryRevision, ro.Status.Phase = "", v1.PhaseHealthy }, "has nothing in flight (phase Healthy)"},
		"rolled back":  {func(ro *v1.Rollout) { atGate(ro); ro.Status.Phase = v1.PhaseRolledBack }, "has nothing in flight (phase RolledBack)"},
	} {
		ro := shop()
		tc.change(ro)
		err := approvable(ro)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one saying %q", name, err, tc.want)
		}
	}
}

func TestWriteStatus(t *testing.T) {
	ro := shop()
	ro.Annotations = map[string]string{v1.AnnotationPause: "true"}
	ro.Status.Phase = v1.PhasePaused
	ro.Status.CurrentStep, ro.Status.StepProgress, ro.Status.CanaryWeight = 3, "3/5", 50
	ro.Status.StepStartedAt = mat(-4*time.Minute - 33*time.Second)
	ro.Spec.Analysis.FailureLimit = 1
	ro.Status.Message = "step 3/5: 50% to green, held: paused by ramp.dev/pause"
	ro.Status.Conditions = []metav1.Condition{{Type: v1.ConditionPaused, Status: metav1.ConditionTrue, Reason: "Held", Message: "paused by ramp.dev/pause"}}
	ro.Status.Approvals = []v1.Approval{{User: "alice"}}
	ro.Spec.Promotion = &v1.Promotion{Requires: []v1.PromotionRequirement{{Environment: "staging", Soak: &metav1.Duration{Duration: time.Hour}}}}
	ro.Status.Verification = &v1.VerificationRecord{Name: "shop-7f5c8d6b4-1796170620", Record: v1.VerificationSpec{Environment: "prod", Outcome: v1.VerificationRunning}}
	ro.Status.Notifications = []v1.NotificationRecord{
		{Key: "RolloutStarted/7f5c8d6b4/0", Moment: v1.MomentRolloutStarted, At: metav1.NewTime(now.Add(-10 * time.Minute)), State: v1.NotificationSent, Result: "ops: 204"},
		{Key: "AwaitingApproval/7f5c8d6b4/3", Moment: v1.MomentAwaitingApproval, At: metav1.NewTime(now.Add(-4 * time.Minute)), State: v1.NotificationFailed, Result: "ops: 500 after 6 attempts"},
	}
	ro.Status.Analysis.FailedChecks = 1
	ro.Status.Analysis.Metrics[1] = v1.MetricStatus{Name: "p99-latency", Phase: v1.CheckFailed, Value: "0.7", CheckedAt: mat(-63 * time.Second)}
	ro.Status.Analysis.Metrics[2] = v1.MetricStatus{Name: "success", Phase: v1.CheckError, Message: "prometheus: 503", CheckedAt: mat(-3 * time.Second)}
	var b bytes.Buffer
	if err := writeStatus(&b, statusView{ro: ro, stableImage: "registry.example/shop:v1.2.3", canaryImage: "registry.example/shop:v1.2.4", now: now}); err != nil {
		t.Fatal(err)
	}
	want := `Name:        shop
Namespace:   shop
Phase:       Paused
Message:     step 3/5: 50% to green, held: paused by ramp.dev/pause
Step:        3/5  1% 5% 25% [50%(gate, 2 approvals)] 100%
Weight:      [##########          ] 50% to green
Stable:      blue@6d8f7c9b5  registry.example/shop:v1.2.3
Canary:      green@7f5c8d6b4  registry.example/shop:v1.2.4
Requires:    staging passed at least 1h0m0s ago
Record:      shop-7f5c8d6b4-1796170620  Running (prod)
Checks:      every 1m0s, 1 failed (limit 1), last 3s ago
  error-rate   0.002 <= 0.01  Passed  3s ago
  p99-latency  0.7 > 0.5      Failed  63s ago
  success      ? (>= 0.99)    Error   3s ago  prometheus: 503
Paused:      paused by ramp.dev/pause
Approvals:   1 of 2 (alice)
Notified:    AwaitingApproval  Failed 4m ago: ops: 500 after 6 attempts
Waiting for: ramp.dev/pause to be removed (kubectl ramp resume shop); p99-latency to pass (last Failed); success to pass (last Error: prometheus: 503); the next check (in 27s); 1 more approval(s) of 2 (kubectl ramp approve shop)
`
	if got := b.String(); got != want {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriteList(t *testing.T) {
	a, b := shop(), shop()
	b.Name, b.Namespace = "cart", "cart"
	b.Status = v1.RolloutStatus{Phase: v1.PhaseHealthy, StableColor: v1.Green, StableRevision: "5c4b3a2"}
	var out bytes.Buffer
	if err := writeList(&out, []v1.Rollout{*b, *a}, true, now); err != nil {
		t.Fatal(err)
	}
	want := `NAMESPACE   NAME   PHASE         STEP   WEIGHT                       STABLE           CANARY            AGE
cart        cart   Healthy       -      [                    ] 0%    green@5c4b3a2    -                 3h
shop        shop   Progressing   2/5    [#####               ] 25%   blue@6d8f7c9b5   green@7f5c8d6b4   3h
`
	if got := out.String(); got != want {
		t.Errorf("list:\n%s\nwant:\n%s", got, want)
	}
}
