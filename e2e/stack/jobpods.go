package stack

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ramp-dev/ramp/e2e/harness"
)

// JobRun is one pod's real process run by a JobRunner.
type JobRun struct {
	Pod, Job string
	// Bin is the binary run (the pod's harness.ProcessLabel).
	Bin              string
	Started, Ended   time.Time
	ExitCode         int
	Output           string
	CanaryURL, Local string // RAMP_CANARY_URL as given, and the address it was sent to
}

// JobRunner makes the pods of Jobs real, as the kubelet would: a pod
// labelled harness.ProcessLabel (kwok makes it Running and never completes
// it) runs that binary from Bins with its first container's args and env,
// once; when the process exits, the runner writes the pod's phase
// (Succeeded on exit code 0, Failed otherwise) and its container's
// terminated state, from which the Job controller judges the Job. An env
// value that is a URL of a Service of the stack (http://<svc>.<ns>.svc:<port>)
// is given the address the stack serves that Service on, as cluster DNS and
// kube-proxy would resolve it.
type JobRunner struct {
	Client    client.Client
	Namespace string
	Bins      string
	Dir       string
	// Services maps a Service's name to the address the stack gives it.
	Services map[string]string
	Logf     func(format string, args ...any)

	mu      sync.Mutex
	started map[types.UID]bool
	runs    []JobRun
	wg      sync.WaitGroup
}

// Run polls the pods every 100 ms until ctx ends, then waits for the
// processes it started.
func (r *JobRunner) Run(ctx context.Context) {
	r.mu.Lock()
	r.started = map[types.UID]bool{}
	r.mu.Unlock()
	defer r.wg.Wait()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		var pods corev1.PodList
		if err := r.Client.List(ctx, &pods, client.InNamespace(r.Namespace), client.HasLabels{harness.ProcessLabel}); err == nil {
			for i := range pods.Items {
				p := pods.Items[i]
				r.mu.Lock()
				seen := r.started[p.UID]
				if !seen && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && len(p.Spec.Containers) > 0 {
					r.started[p.UID] = true
					r.wg.Add(1)
					go func() { defer r.wg.Done(); r.run(ctx, &p) }()
				}
				r.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Runs are the processes that ended so far.
func (r *JobRunner) Runs() []JobRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]JobRun(nil), r.runs...)
}

func (r *JobRunner) run(ctx context.Context, p *corev1.Pod) {
	c := p.Spec.Containers[0]
	name := p.Labels[harness.ProcessLabel]
	run := JobRun{Pod: p.Name, Job: p.Labels["batch.kubernetes.io/job-name"], Bin: name, Started: time.Now()}
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, e := range c.Env {
		v := r.local(e.Value)
		if e.Name == "RAMP_CANARY_URL" {
			run.CanaryURL, run.Local = e.Value, v
		}
		env = append(env, e.Name+"="+v)
	}
	code := -1
	var out bytes.Buffer
	if strings.ContainsAny(name, `/\`) || name == "" {
		fmt.Fprintf(&out, "refused binary name %q", name)
	} else {
		cmd := exec.CommandContext(ctx, filepath.Join(r.Bins, name), c.Args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		err := cmd.Run()
		code = cmd.ProcessState.ExitCode()
		if err != nil && cmd.ProcessState == nil {
			fmt.Fprintf(&out, "start: %v", err)
		}
	}
	run.Ended, run.ExitCode, run.Output = time.Now(), code, strings.TrimSpace(out.String())
	_ = os.WriteFile(filepath.Join(r.Dir, "job-"+p.Name+".log"), out.Bytes(), 0o644)
	r.Logf("job pod %s: %s exited %d after %s: %s", p.Name, name, code, run.Ended.Sub(run.Started).Round(time.Millisecond), run.Output)
	r.mu.Lock()
	r.runs = append(r.runs, run)
	r.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if err := r.finish(ctx, p, run); err != nil {
		r.Logf("job pod %s: write its status: %v", p.Name, err)
	}
}

// local rewrites a URL naming a Service of the stack to its address.
func (r *JobRunner) local(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return v
	}
	host := u.Hostname()
	if !strings.HasSuffix(host, ".svc") && !strings.HasSuffix(host, ".svc.cluster.local") {
		return v
	}
	svc, _, _ := strings.Cut(host, ".")
	addr, ok := r.Services[svc]
	if !ok {
		return v
	}
	u.Host = addr
	return u.String()
}

// finish writes the pod's end as the kubelet would.
func (r *JobRunner) finish(ctx context.Context, p *corev1.Pod, run JobRun) error {
	phase, reason := corev1.PodSucceeded, "Completed"
	if run.ExitCode != 0 {
		phase, reason = corev1.PodFailed, "Error"
	}
	var err error
	for range 20 {
		var cur corev1.Pod
		if err = r.Client.Get(ctx, client.ObjectKeyFromObject(p), &cur); err != nil {
			return err
		}
		now := metav1.Now()
		cur.Status.Phase = phase
		for i := range cur.Status.Conditions {
			if t := cur.Status.Conditions[i].Type; t == corev1.PodReady || t == corev1.ContainersReady {
				cur.Status.Conditions[i].Status = corev1.ConditionFalse
				cur.Status.Conditions[i].Reason = "PodCompleted"
				cur.Status.Conditions[i].LastTransitionTime = now
			}
		}
		var statuses []corev1.ContainerStatus
		for i, c := range cur.Spec.Containers {
			cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image}
			if i < len(cur.Status.ContainerStatuses) {
				cs = cur.Status.ContainerStatuses[i]
			}
			cs.Ready, cs.Started = false, new(bool)
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: int32(run.ExitCode), Reason: reason, Message: shortText(run.Output, 256),
				StartedAt: metav1.NewTime(run.Started), FinishedAt: metav1.NewTime(run.Ended),
			}}
			statuses = append(statuses, cs)
		}
		cur.Status.ContainerStatuses = statuses
		if err = r.Client.Status().Update(ctx, &cur); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

func shortText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
