package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// parallel runs f for 0..n-1 on workers goroutines and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// breaches reports whether rollout i is scripted to breach: an even spread
// of share of the rollouts.
func breaches(i int, share float64) bool {
	return math.Floor(float64(i+1)*share) > math.Floor(float64(i)*share)
}

// waitFor polls done every second until it holds or deadline passes,
// printing progress every 15s.
func waitFor(deadline time.Time, what string, done func() (bool, string)) bool {
	last := time.Now()
	for {
		ok, progress := done()
		if ok {
			logf("%s: done (%s)", what, progress)
			return true
		}
		if time.Now().After(deadline) {
			logf("%s: gave up at the deadline (%s)", what, progress)
			return false
		}
		if time.Since(last) >= 15*time.Second {
			logf("%s: %s", what, progress)
			last = time.Now()
		}
		time.Sleep(time.Second)
	}
}

// runSize runs the benchmark for n rollouts on a fresh control plane.
func runSize(c config, bin string, n int) (*Result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	if c.timeout == 0 {
		c.timeout = 10*time.Minute + time.Duration(n)*300*time.Millisecond
	}
	deadline := start.Add(c.timeout)
	res := &Result{N: n, Date: start.UTC().Format(time.RFC3339), Interval: c.interval.String(),
		ControllerArgs: strings.Join(c.controllerArgs, " "), Defaults: defaultsOf(bin), LoadStart: loadAvg(),
		Commit: commitOf(c.root), Hang: c.hang}
	if c.hang > 0 {
		res.HangTimeout = hangTimeout.String()
	}
	k := c.hang

	env, envCfg, err := startEnv(c.root, c.audit)
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.Stop() }()
	scheme := testenv.NewScheme()
	dir, err := os.MkdirTemp("", fmt.Sprintf("ramp-bench-%d-", n))
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(envCfg, kubeconfig); err != nil {
		return nil, err
	}
	p := startProm()
	defer p.Close()
	hp := startHangingProm()
	defer hp.Close()

	cfg := rest.CopyConfig(envCfg)
	cfg.QPS, cfg.Burst = 5000, 10000 // the harness should not be what waits
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	if err := cl.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return nil, err
	}
	ca, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{namespace: {}},
		DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		return nil, err
	}
	breachers := map[string]bool{}
	for i := range n {
		if breaches(i, c.breachShare) {
			breachers[rolloutName(i)] = true
		}
	}
	res.Breaching = len(breachers)
	rec := newRecorder()
	rec.onWeight = func(name string, w int32) {
		if w == 25 && breachers[name] {
			p.breach(name)
		}
	}
	if err := rec.start(ctx, ca); err != nil {
		return nil, err
	}
	rd, err := startReadier(ctx, ca, cl, 8)
	if err != nil {
		return nil, err
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("harness cache did not sync")
	}
	ctl, err := startController(ctx, bin, dir, kubeconfig, namespace, c.profile != "", c.controllerArgs)
	if err != nil {
		return nil, err
	}
	defer ctl.stop()
	pid := ctl.cmd.Process.Pid
	logf("controller pid %d, log %s", pid, ctl.logPath)

	// Setup: routes and first versions, until every Rollout is Healthy on
	// blue. A first version needs no checks, so the -hang Rollouts, whose
	// Prometheus never answers, get there too; their checks hang from the
	// wave on.
	t0 := time.Now()
	err = parallel(n+k, 16, func(i int) error {
		name, ro := "", (*v1.Rollout)(nil)
		if i < n {
			name = rolloutName(i)
			ro = rollout(name, "registry.example/app:v1", p.URL, c.interval)
		} else {
			name = hangName(i - n)
			ro = hangingRollout(name, "registry.example/app:v1", hp.URL, c.interval)
		}
		if err := cl.Create(ctx, route(name)); err != nil {
			return fmt.Errorf("create route %s: %w", name, err)
		}
		if err := cl.Create(ctx, ro); err != nil {
			return fmt.Errorf("create rollout %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.CreateSeconds = time.Since(t0).Seconds()
	healthy := waitFor(deadline, "setup", func() (bool, string) {
		hb, _, _ := rec.counts(anyRollout)
		return hb == n+k, fmt.Sprintf("%d/%d Healthy on blue, phases %v", hb, n+k, rec.phases(anyRollout))
	})
	res.SetupSeconds = time.Since(t0).Seconds()
	if !healthy {
		hb, _, _ := rec.counts(anyRollout)
		res.Note = fmt.Sprintf("setup did not finish within %s: %d/%d Rollouts Healthy after %.0fs", c.timeout, hb, n+k, res.SetupSeconds)
		res.finishProc(pid, nil)
		return res, nil
	}

	// The wave: every image changes at once.
	base, err := scrape(ctl.metrics)
	if err != nil {
		return nil, err
	}
	baseProc, _ := readProc(pid)
	baseChild := childCPU("kube-apiserver", "etcd")
	res.LoadWaveStart = loadAvg()
	rec.startWave()
	p.count()
	hp.count()
	t1 := time.Now()
	if c.profile != "" {
		if err := os.MkdirAll(c.profile, 0o755); err != nil {
			return nil, err
		}
		pr := &profiler{dir: c.profile, controller: ctl.pprof, apiserver: envCfg}
		go pr.collect(ctx, n, 5*time.Second, 30*time.Second)
	}
	image := `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.example/app:v2"}]`
	// The -hang Rollouts first: their checks are due, and hang, as the
	// others walk their steps.
	err = parallel(n+k, 32, func(i int) error {
		name := hangName(i)
		if i >= k {
			name = rolloutName(i - k)
		}
		ro := &v1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		return cl.Patch(ctx, ro, client.RawPatch(types.JSONPatchType, []byte(image)))
	})
	if err != nil {
		return nil, fmt.Errorf("change images: %w", err)
	}
	res.PatchSeconds = time.Since(t1).Seconds()
	finished := waitFor(deadline, "wave", func() (bool, string) {
		_, pr, rb := rec.counts(normalRollout)
		progress := fmt.Sprintf("%d promoted, %d rolled back of %d, phases %v", pr, rb, n, rec.phases(normalRollout))
		if k > 0 {
			q, _ := hp.snapshot()
			progress += fmt.Sprintf("; the %d hanging: phases %v, %d queries asked", k, rec.phases(isHang), q)
		}
		return pr+rb == n, progress
	})
	res.WaveSeconds = time.Since(t1).Seconds()
	res.Finished = finished
	if !finished {
		res.Note = fmt.Sprintf("the wave did not finish within the %s limit", c.timeout)
	}
	end, err := scrape(ctl.metrics)
	if err != nil {
		return nil, err
	}
	endChild := childCPU("kube-apiserver", "etcd")
	res.APIServerCPUWave = endChild["kube-apiserver"] - baseChild["kube-apiserver"]
	res.EtcdCPUWave = endChild["etcd"] - baseChild["etcd"]
	res.finishProc(pid, &baseProc)
	res.LoadEnd = loadAvg()
	rd.mu.Lock()
	res.ReadierWrites = rd.n
	rd.mu.Unlock()
	res.analyse(c, rec, p, breachers)
	if k > 0 {
		res.HangQueries, _ = hp.snapshot()
		_, res.HangPromoted, res.HangRolledBack = rec.counts(isHang)
	}
	res.apiRequests(base, end)
	logf("N=%d finished in %s", n, time.Since(start).Round(time.Second))
	return res, nil
}

func (r *Result) finishProc(pid int, base *procStats) {
	s, err := readProc(pid)
	if err != nil {
		return
	}
	r.PeakRSSMiB = float64(s.HWMKiB) / 1024
	r.EndRSSMiB = float64(s.RSSKiB) / 1024
	r.CPUSeconds = s.CPUSeconds
	if base != nil {
		r.CPUWaveSeconds = s.CPUSeconds - base.CPUSeconds
		r.SetupPeakRSSMiB = float64(base.HWMKiB) / 1024
	}
}
