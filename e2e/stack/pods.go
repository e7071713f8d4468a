package stack

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/e2e/harness"
)

// The container env of the pod template that sets the demo app's behaviour.
const (
	EnvErrorRate = "RAMP_DEMO_ERROR_RATE" // share of requests answered 500, e.g. "0.1"
	EnvLatency   = "RAMP_DEMO_LATENCY"    // latency added to every answer, e.g. "600ms"
)

// AppSpec is what a color's process runs, read from a Ready pod.
type AppSpec struct {
	Version   string
	ErrorRate string
	Latency   string
}

func (s AppSpec) String() string {
	out := s.Version
	if s.ErrorRate != "" {
		out += " errors=" + s.ErrorRate
	}
	if s.Latency != "" {
		out += " latency=" + s.Latency
	}
	return out
}

// specOf reads a pod's AppSpec: the version is the image tag of its first
// container, the rest its env.
func specOf(p *corev1.Pod) AppSpec {
	if len(p.Spec.Containers) == 0 {
		return AppSpec{}
	}
	c := p.Spec.Containers[0]
	s := AppSpec{Version: "latest"}
	img := c.Image
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		s.Version = img[i+1:]
	}
	for _, e := range c.Env {
		switch e.Name {
		case EnvErrorRate:
			s.ErrorRate = e.Value
		case EnvLatency:
			s.Latency = e.Value
		}
	}
	return s
}

func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PodEvent is a start or stop of a color's process.
type PodEvent struct {
	At    time.Time
	Color v1.Color
	Spec  AppSpec // empty when stopped
}

// PodRunner makes kwok's pods real: for each color of one Rollout, while the
// color has Ready pods it runs one demo-app process at the color's fixed
// address, with the version and behaviour of its newest Ready pod; it restarts
// the process when that changes and stops it when no pod is Ready.
type PodRunner struct {
	Client    client.Client
	Namespace string
	Rollout   string
	AppBin    string
	Dir       string
	Addrs     map[v1.Color]string
	Logf      func(format string, args ...any)

	mu      sync.Mutex
	running map[v1.Color]*appProc
	events  []PodEvent
}

type appProc struct {
	spec AppSpec
	proc *harness.Proc
}

// Run polls the pods every 100 ms until ctx ends, then stops the processes.
func (r *PodRunner) Run(ctx context.Context) {
	r.mu.Lock()
	r.running = map[v1.Color]*appProc{}
	r.mu.Unlock()
	defer r.stopAll()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if err := r.sync(ctx); err != nil && ctx.Err() == nil {
			r.Logf("pods: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// UserService is the PodRunner's key for the team's own Service <rollout>
// (see Options.UserService): it selects app=<rollout>, so the pods of the
// team's Deployment and of both colors are its endpoints.
const UserService v1.Color = "user"

// keysOf are the Addrs keys whose process pod p may serve.
func (r *PodRunner) keysOf(p *corev1.Pod) []v1.Color {
	var out []v1.Color
	if c := v1.Color(p.Labels[v1.LabelColor]); p.Labels[v1.LabelRollout] == r.Rollout && c != UserService {
		if _, ok := r.Addrs[c]; ok {
			out = append(out, c)
		}
	}
	if _, ok := r.Addrs[UserService]; ok && p.Labels["app"] == r.Rollout {
		out = append(out, UserService)
	}
	return out
}

func (r *PodRunner) sync(ctx context.Context) error {
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(r.Namespace)); err != nil {
		return err
	}
	newest := map[v1.Color]*corev1.Pod{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if !podReady(p) {
			continue
		}
		for _, c := range r.keysOf(p) {
			if n := newest[c]; n == nil || n.CreationTimestamp.Before(&p.CreationTimestamp) {
				newest[c] = p
			}
		}
	}
	for c := range r.Addrs {
		want, ok := AppSpec{}, false
		if p := newest[c]; p != nil {
			want, ok = specOf(p), true
		}
		r.mu.Lock()
		cur := r.running[c]
		r.mu.Unlock()
		if cur != nil && ok && cur.spec == want {
			continue
		}
		if cur == nil && !ok {
			continue
		}
		if cur != nil {
			cur.proc.Stop()
			r.record(c, nil)
		}
		if !ok {
			continue
		}
		p, err := r.start(ctx, c, want)
		if err != nil {
			return err
		}
		r.record(c, &appProc{spec: want, proc: p})
	}
	return nil
}

func (r *PodRunner) record(c v1.Color, p *appProc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := PodEvent{At: time.Now(), Color: c}
	if p != nil {
		r.running[c] = p
		ev.Spec = p.spec
		r.Logf("pods: %s/%s-%s runs %s at %s", r.Namespace, r.Rollout, c, p.spec, r.Addrs[c])
	} else {
		delete(r.running, c)
		r.Logf("pods: %s/%s-%s has no Ready pod: process stopped", r.Namespace, r.Rollout, c)
	}
	r.events = append(r.events, ev)
}

func (r *PodRunner) start(ctx context.Context, c v1.Color, s AppSpec) (*harness.Proc, error) {
	args := []string{"--listen", r.Addrs[c], "--version", s.Version}
	if s.ErrorRate != "" {
		if _, err := strconv.ParseFloat(s.ErrorRate, 64); err != nil {
			return nil, fmt.Errorf("%s of %s-%s: %w", EnvErrorRate, r.Rollout, c, err)
		}
		args = append(args, "--error-rate", s.ErrorRate)
	}
	if s.Latency != "" {
		args = append(args, "--latency", s.Latency)
	}
	p, err := harness.StartProc(r.Dir, "app-"+string(c)+"-"+s.Version, r.AppBin, args...)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + r.Addrs[c] + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p, nil
		}
		select {
		case <-p.Exited():
			return nil, fmt.Errorf("app %s-%s exited at start: %v (log %s)", r.Rollout, c, p.Err(), p.Log)
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("app %s-%s not answering on %s: %v", r.Rollout, c, r.Addrs[c], err)
		}
	}
}

func (r *PodRunner) stopAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c, p := range r.running {
		p.proc.Stop()
		delete(r.running, c)
	}
}

// Running is what each color's process runs now.
func (r *PodRunner) Running() map[v1.Color]AppSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[v1.Color]AppSpec{}
	for c, p := range r.running {
		out[c] = p.spec
	}
	return out
}

// Events are the starts and stops so far.
func (r *PodRunner) Events() []PodEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PodEvent(nil), r.events...)
}
