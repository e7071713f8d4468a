package controllers_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

var allMoments = []v1.NotificationMoment{v1.MomentRolloutStarted, v1.MomentAwaitingApproval, v1.MomentDeployWindow,
	v1.MomentRolledBack, v1.MomentPromoted, v1.MomentFailed}

// A webhook that hangs delays neither a rollback nor the notifications of
// other Rollouts: the rollback of a Rollout whose webhooks hang takes as
// long as that of one whose webhook answers at once.
func TestNotifyHangingWebhookDoesNotDelayRollback(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	f := newFixtureWithMetrics(t, addr)
	rc := startReceiver(t)
	rc.setAnswer(func(path string, _ int) int {
		if strings.HasPrefix(path, "/hang") {
			return 0
		}
		return 200
	})
	long := []v1.Step{{Weight: 10, Hold: &metav1.Duration{Duration: 5 * time.Minute}}, {Weight: 100}}
	calm := f.rollout("calm", "calm:v1")
	calm.Spec.Steps = long
	calm.Spec.Notifications = &v1.Notifications{Webhooks: []v1.Webhook{rc.hook("ok", "/ok", v1.FormatJSON, allMoments...)}}
	hung := f.rollout("hung", "hung:v1")
	hung.Spec.Steps = long
	var hooks []v1.Webhook
	for i := range 6 { // more than the sender's 4 workers
		hooks = append(hooks, rc.hook(fmt.Sprintf("hang-%d", i), fmt.Sprintf("/hang/%d", i), v1.FormatSlack, allMoments...))
	}
	hung.Spec.Notifications = &v1.Notifications{Webhooks: hooks}
	f.healthy(calm)
	f.healthy(hung)

	f.setImage("hung", "hung:v2")
	f.eventually(30*time.Second, "the hanging webhooks called", func() bool { return len(rc.requests("/hang/3")) > 0 })
	f.setImage("calm", "calm:v2")
	start := time.Now()
	f.eventually(30*time.Second, "calm's RolloutStarted delivered", func() bool { return len(rc.delivered("/ok", "RolloutStarted")) == 1 })
	// Each hanging request holds a worker for its 2s timeout at most.
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("calm's notification took %s behind the hanging webhooks", took)
	}
	for _, name := range []string{"calm", "hung"} {
		f.eventually(20*time.Second, name+" at 10%", func() bool { _, g := f.weights(name); return g == 10 })
	}
	// Both breach at once; each rolls back at its next check (every 1s).
	start = time.Now()
	prom.Set(f.ns, "calm-green", errorMetric, testenv.Answer{Value: 0.4})
	prom.Set(f.ns, "hung-green", errorMetric, testenv.Answer{Value: 0.4})
	took := map[string]time.Duration{}
	f.eventually(30*time.Second, "both rolled back", func() bool {
		for _, name := range []string{"calm", "hung"} {
			if b, g := f.weights(name); took[name] == 0 && b == 100 && g == 0 {
				took[name] = time.Since(start)
			}
		}
		return took["calm"] > 0 && took["hung"] > 0
	})
	// Each waits for its next check, whose phase differs: time each from
	// the check that saw the breach to the route seen at 0 %.
	lag := map[string]time.Duration{}
	for _, name := range []string{"calm", "hung"} {
		a := f.get(name).Status.Analysis
		if a == nil || len(a.Metrics) == 0 || a.Metrics[0].Phase != v1.CheckFailed || a.Metrics[0].CheckedAt == nil {
			t.Fatalf("%s: no failed check in %+v", name, a)
		}
		lag[name] = start.Add(took[name]).Sub(a.Metrics[0].CheckedAt.Time)
	}
	t.Logf("breach to 0%% canary: %s with an answering webhook, %s with 6 hanging ones; failing check to 0%% seen: %s and %s",
		took["calm"], took["hung"], lag["calm"], lag["hung"])
	if lag["hung"] > time.Second || lag["hung"] > lag["calm"]+500*time.Millisecond {
		t.Errorf("from the failing check to 0%% canary: %s with hanging webhooks, %s without", lag["hung"], lag["calm"])
	}
	// From the check that saw the breach to the route write, as the
	// controller measures it.
	mf := scrapeMetrics(t, "http://"+addr+"/metrics")
	for _, name := range []string{"calm", "hung"} {
		sel := map[string]string{"namespace": f.ns, "rollout": name}
		f.eventually(5*time.Second, name+"'s rollback observed", func() bool {
			mf = scrapeMetrics(t, "http://"+addr+"/metrics")
			return histCount(mf, "ramp_rollback_seconds", sel) == 1
		})
		s := histSum(mf, "ramp_rollback_seconds", sel)
		t.Logf("ramp_rollback_seconds{rollout=%q} = %.3f", name, s)
		// A reconcile that waited for a webhook would take its 2s timeout.
		if s <= 0 || s > 1 {
			t.Errorf("%s: %.3fs from the failing check to the route write, want (0, 1]", name, s)
		}
	}
	f.eventually(5*time.Second, "phase RolledBack", func() bool { return f.phase("hung") == v1.PhaseRolledBack })
	if r := f.record("hung", v1.MomentRolledBack, ""); r == nil || r.State != v1.NotificationPending {
		t.Errorf("hung's RolledBack record %+v, want Pending while its webhooks hang", r)
	}
	f.eventually(30*time.Second, "calm's RolledBack delivered", func() bool { return len(rc.delivered("/ok", "RolledBack")) == 1 })
}

