package controllers_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/argocdlua"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// argoScripts are the chart's Argo CD Lua sources (charts/ramp/argocd).
var argoScripts = sync.OnceValues(func() (*argocdlua.Scripts, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	return argocdlua.Load(root)
})

func (f *fixture) scripts() *argocdlua.Scripts {
	f.t.Helper()
	s, err := argoScripts()
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// live reads a Rollout as Argo CD holds it: the API server's JSON, as an
// unstructured object.
func (f *fixture) live(name string) *unstructured.Unstructured {
	f.t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1.GroupVersion.WithKind("Rollout"))
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, u); err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *fixture) typed(u *unstructured.Unstructured) *v1.Rollout {
	f.t.Helper()
	var ro v1.Rollout
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &ro); err != nil {
		f.t.Fatal(err)
	}
	return &ro
}

// pausedBy is the reason of a True Paused condition, "" when not held.
func pausedBy(ro *v1.Rollout) string {
	if c := meta.FindStatusCondition(ro.Status.Conditions, v1.ConditionPaused); c != nil && c.Status == metav1.ConditionTrue {
		return c.Reason
	}
	return ""
}

func isTrue(ro *v1.Rollout, t string) bool {
	return meta.IsStatusConditionTrue(ro.Status.Conditions, t)
}

func statusMessage(ro *v1.Rollout) string { return ro.Status.Message }

func validMessage(ro *v1.Rollout) string {
	if c := meta.FindStatusCondition(ro.Status.Conditions, v1.ConditionValid); c != nil {
		return c.Message
	}
	return ""
}

// expectArgoHealth waits until the Rollout, read as Argo CD reads it, is in
// the state in says, and the health check run on that same object says
// want with the message message gives; then it records the object as
// record when RAMP_RECORD=1.
func (f *fixture) expectArgoHealth(name, record, want string, in func(*v1.Rollout) bool, message func(*v1.Rollout) string) {
	f.t.Helper()
	var (
		h   argocdlua.Health
		u   *unstructured.Unstructured
		ro  *v1.Rollout
		err error
	)
	f.eventually(15*time.Second, record+": "+want, func() bool {
		u = f.live(name)
		ro = f.typed(u)
		if !in(ro) {
			return false
		}
		if h, err = f.scripts().HealthOf(u); err != nil {
			f.t.Fatal(err)
		}
		return h.Status == want
	}, func() string {
		return fmt.Sprintf("health %+v of phase %q, generation %d/%d, message %q", h, ro.Status.Phase, ro.Status.ObservedGeneration, ro.Generation, ro.Status.Message)
	})
	if m := message(ro); h.Message != m || m == "" {
		f.t.Errorf("%s: health message %q, want %q", record, h.Message, m)
	}
	enabled, err := f.scripts().Enabled(u)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Logf("| %s | %s | %s | %s |", record, h.Status, h.Message, strings.Join(enabled, ", "))
	if os.Getenv(argocdlua.RecordEnv) != "1" {
		return
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		f.t.Fatal(err)
	}
	r := argocdlua.Record{Name: record, Health: h, Enabled: enabled, Object: u.Object}
	if err := r.Write(filepath.Join(root, argocdlua.RecordDir)); err != nil {
		f.t.Fatal(err)
	}
}

