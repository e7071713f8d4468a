//go:build e2e

package scenarios

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/e2e/loadgen"
	"github.com/ramp-dev/ramp/e2e/stack"
)

// The HPA of scenario h: an External metric (requests per second, served by
// the test's metrics API) with a target of perPod per pod, so the HPA asks
// for ceil(value / perPod) replicas within [2, 6].
const (
	rpsMetric = "shop_requests_per_second"
	perPod    = 100
	lowRPS    = 150 // → 2 replicas (the minimum)
	highRPS   = 500 // → 5 replicas
)

// maxFollowLag is how long a color Deployment may differ from what the
// Rollout asks of it (after a change of spec.replicas or of the step).
const maxFollowLag = 3 * time.Second

// TestH_AutoscalingDuringCanary: kube-controller-manager's real HPA
// controller scales the Rollout (its scale subresource) while a canary is at
// an early step, fed by an external metrics API the test serves. The rollout
// neither restarts nor stalls; the stable color follows spec.replicas and the
// canary the pods its steps need; no request through the gateway fails.
// After the promotion a lower metric scales the new stable color down.
func TestH_AutoscalingDuringCanary(t *testing.T) {
	e := setup(t, func(o *stack.Options) { o.MetricsAPI = true })
	ns := e.s.Namespace
	e.s.Metrics.Set(ns, rpsMetric, lowRPS)
	e.deployV1()

	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: e.s.Name},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: v1.GroupVersion.String(), Kind: "Rollout", Name: e.s.Name},
			MinReplicas:    ptr.To[int32](2),
			MaxReplicas:    6,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ExternalMetricSourceType,
				External: &autoscalingv2.ExternalMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: rpsMetric},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: resource.NewQuantity(perPod, resource.DecimalSI)},
				},
			}},
			// Seconds, not the cluster defaults (a 5 m scale-down window).
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](0),
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 200, PeriodSeconds: 5}}},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](5),
					Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 5}}},
			},
		},
	}
	if err := e.s.Client.Create(e.ctx, hpa); err != nil {
		t.Fatal(err)
	}
	e.waitHPA(30*time.Second, "HPA active on the Rollout at 2", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return condTrue(h, autoscalingv2.ScalingActive) && h.Status.DesiredReplicas == 2 && len(h.Status.CurrentMetrics) == 1
	})

	rec := startReplicaLog(e)
	t0 := time.Now()
	e.deploy(stack.Version{Tag: "v2"})
	ro := e.waitFor(time.Minute, "canary at step 0 (1%)", func(ro *v1.Rollout) bool {
		return ro.Status.CanaryRevision != "" && ro.Status.CanaryWeight == 1
	})
	canaryRev := ro.Status.CanaryRevision
	raisedAt := time.Now()
	e.logf("raising %s to %d (HPA target %d per pod)", rpsMetric, highRPS, perPod)
	e.s.Metrics.Set(ns, rpsMetric, highRPS)
	e.waitFor(30*time.Second, "the HPA scaled the Rollout to 5", func(ro *v1.Rollout) bool { return *ro.Spec.Replicas == 5 })
	e.waitFor(3*time.Minute, "v2 promoted to green", promoted(v1.Green))
	promotedAt := time.Now()
	e.waitFor(30*time.Second, "green at 5, blue at 0", func(*v1.Rollout) bool {
		return e.deploymentReplicas("green") == 5 && e.deploymentReplicas("blue") == 0
	})
	loweredAt := time.Now()
	e.logf("lowering %s to %d", rpsMetric, lowRPS)
	e.s.Metrics.Set(ns, rpsMetric, lowRPS)
	e.waitFor(30*time.Second, "the HPA scaled the Rollout down to 2", func(ro *v1.Rollout) bool { return *ro.Spec.Replicas == 2 })
	e.waitFor(15*time.Second, "green follows to 2", func(*v1.Rollout) bool { return e.deploymentReplicas("green") == 2 })
	time.Sleep(500 * time.Millisecond)
	samples := rec.stop()
	res := e.load.Stop()
	e.load = nil

	// The HPA, not the test, wrote spec.replicas: 2 → 5 → 2.
	var specs []int32
	for _, s := range samples {
		if len(specs) == 0 || specs[len(specs)-1] != s.Spec {
			specs = append(specs, s.Spec)
		}
	}
	if fmt.Sprint(specs) != "[2 5 2]" {
		t.Errorf("spec.replicas went %v, want [2 5 2]", specs)
	}
	rescales := e.events("HorizontalPodAutoscaler", e.s.Name, "SuccessfulRescale")
	if len(rescales) != 2 || !strings.Contains(rescales[0].Message, "New size: 5") || !strings.Contains(rescales[1].Message, "New size: 2") {
		t.Errorf("HPA rescale events %v, want New size: 5 then New size: 2", messages(rescales))
	}
	// It scaled during the canary, at an early step.
	up := firstSample(samples, func(s replicaSample) bool { return s.Spec == 5 })
	if up == nil || up.CanaryRevision == "" || up.Step > 1 {
		t.Errorf("spec.replicas became 5 at %+v, want while the canary was at step 0 or 1", up)
	}
	// Neither restarted nor stalled.
	for _, s := range samples {
		if s.CanaryRevision != "" && s.CanaryRevision != canaryRev {
			t.Errorf("canary revision %s at %s, want %s throughout: the rollout restarted", s.CanaryRevision, s.At.Format("15:04:05.000"), canaryRev)
			break
		}
	}
	if last := samples[len(samples)-1]; last.StableRevision != canaryRev || last.StableColor != v1.Green {
		t.Errorf("after the promotion stable %s (%s), want green (%s)", last.StableColor, last.StableRevision, canaryRev)
	}
	if bad := append(e.events("Rollout", e.s.Name, "Restarted"), e.events("Rollout", e.s.Name, "StepInterrupted")...); len(bad) > 0 {
		t.Errorf("the rollout was restarted or interrupted: %v", messages(bad))
	}
	if len(e.events("Rollout", e.s.Name, "RolloutStarted")) != 1 || len(e.events("Rollout", e.s.Name, "Promoted")) != 1 {
		t.Errorf("want one RolloutStarted and one Promoted event of the Rollout")
	}
	var weights []int
	for _, c := range e.greenWeights() {
		if w := c.Weights[e.s.Name+"-green"]; w > 0 {
			weights = append(weights, w)
		}
	}
	if fmt.Sprint(weights) != "[1 5 25 50 100]" {
		t.Errorf("green weights in HAProxy %v, want [1 5 25 50 100] (no step repeated or skipped)", weights)
	}
	// Both colors followed.
	lag, lagAt, pending := followLag(samples)
	if lag > maxFollowLag || pending != "" {
		t.Errorf("a color Deployment differed from what the Rollout asks for %v (from %s; still at the end: %q), want at most %v",
			lag, lagAt.Format("15:04:05.000"), pending, maxFollowLag)
	}
	all := loadgen.Count(res, time.Time{}, time.Now())
	if all.Failed != 0 {
		t.Errorf("%d of %d requests failed: %v", all.Failed, all.Total, all.Codes)
	}

	if up == nil {
		return // reported above; no figures without the scale-up
	}
	report.section("h", autoscaleSection(samples, rescales, t0, raisedAt, promotedAt, loweredAt, up, lag, all, len(e.s.Metrics.Reads())))
}

