package controllers_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// deny installs a ValidatingAdmissionPolicy that refuses operations on
// resource (group, plural) in the fixture's namespace, and waits until the
// API server enforces it. The returned func removes it.
func (f *fixture) deny(group, resource string, ops ...admissionv1.OperationType) func() {
	f.t.Helper()
	name := "deny-" + resource + "-" + f.ns
	fail := admissionv1.Fail
	pol := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": f.ns}},
				ResourceRules: []admissionv1.NamedRuleWithOperations{{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: ops,
					Rule:       admissionv1.Rule{APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: []string{resource}},
				}}},
			},
			Validations: []admissionv1.Validation{{Expression: "false", Message: "frozen by the test"}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny}},
	}
	f.create(pol, binding)
	remove := func() {
		_ = f.c.Delete(f.ctx, binding)
		_ = f.c.Delete(f.ctx, pol)
	}
	f.t.Cleanup(remove)
	return remove
}

// routeWritesRefused reports whether a dry-run write of the route is refused.
func (f *fixture) routeWritesRefused(route string) bool {
	var r gatewayv1.HTTPRoute
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: route}, &r); err != nil {
		f.t.Fatal(err)
	}
	if r.Annotations == nil {
		r.Annotations = map[string]string{}
	}
	r.Annotations["probe"] = time.Now().String()
	err := f.c.Update(f.ctx, &r, client.DryRunAll)
	return err != nil && strings.Contains(err.Error(), "frozen by the test")
}

// setRouteWeights writes blue and green into every rule of the route, as a
// hand edit or a sync tool would.
func (f *fixture) setRouteWeights(route string, blue, green int32) {
	f.t.Helper()
	for range 20 {
		var r gatewayv1.HTTPRoute
		if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: route}, &r); err != nil {
			f.t.Fatal(err)
		}
		for i := range r.Spec.Rules {
			for j := range r.Spec.Rules[i].BackendRefs {
				ref := &r.Spec.Rules[i].BackendRefs[j]
				switch string(ref.Name) {
				case route + "-blue":
					ref.Weight = &blue
				case route + "-green":
					ref.Weight = &green
				}
			}
		}
		if err := f.c.Update(f.ctx, &r); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("hand edit of route %s kept conflicting", route)
}

func condition(ro *v1.Rollout, t string) *metav1.Condition {
	return meta.FindStatusCondition(ro.Status.Conditions, t)
}