// TestArgoCDHealthWalk: the health check, run as Argo CD runs it on the
// Rollout as the API server stores it, through one Rollout's life:
// Progressing before the controller wrote a status and while a new
// generation is not observed, Healthy when the stable color serves it,
// Progressing at a weight step and when held by ramp.dev/pause, Suspended
// at a manual gate, Degraded with a spec problem in flight and once rolled
// back.
func TestArgoCDHealthWalk(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("argo", "argo:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 10, Hold: &metav1.Duration{Duration: time.Hour}}, {Weight: 50, Pause: &v1.PauseGate{}}, {Weight: 100}}
	query := ro.Spec.Analysis.Metrics[0].Query

	f.stopManager()
	f.create(f.route("argo"), ro)
	f.expectArgoHealth("argo", "progressing_no_status", "Progressing", func(ro *v1.Rollout) bool { return ro.Status.Phase == "" },
		func(*v1.Rollout) string { return "waiting for the Ramp controller to observe the Rollout" })
	f.startManager()
	f.expectArgoHealth("argo", "healthy", "Healthy", func(ro *v1.Rollout) bool {
		return ro.Status.Phase == v1.PhaseHealthy && isTrue(ro, v1.ConditionReady)
	}, statusMessage)

	f.stopManager()
	f.setImage("argo", "argo:v2")
	f.expectArgoHealth("argo", "progressing_new_generation", "Progressing", func(ro *v1.Rollout) bool {
		return ro.Generation > ro.Status.ObservedGeneration && ro.Status.Phase == v1.PhaseHealthy
	}, func(ro *v1.Rollout) string {
		return fmt.Sprintf("waiting for the Ramp controller to observe generation %d (status is of generation %d)", ro.Generation, ro.Status.ObservedGeneration)
	})
	f.startManager()
	f.expectArgoHealth("argo", "progressing_step", "Progressing", func(ro *v1.Rollout) bool {
		return ro.Status.Phase == v1.PhaseProgressing && ro.Status.CanaryWeight == 10 && ro.Status.StepStartedAt != nil
	}, statusMessage)

	f.annotate("argo", v1.AnnotationPause, "true")
	f.expectArgoHealth("argo", "progressing_paused_by_annotation", "Progressing", func(ro *v1.Rollout) bool {
		return ro.Status.Phase == v1.PhasePaused && pausedBy(ro) == v1.ReasonPausedByAnnotation
	}, statusMessage)
	f.annotate("argo", v1.AnnotationPause, "")
	f.clock.Set(time.Now().Add(2 * time.Hour)) // past the step's hold
	f.poke("argo")
	f.expectArgoHealth("argo", "suspended_gate", "Suspended", func(ro *v1.Rollout) bool {
		return pausedBy(ro) == v1.ReasonGate && ro.Status.CanaryWeight == 50
	}, statusMessage)

	f.update("argo", func(ro *v1.Rollout) { ro.Spec.Analysis.Metrics[0].Query = `rate(x{service="{{ .Nope }}"}[1m])` })
	f.expectArgoHealth("argo", "degraded_invalid_in_flight", "Degraded", func(ro *v1.Rollout) bool {
		return meta.IsStatusConditionFalse(ro.Status.Conditions, v1.ConditionValid) && ro.Status.Phase == v1.PhasePaused
	}, validMessage)
	f.update("argo", func(ro *v1.Rollout) { ro.Spec.Analysis.Metrics[0].Query = query })
	f.expectArgoHealth("argo", "suspended_gate_again", "Suspended", func(ro *v1.Rollout) bool {
		return pausedBy(ro) == v1.ReasonGate && isTrue(ro, v1.ConditionValid)
	}, statusMessage)

	prom.Set(f.ns, "argo-green", errorMetric, testenv.Answer{Value: 0.4})
	f.expectArgoHealth("argo", "degraded_rolled_back", "Degraded", func(ro *v1.Rollout) bool { return ro.Status.Phase == v1.PhaseRolledBack }, statusMessage)
}

// TestArgoCDHealthHeld: Suspended while a deploy window holds a rollout in
// flight or keeps a new revision from starting, and at a gate waiting for
// approvals; Progressing while checks that cannot decide hold it; Degraded
// when the spec cannot be acted on (Failed).
func TestArgoCDHealthHeld(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	berlin := mustZone(t, "Europe/Berlin")
	f.clock.Set(time.Date(2026, 11, 25, 10, 0, 0, 0, berlin)) // a Wednesday
	deny := []v1.DeployWindow{{Kind: v1.WindowDeny, Schedule: "0 22 * * 5", Duration: metav1.Duration{Duration: 48 * time.Hour}, TimeZone: "Europe/Berlin"}}
	flying := f.rollout("flying", "flying:v1")
	flying.Spec.DeployWindows = deny
	flying.Spec.Steps = []v1.Step{{Weight: 10, Hold: &metav1.Duration{Duration: time.Hour}}, {Weight: 100}}
	waiting := f.rollout("waiting", "waiting:v1")
	waiting.Spec.DeployWindows = deny
	approvals := f.rollout("approvals", "approvals:v1")
	approvals.Spec.Steps = []v1.Step{{Weight: 10, Pause: &v1.PauseGate{Approvals: 2}}, {Weight: 100}}
	undecided := f.rollout("undecided", "undecided:v1")
	undecided.Spec.Steps = []v1.Step{{Weight: 10, Hold: &metav1.Duration{Duration: time.Hour}}, {Weight: 100}}
	f.healthy(flying)
	f.healthy(waiting)
	f.healthy(approvals)
	f.healthy(undecided)

	f.setImage("undecided", "undecided:v2")
	f.eventually(20*time.Second, "undecided at 10%", func() bool {
		st := f.get("undecided").Status
		return st.CanaryWeight == 10 && st.StepStartedAt != nil
	})
	prom.Set(f.ns, "undecided-green", errorMetric, testenv.Answer{NoData: true})
	f.expectArgoHealth("undecided", "progressing_checks_undecided", "Progressing", func(ro *v1.Rollout) bool {
		return pausedBy(ro) == v1.ReasonChecksUndecided
	}, statusMessage)

	f.setImage("approvals", "approvals:v2")
	f.expectArgoHealth("approvals", "suspended_approvals", "Suspended", func(ro *v1.Rollout) bool {
		return pausedBy(ro) == v1.ReasonGate && ro.Status.CanaryWeight == 10
	}, statusMessage)

	f.setImage("flying", "flying:v2")
	f.eventually(20*time.Second, "flying at 10%", func() bool {
		st := f.get("flying").Status
		return st.CanaryWeight == 10 && st.StepStartedAt != nil
	})
	f.clock.Set(time.Date(2026, 11, 27, 23, 0, 0, 0, berlin)) // Friday night
	f.poke("flying")
	f.expectArgoHealth("flying", "suspended_window_in_flight", "Suspended", func(ro *v1.Rollout) bool {
		return pausedBy(ro) == v1.ReasonDeployWindow && ro.Status.CanaryWeight == 10
	}, statusMessage)
	f.setImage("waiting", "waiting:v2")
	f.expectArgoHealth("waiting", "suspended_window_waiting", "Suspended", func(ro *v1.Rollout) bool {
		return pausedBy(ro) == v1.ReasonDeployWindow && ro.Status.CanaryRevision == "" && ro.Status.ObservedGeneration == ro.Generation
	}, statusMessage)

	bad := f.rollout("bad", "bad:v1")
	bad.Spec.Analysis.Metrics[0].Query = `rate(x{service="{{ .Nope }}"}[1m])`
	f.create(f.route("bad"), bad)
	f.expectArgoHealth("bad", "degraded_failed", "Degraded", func(ro *v1.Rollout) bool { return ro.Status.Phase == v1.PhaseFailed }, validMessage)
}

// expectEnabled runs the discovery on the live Rollout and compares the
// enabled actions with want.
func (f *fixture) expectEnabled(name string, want ...string) {
	f.t.Helper()
	u := f.live(name)
	got, err := f.scripts().Enabled(u)
	if err != nil {
		f.t.Fatal(err)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		st := f.typed(u).Status
		f.t.Fatalf("enabled actions %v, want %v (phase %s, message %q)", got, want, st.Phase, st.Message)
	}
}

// argoAction runs an action as Argo CD does: on the live Rollout, offered
// by the discovery, its result turned into a merge patch against the live
// object and sent to the API server. It checks that the patch sets one
// annotation and nothing else, and returns the value it sets.
func (f *fixture) argoAction(name, action, annotation string) string {
	f.t.Helper()
	live := f.live(name)
	updated, err := f.scripts().Run(action, live)
	if err != nil {
		f.t.Fatal(err)
	}
	patch, status, err := argocdlua.Patch(live, updated)
	if err != nil {
		f.t.Fatal(err)
	}
	if status != nil {
		f.t.Fatalf("action %s patches the status: %s", action, status)
	}
	var shape struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	var keys map[string]map[string]json.RawMessage
	if err := json.Unmarshal(patch, &keys); err != nil {
		f.t.Fatalf("action %s: patch %s: %v", action, patch, err)
	}
	if err := json.Unmarshal(patch, &shape); err != nil {
		f.t.Fatalf("action %s: patch %s: %v", action, patch, err)
	}
	value, ok := shape.Metadata.Annotations[annotation]
	if len(keys) != 1 || len(keys["metadata"]) != 1 || len(shape.Metadata.Annotations) != 1 || !ok {
		f.t.Fatalf("action %s: patch %s, want only metadata.annotations[%s]", action, patch, annotation)
	}
	generation := live.GetGeneration()
	if err := f.c.Patch(f.ctx, live, client.RawPatch(types.MergePatchType, patch)); err != nil {
		f.t.Fatalf("action %s: apply %s: %v", action, patch, err)
	}
	if live.GetGeneration() != generation {
		f.t.Errorf("action %s changed the generation from %d to %d", action, generation, live.GetGeneration())
	}
	f.t.Logf("action %s: %s", action, patch)
	return value
}

// TestArgoCDActions: every action, run as Argo CD runs it on a live
// Rollout, is offered only where it means something, and the patch it
// makes has the controller do what the action says: pause holds past the
// step's hold, resume goes on, promote passes a gate, promote-full
// promotes, abort rolls back with the reason, retry starts the rolled-back
// revision again from step 0. One-shot actions run twice act twice.
func TestArgoCDActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("act", "act:v1")
	hold := 4 * time.Second
	ro.Spec.Steps = []v1.Step{{Weight: 10, Hold: &metav1.Duration{Duration: hold}}, {Weight: 30}, {Weight: 50, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.healthy(ro)
	f.expectEnabled("act")
	state := func() v1.RolloutStatus { return f.get("act").Status }
	atTen := func(what string) {
		f.t.Helper()
		f.eventually(20*time.Second, what, func() bool {
			st := state()
			return st.CanaryWeight == 10 && st.StepStartedAt != nil && pausedBy(f.get("act")) == ""
		}, func() string { return fmt.Sprintf("%+v", state()) })
	}

	// pause holds past the step's hold; resume goes on.
	f.setImage("act", "act:v2")
	atTen("v2 at 10%")
	f.expectEnabled("act", "abort", "pause", "promote-full")
	if v := f.argoAction("act", "pause", v1.AnnotationPause); v != "true" {
		t.Fatalf("pause set %q", v)
	}
	f.eventually(5*time.Second, "held by ramp.dev/pause", func() bool { return pausedBy(f.get("act")) == v1.ReasonPausedByAnnotation })
	f.expectEnabled("act", "abort", "promote-full", "resume")
	time.Sleep(time.Until(state().StepStartedAt.Add(hold + 2*time.Second)))
	if st := state(); st.CanaryWeight != 10 || st.Phase != v1.PhasePaused {
		t.Fatalf("paused past its hold, the rollout moved: %d%%, phase %s", st.CanaryWeight, st.Phase)
	}
	if v := f.argoAction("act", "resume", v1.AnnotationPause); v != "false" {
		t.Fatalf("resume set %q", v)
	}
	f.eventually(10*time.Second, "going on past 10%", func() bool { return state().CanaryWeight > 10 })

	// promote passes the gate, twice on two rollouts.
	var promoted []string
	for i, v := range []struct {
		image  string
		stable v1.Color
	}{{"act:v2", v1.Green}, {"act:v3", v1.Blue}} {
		if i > 0 {
			f.setImage("act", v.image)
		}
		f.eventually(20*time.Second, v.image+" at the gate", func() bool {
			ro := f.get("act")
			return pausedBy(ro) == v1.ReasonGate && ro.Status.CanaryWeight == 50
		})
		f.expectEnabled("act", "abort", "pause", "promote", "promote-full")
		promoted = append(promoted, f.argoAction("act", "promote", v1.AnnotationPromote))
		f.eventually(20*time.Second, v.image+" promoted past the gate", func() bool {
			st := state()
			return st.StableColor == v.stable && st.Phase == v1.PhaseHealthy
		})
		f.expectEnabled("act")
	}
	if promoted[0] == promoted[1] {
		t.Fatalf("promote set the same value twice: %q", promoted[0])
	}

	// promote-full promotes from the first step, twice.
	for _, v := range []struct {
		image  string
		stable v1.Color
	}{{"act:v4", v1.Green}, {"act:v5", v1.Blue}} {
		f.setImage("act", v.image)
		atTen(v.image + " at 10%")
		f.argoAction("act", "promote-full", v1.AnnotationPromoteFull)
		f.eventually(20*time.Second, v.image+" promoted in full", func() bool {
			st := state()
			return st.StableColor == v.stable && st.Phase == v1.PhaseHealthy
		})
	}

	// abort rolls back with its reason; retry starts again from step 0;
	// both twice.
	f.setImage("act", "act:v6")
	atTen("v6 at 10%")
	revision := state().CanaryRevision
	var aborts, retries []string
	for round := range 2 {
		f.expectEnabled("act", "abort", "pause", "promote-full")
		reason := f.argoAction("act", "abort", v1.AnnotationAbort)
		aborts = append(aborts, reason)
		f.eventually(10*time.Second, "rolled back by abort", func() bool {
			st := state()
			return st.Phase == v1.PhaseRolledBack && st.AbortReason == reason && strings.Contains(st.Message, reason)
		}, func() string { return fmt.Sprintf("%+v", state()) })
		if _, g := f.weights("act"); g != 0 {
			t.Fatalf("rolled back with %d%% on green", g)
		}
		f.expectEnabled("act", "retry")
		retries = append(retries, f.argoAction("act", "retry", v1.AnnotationRetry))
		f.eventually(10*time.Second, "retried from step 0", func() bool {
			st := state()
			return st.CanaryRevision == revision && st.CurrentStep == 0 && st.Phase != v1.PhaseRolledBack
		}, func() string { return fmt.Sprintf("%+v", state()) })
		atTen(fmt.Sprintf("retry %d at 10%%", round+1))
	}
	if aborts[0] == aborts[1] || retries[0] == retries[1] {
		t.Fatalf("a one-shot action set the same value twice: aborts %q, retries %q", aborts, retries)
	}
}
