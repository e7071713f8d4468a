package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// buildController builds ramp-controller into a temporary folder.
func buildController(root string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "ramp-bench-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	bin := filepath.Join(dir, "ramp-controller")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ramp-controller")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build ramp-controller: %w\n%s", err, out)
	}
	return bin, cleanup, nil
}

// speedFlags are the controller flags that bear on the figures.
var speedFlags = []string{"workers", "check-workers", "kube-api-qps", "kube-api-burst"}

// defaultsOf reads the defaults of speedFlags from bin -help, e.g.
// "--workers=16 --kube-api-qps=300 --kube-api-burst=600".
func defaultsOf(bin string) string {
	out, _ := exec.Command(bin, "-help").CombinedOutput() // -help exits 0 or 2
	lines := strings.Split(string(out), "\n")
	var parts []string
	for _, f := range speedFlags {
		for i, l := range lines {
			fields := strings.Fields(l)
			if len(fields) == 0 || fields[0] != "-"+f {
				continue
			}
			// the usage follows on the next line and ends in "(default N)"
			for _, u := range lines[i+1 : min(i+3, len(lines))] {
				if j := strings.LastIndex(u, "(default "); j >= 0 {
					parts = append(parts, "--"+f+"="+strings.TrimSuffix(strings.TrimSpace(u[j+len("(default "):]), ")"))
					break
				}
			}
		}
	}
	return strings.Join(parts, " ")
}

// writeKubeconfig writes a kubeconfig for cfg (envtest's admin user).
func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*kc, path)
}

// controller is a running ramp-controller process.
type controller struct {
	cmd     *exec.Cmd
	metrics string // http://host:port/metrics
	pprof   string // http://host:port when profiling
	done    chan error
	logPath string
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startController runs bin against the kubeconfig, watching namespace, and
// waits until its metrics endpoint answers.
func startController(ctx context.Context, bin, dir, kubeconfig, namespace string, profile bool, extra []string) (*controller, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{
		"--kubeconfig", kubeconfig,
		"--metrics-bind-address", addr, "--metrics-secure=false",
		"--health-probe-bind-address", "0",
		"--namespaces", namespace,
	}
	pprof := ""
	if profile {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		pprof = fmt.Sprintf("127.0.0.1:%d", pp)
		args = append(args, "--pprof-bind-address", pprof)
		pprof = "http://" + pprof
	}
	args = append(args, extra...)
	logPath := filepath.Join(dir, "controller.log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start ramp-controller: %w", err)
	}
	c := &controller{cmd: cmd, metrics: "http://" + addr + "/metrics", pprof: pprof, done: make(chan error, 1), logPath: logPath}
	go func() { c.done <- cmd.Wait(); lf.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-c.done:
			return nil, fmt.Errorf("ramp-controller exited at start: %v (log %s)", err, logPath)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if resp, err := http.Get(c.metrics); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
	}
	c.stop()
	return nil, fmt.Errorf("ramp-controller metrics at %s did not answer within 60s", c.metrics)
}

// stop ends the controller with SIGTERM (SIGKILL after 20s).
func (c *controller) stop() {
	if c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// procStats are a process's peak and current resident memory and its CPU time.
type procStats struct {
	HWMKiB, RSSKiB int64
	CPUSeconds     float64
}

var clockTicks = func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}()

func readProc(pid int) (procStats, error) {
	var s procStats
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmHWM:":
			s.HWMKiB = v
		case "VmRSS:":
			s.RSSKiB = v
		}
	}
	f.Close()
	cpu, err := cpuSeconds(pid)
	s.CPUSeconds = cpu
	return s, err
}

// cpuSeconds is utime+stime of pid from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// after the command: state(0) ppid(1) ... utime(11) stime(12)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clockTicks, nil
}

// childCPU sums the CPU seconds of this process's children whose command
// is one of names (envtest's kube-apiserver and etcd), by name.
func childCPU(names ...string) map[string]float64 {
	out := map[string]float64{}
	me := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		open, cl := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || cl < open {
			continue
		}
		comm := string(b[open+1 : cl])
		f := strings.Fields(string(b[cl+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(me) {
			continue
		}
		for _, n := range names {
			if comm == n {
				if c, err := cpuSeconds(pid); err == nil {
					out[n] += c
				}
			}
		}
	}
	return out
}

// loadAvg is the 1, 5 and 15 minute load average.
func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}