// atGate brings a Rollout name (steps: a 25 % gate, then 100 %) to its
// first version, then v2 to the gate, held there with 25 % in effect.
func (f *fixture) atGate(name string) {
	f.t.Helper()
	ro := f.rollout(name, name+":v1")
	ro.Spec.Steps = []v1.Step{{Weight: 25, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.healthy(ro)
	f.setImage(name, name+":v2")
	f.eventually(20*time.Second, "at the gate", func() bool {
		st := f.get(name).Status
		return st.Phase == v1.PhasePaused && st.CanaryWeight == 25 && st.StepStartedAt != nil
	})
}

// Finding 1: route writes that keep failing never move the rollout on: no
// step is in effect, no weight recorded, nothing promoted, on checks taken
// at the old weight. Once writes go through, the rollout goes on.
func TestRefusedRouteWritesNeverAdvance(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("frozen", "frozen:v1"))
	allow := f.deny("gateway.networking.k8s.io", "httproutes", admissionv1.Update)
	f.eventually(10*time.Second, "the policy enforced", func() bool { return f.routeWritesRefused("frozen") })

	f.setImage("frozen", "frozen:v2")
	f.eventually(10*time.Second, "a refused route write reported", func() bool { return f.hasEvent("frozen", "ActionFailed", "frozen by the test") })
	time.Sleep(6 * time.Second) // six check intervals: the old code walked every step by now
	ro := f.get("frozen")
	if b, g := f.weights("frozen"); b != 100 || g != 0 {
		t.Fatalf("route %d/%d while writes are refused", b, g)
	}
	if ro.Status.StepStartedAt != nil || ro.Status.CanaryWeight != 0 || ro.Status.CurrentStep != 0 || ro.Status.StableRevision == ro.Status.CanaryRevision || ro.Status.StableColor != v1.Blue {
		t.Fatalf("status moved on refused writes: step %d weight %d started %v stable %s phase %s", ro.Status.CurrentStep, ro.Status.CanaryWeight, ro.Status.StepStartedAt, ro.Status.StableColor, ro.Status.Phase)
	}

	allow()
	f.eventually(20*time.Second, "promoted once writes go through", func() bool {
		ro := f.get("frozen")
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableColor == v1.Green
	})
}

// Finding 2: both weights of every steered rule are repaired: 0/0 while
// Healthy serves nothing, 0/25 at a gate sends everything to the canary.
func TestBothWeightsAreRepaired(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("both", "both:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 25, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.healthy(ro)

	f.setRouteWeights("both", 0, 0)
	f.eventually(10*time.Second, "0/0 repaired to 100/0", func() bool { b, g := f.weights("both"); return b == 100 && g == 0 })

	f.setImage("both", "both:v2")
	f.eventually(20*time.Second, "held at the gate", func() bool {
		ro := f.get("both")
		return ro.Status.Phase == v1.PhasePaused && ro.Status.StepStartedAt != nil
	})
	before := f.get("both").Status.StepStartedAt.Time
	f.setRouteWeights("both", 0, 25)
	f.eventually(10*time.Second, "0/25 repaired to 75/25", func() bool { b, g := f.weights("both"); return b == 75 && g == 25 })
	f.eventually(10*time.Second, "the step's clock started again", func() bool {
		s := f.get("both").Status.StepStartedAt
		return s != nil && s.After(before)
	})
}

// fakeGateway plays a gateway controller: it writes status.parents for the
// route's current generation, ResolvedRefs as resolved says.
func (f *fixture) fakeGateway(route string, resolved *atomic.Bool) {
	go func() {
		for f.ctx.Err() == nil {
			time.Sleep(30 * time.Millisecond)
			var r gatewayv1.HTTPRoute
			if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: route}, &r); err != nil {
				continue
			}
			status := metav1.ConditionFalse
			if resolved.Load() {
				status = metav1.ConditionTrue
			}
			conds := []metav1.Condition{
				{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: r.Generation, LastTransitionTime: metav1.Now()},
				{Type: "ResolvedRefs", Status: status, Reason: "BackendNotFound", Message: "the test says no", ObservedGeneration: r.Generation, LastTransitionTime: metav1.Now()},
			}
			if len(r.Status.Parents) == 1 {
				c := meta.FindStatusCondition(r.Status.Parents[0].Conditions, "ResolvedRefs")
				if c != nil && c.ObservedGeneration == r.Generation && c.Status == status {
					continue
				}
			}
			r.Status.Parents = []gatewayv1.RouteParentStatus{{
				ParentRef:      gatewayv1.ParentReference{Name: "public-gw"},
				ControllerName: "example.com/test-gateway",
				Conditions:     conds,
			}}
			_ = f.c.Status().Update(f.ctx, &r)
		}
	}()
}

// Finding 3: a parent reporting ResolvedRefs=False for the route's current
// generation holds the step and is named in status; the weight is not in
// effect until the gateway accepts it.
func TestGatewayVerdictHoldsTheStep(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("verdict", "verdict:v1"))
	var resolved atomic.Bool
	f.fakeGateway("verdict", &resolved)
	f.eventually(5*time.Second, "the gateway reporting on the route", func() bool {
		var r gatewayv1.HTTPRoute
		_ = f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "verdict"}, &r)
		return len(r.Status.Parents) == 1
	})

	f.setImage("verdict", "verdict:v2")
	f.eventually(10*time.Second, "the 1% write", func() bool { _, g := f.weights("verdict"); return g == 1 })
	f.eventually(10*time.Second, "held, naming the parent", func() bool {
		ro := f.get("verdict")
		c := condition(ro, v1.ConditionPaused)
		return ro.Status.Phase == v1.PhasePaused && c != nil && c.Reason == v1.ReasonRouteNotInEffect &&
			strings.Contains(ro.Status.Message, "public-gw") && strings.Contains(ro.Status.Message, "ResolvedRefs=False")
	}, func() string { return f.get("verdict").Status.Message })
	time.Sleep(3 * time.Second)
	if ro := f.get("verdict"); ro.Status.StepStartedAt != nil || ro.Status.CanaryWeight != 0 || ro.Status.CurrentStep != 0 {
		t.Fatalf("step counted in effect while the gateway rejects it: step %d weight %d started %v\n%s", ro.Status.CurrentStep, ro.Status.CanaryWeight, ro.Status.StepStartedAt, f.dumpEvents("verdict"))
	}
	resolved.Store(true)
	f.eventually(10*time.Second, "the step in effect once resolved", func() bool {
		ro := f.get("verdict")
		return ro.Status.StepStartedAt != nil && ro.Status.CanaryWeight >= 1
	})
}

