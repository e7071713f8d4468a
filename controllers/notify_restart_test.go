package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// A restarted controller neither sends again a moment that was delivered
// nor drops one whose delivery had not ended: that one is sent once after
// the restart.
func TestNotifyOnceAcrossRestart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rc := startReceiver(t)
	var later bool // /later hangs until the restart
	rc.setAnswer(func(path string, _ int) int {
		if path == "/later" && !later {
			return 0
		}
		return 200
	})
	gated := func(name, path string) {
		ro := f.rollout(name, name+":v1")
		ro.Spec.Steps = []v1.Step{{Weight: 10, Pause: &v1.PauseGate{}}, {Weight: 100}}
		ro.Spec.Notifications = &v1.Notifications{Webhooks: []v1.Webhook{rc.hook("ops", path, v1.FormatJSON, v1.MomentAwaitingApproval)}}
		f.healthy(ro)
		f.setImage(name, name+":v2")
	}
	gated("sent", "/now")
	gated("pending", "/later")
	f.eventually(30*time.Second, "sent's gate notified and recorded", func() bool {
		r := f.record("sent", v1.MomentAwaitingApproval, "")
		return len(rc.delivered("/now", "AwaitingApproval")) == 1 && r != nil && r.State == v1.NotificationSent
	}, func() string { return fmt.Sprintf("%+v", f.get("sent").Status) })
	f.eventually(30*time.Second, "pending's notification under way", func() bool { return len(rc.requests("/later")) > 0 })
	if r := f.record("pending", v1.MomentAwaitingApproval, ""); r == nil || r.State != v1.NotificationPending {
		t.Fatalf("pending's record %+v, want Pending", r)
	}

	f.stopManager()
	rc.mu.Lock()
	later = true
	rc.mu.Unlock()
	f.startManager()
	f.poke("sent")
	f.eventually(30*time.Second, "pending's gate notified after the restart", func() bool {
		r := f.record("pending", v1.MomentAwaitingApproval, "")
		return len(rc.delivered("/later", "AwaitingApproval")) == 1 && r != nil && r.State == v1.NotificationSent
	}, func() string { return fmt.Sprintf("%+v", f.get("pending").Status.Notifications) })
	time.Sleep(3 * time.Second)
	if n := len(rc.delivered("/now", "AwaitingApproval")); n != 1 {
		t.Errorf("sent's gate delivered %d times across the restart, want 1", n)
	}
	if n := len(rc.delivered("/later", "AwaitingApproval")); n != 1 {
		t.Errorf("pending's gate delivered %d times, want 1", n)
	}
	// Both still wait at their gates: the moment did not recur.
	for _, name := range []string{"sent", "pending"} {
		if st := f.get(name).Status; st.Phase != v1.PhasePaused || !strings.Contains(st.Message, "waits") {
			t.Errorf("%s: %s %q", name, st.Phase, st.Message)
		}
		if n := len(f.get(name).Status.Notifications); n != 1 {
			t.Errorf("%s: %d records, want 1", name, n)
		}
	}
}
