package plan

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// t0 is the fixed clock every test starts from; nothing reads the wall clock.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

const (
	revA = "rev-a" // the stable revision
	revB = "rev-b" // the canary revision
	revC = "rev-c" // a later template
)

// ts is t0+d as a status timestamp.
func ts(d time.Duration) *metav1.Time {
	t := metav1.NewTime(t0.Add(d))
	return &t
}

func mts(d time.Duration) *metav1.MicroTime {
	t := metav1.NewMicroTime(t0.Add(d))
	return &t
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

// newSpec is a Rollout spec of four replicas, the default steps and two
// metrics checked every minute; opts change it.
func newSpec(opts ...func(*v1.RolloutSpec)) *v1.RolloutSpec {
	replicas := int32(4)
	limit := 0.01
	s := &v1.RolloutSpec{
		Replicas: &replicas,
		Analysis: &v1.Analysis{
			Interval: dur(time.Minute),
			Metrics: []v1.Metric{
				{Name: "error-rate", Query: "q1", Max: &limit},
				{Name: "latency", Query: "q2", Max: &limit},
			},
		},
		ProgressDeadline: dur(10 * time.Minute),
		ScaleDownDelay:   dur(30 * time.Second),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func withSteps(steps ...v1.Step) func(*v1.RolloutSpec) {
	return func(s *v1.RolloutSpec) { s.Steps = steps }
}

func withFailureLimit(n int32) func(*v1.RolloutSpec) {
	return func(s *v1.RolloutSpec) { s.Analysis.FailureLimit = n }
}

func withoutAnalysis(s *v1.RolloutSpec) { s.Analysis = nil }

func step(w int32) v1.Step { return v1.Step{Weight: w} }

func gate(w int32) v1.Step { return v1.Step{Weight: w, Pause: &v1.PauseGate{}} }

func held(w int32, d time.Duration) v1.Step { return v1.Step{Weight: w, Hold: dur(d)} }

// dep is a Deployment of rev whose status has caught up: spec replicas,
// all updated, ready of them ready.
func dep(rev string, replicas, ready int32) Deployment {
	return Deployment{Exists: true, Revision: rev, Generation: 1, ObservedGeneration: 1,
		SpecReplicas: replicas, Replicas: replicas, UpdatedReplicas: replicas, ReadyReplicas: ready}
}

// routeTo is a uniform route carrying canary percent on green.
func routeTo(green int32) Route { return rt(100-green, green) }

// rt is a route with one steered rule carrying blue and green.
func rt(blue, green int32) Route { return Route{Rules: []Weights{{Blue: blue, Green: green}}} }

// blue and green are the weights of the first steered rule.
func (r Route) blue() int32  { return r.Rules[0].Blue }
func (r Route) green() int32 { return r.Rules[0].Green }

// healthy is a status with blue serving revA and nothing in flight.
func healthy() *v1.RolloutStatus {
	return &v1.RolloutStatus{Phase: v1.PhaseHealthy, StableColor: v1.Blue, StableRevision: revA,
		Controls: &v1.ControlsStatus{}}
}

// flying is a status with revB on green at step i with weight w, whose
// weight took effect at t0+started.
func flying(i, w int32, started time.Duration) *v1.RolloutStatus {
	st := healthy()
	st.Phase = v1.PhaseProgressing
	st.CanaryRevision = revB
	st.CurrentStep = i
	st.CanaryWeight = w
	st.StepStartedAt = mts(started)
	st.Analysis = &v1.AnalysisStatus{}
	return st
}

// pending is a status with revB on green at step i, whose weight is written
// but not yet observed in effect: w is the weight in effect before it.
func pending(i, w int32) *v1.RolloutStatus {
	st := flying(i, w, 0)
	st.StepStartedAt = nil
	return st
}

// rollingBackAt is a status whose rollback of revB from step i is decided
// and whose routes were not yet seen carrying 0 % canary.
func rollingBackAt(i int32, reason string) *v1.RolloutStatus {
	st := flying(i, 0, 0)
	st.StepStartedAt = nil
	st.RollbackReason = reason
	st.Message = "rolling back: " + reason + "; waiting for the routes to carry 0% to green"
	return st
}

// checked records the last check of each metric as phase at t0+d.
func checked(st *v1.RolloutStatus, phase v1.CheckPhase, d time.Duration, metrics ...string) *v1.RolloutStatus {
	if st.Analysis == nil {
		st.Analysis = &v1.AnalysisStatus{}
	}
	st.Analysis.LastCheckAt = mts(d)
	for _, name := range metrics {
		ms := v1.MetricStatus{Name: name, Phase: phase, CheckedAt: mts(d)}
		if phase == v1.CheckPassed {
			ms.LastPassedAt = mts(d)
		}
		st.Analysis.Metrics = append(st.Analysis.Metrics, ms)
	}
	return st
}

// observe is the world at t0+d: the template at rev, blue serving revA with
// four ready pods, green as given, and the route as given.
func observe(d time.Duration, rev string, green Deployment, r Route) Observations {
	return Observations{Now: t0.Add(d), Revision: rev, Blue: dep(revA, 4, 4), Green: green, Route: r}
}

// results are this reconcile's checks: every metric with phase.
func results(phase v1.CheckPhase, value string) []Check {
	return []Check{
		{Metric: "error-rate", Phase: phase, Value: value, Message: "error-rate " + string(phase)},
		{Metric: "latency", Phase: phase, Value: value, Message: "latency " + string(phase)},
	}
}

func ann(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Actions, as Next writes them.
func setW(c v1.Color, w int32) Action  { return Action{Kind: SetWeights, Color: c, Weight: w} }
func rollbackW(c v1.Color) Action      { return Action{Kind: SetWeights, Color: c, Rollback: true} }
func apply(c v1.Color, n int32) Action { return Action{Kind: ApplyDeployment, Color: c, Replicas: n} }
func scale(c v1.Color, n int32) Action { return Action{Kind: ScaleDeployment, Color: c, Replicas: n} }

// want is the part of a decision a table case pins down exactly.
type want struct {
	Phase               v1.Phase
	StableColor         v1.Color
	StableRevision      string
	CanaryRevision      string
	CurrentStep         int32
	CanaryWeight        int32
	StepStartedAt       *metav1.MicroTime
	WaitingForPodsSince *metav1.Time
	ScaleDownAt         *metav1.Time
	GatePassed          bool
	AbortReason         string
	FailedChecks        int32
	ErrorSince          *metav1.Time
	RollbackReason      string
	HeldSince           *metav1.Time
	Actions             []Action
	RequeueAfter        time.Duration
}

// got extracts the fields of want from a decision.
func got(d Decision) want {
	st := d.Status
	w := want{
		Phase: st.Phase, StableColor: st.StableColor, StableRevision: st.StableRevision,
		CanaryRevision: st.CanaryRevision, CurrentStep: st.CurrentStep, CanaryWeight: st.CanaryWeight,
		StepStartedAt: st.StepStartedAt, WaitingForPodsSince: st.WaitingForPodsSince,
		ScaleDownAt: st.ScaleDownAt, GatePassed: st.GatePassed, AbortReason: st.AbortReason,
		RollbackReason: st.RollbackReason, HeldSince: st.HeldSince,
		Actions: d.Actions, RequeueAfter: d.RequeueAfter,
	}
	if st.Analysis != nil {
		w.FailedChecks = st.Analysis.FailedChecks
		w.ErrorSince = st.Analysis.ErrorSince
	}
	return w
}

// mismatches lists the fields of w that d does not carry.
func mismatches(d Decision, w want) []string {
	g := got(d)
	if len(g.Actions) == 0 {
		g.Actions = nil
	}
	var out []string
	gv, wv := reflect.ValueOf(g), reflect.ValueOf(w)
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			out = append(out, fmt.Sprintf("%s = %s, want %s", name, show(gv.Field(i).Interface()), show(wv.Field(i).Interface())))
		}
	}
	return out
}

func show(v any) string {
	switch x := v.(type) {
	case *metav1.Time:
		if x == nil {
			return "nil"
		}
		return "t0+" + x.Sub(t0).String()
	case []Action:
		return fmt.Sprintf("%+v", x)
	}
	return fmt.Sprintf("%v", v)
}

// condition returns the condition of type typ in d's status.
func condition(d Decision, typ string) metav1.Condition {
	for _, c := range d.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

// hasEvent reports whether d records an event of reason.
func hasEvent(d Decision, reason string) bool {
	for _, e := range d.Events {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

// mod applies fns to v and returns it, for one-line variations of a builder.
func mod[T any](v T, fns ...func(T)) T {
	for _, f := range fns {
		f(v)
	}
	return v
}

// mod2 is mod for values: fns change a copy of v.
func mod2[T any](v T, fns ...func(*T)) T {
	for _, f := range fns {
		f(&v)
	}
	return v
}

func withChecks(o Observations, cs []Check) Observations {
	o.Checks = cs
	return o
}

func withAnn(o Observations, kv ...string) Observations {
	o.Annotations = ann(kv...)
	return o
}

// nextCase is one call of Next and what it must decide.
type nextCase struct {
	spec *v1.RolloutSpec // newSpec() when nil
	prev *v1.RolloutStatus
	obs  Observations
	want want
	msg  string // a substring of the new status message
	// events are reasons of events the decision must record, in any order;
	// noEvents are reasons it must not record.
	events, noEvents []string
	// pausedBy, when set, is the reason the Paused condition must be True
	// with.
	pausedBy string
}

// runCases runs each case as a subtest; Next must also leave prev alone.
func runCases(t *testing.T, cases map[string]nextCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			spec := tc.spec
			if spec == nil {
				spec = newSpec()
			}
			before := tc.prev.DeepCopy()
			d := Next(spec, tc.prev, tc.obs)
			problems := mismatches(d, tc.want)
			if !strings.Contains(d.Status.Message, tc.msg) {
				problems = append(problems, fmt.Sprintf("message %q does not contain %q", d.Status.Message, tc.msg))
			}
			if !reflect.DeepEqual(before, tc.prev) {
				problems = append(problems, "Next changed its prev status")
			}
			for _, r := range tc.events {
				if !hasEvent(d, r) {
					problems = append(problems, fmt.Sprintf("no %s event among %+v", r, d.Events))
				}
			}
			for _, r := range tc.noEvents {
				if hasEvent(d, r) {
					problems = append(problems, fmt.Sprintf("a %s event among %+v", r, d.Events))
				}
			}
			if tc.pausedBy != "" {
				if c := condition(d, v1.ConditionPaused); c.Status != metav1.ConditionTrue || c.Reason != tc.pausedBy {
					problems = append(problems, fmt.Sprintf("Paused = %s/%s %q, want True/%s", c.Status, c.Reason, c.Message, tc.pausedBy))
				}
			}
			for _, p := range problems {
				t.Error(p)
			}
			if len(problems) > 0 {
				t.Logf("message: %s", d.Status.Message)
			}
		})
	}
}
