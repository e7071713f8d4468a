package charttest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// The shipped controller runs with controller-runtime's default leader
// election timings (manager.Options sets none): a leader renews its Lease
// every retryPeriod and gives it up after renewDeadline; the others take
// it once it has not been renewed for leaseDuration. Client-go jitters the
// retry period by up to 1.2.
const (
	leaseDuration = 15 * time.Second
	retryPeriod   = 2 * time.Second
	leaseName     = "ramp-controller.ramp.dev"
)

// Two controllers as the chart runs them (two replicas, --leader-elect,
// the chart's RBAC): only the leader acts; when it stops mid-rollout
// without giving up its Lease (a killed pod), nothing moves until the other
// takes the Lease, within the lease duration, and then finishes the rollout
// where it stood.
func TestLeaderElectionFailover(t *testing.T) {
	e := cluster(t)
	release := newNamespace(t, "ramp")
	appNs := newNamespace(t, "shop")
	r := render(t, chartDir(t), release, release, nil)
	if d := deployment(t, r); *d.Spec.Replicas != 2 {
		t.Fatalf("the chart runs %d replicas by default, want 2", *d.Spec.Replicas)
	}
	installRBAC(t, r)
	opts := controllerOptions(t, r)
	if !opts.LeaderElection || opts.LeaderElectionNamespace != release {
		t.Fatalf("the rendered args do not elect a leader in the release namespace: %+v", opts)
	}
	cfg := impersonating(t, e.Config, r)
	recs := []*recorder{newRecorder(), newRecorder()}
	ms := []*running{startManager(t, recs[0].config(cfg), opts), startManager(t, recs[1].config(cfg), opts)}
	healthy := func() error {
		for i := range ms {
			if f := recs[i].Forbidden(); len(f) > 0 {
				return fmt.Errorf("controller %d: forbidden requests: %s", i, strings.Join(f, "; "))
			}
			if err := ms[i].failed(); err != nil {
				return fmt.Errorf("controller %d: %w", i, err)
			}
		}
		return nil
	}

	var leader int
	select {
	case <-ms[0].mgr.Elected():
		leader = 0
	case <-ms[1].mgr.Elected():
		leader = 1
	case <-time.After(leaseDuration + 5*time.Second):
		t.Fatalf("no controller was elected; %v", healthy())
	}
	follower := 1 - leader
	first := lease(t, release)
	if first.Spec.HolderIdentity == nil || *first.Spec.HolderIdentity == "" {
		t.Fatalf("the Lease has no holder after an election: %+v", first.Spec)
	}

	a := newApp(t, appNs)
	describe := func() string { return a.status("shop") }
	a.start("shop", "shop:v1")
	a.eventually(30*time.Second, "v1 healthy", func() bool { return a.get("shop").Status.Phase == v1.PhaseHealthy }, describe, healthy)
	green := a.recordWeights("shop", v1.Green)
	a.setImage("shop", "shop:v2")
	a.eventually(30*time.Second, "v2 at 5%", func() bool { _, g := a.weights("shop"); return g >= 5 }, describe, healthy)

	// Only the leader has acted: the other has not written anything at all.
	if w := recs[follower].Writes(); len(w) > 0 {
		t.Fatalf("the controller that is not the leader wrote: %v", w)
	}
	if len(recs[leader].Writes()) == 0 {
		t.Fatal("the leader wrote nothing")
	}
	if elected(ms[follower]) {
		t.Fatal("both controllers are elected")
	}

	recs[leader].cut.Store(true) // killed: it can neither renew nor release the Lease
	if err := ms[leader].stop(); err != nil {
		t.Logf("the stopped leader's manager returned: %v", err)
	}
	stoppedAt := time.Now()
	last := lease(t, release) // as the stopped leader last renewed it
	if *last.Spec.HolderIdentity != *first.Spec.HolderIdentity {
		t.Fatalf("the Lease changed hands before the leader stopped: %s → %s", *first.Spec.HolderIdentity, *last.Spec.HolderIdentity)
	}
	blue, green0 := a.weights("shop")
	step := a.get("shop").Status.CurrentStep
	t.Logf("stopped the leader at step %d (blue %d, green %d)", step, blue, green0)

	// Nothing moves while no controller leads.
	limit := leaseDuration + 2*retryPeriod*12/10 + time.Second
	for {
		if elected(ms[follower]) {
			break
		}
		if b, g := a.weights("shop"); b != blue || g != green0 {
			t.Fatalf("the route moved to blue %d green %d while no controller led", b, g)
		}
		if err := healthy(); err != nil {
			t.Fatal(err)
		}
		if time.Since(stoppedAt) > limit {
			t.Fatalf("the other controller did not take over within %s of the leader stopping (lease duration %s)", limit, leaseDuration)
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(stoppedAt)
	second := lease(t, release)
	t.Logf("the other controller took over %s after the leader stopped (lease duration %s)", took.Round(100*time.Millisecond), leaseDuration)
	if *second.Spec.HolderIdentity == *first.Spec.HolderIdentity {
		t.Fatalf("the Lease is still held by %s", *first.Spec.HolderIdentity)
	}
	if second.Spec.LeaseTransitions == nil || first.Spec.LeaseTransitions == nil || *second.Spec.LeaseTransitions != *first.Spec.LeaseTransitions+1 {
		t.Errorf("lease transitions %v → %v, want one more", first.Spec.LeaseTransitions, second.Spec.LeaseTransitions)
	}
	if taken := second.Spec.AcquireTime.Sub(last.Spec.RenewTime.Time); taken < leaseDuration {
		t.Errorf("the Lease was taken %s after its last renewal, before the lease duration %s ran out", taken, leaseDuration)
	}

	// The new leader finishes the rollout where it stood.
	a.eventually(60*time.Second, "v2 promoted by the new leader", func() bool {
		st := a.get("shop").Status
		return st.StableColor == v1.Green && st.Phase == v1.PhaseHealthy
	}, describe, healthy)
	green.Stop()
	if got, want := green.Weights(), []int32{0, 1, 5, 25, 50, 100}; !slices.Equal(got, want) {
		t.Errorf("green weights seen on the route: %v, want %v (the new leader goes on from the step it found)", got, want)
	}
	if len(recs[follower].Writes()) == 0 {
		t.Error("the new leader wrote nothing")
	}
	if err := healthy(); err != nil {
		t.Fatal(err)
	}

	// An orderly stop (an upgrade's SIGTERM) releases the Lease: the next
	// controller takes over without waiting for the lease to run out.
	recs[leader] = newRecorder()
	ms[leader] = startManager(t, recs[leader].config(cfg), opts)
	held := lease(t, release)
	if err := ms[follower].stop(); err != nil {
		t.Logf("the stopped leader's manager returned: %v", err)
	}
	handOver := time.Now()
	for !elected(ms[leader]) {
		if err := healthy(); err != nil {
			t.Fatal(err)
		}
		if time.Since(handOver) > leaseDuration+2*retryPeriod {
			t.Fatalf("no controller took over within %s of an orderly stop", leaseDuration+2*retryPeriod)
		}
		time.Sleep(20 * time.Millisecond)
	}
	gap := time.Since(handOver)
	after := lease(t, release)
	t.Logf("after an orderly stop the next controller led %s later (a killed leader: %s; lease duration %s)", gap.Round(10*time.Millisecond), took.Round(100*time.Millisecond), leaseDuration)
	if taken := after.Spec.AcquireTime.Sub(held.Spec.RenewTime.Time); taken >= leaseDuration {
		t.Errorf("the Lease was taken %s after its last renewal: the stopping leader did not release it", taken)
	}
}

// lease reads the leader-election Lease.
func lease(t *testing.T, namespace string) *coordinationv1.Lease {
	t.Helper()
	var l coordinationv1.Lease
	if err := cluster(t).Client.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: leaseName}, &l); err != nil {
		t.Fatalf("read the Lease %s/%s: %v", namespace, leaseName, err)
	}
	return &l
}

// elected tells whether m has been elected leader.
func elected(m *running) bool {
	select {
	case <-m.mgr.Elected():
		return true
	default:
		return false
	}
}
