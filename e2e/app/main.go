// Command app is the demo HTTP application of the end-to-end suite: one
// process per version, whose error rate and added latency are set by flags so
// that a bad version can be shown. It answers its version on every path and
// exports request counts and latency with client_golang on /metrics.
//
//	go run ./e2e/app --listen 127.0.0.1:18081 --version v2 --error-rate 0.1 --latency 300ms
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is what the flags set.
type Config struct {
	// Version is answered as the body of every request and in the X-Version header.
	Version string
	// ErrorRate is the share of requests (0..1) answered with HTTP 500. The
	// failures are spread evenly and deterministically: of any n requests,
	// floor(n*ErrorRate) or one more fail, so a test can count on the rate.
	ErrorRate float64
	// Latency is added to every response.
	Latency time.Duration
}

func (c Config) validate() error {
	if c.Version == "" {
		return errors.New("--version must not be empty")
	}
	if c.ErrorRate < 0 || c.ErrorRate > 1 {
		return fmt.Errorf("--error-rate %v is not within 0..1", c.ErrorRate)
	}
	if c.Latency < 0 {
		return fmt.Errorf("--latency %v is negative", c.Latency)
	}
	return nil
}

// app serves the demo requests and counts them.
type app struct {
	cfg      Config
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu sync.Mutex
	n  uint64 // requests answered on the app path, for the error spread
}

// newHandler returns the app's handler: /metrics (Prometheus text format),
// /healthz (always 200, not counted) and every other path (the demo answer).
func newHandler(cfg Config) (http.Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	a := &app{
		cfg: cfg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "http_requests_total",
			Help:        "HTTP requests answered by the demo app, by status code.",
			ConstLabels: prometheus.Labels{"version": cfg.Version},
		}, []string{"code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "http_request_duration_seconds",
			Help:        "Time to answer an HTTP request of the demo app, by status code.",
			ConstLabels: prometheus.Labels{"version": cfg.Version},
			Buckets:     []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"code"}),
	}
	reg.MustRegister(a.requests, a.duration)
	// Start both series of the usual codes at zero so that rate() and the
	// error-rate ratio have data from the first scrape on.
	for _, code := range []string{"200", "500"} {
		a.requests.WithLabelValues(code)
		a.duration.WithLabelValues(code)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", a.serve)
	return mux, nil
}

// fail says whether the next request fails, spreading failures evenly.
func (a *app) fail() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return uint64(float64(a.n)*a.cfg.ErrorRate) > uint64(float64(a.n-1)*a.cfg.ErrorRate)
}

func (a *app) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := http.StatusOK
	if a.fail() {
		code = http.StatusInternalServerError
	}
	if a.cfg.Latency > 0 {
		select {
		case <-time.After(a.cfg.Latency):
		case <-r.Context().Done():
		}
	}
	w.Header().Set("X-Version", a.cfg.Version)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, a.cfg.Version)
	c := strconv.Itoa(code)
	a.requests.WithLabelValues(c).Inc()
	a.duration.WithLabelValues(c).Observe(time.Since(start).Seconds())
}

func main() {
	var cfg Config
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	flag.StringVar(&cfg.Version, "version", "v1", "version answered by every request")
	flag.Float64Var(&cfg.ErrorRate, "error-rate", 0, "share of requests (0..1) answered with HTTP 500")
	flag.DurationVar(&cfg.Latency, "latency", 0, "latency added to every response, e.g. 300ms")
	flag.Parse()

	h, err := newHandler(cfg)
	if err != nil {
		log.Fatalf("app: %v", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("app: %v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("app: version %s listening on %s (error rate %v, latency %v)", cfg.Version, ln.Addr(), cfg.ErrorRate, cfg.Latency)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("app: %v", err)
	}
}
