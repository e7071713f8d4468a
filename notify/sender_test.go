package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hook is a webhook receiver that answers with the statuses of answer in
// turn (the last one over and over) and records each request.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	times  []time.Time
	types  []string
}

func newHook(t *testing.T, answer func(n int, w http.ResponseWriter)) *hook {
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.times = append(h.times, time.Now())
		h.types = append(h.types, r.Header.Get("Content-Type"))
		n := len(h.bodies)
		h.mu.Unlock()
		answer(n, w)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func statuses(codes ...int) func(int, http.ResponseWriter) {
	return func(n int, w http.ResponseWriter) {
		w.WriteHeader(codes[min(n, len(codes))-1])
	}
}

func fixed(u string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return u, nil }
}

// run starts a sender with o (fast timings unless o says otherwise) and
// returns it with a function that sends one job and waits for its results.
func run(t *testing.T, o Options) (*Sender, *counter) {
	t.Helper()
	c := &counter{}
	o.Count = c.add
	if o.Backoff == 0 {
		o.Backoff = 10 * time.Millisecond
	}
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	s := New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, c
}

type counter struct {
	mu sync.Mutex
	n  map[Outcome]int
}

func (c *counter) add(o Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[Outcome]int{}
	}
	c.n[o]++
}

func (c *counter) get(o Outcome) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[o]
}

// send enqueues one job to targets and waits for its results.
func send(t *testing.T, s *Sender, timeout time.Duration, targets ...Target) []Result {
	t.Helper()
	ch := make(chan []Result, 1)
	if err := s.Enqueue(Job{Message: rolledBack(), Targets: targets, Done: func(r []Result) { ch <- r }}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		return r
	case <-time.After(timeout):
		t.Fatalf("no result within %s", timeout)
	}
	return nil
}

func TestSendsEachFormat(t *testing.T) {
	h := newHook(t, statuses(200))
	s, c := run(t, Options{})
	res := send(t, s, 5*time.Second,
		Target{Name: "j", Format: FormatJSON, URL: fixed(h.URL)},
		Target{Name: "s", Format: FormatSlack, URL: fixed(h.URL)},
		Target{Name: "t", Format: FormatTeams, URL: fixed(h.URL)})
	if len(res) != 3 {
		t.Fatalf("results %+v", res)
	}
	for _, r := range res {
		if r.Outcome != Sent || r.Attempts != 1 {
			t.Errorf("result %+v, want sent in 1 attempt", r)
		}
	}
	if h.count() != 3 || c.get(Sent) != 3 {
		t.Fatalf("%d requests, %d counted sent; want 3", h.count(), c.get(Sent))
	}
	var sawSlack, sawTeams, sawJSON bool
	for i, b := range h.bodies {
		if h.types[i] != "application/json" {
			t.Errorf("Content-Type %q", h.types[i])
		}
		s := string(b)
		sawSlack = sawSlack || strings.Contains(s, `"blocks"`)
		sawTeams = sawTeams || strings.Contains(s, `"AdaptiveCard"`)
		sawJSON = sawJSON || strings.Contains(s, `"schema":"`+Schema+`"`)
	}
	if !sawSlack || !sawTeams || !sawJSON {
		t.Errorf("bodies: slack %t teams %t json %t", sawSlack, sawTeams, sawJSON)
	}
}

// 5xx is retried: two failures then a success is one delivered notification.
func TestRetries5xxThenSends(t *testing.T) {
	h := newHook(t, statuses(503, 500, 204))
	s, c := run(t, Options{})
	res := send(t, s, 5*time.Second, Target{Name: "h", URL: fixed(h.URL)})
	if res[0].Outcome != Sent || res[0].Attempts != 3 {
		t.Fatalf("result %+v, want sent after 3 attempts", res[0])
	}
	time.Sleep(100 * time.Millisecond)
	if h.count() != 3 || c.get(Sent) != 1 || c.get(Failed) != 0 {
		t.Fatalf("%d requests, sent %d, failed %d", h.count(), c.get(Sent), c.get(Failed))
	}
}

// The waits between attempts grow (exponential backoff).
func TestBackoffGrows(t *testing.T) {
	h := newHook(t, statuses(500, 500, 500, 200))
	s, _ := run(t, Options{Backoff: 100 * time.Millisecond})
	send(t, s, 5*time.Second, Target{Name: "h", URL: fixed(h.URL)})
	gap := func(i int) time.Duration { return h.times[i].Sub(h.times[i-1]) }
	// Jitter takes up to half: the waits are in [50,100], [100,200], [200,400] ms.
	if gap(1) < 50*time.Millisecond || gap(2) < 100*time.Millisecond || gap(3) < 200*time.Millisecond {
		t.Fatalf("gaps %s %s %s", gap(1), gap(2), gap(3))
	}
}

