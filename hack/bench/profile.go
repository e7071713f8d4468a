package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// profiler fetches CPU profiles of the controller and kube-apiserver during
// the wave (-profile), to see where the time of a step goes.
type profiler struct {
	dir        string
	controller string // http://host:port of the controller's pprof
	apiserver  *rest.Config
}

// collect fetches a CPU profile of d from each, starting after delay, then
// the controller's heap, and writes them to dir as <who>-N<n>.pprof.
func (p *profiler) collect(ctx context.Context, n int, delay, d time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(delay):
	}
	hc, err := rest.HTTPClientFor(p.apiserver)
	if err != nil {
		logf("profile: %v", err)
		return
	}
	q := fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(d.Seconds()))
	var wg sync.WaitGroup
	for who, get := range map[string]struct {
		c   *http.Client
		url string
	}{
		"controller":     {http.DefaultClient, p.controller + q},
		"kube-apiserver": {hc, strings.TrimSuffix(p.apiserver.Host, "/") + q},
	} {
		wg.Go(func() {
			path := filepath.Join(p.dir, fmt.Sprintf("%s-N%d.pprof", who, n))
			if err := fetch(ctx, get.c, get.url, path); err != nil {
				logf("profile %s: %v", who, err)
				return
			}
			logf("profile %s: %s", who, path)
		})
	}
	wg.Wait()
	// The heap once the wave is well under way.
	path := filepath.Join(p.dir, fmt.Sprintf("controller-heap-N%d.pprof", n))
	if err := fetch(ctx, http.DefaultClient, p.controller+"/debug/pprof/heap", path); err != nil {
		logf("profile controller heap: %v", err)
		return
	}
	logf("profile controller heap: %s", path)
}

func fetch(ctx context.Context, c *http.Client, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
