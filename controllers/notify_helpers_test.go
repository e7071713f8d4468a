package controllers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// receiver is a local webhook server: each path is a webhook, answered by
// answer (200 when nil; 0 hangs until the client gives up or the test ends).
type receiver struct {
	*httptest.Server
	t      *testing.T
	mu     sync.Mutex
	got    []hookRequest
	answer func(path string, n int) int
}

// hookRequest is one request a webhook received and the status it answered.
type hookRequest struct {
	path   string
	body   []byte
	at     time.Time
	status int
}

func startReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t}
	done := make(chan struct{})
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := 1
		for _, g := range rc.got {
			if g.path == r.URL.Path {
				n++
			}
		}
		code := http.StatusOK
		if rc.answer != nil {
			code = rc.answer(r.URL.Path, n)
		}
		rc.got = append(rc.got, hookRequest{path: r.URL.Path, body: b, at: time.Now(), status: code})
		rc.mu.Unlock()
		if code == 0 {
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(func() { close(done); rc.Close() })
	return rc
}

func (rc *receiver) setAnswer(a func(path string, n int) int) {
	rc.mu.Lock()
	rc.answer = a
	rc.mu.Unlock()
}

// requests returns the requests path received.
func (rc *receiver) requests(path string) []hookRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hookRequest
	for _, g := range rc.got {
		if g.path == path {
			out = append(out, g)
		}
	}
	return out
}

// delivered returns the bodies path accepted (2xx) for moment.
func (rc *receiver) delivered(path, moment string) []map[string]any {
	var out []map[string]any
	for _, g := range rc.requests(path) {
		if g.status < 200 || g.status > 299 {
			continue
		}
		var body map[string]any
		if err := json.Unmarshal(g.body, &body); err != nil {
			rc.t.Fatalf("%s received a body that is not JSON: %v\n%s", path, err, g.body)
		}
		if momentOf(body) == moment {
			out = append(out, body)
		}
	}
	return out
}

// titles are the first words of each moment's title in the chat formats.
var titles = map[string]string{
	"Rollout started:": "RolloutStarted", "Awaiting approval:": "AwaitingApproval", "Held by a deploy window:": "DeployWindow",
	"Rolled back:": "RolledBack", "Promoted:": "Promoted", "Failed:": "Failed",
}

// momentOf reads the moment of a body in any of the three formats.
func momentOf(body map[string]any) string {
	if m, ok := body["moment"].(string); ok {
		return m // json
	}
	text := slackText(body)
	if text == "" {
		text = teamsText(body, 0)
	}
	for prefix, m := range titles {
		if strings.HasPrefix(text, prefix) {
			return m
		}
	}
	return ""
}

func slackText(body map[string]any) string {
	s, _ := body["text"].(string)
	return s
}

// teamsText is the text of the i-th element of the Adaptive Card's body.
func teamsText(body map[string]any, i int) string {
	att, _ := body["attachments"].([]any)
	if len(att) == 0 {
		return ""
	}
	card, _ := att[0].(map[string]any)["content"].(map[string]any)
	elems, _ := card["body"].([]any)
	if i >= len(elems) {
		return ""
	}
	s, _ := elems[i].(map[string]any)["text"].(string)
	return s
}

// capture writes the first body path accepted for moment, as received,
// to $RAMP_NOTIFY_CAPTURE/name (for the README).
func (rc *receiver) capture(name, path, moment string) {
	dir := os.Getenv("RAMP_NOTIFY_CAPTURE")
	if dir == "" {
		return
	}
	for _, g := range rc.requests(path) {
		var body map[string]any
		if g.status != http.StatusOK || json.Unmarshal(g.body, &body) != nil || momentOf(body) != moment {
			continue
		}
		var out bytes.Buffer
		if err := json.Indent(&out, g.body, "", "  "); err != nil {
			rc.t.Errorf("capture %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), out.Bytes(), 0o644); err != nil {
			rc.t.Errorf("capture %s: %v", name, err)
		}
		return
	}
}

// captureValue writes v as JSON to $RAMP_NOTIFY_CAPTURE/name.
func (rc *receiver) captureValue(name string, v any) {
	if dir := os.Getenv("RAMP_NOTIFY_CAPTURE"); dir != "" {
		b, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			rc.t.Errorf("capture %s: %v", name, err)
		}
	}
}

// hook is a webhook of the receiver at path.
func (rc *receiver) hook(name, path string, format v1.WebhookFormat, on ...v1.NotificationMoment) v1.Webhook {
	return v1.Webhook{Name: name, URL: rc.URL + path, Format: format, Moments: on}
}

// record returns the Rollout's record of moment, nil when none.
func (f *fixture) record(name string, moment v1.NotificationMoment, revision string) *v1.NotificationRecord {
	for _, rec := range f.get(name).Status.Notifications {
		if rec.Moment == moment && (revision == "" || rec.Revision == revision) {
			return &rec
		}
	}
	return nil
}