// 429 with Retry-After is retried no sooner than it says.
func TestRetryAfterRespected(t *testing.T) {
	h := newHook(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(200)
	})
	s, _ := run(t, Options{})
	res := send(t, s, 5*time.Second, Target{Name: "h", URL: fixed(h.URL)})
	if res[0].Outcome != Sent || res[0].Attempts != 2 {
		t.Fatalf("result %+v", res[0])
	}
	if gap := h.times[1].Sub(h.times[0]); gap < time.Second {
		t.Fatalf("retried after %s, before the Retry-After of 1s", gap)
	}
}

// A Retry-After beyond the cap is followed only up to the cap.
func TestRetryAfterCapped(t *testing.T) {
	h := newHook(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(200)
	})
	s, _ := run(t, Options{RetryAfterCap: 200 * time.Millisecond})
	send(t, s, 3*time.Second, Target{Name: "h", URL: fixed(h.URL)})
	if gap := h.times[1].Sub(h.times[0]); gap < 200*time.Millisecond || gap > 2*time.Second {
		t.Fatalf("retried after %s, want about the 200ms cap", gap)
	}
}

// Another 4xx is not retried.
func TestNoRetryOn4xx(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 410} {
		h := newHook(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(code); _, _ = w.Write([]byte("no_service")) })
		s, c := run(t, Options{})
		res := send(t, s, 3*time.Second, Target{Name: "h", URL: fixed(h.URL)})
		time.Sleep(50 * time.Millisecond)
		if res[0].Outcome != Failed || res[0].Attempts != 1 || h.count() != 1 || !strings.Contains(res[0].Error, "no_service") {
			t.Errorf("%d: result %+v after %d requests", code, res[0], h.count())
		}
		if c.get(Failed) != 1 {
			t.Errorf("%d: failed counted %d", code, c.get(Failed))
		}
	}
}

// A redirect is not followed: the POST would become a GET elsewhere.
func TestRedirectNotFollowed(t *testing.T) {
	h := newHook(t, func(_ int, w http.ResponseWriter) {
		w.Header().Set("Location", "http://example.invalid/")
		w.WriteHeader(http.StatusFound)
	})
	s, _ := run(t, Options{})
	res := send(t, s, 3*time.Second, Target{Name: "h", URL: fixed(h.URL)})
	if res[0].Outcome != Failed || !strings.Contains(res[0].Error, "HTTP 302") {
		t.Fatalf("result %+v", res[0])
	}
}

// Ramp gives up after Attempts requests.
func TestGivesUpAfterAttempts(t *testing.T) {
	h := newHook(t, statuses(500))
	s, c := run(t, Options{Attempts: 3})
	res := send(t, s, 5*time.Second, Target{Name: "h", URL: fixed(h.URL)})
	time.Sleep(100 * time.Millisecond)
	if res[0].Outcome != Failed || res[0].Attempts != 3 || h.count() != 3 || !strings.Contains(res[0].Error, "gave up after 3 attempts: HTTP 500") {
		t.Fatalf("result %+v after %d requests", res[0], h.count())
	}
	if c.get(Failed) != 1 {
		t.Fatalf("failed counted %d", c.get(Failed))
	}
}

// Ramp gives up once a retry would come later than MaxAge.
func TestGivesUpAfterMaxAge(t *testing.T) {
	h := newHook(t, statuses(500))
	s, _ := run(t, Options{Attempts: 100, Backoff: 100 * time.Millisecond, MaxAge: 500 * time.Millisecond})
	start := time.Now()
	res := send(t, s, 5*time.Second, Target{Name: "h", URL: fixed(h.URL)})
	if res[0].Outcome != Failed || !strings.Contains(res[0].Error, "would exceed 500ms") || time.Since(start) > 2*time.Second {
		t.Fatalf("result %+v after %s", res[0], time.Since(start))
	}
	if n := h.count(); n < 2 || n > 5 {
		t.Fatalf("%d requests within a max age of 500ms at a backoff from 100ms", n)
	}
}

