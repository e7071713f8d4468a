package windows

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func win(kind v1.WindowKind, sched string, d time.Duration, tz string) v1.DeployWindow {
	return v1.DeployWindow{Kind: kind, Schedule: sched, Duration: metav1.Duration{Duration: d}, TimeZone: tz}
}

func TestEvaluate(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, berlin) }
	friday := win(v1.WindowDeny, "0 22 * * 5", 48*time.Hour, "Europe/Berlin")
	office := win(v1.WindowAllow, "0 9 * * 1-5", 8*time.Hour, "Europe/Berlin")
	cases := map[string]struct {
		windows  []v1.DeployWindow
		now      time.Time
		open     bool
		reason   string
		nextWant time.Time
	}{
		"no windows":                 {nil, at(2026, 11, 27, 23, 0), true, "", time.Time{}},
		"deny: before it opens":      {[]v1.DeployWindow{friday}, at(2026, 11, 27, 21, 59), true, "", at(2026, 11, 27, 22, 0)},
		"deny: Friday night":         {[]v1.DeployWindow{friday}, at(2026, 11, 27, 22, 0), false, "until 2026-11-29T22:00:00+01:00", at(2026, 11, 29, 22, 0)},
		"deny: Sunday afternoon":     {[]v1.DeployWindow{friday}, at(2026, 11, 29, 15, 0), false, "deny window", at(2026, 11, 29, 22, 0)},
		"deny: after it closed":      {[]v1.DeployWindow{friday}, at(2026, 11, 29, 22, 0), true, "", at(2026, 12, 4, 22, 0)},
		"allow: inside":              {[]v1.DeployWindow{office}, at(2026, 11, 25, 10, 0), true, "", at(2026, 11, 25, 17, 0)},
		"allow: evening":             {[]v1.DeployWindow{office}, at(2026, 11, 25, 18, 0), false, "next opens at 2026-11-26T08:00:00Z", at(2026, 11, 26, 9, 0)},
		"allow: Saturday":            {[]v1.DeployWindow{office}, at(2026, 11, 28, 10, 0), false, "outside every allow window", at(2026, 11, 30, 9, 0)},
		"deny wins over allow":       {[]v1.DeployWindow{office, win(v1.WindowDeny, "0 12 * * *", time.Hour, "Europe/Berlin")}, at(2026, 11, 25, 12, 30), false, "deny window", at(2026, 11, 25, 13, 0)},
		"allow and a later deny":     {[]v1.DeployWindow{office, win(v1.WindowDeny, "0 12 * * *", time.Hour, "Europe/Berlin")}, at(2026, 11, 25, 11, 0), true, "", at(2026, 11, 25, 12, 0)},
		"UTC default":                {[]v1.DeployWindow{win(v1.WindowDeny, "0 0 * * *", time.Hour, "")}, time.Date(2026, 11, 25, 0, 30, 0, 0, time.UTC), false, "(UTC)", time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)},
		"unparsable windows ignored": {[]v1.DeployWindow{win(v1.WindowDeny, "every friday", time.Hour, "")}, at(2026, 11, 27, 23, 0), true, "", time.Time{}},
	}
	for name, tc := range cases {
		got := Evaluate(tc.windows, tc.now)
		if got.Open != tc.open || !strings.Contains(got.Reason, tc.reason) || !got.Next.Equal(tc.nextWant) {
			t.Errorf("%s: got open=%v reason=%q next=%v; want open=%v reason~%q next=%v", name, got.Open, got.Reason, got.Next, tc.open, tc.reason, tc.nextWant)
		}
	}
}

func TestValidate(t *testing.T) {
	got := Validate([]v1.DeployWindow{
		win(v1.WindowDeny, "0 22 * * 5", time.Hour, "Europe/Berlin"),
		win(v1.WindowDeny, "0 25 * * 5", time.Hour, ""),
		win(v1.WindowAllow, "0 9 * * 1", time.Hour, "Mars/Olympus"),
	})
	if len(got) != 2 || !strings.HasPrefix(got[0], "spec.deployWindows[1]: schedule") || !strings.HasPrefix(got[1], "spec.deployWindows[2]: timeZone") {
		t.Fatalf("Validate = %q", got)
	}
}
