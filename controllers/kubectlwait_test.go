package controllers_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kwait "k8s.io/kubectl/pkg/cmd/wait"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// kubectl runs `kubectl wait <args>` in the fixture's namespace with
// kubectl's own code (k8s.io/kubectl/pkg/cmd/wait), and returns what kubectl
// prints and whether it would exit 0. Only the process exit is kubectl's
// main; the flags, the watch and the condition checks are its.
type kubectl struct {
	t          *testing.T
	kubeconfig string
	ns         string
}

func (f *fixture) kubectl() *kubectl {
	f.t.Helper()
	cfg := env.Config
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: f.ns}
	kc.CurrentContext = "envtest"
	path := filepath.Join(f.t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		f.t.Fatal(err)
	}
	return &kubectl{t: f.t, kubeconfig: path, ns: f.ns}
}

// wait runs kubectl wait with args and returns its output and exit code.
func (k *kubectl) wait(ctx context.Context, args ...string) (string, int) {
	k.t.Helper()
	var out bytes.Buffer
	streams := genericiooptions.IOStreams{Out: &out, ErrOut: &out}
	getter := genericclioptions.NewConfigFlags(true)
	getter.KubeConfig = &k.kubeconfig
	flags := kwait.NewWaitFlags(getter, streams)
	cmd := &cobra.Command{Use: "wait"}
	flags.AddFlags(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		k.t.Fatalf("kubectl wait %v: %v", args, err)
	}
	o, err := flags.ToOptions(cmd.Flags().Args())
	if err != nil {
		k.t.Fatalf("kubectl wait %v: %v", args, err)
	}
	if err := o.RunWaitContext(ctx); err != nil {
		fmt.Fprintf(&out, "error: %v\n", err) // as kubectl's CheckErr prints it, then exits 1
		return out.String(), 1
	}
	return out.String(), 0
}

// TestKubectlWaitRecipes: the README's kubectl wait recipes, run with
// kubectl's own wait code against the API server while the controller
// works. "Reconciling=False then Ready" waits out a rollout and exits 1 on
// a rollback; it never returns early on the conditions of the previous
// generation, because Ramp stamps each condition with the generation it
// observed and kubectl wait compares them.
func TestKubectlWaitRecipes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	k := f.kubectl()
	ctx := f.ctx
	ro := f.rollout("shop", "shop:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 10, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.create(f.route("shop"), ro)

	expect := func(when string, wantCode int, wantOut string, args ...string) {
		t.Helper()
		out, code := k.wait(ctx, args...)
		t.Logf("%s: $ kubectl wait %s\n%s(exit %d)", when, strings.Join(args, " "), out, code)
		if code != wantCode || !strings.Contains(out, wantOut) {
			t.Errorf("%s: kubectl wait %v printed %q and exited %d, want %q and %d (phase %s)", when, args, out, code, wantOut, wantCode, f.phase("shop"))
		}
	}
	// finished waits until nothing is in flight for the spec's generation.
	finished := func(when string) {
		t.Helper()
		expect(when, 0, "rollout.ramp.dev/shop condition met", "rollout/shop", "--for=condition=Reconciling=False", "--timeout=30s")
		ro := f.get("shop")
		if ro.Status.ObservedGeneration != ro.Generation {
			t.Errorf("%s: kubectl wait returned on generation %d's conditions, the spec is at %d", when, ro.Status.ObservedGeneration, ro.Generation)
		}
	}

	// The first version: Reconciling until all of its pods are ready, so
	// the wait ends with Ready.
	finished("first version")
	expect("first version", 0, "condition met", "rollout/shop", "--for=condition=Ready", "--timeout=0")

	// A new revision: right after the write the conditions still say
	// Reconciling=False for the previous generation; kubectl wait must not
	// take that for the new revision's end. The rollout stops at its gate.
	f.setImage("shop", "shop:v2")
	expect("at the gate", 0, "condition met", "rollout/shop", "--for=jsonpath={.status.phase}=Paused", "--timeout=30s")
	expect("at the gate", 1, "timed out waiting for the condition on rollouts/shop", "rollout/shop", "--for=condition=Reconciling=False", "--timeout=2s")
	expect("at the gate", 1, "condition not met for rollouts/shop", "rollout/shop", "--for=condition=Ready", "--timeout=0")

	f.annotate("shop", v1.AnnotationPromote, "1")
	finished("promoted")
	expect("promoted", 0, "condition met", "rollout/shop", "--for=condition=Ready", "--timeout=0")
	if ro := f.get("shop"); ro.Status.Phase != v1.PhaseHealthy || ro.Status.StableRevision == "" || ro.Status.CanaryRevision != "" {
		t.Errorf("promoted: phase %s stable %q canary %q", ro.Status.Phase, ro.Status.StableRevision, ro.Status.CanaryRevision)
	}

	// A bad revision, waited for at once: it rolls back, and the recipe
	// exits 1 instead of reporting the previous revision's Ready.
	canary := "shop-" + string(f.get("shop").Status.StableColor.Other())
	prom.Set(f.ns, canary, errorMetric, testenv.Answer{Value: 0.4})
	f.setImage("shop", "shop:v3")
	start := time.Now()
	finished("rolled back")
	if p := f.phase("shop"); p != v1.PhaseRolledBack {
		t.Errorf("rolled back: Reconciling=False came at phase %s after %s", p, time.Since(start))
	}
	expect("rolled back", 1, "condition not met for rollouts/shop", "rollout/shop", "--for=condition=Ready", "--timeout=0")
	expect("rolled back", 0, "condition met", "rollout/shop", "--for=condition=Stalled", "--timeout=0")
}
