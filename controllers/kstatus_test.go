package controllers_test

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// kstatus is what generic tools (kubectl wait, Helm --wait, Flux, Argo CD's
// generic health) compute for the Rollout as the API server stores it.
func (f *fixture) kstatus(name string) (status.Status, string) {
	f.t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(f.get(name))
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: obj})
	if err != nil {
		f.t.Fatalf("kstatus: %v", err)
	}
	return res.Status, res.Message
}

// TestKstatusTellsTheTruth: kstatus, computed with sigs.k8s.io/cli-utils on
// Rollouts from the API server, is Current only when the stable color
// serves the spec's revision, InProgress while a revision is in flight (at
// a gate too), and Failed once rolled back or invalid.
func TestKstatusTellsTheTruth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	expect := func(name string, want status.Status, when string) {
		t.Helper()
		f.eventually(10*time.Second, when+": kstatus "+want.String(), func() bool { got, _ := f.kstatus(name); return got == want },
			func() string {
				got, msg := f.kstatus(name)
				return got.String() + " (" + msg + "), phase " + string(f.phase(name))
			})
		got, msg := f.kstatus(name)
		t.Logf("%s: kstatus %s: %s", when, got, msg)
	}
	ro := f.rollout("shop", "shop:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 10, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.healthy(ro)
	expect("shop", status.CurrentStatus, "healthy")

	f.setImage("shop", "shop:v2")
	f.eventually(10*time.Second, "at the gate", func() bool { return f.phase("shop") == v1.PhasePaused })
	expect("shop", status.InProgressStatus, "paused at a gate")

	prom.Set(f.ns, "shop-green", errorMetric, testenv.Answer{Value: 0.4})
	f.eventually(10*time.Second, "rolled back", func() bool { return f.phase("shop") == v1.PhaseRolledBack })
	expect("shop", status.FailedStatus, "rolled back")

	bad := f.rollout("bad", "bad:v1")
	bad.Spec.Analysis.Metrics[0].Query = `rate(x{service="{{ .Nope }}"}[1m])`
	f.create(f.route("bad"), bad)
	f.eventually(10*time.Second, "invalid", func() bool { return f.phase("bad") == v1.PhaseFailed })
	expect("bad", status.FailedStatus, "invalid")
}
