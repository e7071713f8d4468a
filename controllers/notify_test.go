package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// A Rollout with a generic, a Slack and a Teams webhook tells each of them,
// once, that a gate waits for approval, that the canary was promoted, and
// that a later canary was rolled back, naming the failed check, its value
// and its bound.
func TestNotifyGatePromoteRollback(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rc := startReceiver(t)
	ro := f.rollout("notes", "notes:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 10, Pause: &v1.PauseGate{}}, {Weight: 100}}
	ro.Spec.Notifications = &v1.Notifications{Webhooks: []v1.Webhook{
		rc.hook("generic", "/json", v1.FormatJSON, v1.MomentRolloutStarted, v1.MomentAwaitingApproval, v1.MomentRolledBack, v1.MomentPromoted),
		rc.hook("slack", "/slack", v1.FormatSlack),
		rc.hook("teams", "/teams", v1.FormatTeams),
	}}
	f.healthy(ro)
	paths := []string{"/json", "/slack", "/teams"}
	waitAll := func(moment string, n int) {
		t.Helper()
		for _, p := range paths {
			f.eventually(30*time.Second, fmt.Sprintf("%d %s at %s", n, moment, p), func() bool { return len(rc.delivered(p, moment)) >= n },
				func() string {
					return fmt.Sprintf("%d requests, status %+v", len(rc.requests(p)), f.get("notes").Status.Notifications)
				})
		}
	}

	f.setImage("notes", "notes:v2")
	waitAll("AwaitingApproval", 1)
	st := f.get("notes").Status
	gate := rc.delivered("/json", "AwaitingApproval")[0]
	if gate["revision"] != st.CanaryRevision || gate["step"] != 0.0 || gate["steps"] != 2.0 || gate["weight"] != 10.0 ||
		!strings.Contains(gate["reason"].(string), "ramp.dev/promote") {
		t.Errorf("AwaitingApproval body %v, status %+v", gate, st)
	}
	if ro := gate["rollout"].(map[string]any); ro["namespace"] != f.ns || ro["name"] != "notes" || ro["uid"] == "" {
		t.Errorf("rollout %v", ro)
	}
	if n := len(rc.delivered("/json", "RolloutStarted")); n != 1 {
		t.Errorf("RolloutStarted delivered %d times to the generic webhook, want 1", n)
	}
	if n := len(rc.delivered("/slack", "RolloutStarted")); n != 0 {
		t.Errorf("RolloutStarted delivered to Slack, which is not on it (%d)", n)
	}
	rc.capture("awaiting-approval.json", "/json", "AwaitingApproval")
	rc.capture("awaiting-approval.slack.json", "/slack", "AwaitingApproval")

	f.annotate("notes", v1.AnnotationPromote, "go")
	waitAll("Promoted", 1)
	st = f.get("notes").Status
	if p := rc.delivered("/json", "Promoted")[0]; p["revision"] != st.StableRevision || p["weight"] != 100.0 {
		t.Errorf("Promoted body %v, stable %s", p, st.StableRevision)
	}
	rc.capture("promoted.teams.json", "/teams", "Promoted")

	// The next canary (blue now) breaches at its gate.
	f.setImage("notes", "notes:v3")
	waitAll("AwaitingApproval", 2)
	prom.Set(f.ns, "notes-blue", errorMetric, testenv.Answer{Value: 0.4})
	waitAll("RolledBack", 1)
	rb := rc.delivered("/json", "RolledBack")[0]
	checks, _ := rb["checks"].([]any)
	if len(checks) != 1 {
		t.Fatalf("RolledBack checks %v", rb["checks"])
	}
	c := checks[0].(map[string]any)
	if c["name"] != "error-rate" || c["value"] != "0.4" || c["max"] != 0.01 || c["phase"] != "Failed" || rb["weight"] != 0.0 {
		t.Errorf("RolledBack body %v", rb)
	}
	want := "error-rate = 0.4 (max 0.01)"
	if s := slackText(rc.delivered("/slack", "RolledBack")[0]); !strings.Contains(s, want) {
		t.Errorf("Slack text %q lacks %q", s, want)
	}
	if s := teamsText(rc.delivered("/teams", "RolledBack")[0], 1); s != want {
		t.Errorf("Teams card says %q, want %q", s, want)
	}
	rc.capture("rolled-back.json", "/json", "RolledBack")
	rc.capture("rolled-back.slack.json", "/slack", "RolledBack")
	rc.capture("rolled-back.teams.json", "/teams", "RolledBack")

	// Once per moment: nothing more arrives, and the status says each was sent.
	f.eventually(30*time.Second, "every record Sent", func() bool {
		for _, rec := range f.get("notes").Status.Notifications {
			if rec.State != v1.NotificationSent {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("%+v", f.get("notes").Status.Notifications) })
	time.Sleep(3 * time.Second)
	for _, p := range paths {
		for moment, n := range map[string]int{"AwaitingApproval": 2, "Promoted": 1, "RolledBack": 1} {
			if got := len(rc.delivered(p, moment)); got != n {
				t.Errorf("%s: %s delivered %d times, want %d", p, moment, got, n)
			}
		}
		if all := len(rc.requests(p)); p != "/json" && all != 4 {
			t.Errorf("%s: %d requests, want 4", p, all)
		}
	}
	recs := f.get("notes").Status.Notifications
	var keys []string
	for _, r := range recs {
		keys = append(keys, r.Key+"="+string(r.State)+" ("+r.Result+")")
	}
	t.Logf("status.notifications:\n%s", strings.Join(keys, "\n"))
	rc.captureValue("status-notifications.json", recs)
	if len(recs) != 6 {
		t.Errorf("%d records, want 6 (2 started, 2 gates, promoted, rolled back)", len(recs))
	}
}

// A deploy window that keeps a new revision from starting is a moment.
func TestNotifyDeployWindow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rc := startReceiver(t)
	berlin := mustZone(t, "Europe/Berlin")
	f.clock.Set(time.Date(2026, 11, 25, 10, 0, 0, 0, berlin)) // a Wednesday
	ro := f.rollout("win", "win:v1")
	ro.Spec.DeployWindows = []v1.DeployWindow{{Kind: v1.WindowDeny, Schedule: "0 22 * * 5", Duration: metav1.Duration{Duration: 48 * time.Hour}, TimeZone: "Europe/Berlin"}}
	ro.Spec.Notifications = &v1.Notifications{Webhooks: []v1.Webhook{rc.hook("ops", "/ops", v1.FormatJSON)}}
	f.healthy(ro)
	stable := f.get("win").Status.StableRevision

	f.clock.Set(time.Date(2026, 11, 27, 23, 0, 0, 0, berlin)) // Friday night
	f.setImage("win", "win:v2")
	f.eventually(30*time.Second, "DeployWindow delivered", func() bool { return len(rc.delivered("/ops", "DeployWindow")) == 1 },
		func() string { return fmt.Sprintf("%+v", f.get("win").Status) })
	body := rc.delivered("/ops", "DeployWindow")[0]
	if rev, _ := body["revision"].(string); rev == "" || rev == stable || !strings.Contains(body["reason"].(string), "deploy window") {
		t.Errorf("DeployWindow body %v (stable %s)", body, stable)
	}
	rc.capture("deploy-window.json", "/ops", "DeployWindow")
	f.poke("win")
	time.Sleep(2 * time.Second)
	if n := len(rc.requests("/ops")); n != 1 {
		t.Errorf("%d requests while the window holds, want 1", n)
	}
	// After the window the revision rolls out and is promoted.
	f.clock.Set(time.Date(2026, 11, 30, 10, 0, 0, 0, berlin))
	f.poke("win")
	f.eventually(30*time.Second, "Promoted delivered", func() bool { return len(rc.delivered("/ops", "Promoted")) == 1 })

	// A window that closes on a rollout in flight holds it at its step.
	f.setImage("win", "win:v3")
	f.eventually(30*time.Second, "v3 at 5%", func() bool { b, _ := f.weights("win"); return b == 5 }) // blue is v3's canary
	f.clock.Set(time.Date(2026, 12, 4, 23, 0, 0, 0, berlin))                                          // the next Friday night
	f.poke("win")
	f.eventually(30*time.Second, "a second DeployWindow delivered", func() bool { return len(rc.delivered("/ops", "DeployWindow")) == 2 },
		func() string { return fmt.Sprintf("%+v", f.get("win").Status) })
	st := f.get("win").Status
	held := rc.delivered("/ops", "DeployWindow")[1]
	if held["revision"] != st.CanaryRevision || held["step"] != float64(st.CurrentStep) || held["weight"] != float64(st.CanaryWeight) || st.CurrentStep < 1 {
		t.Errorf("in-flight DeployWindow body %v, status step %d weight %d", held, st.CurrentStep, st.CanaryWeight)
	}
}

// A webhook that fails twice and then takes the notification has it
// exactly once.
func TestNotifyRetriesDeliverOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rc := startReceiver(t)
	rc.setAnswer(func(_ string, n int) int {
		if n <= 2 {
			return 503
		}
		return 200
	})
	ro := f.rollout("flaky", "flaky:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 10, Hold: &metav1.Duration{Duration: time.Minute}}, {Weight: 100}}
	ro.Spec.Notifications = &v1.Notifications{Webhooks: []v1.Webhook{rc.hook("flaky", "/flaky", v1.FormatJSON, v1.MomentRolloutStarted)}}
	f.healthy(ro)
	f.setImage("flaky", "flaky:v2")
	rev := ""
	f.eventually(20*time.Second, "the record Sent", func() bool {
		st := f.get("flaky").Status
		rev = st.CanaryRevision
		r := f.record("flaky", v1.MomentRolloutStarted, "")
		return r != nil && r.State == v1.NotificationSent
	}, func() string { return fmt.Sprintf("%+v", f.get("flaky").Status.Notifications) })
	time.Sleep(3 * time.Second)
	reqs := rc.requests("/flaky")
	if len(reqs) != 3 || len(rc.delivered("/flaky", "RolloutStarted")) != 1 {
		t.Fatalf("%d requests, %d delivered; want 3 requests, 1 delivered", len(reqs), len(rc.delivered("/flaky", "RolloutStarted")))
	}
	if got := rc.delivered("/flaky", "RolloutStarted")[0]["revision"]; got != rev {
		t.Errorf("revision %v, want %s", got, rev)
	}
	if gap := reqs[2].at.Sub(reqs[1].at); gap <= reqs[1].at.Sub(reqs[0].at)/2 {
		t.Errorf("retries at %s then %s: no backoff", reqs[1].at.Sub(reqs[0].at), gap)
	}
	if !f.hasEvent("flaky", "Notified", "RolloutStarted sent to flaky") {
		t.Errorf("no Notified event:\n%s", f.dumpEvents("flaky"))
	}
}

// A rollback by ramp.dev/abort is told with the reason given.
func TestNotifyAbortReason(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rc := startReceiver(t)
	ro := f.rollout("abrt", "abrt:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 10, Hold: &metav1.Duration{Duration: 5 * time.Minute}}, {Weight: 100}}
	ro.Spec.Notifications = &v1.Notifications{Webhooks: []v1.Webhook{rc.hook("ops", "/ops", v1.FormatSlack), rc.hook("raw", "/raw", v1.FormatJSON)}}
	f.healthy(ro)
	f.setImage("abrt", "abrt:v2")
	f.eventually(20*time.Second, "at 10%", func() bool { _, g := f.weights("abrt"); return g == 10 })
	f.annotate("abrt", v1.AnnotationAbort, "latency spike on checkout")
	f.eventually(30*time.Second, "RolledBack delivered", func() bool {
		return len(rc.delivered("/ops", "RolledBack")) == 1 && len(rc.delivered("/raw", "RolledBack")) == 1
	})
	want := "Rolled back: " + f.ns + "/abrt " + f.get("abrt").Status.CanaryRevision + ": aborted by ramp.dev/abort: latency spike on checkout"
	if s := slackText(rc.delivered("/ops", "RolledBack")[0]); s != want {
		t.Errorf("Slack text %q, want %q", s, want)
	}
	if r := rc.delivered("/raw", "RolledBack")[0]["reason"]; r != "aborted by ramp.dev/abort: latency spike on checkout" {
		t.Errorf("reason %v", r)
	}
	rc.capture("aborted.json", "/raw", "RolledBack")
}
