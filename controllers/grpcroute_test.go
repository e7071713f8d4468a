package controllers_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// grpcRollout is a Rollout of image that steers only the GRPCRoute of its
// own name.
func (f *fixture) grpcRollout(name, image string) *v1.Rollout {
	ro := f.rollout(name, image)
	ro.Spec.TrafficRouting.GatewayAPI = &v1.GatewayAPIRouting{GRPCRoutes: []v1.RouteRef{{Name: name}}}
	return ro
}

// grpcHealthy creates the GRPCRoute and the Rollout, waits for it to serve,
// and checks that the GRPCRoute sends all traffic to blue.
func (f *fixture) grpcHealthy(ro *v1.Rollout) {
	f.t.Helper()
	f.create(testenv.GRPCRoute(f.ns, ro.Name), ro)
	f.eventually(20*time.Second, "first version healthy", func() bool { return f.phase(ro.Name) == v1.PhaseHealthy })
	if b, g := f.grpcWeights(ro.Name); b != 100 || g != 0 {
		f.t.Fatalf("first version: GRPCRoute carries blue=%d green=%d, want 100/0", b, g)
	}
}

// grpcWeights reads the blue and green weights of the GRPCRoute's first rule.
func (f *fixture) grpcWeights(route string) (blue, green int32) {
	f.t.Helper()
	return f.weightsOf(testenv.GRPCRouteWeights, route)
}

// editGRPCRouteWeights writes blue and green into the first rule of the
// GRPCRoute (blue is backendRef 0, green 1, as testenv.GRPCRoute makes it),
// as a hand edit would.
func (f *fixture) editGRPCRouteWeights(route string, blue, green int32) {
	f.t.Helper()
	patch := fmt.Sprintf(`[{"op":"test","path":"/spec/rules/0/backendRefs/0/name","value":%q},`+
		`{"op":"test","path":"/spec/rules/0/backendRefs/1/name","value":%q},`+
		`{"op":"replace","path":"/spec/rules/0/backendRefs/0/weight","value":%d},`+
		`{"op":"replace","path":"/spec/rules/0/backendRefs/1/weight","value":%d}]`, route+"-blue", route+"-green", blue, green)
	r := &gatewayv1.GRPCRoute{}
	r.Namespace, r.Name = f.ns, route
	if err := f.c.Patch(f.ctx, r, client.RawPatch(types.JSONPatchType, []byte(patch))); err != nil {
		f.t.Fatalf("hand edit of GRPCRoute %s: %v", route, err)
	}
}

// A Rollout that steers only a GRPCRoute walks the default steps on it and
// promotes, as one with an HTTPRoute does; no HTTPRoute is made or needed.
func TestGRPCRoutePromotionWalksDefaultSteps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.grpcHealthy(f.grpcRollout("rpc", "rpc:v1"))

	rec := testenv.RecordGRPCWeights(f.ctx, f.c, f.ns, "rpc", v1.Green)
	f.setImage("rpc", "rpc:v2")
	f.eventually(30*time.Second, "promotion to green", func() bool {
		st := f.get("rpc").Status
		return st.StableColor == v1.Green && st.Phase == v1.PhaseHealthy
	})
	rec.Stop()

	if got, want := rec.Weights(), []int32{0, 1, 5, 25, 50, 100}; !slices.Equal(got, want) {
		t.Fatalf("green weights seen on the GRPCRoute: %v, want %v", got, want)
	}
	if b, g := f.grpcWeights("rpc"); b != 0 || g != 100 {
		t.Fatalf("after promotion the GRPCRoute carries blue=%d green=%d, want 0/100", b, g)
	}
	f.expectPassedAndPromoted("rpc")
	var hr gatewayv1.HTTPRoute
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "rpc"}, &hr); !apierrors.IsNotFound(err) {
		t.Errorf("an HTTPRoute rpc exists (err %v); the Rollout names none", err)
	}
}

// A breach at the 25 % step sends the GRPCRoute back to 100 % stable and
// the Rollout to RolledBack.
func TestGRPCRouteRollsBackOnBreach(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.grpcHealthy(f.grpcRollout("rpcbad", "rpcbad:v1"))
	f.toStep("rpcbad", "rpcbad:v2", 25)
	if b, g := f.grpcWeights("rpcbad"); b != 75 || g != 25 {
		t.Fatalf("at the 25%% step the GRPCRoute carries blue=%d green=%d, want 75/25", b, g)
	}

	prom.Set(f.ns, "rpcbad-green", errorMetric, testenv.Answer{Value: 0.2})
	f.eventually(5*time.Second, "GRPCRoute back at 100% blue", func() bool { b, g := f.grpcWeights("rpcbad"); return b == 100 && g == 0 })
	f.eventually(5*time.Second, "phase RolledBack", func() bool { return f.phase("rpcbad") == v1.PhaseRolledBack })
	f.eventually(5*time.Second, "green scaled to zero", func() bool { return f.replicas("rpcbad-green") == 0 })
	if ro := f.get("rpcbad"); ro.Status.StableColor != v1.Blue || ro.Status.CanaryWeight != 0 {
		t.Errorf("stable %s, canary weight %d; want blue and 0", ro.Status.StableColor, ro.Status.CanaryWeight)
	}
	f.eventually(5*time.Second, "a RolledBack event", func() bool { return f.hasEvent("rpcbad", "RolledBack", "error-rate") })
}

