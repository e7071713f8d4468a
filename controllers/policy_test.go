package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// poke makes the controller look at a Rollout now (a test moved its clock).
func (f *fixture) poke(name string) {
	f.annotate(name, "test.ramp.dev/poke", time.Now().String())
}

// A deny window (Friday 22:00 for 48 h, Berlin) holds a rollout in flight
// and keeps a new one from starting, but never delays a rollback.
func TestDenyWindowHoldsButNotRollback(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	berlin := mustZone(t, "Europe/Berlin")
	f.clock.Set(time.Date(2026, 11, 25, 10, 0, 0, 0, berlin)) // a Wednesday
	ro := f.rollout("win", "win:v1")
	ro.Spec.DeployWindows = []v1.DeployWindow{{Kind: v1.WindowDeny, Schedule: "0 22 * * 5", Duration: metav1.Duration{Duration: 48 * time.Hour}, TimeZone: "Europe/Berlin"}}
	f.healthy(ro)
	f.setImage("win", "win:v2")
	f.eventually(20*time.Second, "the 5% step", func() bool { _, g := f.weights("win"); return g == 5 })

	f.clock.Set(time.Date(2026, 11, 27, 23, 0, 0, 0, berlin)) // Friday night
	f.poke("win")
	f.eventually(5*time.Second, "held by the window", func() bool {
		st := f.get("win").Status
		return st.Phase == v1.PhasePaused && strings.Contains(st.Message, "deploy window")
	})
	if msg := f.get("win").Status.Message; !strings.Contains(msg, "until 2026-11-29T22:00:00+01:00") {
		t.Errorf("message %q does not say when the rollout may go on", msg)
	}
	time.Sleep(3 * time.Second)
	if _, g := f.weights("win"); g != 5 {
		t.Fatalf("the rollout moved inside a deny window: green %d%%", g)
	}
	prom.Set(f.ns, "win-green", errorMetric, testenv.Answer{Value: 0.5})
	f.eventually(3*time.Second, "the rollback inside the window", func() bool { _, g := f.weights("win"); return g == 0 })
	// RolledBack is reported once the routes are seen carrying 0 %.
	f.eventually(2*time.Second, "phase RolledBack", func() bool { return f.phase("win") == v1.PhaseRolledBack })

	// Still inside the window: a new revision does not start.
	prom.Set(f.ns, "win-green", errorMetric, testenv.Answer{Value: 0}) // v3 is healthy
	f.setImage("win", "win:v3")
	f.eventually(5*time.Second, "v3 waiting for the window", func() bool {
		st := f.get("win").Status
		return st.Phase == v1.PhasePaused && strings.Contains(st.Message, "waits: deploy window")
	}, func() string { return fmt.Sprintf("%+v", f.get("win").Status) })
	time.Sleep(2 * time.Second)
	if f.replicas("win-green") != 0 {
		t.Fatalf("green was scaled up for a revision that may not start")
	}
	// After the window, it starts.
	f.clock.Set(time.Date(2026, 11, 30, 10, 0, 0, 0, berlin))
	f.poke("win")
	f.eventually(20*time.Second, "v3 promoted after the window", func() bool { return f.get("win").Status.StableColor == v1.Green }, func() string { return fmt.Sprintf("%+v", f.get("win").Status) })
}

// With an allow window, a rollout starts only inside it.
func TestAllowWindowStartsRollout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.clock.Set(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)) // a Saturday
	ro := f.rollout("office", "office:v1")
	ro.Spec.DeployWindows = []v1.DeployWindow{{Kind: v1.WindowAllow, Schedule: "0 9 * * 1-5", Duration: metav1.Duration{Duration: 8 * time.Hour}}}
	f.healthy(ro)
	f.setImage("office", "office:v2")
	f.eventually(5*time.Second, "waiting for the allow window", func() bool {
		return strings.Contains(f.get("office").Status.Message, "the next opens at 2026-11-30T09:00:00Z")
	})
	if _, g := f.weights("office"); g != 0 {
		t.Fatalf("green carries %d%% outside every allow window", g)
	}
	f.clock.Set(time.Date(2026, 11, 30, 9, 30, 0, 0, time.UTC)) // Monday morning
	f.poke("office")
	f.eventually(20*time.Second, "promoted inside the allow window", func() bool { return f.get("office").Status.StableColor == v1.Green })
}

// imagePolicy.immutable refuses a :latest image, naming the container; a
// pinned version then rolls out.
func TestImmutableImagePolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("pinned", "registry.example/pinned:v1.0.0")
	ro.Spec.ImagePolicy = &v1.ImagePolicy{Immutable: true}
	f.healthy(ro)
	f.setImage("pinned", "registry.example/pinned:latest")
	f.expectInvalid("latest image", "pinned", "spec.template.spec.containers[0] (app)")
	if c := meta.FindStatusCondition(f.get("pinned").Status.Conditions, v1.ConditionValid); !strings.Contains(c.Message, "latest") {
		t.Errorf("Valid condition %q does not give the reason", c.Message)
	}
	time.Sleep(time.Second)
	if _, g := f.weights("pinned"); g != 0 {
		t.Fatalf("a refused template got traffic: %d%%", g)
	}
	f.setImage("pinned", "registry.example/pinned:v1.0.1")
	f.eventually(20*time.Second, "v1.0.1 promoted", func() bool { return f.get("pinned").Status.StableColor == v1.Green })
}

