package stack

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-dev/ramp/e2e/harness"
)

// Controller is the ramp-controller binary run as a process against the
// harness's API server.
type Controller struct {
	Bin         string
	Dir         string
	Kubeconfig  string
	Namespace   string
	MetricsAddr string
	HealthAddr  string
	proc        *harness.Proc
	runs        int
}

// Start runs the controller and waits for its health probe.
func (c *Controller) Start(ctx context.Context) error {
	c.runs++
	p, err := harness.StartProc(c.Dir, fmt.Sprintf("ramp-controller-%d", c.runs), c.Bin,
		"--kubeconfig="+c.Kubeconfig,
		"--namespaces="+c.Namespace,
		"--metrics-bind-address="+c.MetricsAddr,
		"--metrics-secure=false",
		"--health-probe-bind-address="+c.HealthAddr,
		"--leader-elect=false",
		"--workers=2",
	)
	if err != nil {
		return err
	}
	c.proc = p
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + c.HealthAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.Exited():
			return fmt.Errorf("ramp-controller exited at start: %v (log %s)", p.Err(), p.Log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ramp-controller not ready on %s (log %s)", c.HealthAddr, p.Log)
		}
	}
}

// Kill ends the controller with SIGKILL, as a crash or an OOM kill would.
func (c *Controller) Kill() {
	if c.proc != nil {
		c.proc.Kill()
		c.proc = nil
	}
}

// Stop ends the controller with SIGTERM.
func (c *Controller) Stop() {
	if c.proc != nil {
		c.proc.Stop()
		c.proc = nil
	}
}

// Log is the path of the current run's log.
func (c *Controller) Log() string {
	if c.proc == nil {
		return ""
	}
	return c.proc.Log
}

// Metric returns the sum of the samples of the named series (e.g.
// "ramp_rollback_seconds_sum") on the controller's metrics endpoint.
func (c *Controller) Metric(ctx context.Context, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.MetricsAddr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("controller metrics: %w", err)
	}
	defer resp.Body.Close()
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("controller metric %q: %w", line, err)
		}
		sum += v
		found = true
	}
	if !found {
		return 0, fmt.Errorf("controller metric %s: no sample", name)
	}
	return sum, sc.Err()
}
