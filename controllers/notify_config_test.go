package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// The webhooks of the namespace's ramp-notifications ConfigMap apply to
// every Rollout of the namespace, unless it opts out; a webhook of the
// Rollout's own with the same name replaces the namespace's.
func TestNotifyNamespaceWebhooks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rc := startReceiver(t)
	f.create(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "ramp-notifications", Labels: map[string]string{"ramp.dev/config": "notifications"}},
		Data: map[string]string{"webhooks": fmt.Sprintf(`
- name: team
  url: %s/ns
  format: slack
  moments: [RolloutStarted, Promoted]
- name: audit
  url: %s/audit
  moments: [Promoted]
- name: broken
  url: ftp://example.com/hook
`, rc.URL, rc.URL)},
	})
	mk := func(name string, n *v1.Notifications) {
		ro := f.rollout(name, name+":v1")
		ro.Spec.Steps = []v1.Step{{Weight: 50}, {Weight: 100}}
		ro.Spec.Notifications = n
		f.healthy(ro)
	}
	mk("inherits", nil)
	mk("optout", &v1.Notifications{UseNamespaceWebhooks: ptr.To(false)})
	mk("override", &v1.Notifications{Webhooks: []v1.Webhook{rc.hook("team", "/override", v1.FormatJSON, v1.MomentPromoted)}})
	for _, name := range []string{"inherits", "optout", "override"} {
		f.setImage(name, name+":v2")
	}
	for _, name := range []string{"inherits", "optout", "override"} {
		f.eventually(20*time.Second, name+" promoted", func() bool { return f.get(name).Status.StableColor == v1.Green })
	}
	f.eventually(30*time.Second, "the namespace's webhooks told", func() bool {
		return len(rc.delivered("/ns", "Promoted")) == 1 && len(rc.delivered("/audit", "Promoted")) == 2 && len(rc.delivered("/override", "Promoted")) == 1
	}, func() string {
		return fmt.Sprintf("/ns %d, /audit %d, /override %d; inherits: %+v\n%s", len(rc.requests("/ns")), len(rc.requests("/audit")), len(rc.requests("/override")),
			f.get("inherits").Status.Notifications, f.dumpEvents("inherits"))
	})
	time.Sleep(2 * time.Second)
	rollouts := func(path string) map[string]int {
		out := map[string]int{}
		for _, g := range rc.requests(path) {
			for _, name := range []string{"inherits", "optout", "override"} {
				if strings.Contains(string(g.body), "/"+name) || strings.Contains(string(g.body), `"name":"`+name+`"`) {
					out[name]++
				}
			}
		}
		return out
	}
	if got := rollouts("/ns"); got["inherits"] != 2 || len(got) != 1 {
		t.Errorf("the namespace's team webhook told %v, want inherits' RolloutStarted and Promoted only", got)
	}
	if got := rollouts("/audit"); got["inherits"] != 1 || got["override"] != 1 || len(got) != 2 {
		t.Errorf("the namespace's audit webhook told %v, want inherits and override once each", got)
	}
	if got := rollouts("/override"); got["override"] != 1 || len(got) != 1 {
		t.Errorf("the override webhook told %v", got)
	}
	if r := f.get("optout").Status.Notifications; len(r) != 0 {
		t.Errorf("optout recorded %+v", r)
	}
	// The webhook the CRD would refuse is left out, and said so.
	if !f.hasEvent("inherits", "NotificationConfigInvalid", `webhook 2 ("broken"): url must be an http:// or https:// URL`) {
		t.Errorf("no NotificationConfigInvalid event:\n%s", f.dumpEvents("inherits"))
	}
}

