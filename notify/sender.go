package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// Outcome is what became of one notification to one webhook.
type Outcome string

const (
	// Sent: the webhook answered 2xx.
	Sent Outcome = "sent"
	// Failed: the webhook refused it (4xx other than 429), its URL could
	// not be read, or Ramp gave up retrying.
	Failed Outcome = "failed"
	// Dropped: the queue was full.
	Dropped Outcome = "dropped"
)

// ErrQueueFull is returned by Enqueue when the queue has no room for a job.
var ErrQueueFull = errors.New("notification queue full")

// Target is one webhook of a job.
type Target struct {
	// Name names the webhook in results.
	Name string
	// Format is json, slack or teams.
	Format string
	// URL returns the webhook's address at send time (it may read a
	// Secret). An error fails the target at once, without a retry; it must
	// not hold the URL.
	URL func(context.Context) (string, error)
}

// Job is one moment to tell every target about.
type Job struct {
	// Message is the moment.
	Message Message
	// Targets are the webhooks.
	Targets []Target
	// Done, if set, is called once every target has an outcome (never for a
	// job Enqueue refused, nor for deliveries cut short by Start's end).
	Done func([]Result)
}

// Result is the outcome of a job for one target.
type Result struct {
	Target   string
	Outcome  Outcome
	Attempts int
	// Error says why it failed; it never holds the URL.
	Error string
}

// Options bound the sender. Zero values take the defaults in brackets.
type Options struct {
	// Workers is the number of requests under way at once [4].
	Workers int
	// Queue is the number of deliveries (a job times its targets) waiting,
	// backing off or under way; more are dropped [256].
	Queue int
	// Timeout bounds each request [10s].
	Timeout time.Duration
	// Attempts is the most requests per delivery [6].
	Attempts int
	// MaxAge is the longest a delivery is retried for [15m].
	MaxAge time.Duration
	// Backoff is the wait before the first retry; it doubles each time,
	// jittered down by up to half [1s].
	Backoff time.Duration
	// MaxBackoff caps the computed wait [2m].
	MaxBackoff time.Duration
	// RetryAfterCap caps how long a Retry-After header is followed [5m].
	RetryAfterCap time.Duration
	// Client sends the requests; one without redirects when nil.
	Client *http.Client
	// Count, if set, is told each delivery's outcome (for a metric).
	Count func(Outcome)
	// Log receives a line for each failed or dropped delivery.
	Log logr.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Attempts <= 0 {
		o.Attempts = 6
	}
	def(&o.Timeout, 10*time.Second)
	def(&o.MaxAge, 15*time.Minute)
	def(&o.Backoff, time.Second)
	def(&o.MaxBackoff, 2*time.Minute)
	def(&o.RetryAfterCap, 5*time.Minute)
	if o.Client == nil {
		// A webhook that redirects is refused rather than followed: the
		// POST would turn into a GET, and a redirect could lead anywhere.
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Sender delivers jobs with a fixed number of workers. It is a
// controller-runtime Runnable: Start runs the workers until its context
// ends. Enqueue never blocks.
type Sender struct {
	o     Options
	ready chan *delivery

	mu       sync.Mutex
	admitted int
}

type delivery struct {
	job      *jobState
	target   Target
	attempts int
	first    time.Time
}

type jobState struct {
	job       Job
	mu        sync.Mutex
	remaining int
	results   []Result
}

// New returns a sender with o's bounds.
func New(o Options) *Sender {
	o.defaults()
	return &Sender{o: o, ready: make(chan *delivery, o.Queue)}
}

// NeedLeaderElection makes only the leader send.
func (s *Sender) NeedLeaderElection() bool { return true }

// Enqueue queues j for every target, or returns ErrQueueFull (and counts
// each target dropped) when the queue has no room for all of them.
func (s *Sender) Enqueue(j Job) error {
	n := len(j.Targets)
	if n == 0 {
		if j.Done != nil {
			j.Done(nil)
		}
		return nil
	}
	s.mu.Lock()
	if s.admitted+n > s.o.Queue {
		s.mu.Unlock()
		for range n {
			s.count(Dropped)
		}
		return ErrQueueFull
	}
	s.admitted += n
	s.mu.Unlock()
	js := &jobState{job: j, remaining: n}
	now := s.o.Now()
	for _, t := range j.Targets {
		s.ready <- &delivery{job: js, target: t, first: now} // room: admitted <= Queue
	}
	return nil
}

// Queued is the number of deliveries waiting, backing off or under way.
func (s *Sender) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admitted
}

// Start runs the workers until ctx ends.
func (s *Sender) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	for range s.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case d := <-s.ready:
					s.attempt(ctx, d)
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// attempt sends d once and decides what follows.
func (s *Sender) attempt(ctx context.Context, d *delivery) {
	d.attempts++
	addr, err := d.target.URL(ctx)
	if err != nil {
		s.finish(d, Failed, err.Error())
		return
	}
	body, err := Render(d.target.Format, d.job.job.Message)
	if err != nil {
		s.finish(d, Failed, err.Error())
		return
	}
	rctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, addr, bytes.NewReader(body))
	if err != nil {
		s.finish(d, Failed, "bad webhook URL")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ramp-controller")
	resp, err := s.o.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			s.release() // stopping: a restarted controller sends it again
			return
		}
		s.retry(d, redact(err), 0)
		return
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	status := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if t := strings.TrimSpace(string(snippet)); t != "" {
		status += ": " + clip(strings.ToValidUTF8(t, "?"), 120)
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		s.finish(d, Sent, "")
	case code == http.StatusTooManyRequests || code >= 500:
		s.retry(d, status, retryAfter(resp.Header.Get("Retry-After"), s.o.Now()))
	default:
		s.finish(d, Failed, status) // another 4xx (or a redirect) will not change by asking again
	}
}

