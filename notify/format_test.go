package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func rolledBack() Message {
	maxErr := 0.01
	return Message{
		Moment:   "RolledBack",
		Rollout:  Rollout{Namespace: "shop", Name: "shop", UID: "1234"},
		Revision: "7f5c8d6b4", StableRevision: "6d8f7c9b5", Step: 1, Steps: 2, Weight: 0,
		Message: "rolled back: error-rate = 0.4 > max 0.01",
		Reason:  "error-rate = 0.4 > max 0.01",
		Checks:  []Check{{Name: "error-rate", Phase: "Failed", Value: "0.4", Max: &maxErr, Message: "0.4 > max 0.01"}},
		Time:    time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC),
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, b)
	}
	return out
}

// The generic document carries every field of the documented schema.
func TestRenderJSON(t *testing.T) {
	b, err := Render(FormatJSON, rolledBack())
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, b)
	for k, want := range map[string]any{
		"schema": Schema, "moment": "RolledBack", "revision": "7f5c8d6b4", "stableRevision": "6d8f7c9b5",
		"step": 1.0, "steps": 2.0, "weight": 0.0, "time": "2026-12-02T10:00:00Z",
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	ro := got["rollout"].(map[string]any)
	if ro["namespace"] != "shop" || ro["name"] != "shop" || ro["uid"] != "1234" {
		t.Errorf("rollout = %v", ro)
	}
	checks := got["checks"].([]any)
	c := checks[0].(map[string]any)
	if len(checks) != 1 || c["name"] != "error-rate" || c["value"] != "0.4" || c["max"] != 0.01 || c["phase"] != "Failed" {
		t.Errorf("checks = %v", checks)
	}
	if !strings.Contains(string(b), `"0.4 > max 0.01"`) {
		t.Errorf("> is escaped: %s", b)
	}
	// No checks is an empty list, never null.
	m := rolledBack()
	m.Checks = nil
	b, _ = Render(FormatJSON, m)
	if !strings.Contains(string(b), `"checks":[]`) {
		t.Errorf("no checks rendered as %s", b)
	}
}

// Slack: text (the fallback) names the failed check with its value and
// bound; blocks have a header, a summary, fields and the message.
func TestRenderSlack(t *testing.T) {
	b, err := Render(FormatSlack, rolledBack())
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, b)
	text, _ := got["text"].(string)
	if want := "Rolled back: shop/shop 7f5c8d6b4: error-rate = 0.4 (max 0.01)"; text != want {
		t.Errorf("text %q, want %q", text, want)
	}
	blocks := got["blocks"].([]any)
	var types []string
	for _, bl := range blocks {
		types = append(types, bl.(map[string]any)["type"].(string))
	}
	if strings.Join(types, ",") != "header,section,section,context" {
		t.Errorf("block types %v", types)
	}
	if why := blocks[1].(map[string]any)["text"].(map[string]any)["text"]; why != "error-rate = 0.4 (max 0.01)" {
		t.Errorf("section %q, want the failed check", why)
	}
	header := blocks[0].(map[string]any)["text"].(map[string]any)
	if header["type"] != "plain_text" || header["text"] != "Rolled back: shop/shop 7f5c8d6b4" {
		t.Errorf("header %v", header)
	}
	fields := blocks[2].(map[string]any)["fields"].([]any)
	var all []string
	for _, f := range fields {
		all = append(all, f.(map[string]any)["text"].(string))
	}
	if j := strings.Join(all, "|"); !strings.Contains(j, "*error-rate*\n0.4 (max 0.01) Failed") || !strings.Contains(j, "*Step*\n1/2") {
		t.Errorf("fields %q", all)
	}
}

// Slack's mrkdwn markup in a message is escaped, so a reason cannot ping
// a channel or forge a link.
func TestRenderSlackEscapes(t *testing.T) {
	m := rolledBack()
	m.Checks = nil
	m.Reason = "aborted by ramp.dev/abort: <!channel> & <https://evil|click>"
	b, _ := Render(FormatSlack, m)
	var got slackMessage
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if s := got.Blocks[1].Text.Text; strings.Contains(s, "<!channel>") || !strings.Contains(s, "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;") {
		t.Errorf("section %q is not escaped", s)
	}
}

// Teams: a message activity with one Adaptive Card attachment, as a Teams
// Workflows webhook takes it.
func TestRenderTeams(t *testing.T) {
	b, err := Render(FormatTeams, rolledBack())
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, b)
	if got["type"] != "message" {
		t.Errorf("type %v", got["type"])
	}
	att := got["attachments"].([]any)
	a := att[0].(map[string]any)
	if len(att) != 1 || a["contentType"] != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("attachments %v", att)
	}
	if _, ok := a["contentUrl"]; !ok {
		t.Errorf("contentUrl missing (Workflows expects it, null)")
	}
	card := a["content"].(map[string]any)
	if card["type"] != "AdaptiveCard" || card["version"] != "1.4" || card["$schema"] != "http://adaptivecards.io/schemas/adaptive-card.json" {
		t.Errorf("card %v", card)
	}
	body := card["body"].([]any)
	title := body[0].(map[string]any)
	if title["text"] != "Rolled back: shop/shop 7f5c8d6b4" || title["color"] != "Attention" {
		t.Errorf("title %v", title)
	}
	if why := body[1].(map[string]any)["text"]; why != "error-rate = 0.4 (max 0.01)" {
		t.Errorf("why %v", why)
	}
	facts := body[2].(map[string]any)["facts"].([]any)
	if f := facts[0].(map[string]any); f["title"] != "Rollout" || f["value"] != "shop/shop" {
		t.Errorf("first fact %v", f)
	}
}

func TestTitles(t *testing.T) {
	base := Message{Rollout: Rollout{Namespace: "ns", Name: "ro"}, Revision: "abc", Step: 1, Steps: 3, Weight: 10}
	for moment, want := range map[string]string{
		"RolloutStarted":   "Rollout started: ns/ro rolls out abc",
		"AwaitingApproval": "Awaiting approval: ns/ro at step 1/3 (10%)",
		"DeployWindow":     "Held by a deploy window: ns/ro",
		"RolledBack":       "Rolled back: ns/ro abc",
		"Promoted":         "Promoted: ns/ro abc is stable",
		"Failed":           "Failed: ns/ro cannot be acted on",
	} {
		t.Run(moment, func(t *testing.T) {
			m := base
			m.Moment = moment
			if got := Title(m); got != want {
				t.Errorf("Title = %q, want %q", got, want)
			}
		})
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	if _, err := Render("xml", rolledBack()); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestBound(t *testing.T) {
	one, two := 1.0, 2.5
	for name, tc := range map[string]struct {
		c    Check
		want string
	}{
		"none":    {Check{}, ""},
		"min":     {Check{Min: &one}, "min 1"},
		"max":     {Check{Max: &two}, "max 2.5"},
		"min max": {Check{Min: &one, Max: &two}, "min 1, max 2.5"},
	} {
		if got := tc.c.Bound(); got != tc.want {
			t.Errorf("%s: Bound = %q, want %q", name, got, tc.want)
		}
	}
}
