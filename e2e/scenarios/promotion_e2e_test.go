//go:build e2e

package scenarios

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/e2e/harness"
	"github.com/ramp-dev/ramp/e2e/loadgen"
	"github.com/ramp-dev/ramp/e2e/stack"
	"github.com/ramp-dev/ramp/e2e/timeline"
)

// The promotion scenario's load: staging gets synthetic traffic for its
// checks, prod its users.
const (
	stagingRate = 50
	prodRate    = 100
)

// prodSoak is how long ago an image must have passed staging before prod
// runs it.
const prodSoak = 5 * time.Second

// approver is the user of the stack's admin kubeconfig, as kubectl ramp
// approve reads it from a SelfSubjectReview.
const approver = "e2e-admin"

// TestK_PromotionThroughEnvironments: one image through dev, staging and
// prod, each a namespace with its own Rollout, route and gateway listener,
// the pods' imageIDs given by the stack's registry (a tag → digest table).
// dev runs every image without checks; staging requires a Passed record
// of dev and checks error rate and latency under synthetic load; prod
// requires staging's Passed record 5 s old, has an approval gate at 0 %
// and a deploy window (a deny window that is not open now). A good v2 goes
// through all three (prod waits for the soak, then starts by itself); a v3
// answering 500 to 10 % of requests passes dev, is rolled back in staging,
// and never starts in prod: no pod pulled it there, no weight, no answer.
func TestK_PromotionThroughEnvironments(t *testing.T) {
	reg := &stack.Registry{}
	first, good, bad := stack.Version{Tag: "v1"}, stack.Version{Tag: "v2"}, stack.Version{Tag: "v3", ErrorRate: "0.1"}
	reg.Push(first.Image())
	goodDigest := reg.Push(good.Image())
	e := setup(t, func(o *stack.Options) {
		o.Namespace, o.Namespaces, o.Registry = "dev", []string{"staging", "prod"}, reg
	})
	dev := e
	plugin := &kubectlRamp{e: e, bin: filepath.Join(bins, "kubectl-ramp")}
	sub := func(ns string) *env {
		x := &env{t: t, ctx: e.ctx, s: e.s.In(ns), start: e.start}
		var err error
		if x.routes, err = x.s.WatchRoute(e.ctx); err != nil {
			t.Fatal(err)
		}
		return x
	}
	staging, prod := sub("staging"), sub("prod")
	envs := []*env{dev, staging, prod}

	// v1 everywhere, then each environment's promotion settings (a spec
	// change that starts nothing).
	for _, x := range envs {
		if err := x.s.Deploy(e.ctx, first); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range envs {
		x.waitFor(time.Minute, x.s.Namespace+": v1 Healthy on blue", promoted(v1.Blue))
		x.waitForGateway("v1")
	}
	window := denyWindow(time.Now())
	configure := map[string]func(*v1.Rollout){
		"dev": func(ro *v1.Rollout) {
			ro.Spec.Analysis = nil
			ro.Spec.Steps = []v1.Step{{Weight: 100, Hold: &metav1.Duration{Duration: time.Second}}}
		},
		"staging": func(ro *v1.Rollout) {
			// All of its synthetic load on the new version at once,
			// checked for one interval.
			ro.Spec.Steps = []v1.Step{{Weight: 100}}
			ro.Spec.Promotion = &v1.Promotion{Requires: []v1.PromotionRequirement{{Environment: "dev"}}}
		},
		"prod": func(ro *v1.Rollout) {
			ro.Spec.Steps = []v1.Step{
				{Weight: 0, Hold: &metav1.Duration{Duration: time.Second}, Pause: &v1.PauseGate{Approvals: 1}},
				{Weight: 50},
				{Weight: 100, Hold: &metav1.Duration{Duration: time.Second}},
			}
			ro.Spec.Promotion = &v1.Promotion{Requires: []v1.PromotionRequirement{{Environment: "staging", Soak: &metav1.Duration{Duration: prodSoak}}}}
			ro.Spec.DeployWindows = []v1.DeployWindow{window}
		},
	}
	for _, x := range envs {
		if err := x.s.Update(e.ctx, configure[x.s.Namespace]); err != nil {
			t.Fatal(err)
		}
	}
	stagingLoad := loadgen.Start(staging.s.URL, stagingRate)
	prodLoad := loadgen.Start(prod.s.URL, prodRate)
	t.Cleanup(func() { stagingLoad.Stop(); prodLoad.Stop() })
	e.logf("v1 serves in dev, staging and prod; %d requests/s to staging, %d to prod", stagingRate, prodRate)

	// v2 through dev and staging.
	from := time.Now()
	var k promotionFigures
	k.devV2 = dev.run(good, "v2", promoted(v1.Green))
	recDevV2 := dev.record(&k.devV2, v1.VerificationPassed, good.Image(), goodDigest)
	k.stagingV2 = staging.run(good, "v2", promoted(v1.Green))
	recStagingV2 := staging.record(&k.stagingV2, v1.VerificationPassed, good.Image(), goodDigest)
	if up := recStagingV2.Spec.Upstream; !slices.Contains(up, "dev/"+recDevV2.Name) {
		t.Errorf("staging's v2 record rests on %v, want dev/%s", up, recDevV2.Name)
	}

	// v2 to prod: it waits for the soak, then starts by itself.
	k.prodV2.deployed = time.Now()
	prod.deploy(good)
	waiting := prod.waitFor(15*time.Second, "prod: v2 waits for staging's soak", proofMissing(""))
	k.soakWaitMsg, k.soakWaitStatus = progressing(waiting).Message, waiting.Status.Message
	if waiting.Status.Phase != v1.PhasePaused || !strings.Contains(k.soakWaitMsg, "staging") || !strings.Contains(k.soakWaitMsg, "soak") {
		t.Errorf("prod waiting for the soak: phase %s, Progressing message %q", waiting.Status.Phase, k.soakWaitMsg)
	}
	k.prodYAML = rolloutYAML(t, waiting)
	started := prod.waitFor(prodSoak+20*time.Second, "prod: v2 started after the soak", func(ro *v1.Rollout) bool {
		c := progressing(ro)
		return (c == nil || c.Reason != v1.ReasonProofMissing) && ro.Status.CanaryStartedAt != nil && !ro.Status.CanaryStartedAt.Time.Before(k.prodV2.deployed.Truncate(time.Second))
	})
	k.prodV2.started = time.Now()
	k.prodV2.startedAt = started.Status.CanaryStartedAt.Time
	soakEnd := recStagingV2.Spec.FinishedAt.Time.Add(prodSoak)
	k.soakEnd = soakEnd
	if k.prodV2.startedAt.Before(soakEnd) {
		t.Errorf("prod started v2 at %s, before staging's pass (%s) + %s", k.prodV2.startedAt.Format(time.RFC3339), recStagingV2.Spec.FinishedAt.Format(time.RFC3339), prodSoak)
	}
	gate := prod.waitFor(30*time.Second, "prod: v2 at its approval gate", func(ro *v1.Rollout) bool {
		c := meta.FindStatusCondition(ro.Status.Conditions, v1.ConditionPaused)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == v1.ReasonGate
	})
	k.prodV2.gate, k.gateStatus = time.Now(), gate.Status.Message
	if gate.Status.CanaryWeight != 0 {
		t.Errorf("prod at its gate with weight %d, want 0", gate.Status.CanaryWeight)
	}
	k.prodV2.approved = time.Now()
	k.approve = plugin.run(0, "-n", "prod", "approve", "shop")
	prod.waitFor(time.Minute, "prod: v2 promoted", promoted(v1.Green))
	k.prodV2.ended = time.Now()
	recProdV2 := prod.record(&k.prodV2, v1.VerificationPassed, good.Image(), goodDigest)
	if up := recProdV2.Spec.Upstream; !slices.Contains(up, "staging/"+recStagingV2.Name) {
		t.Errorf("prod's v2 record rests on %v, want staging/%s", up, recStagingV2.Name)
	}
	if a := recProdV2.Spec.Approvers; len(a) != 1 || a[0].User != approver {
		t.Errorf("prod's v2 record has approvers %+v, want %s", a, approver)
	}

	// A bad v3: passes dev (no checks there), is rolled back in staging,
	// and never starts in prod.
	badDigest := reg.Push(bad.Image())
	k.devV3 = dev.run(bad, "v3", promoted(v1.Blue))
	dev.record(&k.devV3, v1.VerificationPassed, bad.Image(), badDigest)
	k.stagingV3 = staging.run(bad, "v3", func(ro *v1.Rollout) bool { return ro.Status.Phase == v1.PhaseRolledBack })
	recStagingV3 := staging.record(&k.stagingV3, v1.VerificationFailed, bad.Image(), badDigest)
	k.prodV3.deployed = time.Now()
	prod.deploy(bad)
	refused := prod.waitFor(15*time.Second, "prod: v3 refused", proofMissing("failed in staging"))
	k.refusedMsg, k.refusedStatus = progressing(refused).Message, refused.Status.Message
	if !strings.Contains(k.refusedMsg, recStagingV3.Name) || refused.Status.Phase != v1.PhasePaused {
		t.Errorf("prod refusing v3: phase %s, Progressing message %q, want it to name staging/%s", refused.Status.Phase, k.refusedMsg, recStagingV3.Name)
	}
	hold := 4 * time.Second
	for end := time.Now().Add(hold); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		ro, err := prod.s.Rollout(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c := progressing(ro); c == nil || c.Reason != v1.ReasonProofMissing || ro.Status.CanaryWeight != 0 || ro.Status.StableColor != v1.Green {
			t.Fatalf("prod moved on v3: phase %s weight %d stable %s, Progressing %+v", ro.Status.Phase, ro.Status.CanaryWeight, ro.Status.StableColor, c)
		}
	}
	k.prodV3.ended = time.Now()
	prodRes, stagingRes := prodLoad.Stop(), stagingLoad.Stop()
	k.verify = plugin.run(1, "-n", "prod", "verify", "shop")
	k.history = plugin.run(0, "-n", "prod", "history", "shop")

	// Nothing of v3 in prod: no pod pulled it, no weight on its color
	// (blue), no answer.
	for _, p := range reg.Pulls() {
		if p.Pod.Namespace == "prod" && strings.Contains(p.ImageIDs["app"], badDigest) {
			t.Errorf("prod pod %s pulled v3 (%s)", p.Pod.Name, p.ImageIDs["app"])
		}
	}
	for _, c := range prod.routes.Changes() {
		if c.At.After(k.prodV3.deployed) && c.Weights[prod.s.Name+"-blue"] != 0 {
			t.Errorf("prod's route gave v3's color %d %% (generation %d)", c.Weights[prod.s.Name+"-blue"], c.Generation)
		}
	}
	for _, c := range prod.weights() {
		if c.At.After(k.prodV3.deployed) && c.Weights[prod.s.Name+"-blue"] != 0 {
			t.Errorf("HAProxy gave prod's v3 color %d %% at %s", c.Weights[prod.s.Name+"-blue"], c.At.Format("15:04:05.000"))
		}
		if c.At.Before(k.prodV2.startedAt) && c.At.After(k.prodV2.deployed) && c.Weights[prod.s.Name+"-green"] != 0 {
			t.Errorf("HAProxy gave prod's v2 color %d %% before v2 started", c.Weights[prod.s.Name+"-green"])
		}
	}
	k.prod = loadgen.Count(prodRes, time.Time{}, time.Now())
	k.staging = loadgen.Count(stagingRes, time.Time{}, time.Now())
	if k.prod.Failed != 0 || k.prod.Versions["v3"] != 0 {
		t.Errorf("prod: %d of %d requests failed (%v), %d answered by v3", k.prod.Failed, k.prod.Total, k.prod.Codes, k.prod.Versions["v3"])
	}
	var events corev1.EventList
	if err := e.s.Client.List(e.ctx, &events, client.InNamespace("prod")); err != nil {
		t.Fatal(err)
	}
	for _, ev := range events.Items {
		if ev.Reason == v1.ReasonProofMissing && ev.Type == corev1.EventTypeWarning {
			k.events = append(k.events, ev.Message)
		}
	}
	if len(k.events) == 0 {
		t.Errorf("no Warning event %s in prod", v1.ReasonProofMissing)
	}

	k.verifications = listVerifications(t, e)
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		out, err := exec.CommandContext(e.ctx, kubectl, "--kubeconfig", e.s.CP.Kubeconfig, "get", "verification", "-n", "staging", recStagingV3.Name, "-o", "yaml").CombinedOutput()
		e.logf("$ kubectl get verification -n staging %s -o yaml (%v)\n%s", recStagingV3.Name, err, out)
	}
	k.stagingV3Record = recStagingV3
	k.prodV2Record = recProdV2
	k.goodDigest, k.badDigest = goodDigest, badDigest
	k.window = window
	k.scenario = time.Since(e.start)
	png := "timeline-environments.png"
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := timeline.RenderLanes(filepath.Join(root, "e2e", png), "one image through dev, staging and prod: each version's weight at the gateway", k.lanes(envs), from, time.Now(), 1100, 950); err != nil {
		t.Errorf("%s: %v", png, err)
	}
	text := k.section(png)
	report.section("k", text)
	e.logf("%s", text)
	e.logf("prod Rollout (promotion settings):\n%s", k.prodYAML)
}

