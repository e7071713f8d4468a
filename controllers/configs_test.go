package controllers_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func (f *fixture) setConfig(name, greeting string) {
	f.t.Helper()
	for range 20 {
		var cm corev1.ConfigMap
		err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, &cm)
		if apierrors.IsNotFound(err) {
			f.create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns}, Data: map[string]string{"greeting": greeting}})
			return
		}
		if err != nil {
			f.t.Fatal(err)
		}
		cm.Data = map[string]string{"greeting": greeting}
		if err := f.c.Update(f.ctx, &cm); err == nil {
			return
		}
	}
	f.t.Fatalf("update ConfigMap %s: kept conflicting", name)
}

// configOf is the ConfigMap a color's pods mount, and what it says.
func (f *fixture) configOf(deployment string) (name, greeting string) {
	f.t.Helper()
	d := f.deploymentObj(deployment)
	name = d.Spec.Template.Spec.Volumes[0].ConfigMap.Name
	if env := d.Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name; env != name {
		f.t.Fatalf("%s: the volume names %s and envFrom %s", deployment, name, env)
	}
	var cm corev1.ConfigMap
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, &cm); err != nil {
		f.t.Fatalf("%s mounts %s: %v", deployment, name, err)
	}
	if cm.Immutable == nil || !*cm.Immutable {
		f.t.Fatalf("the copy %s is not immutable", name)
	}
	return name, cm.Data["greeting"]
}

func (f *fixture) configExists(name string) bool {
	var cm corev1.ConfigMap
	err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, &cm)
	if err != nil && !apierrors.IsNotFound(err) {
		f.t.Fatal(err)
	}
	return err == nil
}

// TestConfigChangeIsACanary: a change of a listed ConfigMap's data starts a
// rollout; the canary runs a copy of the new content while the stable color
// keeps its own copy of the old; copies no color uses are deleted.
func TestConfigChangeIsACanary(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.setConfig("shop-config", "hello")
	ro := f.rollout("shop", "shop:v1")
	ro.Spec.ConfigRefs = []v1.ConfigRef{{Name: "shop-config"}}
	ro.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "shop-config"}}}}}
	ro.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "shop-config"}}}}
	ro.Spec.Steps = []v1.Step{{Weight: 10, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.healthy(ro)
	first, says := f.configOf("shop-blue")
	if says != "hello" || !strings.HasPrefix(first, "shop-shop-config-") {
		t.Fatalf("blue mounts %s saying %q, want a copy shop-shop-config-<hash> saying hello", first, says)
	}

	f.setConfig("shop-config", "bye")
	f.eventually(20*time.Second, "a canary of the new content at the gate", func() bool {
		st := f.get("shop").Status
		return st.CanaryRevision != "" && st.CanaryWeight == 10 && st.Phase == v1.PhasePaused
	}, func() string { return f.get("shop").Status.Message })
	second, says := f.configOf("shop-green")
	if says != "bye" || second == first {
		t.Fatalf("green mounts %s saying %q, want a new copy saying bye", second, says)
	}
	t.Logf("at the gate: blue mounts %s, green mounts %s; %s", first, second, f.get("shop").Status.Message)
	if name, says := f.configOf("shop-blue"); name != first || says != "hello" {
		t.Fatalf("the stable color mounts %s saying %q while the canary runs, want %s saying hello", name, says, first)
	}

	f.annotate("shop", v1.AnnotationPromote, "go")
	f.eventually(20*time.Second, "promoted", func() bool { return f.get("shop").Status.StableColor == v1.Green })
	f.setConfig("shop-config", "again")
	f.eventually(30*time.Second, "the third content promoted to blue", func() bool {
		st := f.get("shop").Status
		if st.StableColor == v1.Green && st.Phase == v1.PhasePaused && st.CanaryRevision != "" {
			f.annotate("shop", v1.AnnotationPromote, "go again") // the gate of the third rollout
		}
		return st.StableColor == v1.Blue && st.Phase == v1.PhaseHealthy
	})
	third, says := f.configOf("shop-blue")
	if says != "again" {
		t.Fatalf("blue mounts %s saying %q, want again", third, says)
	}
	f.eventually(10*time.Second, "the first copy, used by no color, deleted", func() bool { return !f.configExists(first) })
	if !f.configExists(second) {
		t.Fatalf("the copy %s green still uses was deleted", second)
	}

	// Deleting the Rollout (deletionPolicy Release) releases the serving
	// color's copy with its Deployment, so the garbage collector keeps it.
	if err := f.c.Delete(f.ctx, f.get("shop")); err != nil {
		t.Fatal(err)
	}
	f.eventually(20*time.Second, "Rollout gone", func() bool {
		var ro v1.Rollout
		return apierrors.IsNotFound(f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "shop"}, &ro))
	})
	if refs := fetch(f, third, &corev1.ConfigMap{}).OwnerReferences; len(refs) != 0 {
		t.Fatalf("the copy %s blue serves with keeps owner references %v: the garbage collector would delete it", third, refs)
	}
}

// TestMissingConfigIsReported: a listed ConfigMap that does not exist is a
// Valid=False condition naming it, and nothing is deployed.
func TestMissingConfigIsReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.rollout("cfg", "cfg:v1")
	ro.Spec.ConfigRefs = []v1.ConfigRef{{Name: "absent"}}
	f.create(f.route("cfg"), ro)
	f.expectInvalid("missing ConfigMap", "cfg", "spec.configRefs[0]: ConfigMap "+f.ns+"/absent not found")
}

// TestSecretConfig: a Secret its owner labelled ramp.dev/config: source is
// copied per revision like a ConfigMap; an unlabelled one is refused before
// Ramp looks at its data.
func TestSecretConfig(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: f.ns, Labels: map[string]string{v1.LabelConfig: "source"}},
		Type:       corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("s3cret")},
	})
	ro := f.rollout("shop", "shop:v1")
	ro.Spec.ConfigRefs = []v1.ConfigRef{{Kind: "Secret", Name: "db"}}
	ro.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}}}
	f.healthy(ro)
	name := f.deploymentObj("shop-blue").Spec.Template.Spec.Containers[0].Env[0].ValueFrom.SecretKeyRef.Name
	if !strings.HasPrefix(name, "shop-db-") {
		t.Fatalf("blue reads its password from %s, want a copy shop-db-<hash>", name)
	}
	cp := fetch(f, name, &corev1.Secret{})
	if string(cp.Data["password"]) != "s3cret" || cp.Type != corev1.SecretTypeOpaque || cp.Immutable == nil || !*cp.Immutable {
		t.Fatalf("copy %s: type %s immutable %v data %v", name, cp.Type, cp.Immutable, cp.Data)
	}

	f.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: f.ns}, Data: map[string][]byte{"k": []byte("v")}})
	bad := f.rollout("bad", "bad:v1")
	bad.Spec.ConfigRefs = []v1.ConfigRef{{Kind: "Secret", Name: "other"}}
	f.create(f.route("bad"), bad)
	f.expectInvalid("unlabelled Secret", "bad", "is not labelled ramp.dev/config: source")
	if s := fetch(f, "other", &corev1.Secret{}); s.Labels[v1.LabelConfig] != "" {
		t.Fatalf("Ramp labelled a Secret it was not given: %v", s.Labels)
	}
}