// replicaSample is the Rollout, its color Deployments and its HPA at one instant.
type replicaSample struct {
	At                    time.Time
	Spec                  int32 // the Rollout's spec.replicas
	Phase                 v1.Phase
	Step, Weight          int32
	StableColor           v1.Color
	CanaryRevision        string
	StableRevision        string
	Blue, Green           int32 // Deployment spec.replicas (-1: none)
	BlueReady, GreenReady int32
	StatusReplicas        int32 // the Rollout's status.replicas (the scale subresource's): pods of both colors
	HPADesired            int32
}

func (s replicaSample) color(c v1.Color) int32 {
	if c == v1.Blue {
		return s.Blue
	}
	return s.Green
}

// key is what a row of the figures shows changing.
func (s replicaSample) key() string {
	return fmt.Sprint(s.Spec, s.Phase, s.Step, s.Weight, s.StableColor, s.Blue, s.Green, s.BlueReady, s.GreenReady, s.HPADesired, s.StatusReplicas)
}

type replicaLog struct {
	stopc   chan struct{}
	done    chan struct{}
	samples []replicaSample
}

// startReplicaLog samples every 100 ms until stop.
func startReplicaLog(e *env) *replicaLog {
	l := &replicaLog{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			if s, err := e.sample(); err == nil {
				l.samples = append(l.samples, s)
			}
			select {
			case <-l.stopc:
				return
			case <-e.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return l
}

func (l *replicaLog) stop() []replicaSample {
	close(l.stopc)
	<-l.done
	return l.samples
}

func (e *env) sample() (replicaSample, error) {
	s := replicaSample{At: time.Now()}
	ro, err := e.s.Rollout(e.ctx)
	if err != nil {
		return s, err
	}
	s.Spec = ptr.Deref(ro.Spec.Replicas, 1)
	st := ro.Status
	s.Phase, s.Step, s.Weight, s.StableColor = st.Phase, st.CurrentStep, st.CanaryWeight, st.StableColor
	s.CanaryRevision, s.StableRevision, s.StatusReplicas = st.CanaryRevision, st.StableRevision, st.Replicas
	for _, c := range []v1.Color{v1.Blue, v1.Green} {
		spec, ready := int32(-1), int32(0)
		var d appsv1.Deployment
		if err := e.s.Client.Get(e.ctx, client.ObjectKey{Namespace: e.s.Namespace, Name: e.s.Name + "-" + string(c)}, &d); err == nil {
			spec, ready = ptr.Deref(d.Spec.Replicas, 1), d.Status.ReadyReplicas
		} else if client.IgnoreNotFound(err) != nil {
			return s, err
		}
		if c == v1.Blue {
			s.Blue, s.BlueReady = spec, ready
		} else {
			s.Green, s.GreenReady = spec, ready
		}
	}
	var h autoscalingv2.HorizontalPodAutoscaler
	if err := e.s.Client.Get(e.ctx, client.ObjectKey{Namespace: e.s.Namespace, Name: e.s.Name}, &h); err != nil {
		return s, err
	}
	s.HPADesired = h.Status.DesiredReplicas
	return s, nil
}

// defaultWeights are the weights of the default steps (stack.NewRollout
// sets no steps).
var defaultWeights = []int32{1, 5, 25, 50, 100}

// podsFor is ceil(replicas*weight/100), at least 1: the canary pods a
// weight needs (DESIGN.md).
func podsFor(replicas, weight int32) int32 {
	return max(1, (replicas*weight+99)/100)
}

// wants says what each color's Deployment should ask for in sample s: the
// stable color spec.replicas; in flight, the canary the pods of its step or
// of the next one, whichever is more (the next step's pods are brought up
// before its weight is set). The other color after a promotion keeps its
// pods for scaleDownDelay and is not judged.
func wants(s replicaSample) map[v1.Color]int32 {
	w := map[v1.Color]int32{s.StableColor: s.Spec}
	if s.CanaryRevision != "" && int(s.Step) < len(defaultWeights) {
		next := min(int(s.Step)+1, len(defaultWeights)-1)
		w[s.StableColor.Other()] = max(podsFor(s.Spec, defaultWeights[s.Step]), podsFor(s.Spec, defaultWeights[next]))
	}
	return w
}

// followLag is the longest stretch of samples in which a color Deployment
// differed from what the Rollout asked of it, when it began, and what still
// differed at the last sample ("" when nothing).
func followLag(samples []replicaSample) (worst time.Duration, worstAt time.Time, pending string) {
	var since time.Time
	for _, s := range samples {
		var off []string
		for c, n := range wants(s) {
			if s.color(c) != n {
				off = append(off, fmt.Sprintf("%s has %d, want %d", c, s.color(c), n))
			}
		}
		switch {
		case len(off) > 0 && since.IsZero():
			since = s.At
		case len(off) == 0 && !since.IsZero():
			if d := s.At.Sub(since); d > worst {
				worst, worstAt = d, since
			}
			since = time.Time{}
		}
		sort.Strings(off)
		pending = strings.Join(off, ", ")
	}
	if !since.IsZero() {
		if d := samples[len(samples)-1].At.Sub(since); d > worst {
			worst, worstAt = d, since
		}
	}
	return worst, worstAt, pending
}

func firstSample(samples []replicaSample, cond func(replicaSample) bool) *replicaSample {
	for i := range samples {
		if cond(samples[i]) {
			return &samples[i]
		}
	}
	return nil
}

func (e *env) deploymentReplicas(c v1.Color) int32 {
	var d appsv1.Deployment
	if err := e.s.Client.Get(e.ctx, client.ObjectKey{Namespace: e.s.Namespace, Name: e.s.Name + "-" + string(c)}, &d); err != nil {
		return -1
	}
	return ptr.Deref(d.Spec.Replicas, 1)
}

func (e *env) waitHPA(timeout time.Duration, what string, cond func(*autoscalingv2.HorizontalPodAutoscaler) bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var h autoscalingv2.HorizontalPodAutoscaler
		err := e.s.Client.Get(e.ctx, client.ObjectKey{Namespace: e.s.Namespace, Name: e.s.Name}, &h)
		if err == nil && cond(&h) {
			e.logf("%s: desired %d, current %d", what, h.Status.DesiredReplicas, h.Status.CurrentReplicas)
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("waiting %v for %s: %v; status %+v", timeout, what, err, h.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func condTrue(h *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType) bool {
	for _, c := range h.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// events are the events of one object with reason, oldest first.
func (e *env) events(kind, name, reason string) []corev1.Event {
	var list corev1.EventList
	if err := e.s.Client.List(e.ctx, &list, client.InNamespace(e.s.Namespace)); err != nil {
		e.t.Fatal(err)
	}
	var out []corev1.Event
	for _, ev := range list.Items {
		if ev.InvolvedObject.Kind == kind && ev.InvolvedObject.Name == name && ev.Reason == reason {
			out = append(out, ev)
		}
	}
	sort.Slice(out, func(i, j int) bool { return eventTime(out[i]).Before(eventTime(out[j])) })
	return out
}

func eventTime(ev corev1.Event) time.Time {
	if !ev.EventTime.IsZero() {
		return ev.EventTime.Time
	}
	if !ev.LastTimestamp.IsZero() {
		return ev.LastTimestamp.Time
	}
	return ev.CreationTimestamp.Time
}

func messages(evs []corev1.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Reason+": "+ev.Message)
	}
	return out
}

// autoscaleSection is scenario h's part of RESULTS.md.
func autoscaleSection(samples []replicaSample, rescales []corev1.Event, t0, raisedAt, promotedAt, loweredAt time.Time,
	up *replicaSample, lag time.Duration, all loadgen.Tally, reads int) string {
	rel := func(at time.Time) string { return fmt.Sprintf("%.1f s", at.Sub(t0).Seconds()) }
	var b strings.Builder
	b.WriteString("\n### h. autoscaling during a canary (kube-controller-manager's HPA on the Rollout's scale subresource)\n\n")
	fmt.Fprintf(&b, "HPA: External metric `%s` (served by the test's external.metrics.k8s.io APIService), target %d per pod, 2..6 replicas, 2 s syncs. "+
		"t = 0 is the v2 template change; the default steps 1, 5, 25, 50, 100 %%, 5 s each.\n\n", rpsMetric, perPod)
	down := firstSample(samples, func(s replicaSample) bool { return s.At.After(loweredAt) && s.Spec == 2 })
	fmt.Fprintf(&b, "- metric %d → %d at %s (step 0, 1 %%); the HPA wrote spec.replicas 5 at %s", lowRPS, highRPS, rel(raisedAt), rel(up.At))
	fmt.Fprintf(&b, " (%.1f s later, rollout at step %d, %d %%)\n", up.At.Sub(raisedAt).Seconds(), up.Step, up.Weight)
	fmt.Fprintf(&b, "- promoted (green stable, Healthy) at %s; canary revision unchanged, no Restarted or StepInterrupted event, HAProxy weights 1, 5, 25, 50, 100\n", rel(promotedAt))
	if down != nil {
		fmt.Fprintf(&b, "- metric %d → %d at %s; the HPA wrote spec.replicas 2 at %s (%.1f s later: a 5 s scale-down stabilization window, 2 s syncs)\n",
			highRPS, lowRPS, rel(loweredAt), rel(down.At), down.At.Sub(loweredAt).Seconds())
	}
	fmt.Fprintf(&b, "- longest a color Deployment was seen differing from what the Rollout asks (stable = spec.replicas; canary = ceil(spec × weight / 100) of this or the next step, whichever is more): %.1f s over %d samples 100 ms apart\n", lag.Seconds(), len(samples))
	fmt.Fprintf(&b, "- requests through the gateway: %d, failed: %d; metric reads answered by the test's API: %d\n", all.Total, all.Failed, reads)
	for _, ev := range rescales {
		fmt.Fprintf(&b, "- HPA event: %s: %s\n", ev.Reason, ev.Message)
	}
	b.WriteString("\nA row whenever something in it changed. status.replicas (the scale subresource's, what the HPA divides its metric by) counts the pods of both colors. " +
		"Blue and green are their Deployments' spec.replicas (ready pods).\n\n")
	b.WriteString("| t | spec.replicas | HPA desired | status.replicas | phase | step | weight | blue (ready) | green (ready) |\n| ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n")
	last := ""
	for _, s := range samples {
		if k := s.key(); k != last {
			last = k
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %d | %d %% | %s | %s |\n", rel(s.At), s.Spec, s.HPADesired, s.StatusReplicas, s.Phase, s.Step, s.Weight,
				replicas(s.Blue, s.BlueReady, s.StableColor == v1.Blue), replicas(s.Green, s.GreenReady, s.StableColor == v1.Green))
		}
	}
	return b.String()
}

func replicas(spec, ready int32, stable bool) string {
	if spec < 0 {
		return "none"
	}
	out := fmt.Sprintf("%d (%d)", spec, ready)
	if stable {
		out += " stable"
	}
	return out
}

// TestFollowLagJudges: scenario h's judge of the colors (no stack) sees a
// canary short of its step's pods, and how long it stayed so.
func TestFollowLagJudges(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	inFlight := func(ms int, spec, step, blue, green int32) replicaSample {
		return replicaSample{At: at(ms), Spec: spec, Step: step, StableColor: v1.Blue, CanaryRevision: "r2", Blue: blue, Green: green}
	}
	for name, tc := range map[string]struct {
		samples []replicaSample
		worst   time.Duration
		pending string
	}{
		"followed": {[]replicaSample{inFlight(0, 5, 1, 5, 2), inFlight(100, 5, 2, 5, 3)}, 0, ""},
		// Step 2 (25 %) of 5 with step 3 (50 %) next needs max(2, 3) = 3.
		"canary short for 300 ms": {[]replicaSample{inFlight(0, 5, 2, 5, 2), inFlight(300, 5, 2, 5, 3)}, 300 * time.Millisecond, ""},
		"stable short at the end": {[]replicaSample{inFlight(0, 5, 1, 5, 2), inFlight(100, 6, 1, 5, 2), inFlight(600, 6, 1, 5, 2)}, 500 * time.Millisecond, "blue has 5, want 6"},
		"old color not judged":    {[]replicaSample{{At: at(0), Spec: 2, StableColor: v1.Green, Green: 2, Blue: 5}}, 0, ""},
	} {
		t.Run(name, func(t *testing.T) {
			worst, _, pending := followLag(tc.samples)
			if worst != tc.worst || pending != tc.pending {
				t.Errorf("followLag = %v, %q; want %v, %q", worst, pending, tc.worst, tc.pending)
			}
		})
	}
}