// retry schedules d again after a backoff (at least after, within the
// cap), or gives up after Attempts requests or MaxAge.
func (s *Sender) retry(d *delivery, why string, after time.Duration) {
	if d.attempts >= s.o.Attempts {
		s.finish(d, Failed, fmt.Sprintf("gave up after %d attempts: %s", d.attempts, why))
		return
	}
	wait := Backoff(s.o.Backoff, s.o.MaxBackoff, d.attempts, rand.Float64())
	if after > 0 {
		wait = max(wait, min(after, s.o.RetryAfterCap))
	}
	if age := s.o.Now().Add(wait).Sub(d.first); age > s.o.MaxAge {
		s.finish(d, Failed, fmt.Sprintf("gave up after %d attempts (a retry would exceed %s): %s", d.attempts, s.o.MaxAge, why))
		return
	}
	time.AfterFunc(wait, func() { s.ready <- d })
}

// Backoff is the wait before retry number n (1 for the first): base
// doubled n-1 times, at most ceiling, less up to half of it by jitter
// (a number in [0, 1)).
func Backoff(base, ceiling time.Duration, n int, jitter float64) time.Duration {
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return d - time.Duration(float64(d/2)*jitter)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redact drops the URL from a client error: a webhook's URL is its secret.
func redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "request timed out"
		}
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

func (s *Sender) release() {
	s.mu.Lock()
	s.admitted--
	s.mu.Unlock()
}

func (s *Sender) count(o Outcome) {
	if s.o.Count != nil {
		s.o.Count(o)
	}
}

// finish records d's outcome; the job's Done runs once all targets have one.
func (s *Sender) finish(d *delivery, o Outcome, why string) {
	s.release()
	s.count(o)
	m := d.job.job.Message
	if o != Sent {
		s.o.Log.Info("notification not delivered", "rollout", m.Rollout.Namespace+"/"+m.Rollout.Name, "moment", m.Moment,
			"webhook", d.target.Name, "attempts", d.attempts, "error", why)
	}
	js := d.job
	js.mu.Lock()
	js.results = append(js.results, Result{Target: d.target.Name, Outcome: o, Attempts: d.attempts, Error: why})
	js.remaining--
	last := js.remaining == 0
	results := js.results
	js.mu.Unlock()
	if last && js.job.Done != nil {
		js.job.Done(results)
	}
}
