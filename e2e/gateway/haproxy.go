package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxWeight is the largest server weight HAProxy accepts.
const MaxWeight = 256

// Runtime talks to HAProxy's runtime API on its admin stats socket, one
// command per connection.
type Runtime struct {
	Socket string
}

// Command sends one runtime API command and returns HAProxy's answer.
func (r Runtime) Command(ctx context.Context, cmd string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", r.Socket)
	if err != nil {
		return "", fmt.Errorf("haproxy runtime API %s: %w", r.Socket, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", fmt.Errorf("haproxy runtime API %q: %w", cmd, err)
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		return "", fmt.Errorf("haproxy runtime API %q: %w", cmd, err)
	}
	return string(out), nil
}

// SetWeight sets the weight (0..256) of server in backend. HAProxy answers
// nothing on success and a message otherwise.
func (r Runtime) SetWeight(ctx context.Context, backend, server string, weight int) error {
	if weight < 0 || weight > MaxWeight {
		return fmt.Errorf("haproxy weight %d of %s/%s is not within 0..%d", weight, backend, server, MaxWeight)
	}
	out, err := r.Command(ctx, fmt.Sprintf("set weight %s/%s %d", backend, server, weight))
	if err != nil {
		return err
	}
	if msg := strings.TrimSpace(out); msg != "" {
		return fmt.Errorf("haproxy refused weight %d for %s/%s: %s", weight, backend, server, msg)
	}
	return nil
}

// Weight reads the current weight of server in backend.
func (r Runtime) Weight(ctx context.Context, backend, server string) (int, error) {
	out, err := r.Command(ctx, fmt.Sprintf("get weight %s/%s", backend, server))
	if err != nil {
		return 0, err
	}
	// The answer is "<current> (initial <initial>)".
	f := strings.Fields(out)
	if len(f) == 0 {
		return 0, fmt.Errorf("haproxy get weight %s/%s: empty answer", backend, server)
	}
	w, err := strconv.Atoi(f[0])
	if err != nil {
		return 0, fmt.Errorf("haproxy get weight %s/%s: %q", backend, server, strings.TrimSpace(out))
	}
	return w, nil
}

// HAProxy is a running haproxy process.
type HAProxy struct {
	Runtime
	Config Config
	// Dir holds haproxy.cfg and haproxy.log.
	Dir  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// ErrNoHAProxy means the haproxy binary is not installed.
var ErrNoHAProxy = errors.New("haproxy not found in PATH: install it with hack/install-e2e-deps.sh (Debian's package haproxy)")

// StartHAProxy writes cfg to dir/haproxy.cfg, checks it with `haproxy -c`
// and starts haproxy in the foreground (-db), logging to dir/haproxy.log. It
// returns once the runtime API answers. Stop it with Stop.
func StartHAProxy(ctx context.Context, cfg Config, dir string) (*HAProxy, error) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return nil, ErrNoHAProxy
	}
	text, err := cfg.Render()
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(file, text, 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "-c", "-q", "-f", file).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy refused %s: %w: %s", file, err, out)
	}
	logf, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	h := &HAProxy{Runtime: Runtime{Socket: cfg.Socket}, Config: cfg, Dir: dir, done: make(chan struct{})}
	h.cmd = exec.Command(bin, "-db", "-f", file)
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start haproxy: %w", err)
	}
	go func() { h.err = h.cmd.Wait(); close(h.done) }()
	for {
		if _, err := h.Command(ctx, "show info"); err == nil {
			return h, nil
		}
		select {
		case <-h.done:
			log, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("haproxy exited at start: %v: %s", h.err, log)
		case <-ctx.Done():
			_ = h.Stop()
			return nil, fmt.Errorf("haproxy runtime API did not answer: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops haproxy (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (h *HAProxy) Stop() error {
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
	return nil
}

// Exited is closed when the haproxy process has ended.
func (h *HAProxy) Exited() <-chan struct{} { return h.done }

// SetWeights sets the weight of every server named in weights in backend.
// Servers whose weight grows are set first, then those whose weight shrinks
// (each group in name order): HAProxy's roundrobin (fwrr) sends a burst to
// a server when the others shrink before it grows — 25/75 → 50/50 set the
// other way round gave the growing server 78 % of the next 100 requests.
func (r Runtime) SetWeights(ctx context.Context, backend string, weights map[string]int) error {
	var grow, shrink []string
	for server, w := range weights {
		cur, err := r.Weight(ctx, backend, server)
		if err != nil {
			return err
		}
		if w >= cur {
			grow = append(grow, server)
		} else {
			shrink = append(shrink, server)
		}
	}
	sort.Strings(grow)
	sort.Strings(shrink)
	for _, server := range append(grow, shrink...) {
		if err := r.SetWeight(ctx, backend, server, weights[server]); err != nil {
			return err
		}
	}
	return nil
}