// Finding 4: a metric with a template typo added while a canary carries
// traffic holds the rollout, but the valid check keeps running and a breach
// still rolls back.
func TestSpecProblemInFlightStillRollsBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.atGate("typo")

	f.update("typo", func(ro *v1.Rollout) {
		m := ro.Spec.Analysis.Metrics[0]
		m.Name, m.Query = "typo", "up{x=\"{{ .NoSuchField }}\"}"
		ro.Spec.Analysis.Metrics = append(ro.Spec.Analysis.Metrics, m)
	})
	f.eventually(10*time.Second, "Valid=False naming the metric", func() bool {
		c := condition(f.get("typo"), v1.ConditionValid)
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "metrics[1]")
	})
	last := f.get("typo").Status.Analysis.LastCheckAt.Time
	f.eventually(10*time.Second, "the valid check still running", func() bool {
		a := f.get("typo").Status.Analysis
		return a != nil && a.LastCheckAt != nil && a.LastCheckAt.After(last)
	})
	prom.Set(f.ns, "typo-green", errorMetric, testenv.Answer{Value: 0.3})
	f.eventually(10*time.Second, "rolled back on the breach", func() bool {
		b, g := f.weights("typo")
		return b == 100 && g == 0 && f.phase("typo") == v1.PhaseRolledBack
	})
}

// Finding 4: a route problem appearing in flight (a rule naming only the
// stable Service) does not defer ramp.dev/abort: the steerable rules go
// back to stable at once.
func TestRouteProblemInFlightAbortActs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.atGate("half")

	for range 20 {
		var r gatewayv1.HTTPRoute
		if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "half"}, &r); err != nil {
			t.Fatal(err)
		}
		extra := *r.Spec.Rules[0].DeepCopy()
		extra.BackendRefs = extra.BackendRefs[:1] // only half-blue
		r.Spec.Rules = append(r.Spec.Rules, extra)
		if f.c.Update(f.ctx, &r) == nil {
			break
		}
	}
	f.eventually(10*time.Second, "Valid=False for the route", func() bool {
		c := condition(f.get("half"), v1.ConditionValid)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1.ReasonInvalidRoute
	})
	f.annotate("half", v1.AnnotationAbort, "bad canary")
	f.eventually(5*time.Second, "the steerable rule back to stable", func() bool { b, g := f.weights("half"); return b == 100 && g == 0 })
	if ro := f.get("half"); ro.Status.AbortReason != "bad canary" {
		t.Fatalf("abortReason %q", ro.Status.AbortReason)
	}
}

// Finding 5: a Rollout re-created after an orphan delete adopts the color
// that serves (green, after a promotion) instead of sending all traffic to
// blue and scaling green down.
func TestRecreatedRolloutAdopts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("again", "again:v1"))
	f.setImage("again", "again:v2")
	f.eventually(30*time.Second, "green promoted", func() bool {
		ro := f.get("again")
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableColor == v1.Green
	})
	old := f.get("again")
	if err := f.c.Delete(f.ctx, old, client.PropagationPolicy(metav1.DeletePropagationOrphan)); err != nil {
		t.Fatal(err)
	}
	// envtest runs no garbage collector: once Ramp let go (its finalizer
	// gone, nothing moved), do what the collector does for an orphan
	// delete: drop the owner references, then the orphan finalizer.
	f.eventually(10*time.Second, "Ramp's finalizer released", func() bool {
		ro := f.get("again")
		return len(ro.Finalizers) == 1 && ro.Finalizers[0] == metav1.FinalizerOrphanDependents
	})
	if b, g := f.weights("again"); b != 0 || g != 100 {
		t.Fatalf("an orphan delete moved traffic: %d/%d", b, g)
	}
	f.update("again", func(ro *v1.Rollout) { ro.Finalizers = nil })
	f.eventually(10*time.Second, "the Rollout gone", func() bool {
		return f.c.Get(f.ctx, client.ObjectKeyFromObject(old), &v1.Rollout{}) != nil
	})
	for _, name := range []string{"again-blue", "again-green"} {
		for _, obj := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}} {
			if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, obj); err != nil {
				t.Fatal(err)
			}
			obj.SetOwnerReferences(nil)
			if err := f.c.Update(f.ctx, obj); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec := f.recordWeights("again", v1.Blue)
	defer rec.Stop()
	ro := f.rollout("again", "again:v2")
	f.create(ro)
	f.eventually(20*time.Second, "adopted green as stable", func() bool {
		ro := f.get("again")
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableColor == v1.Green
	})
	time.Sleep(time.Second)
	for _, w := range rec.Weights() {
		if w != 0 {
			t.Fatalf("blue got %d%% after the re-creation (weights %v)", w, rec.Weights())
		}
	}
	if n := f.replicas("again-green"); n != 4 {
		t.Fatalf("green has %d replicas, want 4", n)
	}
	var d appsv1.Deployment
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "again-green"}, &d); err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(&d); ref == nil || ref.UID != f.get("again").UID {
		t.Fatalf("green is not controlled by the new Rollout: %+v", d.OwnerReferences)
	}
}