// A Rollout steering an HTTPRoute and a GRPCRoute moves both; a hand edit
// of the GRPCRoute is repaired promptly while Healthy (the GRPCRoute is
// watched) and at a gate (restarting the step's clock), the HTTPRoute
// keeping what it carries; promotion moves both to 100 %.
func TestHTTPRouteAndGRPCRouteSteeredTogether(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("dual", "dual:v1")
	ro.Spec.TrafficRouting.GatewayAPI.GRPCRoutes = []v1.RouteRef{{Name: "dual"}}
	ro.Spec.Steps = []v1.Step{{Weight: 25, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.create(testenv.GRPCRoute(f.ns, "dual"))
	f.healthy(ro)
	both := func(blue, green int32) func() bool {
		return func() bool {
			hb, hg := f.weights("dual")
			gb, gg := f.grpcWeights("dual")
			return hb == blue && hg == green && gb == blue && gg == green
		}
	}
	seen := func() string {
		hb, hg := f.weights("dual")
		gb, gg := f.grpcWeights("dual")
		return fmt.Sprintf("HTTPRoute %d/%d, GRPCRoute %d/%d, phase %s", hb, hg, gb, gg, f.phase("dual"))
	}
	if !both(100, 0)() {
		t.Fatalf("first version: %s, want both at 100/0", seen())
	}

	// Healthy, nothing in flight: the controller looks again only on a watch
	// event once the confirmation look after its last write (5s) is past.
	// A hand edit of the GRPCRoute then is repaired at once only if the
	// GRPCRoute is watched.
	time.Sleep(6 * time.Second)
	f.editGRPCRouteWeights("dual", 0, 0)
	f.eventually(2*time.Second, "the GRPCRoute's 0/0 repaired to 100/0 through the watch", both(100, 0), seen)

	f.setImage("dual", "dual:v2")
	f.eventually(20*time.Second, "held at the gate", func() bool {
		st := f.get("dual").Status
		return st.Phase == v1.PhasePaused && st.CanaryWeight == 25 && st.StepStartedAt != nil
	}, seen)
	if !both(75, 25)() {
		t.Fatalf("at the gate: %s, want both at 75/25", seen())
	}

	before := f.get("dual").Status.StepStartedAt.Time
	f.editGRPCRouteWeights("dual", 0, 25)
	f.eventually(10*time.Second, "the GRPCRoute's 0/25 repaired to 75/25", both(75, 25), seen)
	f.eventually(10*time.Second, "the step's clock started again", func() bool {
		s := f.get("dual").Status.StepStartedAt
		return s != nil && s.After(before)
	})

	f.annotate("dual", v1.AnnotationPromote, "go")
	f.eventually(30*time.Second, "promoted to green on both routes", func() bool {
		st := f.get("dual").Status
		return st.StableColor == v1.Green && st.Phase == v1.PhaseHealthy && both(0, 100)()
	}, seen)
}

// A GRPCRoute that names only the blue Service is a route problem naming
// the grpcRoutes field and the route; nothing is routed.
func TestGRPCRouteProblemIsReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := testenv.GRPCRoute(f.ns, "halfrpc")
	r.Spec.Rules[0].BackendRefs = r.Spec.Rules[0].BackendRefs[:1]
	f.create(r, f.grpcRollout("halfrpc", "halfrpc:v1"))
	f.expectInvalid("GRPCRoute without green", "halfrpc",
		"spec.trafficRouting.gatewayAPI.grpcRoutes: GRPCRoute "+f.ns+"/halfrpc: rule 0 names halfrpc-blue but not halfrpc-green")
	var got gatewayv1.GRPCRoute
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "halfrpc"}, &got); err != nil {
		t.Fatal(err)
	}
	if w := got.Spec.Rules[0].BackendRefs[0].Weight; w == nil || *w != 100 {
		t.Errorf("the half GRPCRoute was changed: blue weight %v", w)
	}
}
