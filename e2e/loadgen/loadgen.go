// Package loadgen sends steady HTTP traffic at a fixed rate (open loop: a
// slow answer does not slow the sending) and records, per request, when it
// was sent and answered, the status code and the version that answered (the
// demo app's body).
package loadgen

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Result is one request.
type Result struct {
	Sent    time.Time
	Done    time.Time
	Code    int    // 0 when the request failed without an answer
	Version string // the body of a 200 or 500 answer from the app
	Err     string // transport error
}

// OK says the request was answered with 200.
func (r Result) OK() bool { return r.Err == "" && r.Code == http.StatusOK }

// Gen is a running load generator.
type Gen struct {
	url    string
	client *http.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	results []Result
}

// Start sends rate requests per second to url until Stop.
func Start(url string, rate int) *Gen {
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gen{
		url:    url,
		cancel: cancel,
		client: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second},
		},
	}
	g.wg.Add(1)
	go g.loop(ctx, time.Second/time.Duration(rate))
	return g
}

// loop sends request n at start + n·every. A busy machine delays a send
// but never drops one (a time.Ticker would): late requests go out at once,
// so every second still gets its share of requests.
func (g *Gen) loop(ctx context.Context, every time.Duration) {
	defer g.wg.Done()
	start := time.Now()
	for n := 0; ; n++ {
		if d := time.Until(start.Add(time.Duration(n) * every)); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		} else if ctx.Err() != nil {
			return
		}
		g.wg.Add(1)
		go g.one()
	}
}

func (g *Gen) one() {
	defer g.wg.Done()
	r := Result{Sent: time.Now()}
	resp, err := g.client.Get(g.url)
	if err != nil {
		r.Err = err.Error()
	} else {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		r.Code = resp.StatusCode
		if err != nil {
			r.Err = err.Error()
		} else {
			r.Version = resp.Header.Get("X-Version")
			if r.Version == "" && (r.Code == http.StatusOK || r.Code == http.StatusInternalServerError) {
				r.Version = strings.TrimSpace(string(b))
			}
		}
	}
	r.Done = time.Now()
	g.mu.Lock()
	g.results = append(g.results, r)
	g.mu.Unlock()
}

// Stop stops sending and waits for the requests in flight.
func (g *Gen) Stop() []Result {
	g.cancel()
	g.wg.Wait()
	g.client.CloseIdleConnections()
	return g.Results()
}

// Results returns a copy of the finished requests, in order of answer.
func (g *Gen) Results() []Result {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Result(nil), g.results...)
}

// Tally counts requests.
type Tally struct {
	Total    int
	Versions map[string]int // answered by each version (any code)
	Failed   int            // not 200: transport errors and error codes
	Codes    map[int]int
}

// Share is the percentage of the requests answered by version.
func (t Tally) Share(version string) float64 {
	if t.Total == 0 {
		return 0
	}
	return 100 * float64(t.Versions[version]) / float64(t.Total)
}

// Count tallies the results sent within [from, to).
func Count(results []Result, from, to time.Time) Tally {
	t := Tally{Versions: map[string]int{}, Codes: map[int]int{}}
	for _, r := range results {
		if r.Sent.Before(from) || !r.Sent.Before(to) {
			continue
		}
		t.Total++
		if r.Version != "" {
			t.Versions[r.Version]++
		}
		t.Codes[r.Code]++
		if !r.OK() {
			t.Failed++
		}
	}
	return t
}