// kubectlRamp is the kubectl-ramp plugin stack.Build built, run with the
// stack's admin kubeconfig.
type kubectlRamp struct {
	e   *env
	bin string
}

// run runs kubectl ramp with args, wants exit code want, and returns the
// command line and its output.
func (k *kubectlRamp) run(want int, args ...string) string {
	k.e.t.Helper()
	cmd := exec.CommandContext(k.e.ctx, k.bin, append([]string{"--kubeconfig", k.e.s.CP.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	line := "$ kubectl ramp " + strings.Join(args, " ") + "\n" + string(out)
	k.e.logf("%s(exit %d)", line, code)
	if code != want {
		k.e.t.Errorf("kubectl ramp %s: exit %d (%v), want %d: %s", strings.Join(args, " "), code, err, want, out)
	}
	return line
}

// run is one version's rollout in one environment, timed from its deploy.
type run struct {
	deployed, started, gate, approved, ended time.Time
	startedAt                                time.Time // when the run started (canaryStartedAt, its record's startedAt)
}

// run deploys v and waits until done says it ended (on a status that saw
// the deploy).
func (e *env) run(v stack.Version, tag string, done func(*v1.Rollout) bool) run {
	e.t.Helper()
	r := run{deployed: time.Now()}
	e.deploy(v)
	ro, err := e.s.Rollout(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	gen := ro.Generation
	e.waitFor(time.Minute, e.s.Namespace+": "+tag+" done", func(ro *v1.Rollout) bool {
		return ro.Status.ObservedGeneration >= gen && done(ro)
	})
	r.ended = time.Now()
	return r
}

// record waits for the Verification of the run that started after r was
// deployed with outcome, checks the digest it recorded for image, and
// takes the run's start from it when r has none.
func (e *env) record(r *run, outcome v1.VerificationOutcome, image, digest string) v1.Verification {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, rec := range verifications(e.t, e, e.s.Namespace) {
			if rec.Spec.Outcome != outcome || rec.Spec.StartedAt == nil || rec.Spec.StartedAt.Time.Before(r.deployed.Truncate(time.Second)) {
				continue
			}
			if rec.Spec.Environment != e.s.Namespace || rec.Labels[v1.LabelEnvironment] != e.s.Namespace {
				e.t.Errorf("%s: record %s of environment %q (label %q)", e.s.Namespace, rec.Name, rec.Spec.Environment, rec.Labels[v1.LabelEnvironment])
			}
			var got []string
			for _, c := range rec.Spec.Images {
				if c.Image == image {
					got = c.Digests
				}
			}
			if len(got) != 1 || got[0] != digest {
				e.t.Errorf("%s: record %s ran %s as %v, want [%s]", e.s.Namespace, rec.Name, image, got, digest)
			}
			e.logf("%s: record %s %s (%s)", e.s.Namespace, rec.Name, rec.Spec.Outcome, rec.Spec.Reason)
			if r.startedAt.IsZero() {
				r.startedAt = rec.Spec.StartedAt.Time
			}
			return rec
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: no %s Verification of the run started at %s: %+v", e.s.Namespace, outcome, r.deployed.Format("15:04:05.000"), verifications(e.t, e, e.s.Namespace))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// verifications lists a namespace's records, oldest first.
func verifications(t *testing.T, e *env, ns string) []v1.Verification {
	t.Helper()
	var list v1.VerificationList
	if err := e.s.Client.List(e.ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(list.Items, func(i, j int) bool {
		return list.Items[i].CreationTimestamp.Before(&list.Items[j].CreationTimestamp)
	})
	return list.Items
}

// weights are HAProxy's weights of this environment's backend over time.
func (e *env) weights() []stack.WeightChange {
	var out []stack.WeightChange
	for _, c := range e.s.Weights.Changes() {
		if c.Backend == e.s.Namespace+"_"+e.s.Name {
			out = append(out, c)
		}
	}
	return out
}

func progressing(ro *v1.Rollout) *metav1.Condition {
	return meta.FindStatusCondition(ro.Status.Conditions, v1.ConditionProgressing)
}

// proofMissing holds while the Rollout waits for proof (Progressing False,
// ProofMissing) whose message contains want.
func proofMissing(want string) func(*v1.Rollout) bool {
	return func(ro *v1.Rollout) bool {
		c := progressing(ro)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1.ReasonProofMissing && strings.Contains(c.Message, want)
	}
}

// denyWindow is a Friday-evening-to-Monday deny window, the production
// habit, unless the test runs inside it: then the same window two days
// later, so that prod may deploy now either way.
func denyWindow(now time.Time) v1.DeployWindow {
	w := v1.DeployWindow{Kind: v1.WindowDeny, Schedule: "0 17 * * 5", Duration: metav1.Duration{Duration: 63 * time.Hour}, TimeZone: "Europe/Berlin"}
	loc, err := time.LoadLocation(w.TimeZone)
	if err != nil {
		loc = time.UTC
		w.TimeZone = ""
	}
	local := now.In(loc)
	// The start of this week's window (Friday 17:00), or last week's.
	start := time.Date(local.Year(), local.Month(), local.Day(), 17, 0, 0, 0, loc).AddDate(0, 0, -int((local.Weekday()+7-time.Friday)%7))
	if start.After(local) {
		start = start.AddDate(0, 0, -7)
	}
	if local.Before(start.Add(w.Duration.Duration)) {
		w.Schedule = fmt.Sprintf("0 17 * * %d", (local.Weekday()+2)%7)
	}
	return w
}

// rolloutYAML is the Rollout's promotion settings and status as YAML.
func rolloutYAML(t *testing.T, ro *v1.Rollout) string {
	t.Helper()
	c := progressing(ro)
	doc := map[string]any{
		"apiVersion": "ramp.dev/v1alpha1",
		"kind":       "Rollout",
		"metadata":   map[string]any{"name": ro.Name, "namespace": ro.Namespace},
		"spec": map[string]any{
			"steps":         ro.Spec.Steps,
			"deployWindows": ro.Spec.DeployWindows,
			"promotion":     ro.Spec.Promotion,
		},
		"status": map[string]any{
			"phase":        ro.Status.Phase,
			"stableColor":  ro.Status.StableColor,
			"canaryWeight": ro.Status.CanaryWeight,
			"message":      ro.Status.Message,
			"conditions":   []metav1.Condition{*c},
		},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// listVerifications is `kubectl get verifications -A` (kubectl when on
// PATH, else the same columns from the API).
func listVerifications(t *testing.T, e *env) string {
	t.Helper()
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		out, err := exec.CommandContext(e.ctx, kubectl, "--kubeconfig", e.s.CP.Kubeconfig, "get", "verifications", "-A").CombinedOutput()
		if err != nil {
			t.Errorf("kubectl get verifications -A: %v: %s", err, out)
		}
		return string(out)
	}
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "NAMESPACE\tNAME\tENVIRONMENT\tROLLOUT\tREVISION\tOUTCOME\tFINISHED")
	for _, ns := range []string{"dev", "staging", "prod"} {
		for _, r := range verifications(t, e, ns) {
			fin := ""
			if r.Spec.FinishedAt != nil {
				fin = r.Spec.FinishedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ns, r.Name, r.Spec.Environment, r.Spec.Rollout, r.Spec.Revision, r.Spec.Outcome, fin)
		}
	}
	w.Flush()
	return b.String()
}

// promotionFigures are what scenario k measured.
type promotionFigures struct {
	devV2, stagingV2, prodV2, devV3, stagingV3, prodV3 run
	soakEnd                                            time.Time
	soakWaitMsg, soakWaitStatus, gateStatus            string
	refusedMsg, refusedStatus                          string
	prodYAML, verifications                            string
	approve, verify, history                           string
	events                                             []string
	prod, staging                                      loadgen.Tally
	stagingV3Record, prodV2Record                      v1.Verification
	goodDigest, badDigest                              string
	window                                             v1.DeployWindow
	scenario                                           time.Duration
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func (k *promotionFigures) section(png string) string {
	var b strings.Builder
	b.WriteString("\n### k. one image through dev, staging and prod (Verification records, spec.promotion.requires)\n\n")
	fmt.Fprintf(&b, "Three namespaces, each with the Rollout `shop`, its own route and gateway listener. The stack's registry resolves "+
		"tags to digests (v2 = `%s`, v3 = `%s`); kwok makes a pod Ready only with the imageID the registry gave it. "+
		"dev: no checks, one 100 %% step held 1 s. staging: requires dev; one 100 %% step held one analysis interval (5 s), error rate and p99 under %d requests/s. "+
		"prod: requires staging with a soak of %s; steps 0 %% (gate: 1 approval), 50, 100 %%; deploy window %s `%s` for %s (%s); %d requests/s. "+
		"The test is the pipeline: it gives the next environment the same tag once the previous one's record is written.\n\n",
		shortDigest(k.goodDigest), shortDigest(k.badDigest), stagingRate, prodSoak, k.window.Kind, k.window.Schedule, k.window.Duration.Duration, k.window.TimeZone, prodRate)
	b.WriteString("| environment | version | deploy → start | deploy → end | end |\n| --- | --- | ---: | ---: | --- |\n")
	row := func(env, version string, r run, end string) {
		start := "never"
		if !r.startedAt.IsZero() {
			start = secs(r.startedAt.Sub(r.deployed.Truncate(time.Second)))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", env, version, start, secs(r.ended.Sub(r.deployed)), end)
	}
	row("dev", "v2", k.devV2, "promoted, Passed")
	row("staging", "v2", k.stagingV2, "promoted, Passed")
	approvers := "none"
	if a := k.prodV2Record.Spec.Approvers; len(a) > 0 {
		var users []string
		for _, u := range a {
			users = append(users, u.User)
		}
		approvers = strings.Join(users, ", ")
	}
	row("prod", "v2", k.prodV2, fmt.Sprintf("started by itself %s after the deploy (the soak ended %s after it), at the gate %s, approved (kubectl ramp approve) %s, promoted %s; Passed, approvers in the record: %s",
		secs(k.prodV2.started.Sub(k.prodV2.deployed)), secs(k.soakEnd.Sub(k.prodV2.deployed)), secs(k.prodV2.gate.Sub(k.prodV2.deployed)),
		secs(k.prodV2.approved.Sub(k.prodV2.deployed)), secs(k.prodV2.ended.Sub(k.prodV2.deployed)), approvers))
	row("dev", "v3 (10 % 5xx)", k.devV3, "promoted, Passed (dev has no checks)")
	row("staging", "v3", k.stagingV3, "rolled back, Failed: "+k.stagingV3Record.Spec.Reason)
	row("prod", "v3", k.prodV3, fmt.Sprintf("refused for the %s the test watched: no pod, no weight, no answer", secs(k.prodV3.ended.Sub(k.prodV3.deployed))))
	b.WriteString("\n(\"start\" is status.canaryStartedAt, whole seconds, from the deploy's second.)\n\n")
	fmt.Fprintf(&b, "- prod while v2 soaked: Progressing=False `ProofMissing`: `%s`\n", k.soakWaitMsg)
	fmt.Fprintf(&b, "- prod at its gate: `%s`\n", k.gateStatus)
	fmt.Fprintf(&b, "- prod given v3: Progressing=False `ProofMissing`: `%s`\n", k.refusedMsg)
	fmt.Fprintf(&b, "- prod's v2 record %s rests on %v\n", k.prodV2Record.Name, k.prodV2Record.Spec.Upstream)
	fmt.Fprintf(&b, "- prod requests: %d, failed: %d, answered by v3: %d; staging requests: %d, failed: %d (v3's 5xx while it ran there: %v)\n",
		k.prod.Total, k.prod.Failed, k.prod.Versions["v3"], k.staging.Total, k.staging.Failed, k.staging.Codes)
	fmt.Fprintf(&b, "- Warning events ProofMissing in prod: %d; scenario time %s\n", len(k.events), secs(k.scenario))
	b.WriteString("\n```\n$ kubectl get verifications -A\n" + k.verifications + "```\n")
	b.WriteString("\n```\n" + k.approve + "\n" + k.verify + "```\n")
	fmt.Fprintf(&b, "\n![timeline-environments](%s)\n", png)
	return b.String()
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}

// lanes are each environment's versions' weights at the gateway (HAProxy's
// applied weights): v1 and v3 on blue, v2 on green, v3 from its deploy.
func (k *promotionFigures) lanes(envs []*env) []timeline.Lane {
	v3At := map[string]time.Time{"dev": k.devV3.deployed, "staging": k.stagingV3.deployed, "prod": k.prodV3.deployed}
	marks := map[string][]timeline.Mark{
		"dev": {
			{At: k.devV2.deployed, Label: "v2"}, {At: k.devV2.ended, Label: "promoted"},
			{At: k.devV3.deployed, Label: "v3"}, {At: k.devV3.ended, Label: "promoted"},
		},
		"staging": {
			{At: k.stagingV2.deployed, Label: "v2"}, {At: k.stagingV2.ended, Label: "promoted"},
			{At: k.stagingV3.deployed, Label: "v3"}, {At: k.stagingV3.ended, Label: "v3 rolled back"},
		},
		"prod": {
			{At: k.prodV2.deployed, Label: "v2: ProofMissing (soak)"}, {At: k.prodV2.started, Label: "started"},
			{At: k.prodV2.approved, Label: "approved"}, {At: k.prodV2.ended, Label: "promoted"},
			{At: k.prodV3.deployed, Label: "v3: ProofMissing (failed in staging)"},
		},
	}
	var out []timeline.Lane
	for _, x := range envs {
		ns := x.s.Namespace
		var v1s, v2s, v3s []timeline.Point
		for _, c := range x.weights() {
			blue, green := float64(c.Weights[x.s.Name+"-blue"]), float64(c.Weights[x.s.Name+"-green"])
			v2s = append(v2s, timeline.Point{T: c.At, V: green})
			if c.At.Before(v3At[ns]) {
				v1s = append(v1s, timeline.Point{T: c.At, V: blue})
			} else {
				v3s = append(v3s, timeline.Point{T: c.At, V: blue})
			}
		}
		v1s = append(v1s, timeline.Point{T: v3At[ns], V: 0})
		v3s = append([]timeline.Point{{T: v3At[ns], V: 0}}, v3s...)
		out = append(out, timeline.Lane{
			Title:  ns,
			Series: []timeline.Series{{Label: "v1", Points: v1s}, {Label: "v2", Points: v2s}, {Label: "v3", Points: v3s}},
			Marks:  marks[ns],
		})
	}
	return out
}
