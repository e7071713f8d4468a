package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestApp(t *testing.T) {
	cases := map[string]struct {
		cfg       Config
		requests  int
		wantFails int
		minTime   time.Duration
	}{
		"healthy":          {cfg: Config{Version: "v1"}, requests: 20},
		"ten percent fail": {cfg: Config{Version: "v2", ErrorRate: 0.1}, requests: 50, wantFails: 5},
		"all fail":         {cfg: Config{Version: "v3", ErrorRate: 1}, requests: 7, wantFails: 7},
		"slow":             {cfg: Config{Version: "v4", Latency: 30 * time.Millisecond}, requests: 3, minTime: 90 * time.Millisecond},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h, err := newHandler(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			start := time.Now()
			fails := 0
			for i := 0; i < tc.requests; i++ {
				code, body := get(t, srv.URL+"/any/path")
				if strings.TrimSpace(body) != tc.cfg.Version {
					t.Fatalf("body %q, want the version %q", body, tc.cfg.Version)
				}
				switch code {
				case http.StatusOK:
				case http.StatusInternalServerError:
					fails++
				default:
					t.Fatalf("status %d", code)
				}
			}
			if took := time.Since(start); took < tc.minTime {
				t.Errorf("%d requests took %v, want at least %v", tc.requests, took, tc.minTime)
			}
			if fails != tc.wantFails {
				t.Errorf("%d of %d requests failed, want %d", fails, tc.requests, tc.wantFails)
			}
			if code, _ := get(t, srv.URL+"/healthz"); code != http.StatusOK {
				t.Errorf("/healthz answered %d", code)
			}
			_, metrics := get(t, srv.URL+"/metrics")
			for _, want := range []string{
				`http_requests_total{code="200",version="` + tc.cfg.Version + `"} ` + itoa(tc.requests-tc.wantFails),
				`http_requests_total{code="500",version="` + tc.cfg.Version + `"} ` + itoa(tc.wantFails),
				`http_request_duration_seconds_count{code="200",version="` + tc.cfg.Version + `"} ` + itoa(tc.requests-tc.wantFails),
				`http_request_duration_seconds_bucket{code="200",version="` + tc.cfg.Version + `",le="0.005"}`,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %q:\n%s", want, metrics)
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestConfigRefused(t *testing.T) {
	cases := map[string]Config{
		"no version":        {},
		"error rate over 1": {Version: "v1", ErrorRate: 1.5},
		"negative rate":     {Version: "v1", ErrorRate: -0.1},
		"negative latency":  {Version: "v1", Latency: -time.Second},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := newHandler(cfg); err == nil {
				t.Errorf("config %+v accepted", cfg)
			}
		})
	}
}