// imagePolicy.semver and requireDigest: a tag outside the range, or a tag
// without a digest, never starts (Valid=False naming the container and the
// rule, no traffic); a digest-pinned version in range promotes; a
// constraint that does not parse is refused naming it.
func TestReleaseImagePolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	digest := "@sha256:" + strings.Repeat("1", 64)
	ro := f.rollout("release", "registry.example/release:v1.2.0"+digest)
	ro.Spec.ImagePolicy = &v1.ImagePolicy{SemVer: ">=1.2.0 <2.0.0", RequireDigest: true}
	f.healthy(ro)

	invalid := func(what, want string) {
		t.Helper()
		f.eventually(10*time.Second, what+": Valid=False naming "+want, func() bool {
			c := meta.FindStatusCondition(f.get("release").Status.Conditions, v1.ConditionValid)
			return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, want)
		}, func() string {
			return fmt.Sprintf("%+v", meta.FindStatusCondition(f.get("release").Status.Conditions, v1.ConditionValid))
		})
	}
	f.setImage("release", "registry.example/release:v2.0.0"+digest)
	invalid("v2.0.0 out of range", `spec.template.spec.containers[0] (app): image "registry.example/release:v2.0.0@sha256:`)
	invalid("v2.0.0 out of range", `version 2.0.0 does not meet imagePolicy.semver ">=1.2.0 <2.0.0"`)
	f.setImage("release", "registry.example/release:v1.3.0")
	invalid("a tag without a digest", "has no digest: imagePolicy.requireDigest")
	time.Sleep(time.Second)
	if _, g := f.weights("release"); g != 0 {
		t.Fatalf("a refused image got traffic: %d%%", g)
	}
	f.setImage("release", "registry.example/release:v1.3.0"+digest)
	f.eventually(20*time.Second, "v1.3.0 promoted", func() bool { return f.get("release").Status.StableColor == v1.Green })

	f.update("release", func(ro *v1.Rollout) { ro.Spec.ImagePolicy.SemVer = ">= one" })
	invalid("a constraint that does not parse", `spec.imagePolicy.semver: semver constraint ">= one"`)
	if b, g := f.weights("release"); b != 0 || g != 100 {
		t.Errorf("a bad constraint moved traffic: blue %d green %d", b, g)
	}
}

// A breach during the watch after promotion switches back to the old color
// at once: it still has its pods.
func TestPostPromotionBreachSwitchesBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("watch", "watch:v1")
	ro.Spec.PostPromotion = &v1.PostPromotion{Hold: metav1.Duration{Duration: 6 * time.Second}}
	f.healthy(ro)
	f.setImage("watch", "watch:v2")
	f.eventually(20*time.Second, "promoted to green", func() bool { return f.get("watch").Status.StableColor == v1.Green })
	if st := f.get("watch").Status; st.PostPromotionUntil == nil {
		t.Fatalf("no watch after promotion: %+v", st)
	}
	if n := f.replicas("watch-blue"); n != 4 {
		t.Fatalf("blue has %d replicas during the watch, want 4", n)
	}
	prom.Set(f.ns, "watch-green", errorMetric, testenv.Answer{Value: 0.4})
	f.eventually(3*time.Second, "switched back to blue", func() bool { b, g := f.weights("watch"); return b == 100 && g == 0 })
	f.eventually(2*time.Second, "phase RolledBack", func() bool { return f.phase("watch") == v1.PhaseRolledBack })
	st := f.get("watch").Status
	if st.StableColor != v1.Blue || st.Phase != v1.PhaseRolledBack || !strings.Contains(st.Message, "after promotion") {
		t.Fatalf("after the switch back: stable %s, phase %s, message %q", st.StableColor, st.Phase, st.Message)
	}
	f.eventually(5*time.Second, "green scaled to zero", func() bool { return f.replicas("watch-green") == 0 })
	// The bad revision stays off traffic.
	time.Sleep(2 * time.Second)
	if _, g := f.weights("watch"); g != 0 {
		t.Fatalf("the switched-back revision came back: green %d%%", g)
	}
}

// A gate with approvals: 2 opens on two distinct approvers, not on one.
func TestApprovalsGate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("appr", "appr:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 20, Pause: &v1.PauseGate{Approvals: 2}}, {Weight: 100}}
	f.healthy(ro)
	f.setImage("appr", "appr:v2")
	f.eventually(20*time.Second, "waiting for approvals", func() bool {
		st := f.get("appr").Status
		return st.Phase == v1.PhasePaused && strings.Contains(st.Message, "2 approvals (0 so far)")
	})
	approve := func(user string) {
		st := f.get("appr").Status
		f.annotate("appr", v1.ApprovalKey(user), v1.ApprovalValue(st.CanaryRevision, st.CurrentStep, user))
	}
	approve("alice")
	f.annotate("appr", v1.AnnotationPromote, "not-enough") // a promote does not stand in for approvals
	f.eventually(5*time.Second, "alice recorded", func() bool {
		a := f.get("appr").Status.Approvals
		return len(a) == 1 && a[0].User == "alice"
	})
	time.Sleep(2 * time.Second)
	if st := f.get("appr").Status; st.StableColor != v1.Blue || st.CanaryWeight != 20 {
		t.Fatalf("one approval opened a gate that needs two: %+v", st)
	}
	approve("bob")
	f.eventually(10*time.Second, "promoted after two approvals", func() bool { return f.get("appr").Status.StableColor == v1.Green })
	f.eventually(5*time.Second, "an Approved event for bob", func() bool { return f.hasEvent("appr", "Approved", "bob approved step 0") })
}