// A network error is retried, and no error names the URL (it is the
// webhook's secret).
func TestNetworkErrorRetriedWithoutURL(t *testing.T) {
	h := newHook(t, statuses(200))
	secretURL := h.URL + "/services/T000/B000/s3cr3t"
	h.Close() // connection refused from now on
	s, _ := run(t, Options{Attempts: 2})
	res := send(t, s, 5*time.Second, Target{Name: "h", URL: fixed(secretURL)})
	if res[0].Outcome != Failed || res[0].Attempts != 2 || !strings.Contains(res[0].Error, "gave up after 2 attempts") {
		t.Fatalf("result %+v", res[0])
	}
	if strings.Contains(res[0].Error, "s3cr3t") || strings.Contains(res[0].Error, "/services/") {
		t.Fatalf("error %q holds the URL", res[0].Error)
	}
}

// A URL that cannot be read (a refused Secret) fails at once.
func TestURLErrorNotRetried(t *testing.T) {
	s, _ := run(t, Options{})
	calls := atomic.Int32{}
	res := send(t, s, 3*time.Second, Target{Name: "h", URL: func(context.Context) (string, error) {
		calls.Add(1)
		return "", errors.New("secret hook is not labeled ramp.dev/credentials")
	}})
	if res[0].Outcome != Failed || res[0].Attempts != 1 || calls.Load() != 1 || !strings.Contains(res[0].Error, "not labeled") {
		t.Fatalf("result %+v after %d reads", res[0], calls.Load())
	}
}

// A webhook that hangs costs its requests their timeout and holds one
// worker at most at a time: another job is delivered meanwhile at once.
func TestHangingWebhookDoesNotDelayOthers(t *testing.T) {
	release := make(chan struct{})
	hang := newHook(t, func(int, http.ResponseWriter) { <-release })
	t.Cleanup(func() { close(release) })
	fast := newHook(t, statuses(200))
	s, _ := run(t, Options{Workers: 2, Timeout: 500 * time.Millisecond, Attempts: 2})
	hung := make(chan []Result, 1)
	if err := s.Enqueue(Job{Message: rolledBack(), Targets: []Target{{Name: "hang", URL: fixed(hang.URL)}}, Done: func(r []Result) { hung <- r }}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the hanging request is under way
	start := time.Now()
	res := send(t, s, 3*time.Second, Target{Name: "fast", URL: fixed(fast.URL)})
	if took := time.Since(start); res[0].Outcome != Sent || took > 300*time.Millisecond {
		t.Fatalf("the other job: %+v after %s", res[0], took)
	}
	select {
	case r := <-hung:
		if r[0].Outcome != Failed || !strings.Contains(r[0].Error, "timed out") {
			t.Fatalf("hanging webhook: %+v", r[0])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hanging webhook's job never ended: timeouts do not bound it")
	}
}

// A full queue drops the job at once (Enqueue never blocks) and counts it.
func TestQueueFullDrops(t *testing.T) {
	release := make(chan struct{})
	hang := newHook(t, func(int, http.ResponseWriter) { <-release })
	t.Cleanup(func() { close(release) })
	s, c := run(t, Options{Workers: 1, Queue: 2, Timeout: 5 * time.Second})
	job := Job{Message: rolledBack(), Targets: []Target{{Name: "hang", URL: fixed(hang.URL)}}}
	for i := range 2 {
		if err := s.Enqueue(job); err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	start := time.Now()
	two := job
	two.Targets = append(two.Targets, two.Targets[0])
	if err := s.Enqueue(two); !errors.Is(err, ErrQueueFull) || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("third job: %v after %s, want ErrQueueFull at once", err, time.Since(start))
	}
	if c.get(Dropped) != 2 || s.Queued() != 2 {
		t.Fatalf("dropped %d, queued %d", c.get(Dropped), s.Queued())
	}
}

func TestBackoffTable(t *testing.T) {
	for name, tc := range map[string]struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		"first":         {1, 0, time.Second},
		"second":        {2, 0, 2 * time.Second},
		"fourth":        {4, 0, 8 * time.Second},
		"capped":        {20, 0, 30 * time.Second},
		"jitter half":   {2, 0.5, 1500 * time.Millisecond},
		"jitter most":   {3, 0.999, 2*time.Second + 2*time.Millisecond},
		"capped jitter": {9, 0.5, 22500 * time.Millisecond},
	} {
		if got := Backoff(time.Second, 30*time.Second, tc.n, tc.jitter); got != tc.want {
			t.Errorf("%s: Backoff = %s, want %s", name, got, tc.want)
		}
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Wed, 02 Dec 2026 10:00:30 GMT": 30 * time.Second,
		"Wed, 02 Dec 2026 09:00:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}
