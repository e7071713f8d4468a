//go:build e2e

package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// needHAProxy fails the test, never skips it, when haproxy is missing.
func needHAProxy(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Fatal(ErrNoHAProxy)
	}
}

// freeAddr returns a 127.0.0.1 address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var (
	appOnce sync.Once
	appBin  string
	appErr  error
)

// buildApp builds e2e/app once per test binary.
func buildApp(t *testing.T) string {
	t.Helper()
	appOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ramp-e2e-app-")
		if err != nil {
			appErr = err
			return
		}
		appBin = filepath.Join(dir, "app")
		out, err := exec.Command("go", "build", "-o", appBin, "../app").CombinedOutput()
		if err != nil {
			appErr = fmt.Errorf("go build ../app: %w: %s", err, out)
		}
	})
	if appErr != nil {
		t.Fatal(appErr)
	}
	return appBin
}

// startApp runs the demo app as a process on addr until the test ends.
func startApp(t *testing.T, addr string, args ...string) {
	t.Helper()
	cmd := exec.Command(buildApp(t), append([]string{"--listen", addr}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("app on %s not answering: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countVersions sends n requests to url and counts the answering versions
// (the body); a failed request counts under "error <reason>".
func countVersions(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	c := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < n; i++ {
		resp, err := c.Get(url)
		if err != nil {
			got["error "+err.Error()]++
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			got["error "+err.Error()]++
		case resp.StatusCode != http.StatusOK:
			got[fmt.Sprintf("error status %d", resp.StatusCode)]++
		default:
			got[strings.TrimSpace(string(b))]++
		}
	}
	return got
}

// startGatewayHAProxy starts haproxy for one route shop/shop with services
// shop-blue (v1) and shop-green (v2), both run as app processes.
func startGatewayHAProxy(t *testing.T, ctx context.Context) *HAProxy {
	t.Helper()
	needHAProxy(t)
	blue, green := freeAddr(t), freeAddr(t)
	startApp(t, blue, "--version", "v1")
	startApp(t, green, "--version", "v2")
	dir := t.TempDir()
	cfg := Config{
		Socket:      filepath.Join(dir, "haproxy.sock"),
		StatsListen: freeAddr(t),
		Routes: []Route{{
			Namespace: "shop", Name: "shop", Listen: freeAddr(t),
			Services: []Service{{Name: "shop-blue", Addr: blue}, {Name: "shop-green", Addr: green}},
		}},
	}
	h, err := StartHAProxy(ctx, cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Stop() })
	return h
}