// Finding 6: deleting a Rollout in flight first returns all traffic to the
// stable color, then releases that color's Deployment and Service (no owner
// reference) and leaves the canary to the garbage collector.
func TestDeletionReturnsTrafficAndReleasesStable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.atGate("bye")
	if err := f.c.Delete(f.ctx, f.get("bye")); err != nil {
		t.Fatal(err)
	}
	f.eventually(10*time.Second, "the Rollout gone", func() bool {
		return f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "bye"}, &v1.Rollout{}) != nil
	})
	if b, g := f.weights("bye"); b != 100 || g != 0 {
		t.Fatalf("route %d/%d after deletion, want all on blue", b, g)
	}
	owned := func(obj client.Object, name string) bool {
		if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, obj); err != nil {
			t.Fatal(err)
		}
		return metav1.GetControllerOf(obj) != nil
	}
	if owned(&appsv1.Deployment{}, "bye-blue") || owned(&corev1.Service{}, "bye-blue") {
		t.Fatal("blue still owned by the deleted Rollout: the garbage collector would take the serving color")
	}
	if !owned(&appsv1.Deployment{}, "bye-green") || !owned(&corev1.Service{}, "bye-green") {
		t.Fatal("green released: the canary should go with the Rollout")
	}
}

// Finding 7: a Service with a color's name that Ramp did not create is
// refused with a condition naming it, never taken over.
func TestForeignServiceIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	other := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "taken-green", Namespace: f.ns},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "someone-else"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	f.create(other, f.route("taken"), f.rollout("taken", "taken:v1"))
	f.eventually(10*time.Second, "Valid=False naming the Service", func() bool {
		c := condition(f.get("taken"), v1.ConditionValid)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1.ReasonForeignObject && strings.Contains(c.Message, "taken-green")
	})
	var svc corev1.Service
	if err := f.c.Get(f.ctx, client.ObjectKeyFromObject(other), &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Selector["app"] != "someone-else" || len(svc.OwnerReferences) != 0 {
		t.Fatalf("foreign Service taken over: selector %v owners %v", svc.Spec.Selector, svc.OwnerReferences)
	}
}

// Finding 8: a hand edit of a color Deployment's image is repaired.
func TestDeploymentDriftIsRepaired(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.healthy(f.rollout("drift", "drift:v1"))
	for range 20 {
		var d appsv1.Deployment
		if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "drift-blue"}, &d); err != nil {
			t.Fatal(err)
		}
		d.Spec.Template.Spec.Containers[0].Image = "evil:latest"
		if f.c.Update(f.ctx, &d) == nil {
			break
		}
	}
	f.eventually(10*time.Second, "blue's image repaired", func() bool {
		var d appsv1.Deployment
		if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "drift-blue"}, &d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Spec.Containers[0].Image == "drift:v1"
	})
}

