//go:build e2e

package scenarios

import (
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/e2e/harness"
	"github.com/ramp-dev/ramp/e2e/loadgen"
	"github.com/ramp-dev/ramp/e2e/stack"
)

// TestJ_SmokeTestGatesFirstWeight: a job check runs a real smoke process
// (e2e/cmd/smoke: 50 requests to $RAMP_CANARY_URL, the canary Service's
// address through the stack) before the first weight. A good v2 passes it
// and is promoted, no user request reaching it before the smoke test ended;
// a v3 answering 500 to every request fails it and is rolled back without
// a single user request reaching it. The Jobs are run by the real Job
// controller of kube-controller-manager and deleted by Ramp.
func TestJ_SmokeTestGatesFirstWeight(t *testing.T) {
	e := setup(t)
	e.deployV1()
	if err := e.s.Update(e.ctx, func(ro *v1.Rollout) {
		ro.Spec.Steps = []v1.Step{{Weight: 20}, {Weight: 100}}
		ro.Spec.Analysis.Metrics = append(ro.Spec.Analysis.Metrics, v1.Metric{Name: "smoke", Job: &v1.JobCheck{
			Timeout: &metav1.Duration{Duration: time.Minute},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{harness.ProcessLabel: "smoke"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "smoke", Image: "registry.example/smoke:1", Args: []string{"-requests", "50"},
				}}},
			},
		}})
	}); err != nil {
		t.Fatal(err)
	}

	// A good v2: smoke passes, then 20 %, then 100 %.
	goodAt := time.Now()
	e.deploy(stack.Version{Tag: "v2"})
	e.waitFor(2*time.Minute, "v2 promoted to green", promoted(v1.Green))
	promotedAt := time.Now()
	runs := e.s.Jobs.Runs()
	if len(runs) != 1 || runs[0].ExitCode != 0 {
		t.Fatalf("smoke runs for v2: %+v", runs)
	}
	good := runs[0]
	if !strings.HasSuffix(good.Local, e.s.Pods.Addrs[v1.Green]) || !strings.Contains(good.CanaryURL, "shop-green.shop.svc:80") {
		t.Errorf("smoke sent to %s (RAMP_CANARY_URL %s), want green's address %s", good.Local, good.CanaryURL, e.s.Pods.Addrs[v1.Green])
	}
	var firstWeight time.Time
	for _, c := range e.greenWeights() {
		if c.Weights[e.s.Name+"-green"] > 0 {
			firstWeight = c.At
			break
		}
	}
	if firstWeight.IsZero() || firstWeight.Before(good.Ended) {
		t.Errorf("green got its first weight at %s, the smoke test ended at %s", firstWeight.Format("15:04:05.000"), good.Ended.Format("15:04:05.000"))
	}
	e.waitJobsGone()

	// A bad v3 (every request answered 500) on blue, now the canary.
	badAt := time.Now()
	e.deploy(stack.Version{Tag: "v3", ErrorRate: "1"})
	ro := e.waitFor(2*time.Minute, "v3 rolled back", func(ro *v1.Rollout) bool { return ro.Status.Phase == v1.PhaseRolledBack })
	rolledBackAt := time.Now()
	time.Sleep(time.Second)
	res := e.load.Stop()
	e.load = nil
	runs = e.s.Jobs.Runs()
	if len(runs) != 2 || runs[1].ExitCode == 0 {
		t.Fatalf("smoke runs: %+v", runs)
	}
	bad := runs[1]
	var blueWeights []int
	for _, c := range e.s.Weights.Changes() {
		if c.Backend == e.s.Namespace+"_"+e.s.Name && !c.At.Before(badAt) {
			blueWeights = append(blueWeights, c.Weights[e.s.Name+"-blue"])
		}
	}
	if ro.Status.StableColor != v1.Green || !strings.Contains(ro.Status.Message, "smoke: job ") {
		t.Errorf("after the rollback: stable %s, message %q", ro.Status.StableColor, ro.Status.Message)
	}
	e.waitJobsGone()

	v2Early, v3Answers := 0, 0
	for _, r := range res {
		if r.Version == "v2" && r.Sent.Before(good.Ended) {
			v2Early++
		}
		if r.Version == "v3" {
			v3Answers++
		}
	}
	all := loadgen.Count(res, time.Time{}, time.Now())
	if v2Early != 0 || v3Answers != 0 {
		t.Errorf("user requests answered by v2 before its smoke test ended: %d; by v3: %d", v2Early, v3Answers)
	}
	if all.Failed != 0 {
		t.Errorf("%d of %d user requests failed: %v", all.Failed, all.Total, all.Codes)
	}
	for _, w := range blueWeights {
		if w != 0 {
			t.Errorf("blue (v3's color) carried %d %% during v3's rollout", w)
		}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
	var b strings.Builder
	b.WriteString("\n### j. a smoke-test Job gates the first weight (kube-controller-manager's Job controller, a real smoke process)\n\n")
	b.WriteString("Job check `smoke` at step 0 (steps 20 %, 100 %): e2e/cmd/smoke sends 50 requests to `$RAMP_CANARY_URL` " +
		"(`" + good.CanaryURL + "`, the canary Service, which the stack serves on the color's address) and exits 1 on any non-2xx. " +
		"t = 0 is the template change.\n\n")
	b.WriteString("| version | smoke started | smoke ended | exit | smoke output | first canary weight | end |\n| --- | ---: | ---: | ---: | --- | ---: | --- |\n")
	fmt.Fprintf(&b, "| v2 (healthy) | %s | %s | %d | `%s` | %s | promoted at %s |\n", ms(good.Started.Sub(goodAt)), ms(good.Ended.Sub(goodAt)), good.ExitCode, good.Output, ms(firstWeight.Sub(goodAt)), ms(promotedAt.Sub(goodAt)))
	never := "never (HAProxy kept blue, v3's color, at 0 %)"
	if len(blueWeights) > 0 {
		never = fmt.Sprintf("never (HAProxy weights of blue, v3's color: %v)", blueWeights)
	}
	fmt.Fprintf(&b, "| v3 (500 to every request) | %s | %s | %d | `%s` | %s | rolled back at %s |\n", ms(bad.Started.Sub(badAt)), ms(bad.Ended.Sub(badAt)), bad.ExitCode, bad.Output, never, ms(rolledBackAt.Sub(badAt)))
	fmt.Fprintf(&b, "\n- user requests through the gateway: %d, failed: %d; answered by v2 before its smoke test ended: %d; answered by v3: %d\n", all.Total, all.Failed, v2Early, v3Answers)
	fmt.Fprintf(&b, "- status.message after the rollback: `%s`\n", ro.Status.Message)
	fmt.Fprintf(&b, "- Jobs left after each rollout: 0 (deleted by Ramp with propagationPolicy Background); scenario time %s\n", ms(time.Since(e.start)))
	report.section("j", b.String())
	e.logf("%s", b.String())
}

// waitJobsGone waits until the Rollout owns no Job.
func (e *env) waitJobsGone() {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list batchv1.JobList
		if err := e.s.Client.List(e.ctx, &list, client.InNamespace(e.s.Namespace), client.MatchingLabels{v1.LabelRollout: e.s.Name}); err != nil {
			e.t.Fatal(err)
		}
		if len(list.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d Jobs left, e.g. %s", len(list.Items), list.Items[0].Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