// A webhook URL is read only from a Secret labelled ramp.dev/credentials:
// "true". Another is refused with an event and a record naming the Secret
// and the label, never its content, and the rollout goes on.
func TestNotifyURLSecretMustOptIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rc := startReceiver(t)
	const secretPath = "/services/T0/B0/s3cr3t"
	f.create(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "plain"}, Data: map[string][]byte{"url": []byte(rc.URL + secretPath)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "slack-url", Labels: map[string]string{labelCredentials: "true"}},
			Data: map[string][]byte{"url": []byte(rc.URL + "/labelled")}},
	)
	ro := f.rollout("sec", "sec:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 50}, {Weight: 100}}
	from := func(name string) *v1.WebhookURLSource {
		return &v1.WebhookURLSource{SecretKeyRef: v1.SecretKeyRef{Name: name, Key: "url"}}
	}
	ro.Spec.Notifications = &v1.Notifications{Webhooks: []v1.Webhook{
		{Name: "refused", URLFrom: from("plain"), Format: v1.FormatSlack},
		{Name: "opted-in", URLFrom: from("slack-url"), Format: v1.FormatSlack},
	}}
	f.healthy(ro)
	f.setImage("sec", "sec:v2")
	f.eventually(20*time.Second, "promoted", func() bool { return f.get("sec").Status.StableColor == v1.Green })
	f.eventually(30*time.Second, "Promoted delivered through the labelled Secret", func() bool { return len(rc.delivered("/labelled", "Promoted")) == 1 })
	f.eventually(30*time.Second, "the record Failed", func() bool {
		r := f.record("sec", v1.MomentPromoted, "")
		return r != nil && r.State == v1.NotificationFailed
	}, func() string { return fmt.Sprintf("%+v", f.get("sec").Status.Notifications) })
	rec := f.record("sec", v1.MomentPromoted, "")
	t.Logf("record: %+v", *rec)
	if !strings.Contains(rec.Result, "webhook refused: secret plain is not labeled ramp.dev/credentials") || !strings.Contains(rec.Result, "sent to opted-in") {
		t.Errorf("result %q does not name the Secret and the label", rec.Result)
	}
	f.eventually(5*time.Second, "a NotificationFailed event naming the Secret", func() bool {
		return f.hasEvent("sec", "NotificationFailed", "secret plain is not labeled "+labelCredentials)
	}, func() string { return f.dumpEvents("sec") })
	if n := len(rc.requests(secretPath)); n != 0 {
		t.Errorf("the unlabelled Secret's URL was called %d times", n)
	}
	// Neither the status nor an event holds the Secret's content.
	b, _ := json.Marshal(f.get("sec").Status)
	var events eventsv1.EventList
	if err := f.c.List(f.ctx, &events, client.InNamespace(f.ns)); err != nil {
		t.Fatal(err)
	}
	eb, _ := json.Marshal(events)
	for what, text := range map[string]string{"status": string(b), "events": string(eb)} {
		if strings.Contains(text, "s3cr3t") || strings.Contains(text, "/labelled") {
			t.Errorf("the %s holds a webhook URL", what)
		}
	}
}

// When the send queue is full, a moment is dropped at once, with an event
// and a Dropped record, and the rollout goes on.
func TestNotifyQueueFullDrops(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.stopManager()
	f.notify.Workers, f.notify.Queue = 1, 2
	f.startManager()
	rc := startReceiver(t)
	rc.setAnswer(func(string, int) int { return 0 }) // every webhook hangs
	ro := f.rollout("full", "full:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 50}, {Weight: 100}}
	ro.Spec.Notifications = &v1.Notifications{Webhooks: []v1.Webhook{
		rc.hook("a", "/a", v1.FormatJSON, v1.MomentRolloutStarted, v1.MomentPromoted),
		rc.hook("b", "/b", v1.FormatJSON, v1.MomentRolloutStarted, v1.MomentPromoted),
	}}
	f.healthy(ro)
	f.setImage("full", "full:v2") // RolloutStarted takes the queue's 2 places
	f.eventually(20*time.Second, "promoted", func() bool { return f.get("full").Status.StableColor == v1.Green })
	f.eventually(30*time.Second, "Promoted dropped", func() bool {
		r := f.record("full", v1.MomentPromoted, "")
		return r != nil && r.State == v1.NotificationDropped
	}, func() string { return fmt.Sprintf("%+v", f.get("full").Status.Notifications) })
	if !f.hasEvent("full", "NotificationDropped", "Promoted not sent: the notification queue is full") {
		t.Errorf("no NotificationDropped event:\n%s", f.dumpEvents("full"))
	}
	if r := f.record("full", v1.MomentRolloutStarted, ""); r == nil || r.State == v1.NotificationDropped {
		t.Errorf("RolloutStarted record %+v, want it queued", r)
	}
}
