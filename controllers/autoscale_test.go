package controllers_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

var rolloutsGR = schema.GroupResource{Group: v1.GroupVersion.Group, Resource: "rollouts"}

// scaler reaches the Rollout's scale subresource the way kubectl scale and
// the HorizontalPodAutoscaler controller do: client-go's scale client,
// resolving the kind through discovery.
func (f *fixture) scaler() scale.ScalesGetter {
	f.t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		f.t.Fatal(err)
	}
	cached := memory.NewMemCacheClient(dc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	sc, err := scale.NewForConfig(env.Config, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(cached))
	if err != nil {
		f.t.Fatal(err)
	}
	return sc
}

// scaleTo sets the Rollout's replicas through its scale subresource, as
// kubectl scale rollout/<name> --replicas=n does.
func (f *fixture) scaleTo(sc scale.ScalesGetter, name string, n int32) error {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	var err error
	for range 20 {
		var s *autoscalingv1.Scale
		if s, err = sc.Scales(f.ns).Get(ctx, rolloutsGR, name, metav1.GetOptions{}); err != nil {
			return err
		}
		s.Spec.Replicas = n
		if _, err = sc.Scales(f.ns).Update(ctx, rolloutsGR, s, metav1.UpdateOptions{}); err == nil || !apierrors.IsConflict(err) {
			return err
		}
	}
	return err
}

// TestScaleSubresource: the Rollout has a scale subresource whose status
// counts the pods of both colors with a selector that finds them, and
// scaling it (kubectl scale) scales the stable color.
func TestScaleSubresource(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("shop", "shop:v1"))
	sc := f.scaler()
	var s *autoscalingv1.Scale
	f.eventually(10*time.Second, "scale status reports 4 pods", func() bool {
		var err error
		s, err = sc.Scales(f.ns).Get(f.ctx, rolloutsGR, "shop", metav1.GetOptions{})
		return err == nil && s.Status.Replicas == 4
	})
	if s.Spec.Replicas != 4 {
		t.Fatalf("scale spec.replicas %d, want 4", s.Spec.Replicas)
	}
	sel, err := metav1.ParseToLabelSelector(s.Status.Selector)
	if err != nil {
		t.Fatalf("scale status selector %q: %v", s.Status.Selector, err)
	}
	if sel.MatchLabels["app"] != "shop" || sel.MatchLabels[v1.LabelRollout] != "shop" || sel.MatchLabels[v1.LabelColor] != "" {
		t.Fatalf("scale selector %q: want spec.selector and ramp.dev/rollout=shop, no color (it must find both colors' pods)", s.Status.Selector)
	}

	if b, err := json.Marshal(s); err == nil {
		t.Logf("GET .../rollouts/shop/scale: %s", b)
	}
	if err := f.scaleTo(sc, "shop", 6); err != nil {
		t.Fatalf("kubectl scale --replicas=6: %v", err)
	}
	if n := *f.get("shop").Spec.Replicas; n != 6 {
		t.Fatalf("spec.replicas %d after scaling to 6", n)
	}
	f.eventually(10*time.Second, "blue scaled to 6 and reported", func() bool {
		s, err := sc.Scales(f.ns).Get(f.ctx, rolloutsGR, "shop", metav1.GetOptions{})
		return f.replicas("shop-blue") == 6 && err == nil && s.Status.Replicas == 6
	})
	if err := f.scaleTo(sc, "shop", 0); err == nil {
		t.Fatalf("scaling to 0 was accepted: a Rollout with no pods serves nothing")
	} else if !strings.Contains(err.Error(), "replicas") {
		t.Fatalf("scaling to 0 refused with %v, want a message naming replicas", err)
	}
}