// Finding 9: a switch back during the watch after a promotion, while the
// old color has no ready pods, never writes the promoted template onto it.
func TestSwitchBackNeverDeploysThePromotedTemplate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("watch", "watch:v1")
	ro.Spec.PostPromotion = &v1.PostPromotion{Hold: metav1.Duration{Duration: time.Minute}}
	f.healthy(ro)
	f.setImage("watch", "watch:v2")
	f.eventually(30*time.Second, "promoted to green", func() bool { return f.get("watch").Status.StableColor == v1.Green })
	f.readier.Hold("watch-blue", 0)
	f.eventually(10*time.Second, "blue without ready pods", func() bool {
		var d appsv1.Deployment
		_ = f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "watch-blue"}, &d)
		return d.Status.ReadyReplicas == 0 && d.Status.ObservedGeneration == d.Generation
	})
	prom.Set(f.ns, "watch-green", errorMetric, testenv.Answer{Value: 0.5})
	f.eventually(10*time.Second, "a SwitchBackWaiting event", func() bool { return f.hasEvent("watch", "SwitchBackWaiting", "blue") })
	image := func() string {
		var d appsv1.Deployment
		if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "watch-blue"}, &d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Spec.Containers[0].Image
	}
	if img := image(); img != "watch:v1" {
		t.Fatalf("blue given %s while switching back, want it to keep watch:v1", img)
	}
	f.readier.Release("watch-blue")
	f.eventually(10*time.Second, "switched back to blue", func() bool {
		b, g := f.weights("watch")
		return b == 100 && g == 0 && f.get("watch").Status.StableColor == v1.Blue
	})
	if img := image(); img != "watch:v1" {
		t.Fatalf("blue runs %s after the switch back", img)
	}
}

// Finding 10: names that cannot work and templates without containers are
// refused at admission.
func TestUnworkableRolloutsAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for name, change := range map[string]func(*v1.Rollout){
		"name too long for <name>-green": func(ro *v1.Rollout) { ro.Name = strings.Repeat("a", 58) },
		"name with a dot":                func(ro *v1.Rollout) { ro.Name = "shop.v2" },
		"no containers":                  func(ro *v1.Rollout) { ro.Spec.Template.Spec.Containers = nil },
	} {
		ro := f.rollout("ok", "ok:v1")
		change(ro)
		err := f.c.Create(f.ctx, ro)
		if err == nil || !strings.Contains(err.Error(), "must") && !strings.Contains(err.Error(), "containers: Required") {
			t.Errorf("%s: create gave %v, want a refusal that says what must hold", name, err)
		}
	}
	ro := f.rollout("fifty-seven-characters-is-the-longest-name-that-fits-ok", "ok:v1")
	ro.Name = strings.Repeat("b", 57)
	if err := f.c.Create(f.ctx, ro); err != nil {
		t.Errorf("a 57-character name was refused: %v", err)
	}
}

// Finding 10: a pod template the API server refuses reaches status and an
// event, instead of "waiting for pods".
func TestRefusedTemplateIsReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("refused", "refused:v1")
	ro.Spec.Template.Spec.Containers[0].Name = "Not_A_DNS_Label"
	f.create(f.route("refused"), ro)
	f.eventually(10*time.Second, "Valid=False Refused", func() bool {
		c := condition(f.get("refused"), v1.ConditionValid)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1.ReasonRefused
	}, func() string { return f.get("refused").Status.Message })
	f.eventually(5*time.Second, "a Refused event", func() bool { return f.hasEvent("refused", v1.ReasonRefused, "refused-blue") })
	if msg := f.get("refused").Status.Message; strings.Contains(msg, "waiting for") {
		t.Fatalf("status says %q", msg)
	}
}

// Finding 10: a Service write the API server refuses does not stop the plan:
// a breach still rolls back.
func TestServiceErrorDoesNotBlockRollback(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.atGate("svc")
	f.deny("", "services", admissionv1.Update)
	time.Sleep(2 * time.Second) // the policy takes a moment to be enforced
	f.update("svc", func(ro *v1.Rollout) { ro.Spec.Service.Port = 8080 })
	f.eventually(10*time.Second, "the refused Service reported", func() bool {
		c := condition(f.get("svc"), v1.ConditionValid)
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "Service")
	}, func() string { return f.get("svc").Status.Message })
	prom.Set(f.ns, "svc-green", errorMetric, testenv.Answer{Value: 0.4})
	f.eventually(10*time.Second, "rolled back despite the Service error", func() bool { b, g := f.weights("svc"); return b == 100 && g == 0 })
}

func (f *fixture) dumpEvents(name string) string {
	var list eventsv1.EventList
	_ = f.c.List(f.ctx, &list, client.InNamespace(f.ns))
	out := ""
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out += e.Reason + ": " + e.Note + "\n"
		}
	}
	return out
}
