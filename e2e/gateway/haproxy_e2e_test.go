//go:build e2e

package gateway

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHAProxyWeights drives a real haproxy through the runtime API and
// measures, at the client, the share of requests each version answers.
func TestHAProxyWeights(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h := startGatewayHAProxy(t, ctx)
	backend := Backend("shop", "shop")
	url := "http://" + h.Config.Routes[0].Listen + "/"
	const requests = 400
	for _, step := range []struct{ blue, green int }{{100, 0}, {50, 50}, {75, 25}, {0, 100}} {
		if err := h.SetWeights(ctx, backend, map[string]int{"shop-blue": step.blue, "shop-green": step.green}); err != nil {
			t.Fatal(err)
		}
		for server, want := range map[string]int{"shop-blue": step.blue, "shop-green": step.green} {
			if got, err := h.Weight(ctx, backend, server); err != nil || got != want {
				t.Fatalf("weight of %s/%s read back as %d (%v), want %d", backend, server, got, err, want)
			}
		}
		got := countVersions(t, url, requests)
		if got["v1"]+got["v2"] != requests {
			t.Fatalf("weights %d/%d: answers %v, want only v1 and v2", step.blue, step.green, got)
		}
		share := 100 * float64(got["v2"]) / requests
		t.Logf("weights blue %3d / green %3d: v2 answered %5.1f%% of %d requests", step.blue, step.green, share, requests)
		if math.Abs(share-float64(step.green)) > 3 {
			t.Errorf("weights %d/%d: v2 share %.1f%%, want %d±3", step.blue, step.green, share, step.green)
		}
	}

	if err := h.SetWeight(ctx, backend, "shop-green", MaxWeight+1); err == nil {
		t.Error("weight 257 accepted")
	}
	if err := h.SetWeight(ctx, backend, "no-such-server", 1); err == nil || !strings.Contains(err.Error(), "haproxy refused") {
		t.Errorf("weight of an unknown server: %v, want haproxy's refusal", err)
	}

	// The exporter's page is read whole (an error mid-body is a failed
	// read, not a page without the series) and read again for a few seconds:
	// a CI run once saw a page without them right after the requests.
	want := []string{
		`haproxy_server_http_responses_total{proxy="shop_shop",server="shop-green",code="2xx"}`,
		`haproxy_server_http_responses_total{proxy="shop_shop",server="shop-blue",code="5xx"}`,
	}
	var missing []string
	var seen string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		missing, seen = nil, ""
		resp, err := http.Get("http://" + h.Config.StatsListen + "/metrics")
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			seen = fmt.Sprintf("status %d, %d bytes, read error %v", resp.StatusCode, len(b), rerr)
			for _, w := range want {
				if rerr != nil || !strings.Contains(string(b), w) {
					missing = append(missing, w)
				}
			}
		} else {
			seen, missing = err.Error(), want
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range missing {
		t.Errorf("haproxy /metrics lacks %s (last answer: %s)", w, seen)
	}
}