// TestAutoscalerMidRollout: an autoscaler scaling the Rollout while a
// canary runs neither restarts nor stalls it. Both colors follow the new
// count, the step in effect keeps its clock, and Ramp never writes its own
// count back.
func TestAutoscalerMidRollout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("shop", "shop:v1")
	ro.Spec.Steps = []v1.Step{
		{Weight: 25, Hold: &metav1.Duration{Duration: 4 * time.Second}},
		{Weight: 50, Hold: &metav1.Duration{Duration: 2 * time.Second}},
		{Weight: 100},
	}
	f.healthy(ro)
	sc := f.scaler()

	f.setImage("shop", "shop:v2")
	var started *metav1.MicroTime
	f.eventually(20*time.Second, "step 0 at 25% in effect", func() bool {
		st := f.get("shop").Status
		started = st.StepStartedAt
		return st.CurrentStep == 0 && st.CanaryWeight == 25 && started != nil
	})
	canaryRev := f.get("shop").Status.CanaryRevision

	// Scale up during the step: 8 replicas, the canary needs
	// max(ceil(8*25%), ceil(8*50%)) = 4 (the next step's pods come first).
	if err := f.scaleTo(sc, "shop", 8); err != nil {
		t.Fatal(err)
	}
	f.eventually(10*time.Second, "blue at 8, green at 4", func() bool {
		return f.replicas("shop-blue") == 8 && f.replicas("shop-green") == 4
	})
	st := f.get("shop").Status
	if st.CanaryRevision != canaryRev {
		t.Fatalf("canary revision %q after scaling, want %q: the rollout restarted", st.CanaryRevision, canaryRev)
	}
	if st.CurrentStep == 0 && (st.StepStartedAt == nil || !st.StepStartedAt.Equal(started)) {
		t.Fatalf("step 0 started %v after scaling, want %v: scaling restarted the step", st.StepStartedAt, started)
	}
	if f.hasEvent("shop", "Restarted", "") || f.hasEvent("shop", "StepInterrupted", "") {
		t.Fatalf("scaling restarted or interrupted the rollout:\n%s", f.dumpEvents("shop"))
	}

	f.eventually(30*time.Second, "promotion to green at 8 pods", func() bool {
		st := f.get("shop").Status
		return st.StableColor == v1.Green && st.Phase == v1.PhaseHealthy && f.replicas("shop-green") == 8
	})
	// Scale down after the rollout: the new stable color follows.
	if err := f.scaleTo(sc, "shop", 3); err != nil {
		t.Fatal(err)
	}
	f.eventually(10*time.Second, "green scaled down to 3", func() bool { return f.replicas("shop-green") == 3 })
	if n := *f.get("shop").Spec.Replicas; n != 3 {
		t.Fatalf("spec.replicas %d, want the autoscaler's 3", n)
	}
}

// TestPreviewStepAndStepReplicas: a weight 0 first step with replicas
// "100%" brings the canary up at full size with no traffic and starts only
// once all its pods are ready; the next step's replicas give the canary
// more pods than its weight would.
func TestPreviewStepAndStepReplicas(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	full, three := intstr.FromString("100%"), intstr.FromInt32(3)
	ro := f.rollout("shop", "shop:v1")
	ro.Spec.Steps = []v1.Step{
		{Weight: 0, Replicas: &full, Hold: &metav1.Duration{Duration: 2 * time.Second}},
		{Weight: 10, Replicas: &three, Hold: &metav1.Duration{Duration: 2 * time.Second}},
		{Weight: 100},
	}
	f.healthy(ro)
	f.readier.Hold("shop-green", 2)
	rec := f.recordWeights("shop", v1.Green)
	f.setImage("shop", "shop:v2")
	f.eventually(10*time.Second, "green at 4 pods (the preview's 100%) with 2 ready", func() bool {
		st := f.get("shop").Status
		var d appsv1.Deployment
		err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "shop-green"}, &d)
		return err == nil && *d.Spec.Replicas == 4 && strings.Contains(st.Message, "2/4 ready")
	}, func() string { return f.get("shop").Status.Message })
	time.Sleep(time.Second)
	if st := f.get("shop").Status; st.StepStartedAt != nil {
		t.Fatalf("the preview step started with 2 of its 4 pods ready: %s", st.Message)
	}
	f.readier.Release("shop-green")
	f.eventually(10*time.Second, "preview step in effect", func() bool { return f.get("shop").Status.StepStartedAt != nil })
	if _, g := f.weights("shop"); g != 0 {
		t.Fatalf("the preview step sends %d%% to green, want 0", g)
	}
	f.eventually(10*time.Second, "step 1 at 10%", func() bool {
		st := f.get("shop").Status
		return st.CurrentStep == 1 && st.CanaryWeight == 10
	})
	// 10% of 4 is one pod; the step asks for 3, the preview's 4 remain
	// until the next step (100%) needs all of them anyway.
	if n := f.replicas("shop-green"); n < 3 {
		t.Fatalf("green has %d pods at step 1, want at least the step's 3", n)
	}
	f.eventually(20*time.Second, "promoted", func() bool { return f.get("shop").Status.StableColor == v1.Green })
	rec.Stop()
	if got, want := rec.Weights(), []int32{0, 10, 100}; !slices.Equal(got, want) {
		t.Fatalf("green weights %v, want %v", got, want)
	}
}