// The API server refuses notifications it can tell are wrong.
func TestNotificationsValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	hook := func(kv ...any) map[string]any {
		h := map[string]any{"name": "h", "url": "https://hooks.example.com/x"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(h, kv[i].(string))
			} else {
				h[kv[i].(string)] = kv[i+1]
			}
		}
		return h
	}
	set := func(hooks ...any) func(map[string]any) {
		return func(o map[string]any) { spec(o)["notifications"] = map[string]any{"webhooks": hooks} }
	}
	for name, tc := range map[string]struct {
		change func(map[string]any)
		want   string
	}{
		"ftp url":         {set(hook("url", "ftp://example.com/x")), "spec.notifications.webhooks[0].url"},
		"no scheme":       {set(hook("url", "hooks.slack.com/services/x")), "spec.notifications.webhooks[0].url"},
		"url with space":  {set(hook("url", "https://a b")), "spec.notifications.webhooks[0].url"},
		"unknown format":  {set(hook("format", "discord")), `spec.notifications.webhooks[0].format: Unsupported value: "discord"`},
		"unknown moment":  {set(hook("moments", []any{"Promoted", "Deployed"})), `spec.notifications.webhooks[0].moments[1]: Unsupported value: "Deployed"`},
		"repeated moment": {set(hook("moments", []any{"Promoted", "Promoted"})), `spec.notifications.webhooks[0].moments[1]: Duplicate value`},
		"duplicate names": {set(hook(), hook()), `spec.notifications.webhooks[1]: Duplicate value: {"name":"h"}`},
		"url and urlFrom": {set(hook("urlFrom", map[string]any{"secretKeyRef": map[string]any{"name": "s", "key": "url"}})), "a webhook needs exactly one of url and urlFrom"},
		"neither":         {set(hook("url", nil)), "a webhook needs exactly one of url and urlFrom"},
		"bad name":        {set(hook("name", "Slack Channel")), "spec.notifications.webhooks[0].name"},
		"nine webhooks": {set(hook("name", "a"), hook("name", "b"), hook("name", "c"), hook("name", "d"), hook("name", "e"),
			hook("name", "f"), hook("name", "g"), hook("name", "h"), hook("name", "i")), "spec.notifications.webhooks: Too many"},
	} {
		obj := f.unstructuredRollout("refused")
		tc.change(obj.Object)
		err := f.c.Create(f.ctx, obj)
		if err == nil {
			t.Errorf("%s: the API server accepted it", name)
			_ = f.c.Delete(f.ctx, obj)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: refused with %q, want a message containing %q", name, err, tc.want)
		}
	}
	// And accepts the ones the README shows.
	obj := f.unstructuredRollout("accepted")
	set(hook("name", "slack", "url", nil, "format", "slack", "urlFrom", map[string]any{"secretKeyRef": map[string]any{"name": "slack-webhook", "key": "url"}}),
		hook("name", "audit", "url", "http://audit.internal:8080/ramp", "moments", []any{"RolloutStarted", "RolledBack", "Promoted", "Failed"}))(obj.Object)
	if err := f.c.Create(f.ctx, obj); err != nil {
		t.Fatalf("a valid notifications spec refused: %v", err)
	}
	ro := f.get("accepted")
	if w := ro.Spec.Notifications.Webhooks; len(w) != 2 || w[1].Format != v1.FormatJSON {
		t.Errorf("webhooks %+v, want format json by default", w)
	}
}

// A Rollout that cannot be acted on as written is a Failed moment.
func TestNotifyFailed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rc := startReceiver(t)
	bad := f.rollout("bad", "bad:v1")
	bad.Spec.Analysis.Metrics[0].Query = `rate(x{service="{{ .Nope }}"}[1m])`
	bad.Spec.Notifications = &v1.Notifications{Webhooks: []v1.Webhook{rc.hook("ops", "/ops", v1.FormatTeams, v1.MomentFailed)}}
	f.create(f.route("bad"), bad)
	f.eventually(30*time.Second, "Failed delivered", func() bool { return len(rc.delivered("/ops", "Failed")) == 1 },
		func() string { return fmt.Sprintf("%+v", f.get("bad").Status) })
	if why := teamsText(rc.delivered("/ops", "Failed")[0], 1); !strings.Contains(why, "Nope") {
		t.Errorf("the card says %q, not what is wrong", why)
	}
	time.Sleep(2 * time.Second)
	if n := len(rc.requests("/ops")); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
