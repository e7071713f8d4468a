package plugin_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// readyPod creates a ready pod of a Rollout's color with the imageID a
// container runtime would report (envtest has no kubelet).
func (f *fixture) readyPod(rollout string, c v1.Color, name, image, imageID string) {
	f.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name, Labels: map[string]string{
			"app": rollout, v1.LabelRollout: rollout, v1.LabelColor: string(c)}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
	if err := f.c.Create(f.ctx, p); err != nil {
		f.t.Fatal(err)
	}
	p.Status = corev1.PodStatus{
		Phase:      corev1.PodRunning,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: image, ImageID: imageID, Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}},
	}
	if err := f.c.Status().Update(f.ctx, p); err != nil {
		f.t.Fatal(err)
	}
}

// status shows the digests the ready pods of both colors run, from the
// controller's status.images.
func TestStatusShowsDigests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b, c := "sha256:"+strings.Repeat("a1", 32), "sha256:"+strings.Repeat("b2", 32), "sha256:"+strings.Repeat("c3", 32)
	f.readyPod("shop", v1.Blue, "shop-blue-1", "registry.example/shop:v1", "docker-pullable://registry.example/shop@"+a)
	f.readyPod("shop", v1.Green, "shop-green-1", "registry.example/shop:v2", "registry.example/shop@"+b)
	f.readyPod("shop", v1.Green, "shop-green-2", "registry.example/shop:v2", "registry.example/shop@"+c)
	f.healthy(f.rollout("shop", "registry.example/shop:v1", v1.Step{Weight: 25, Pause: &v1.PauseGate{}}, v1.Step{Weight: 100}))
	f.setImage("shop", "registry.example/shop:v2")
	f.eventually(15*time.Second, "both colors' digests recorded", func() bool { return len(f.get("shop").Status.Images) == 2 })
	st := f.get("shop").Status

	r := f.run("status", "shop")
	f.expect(r, 0)
	t.Logf("\n%s", r.out)
	contains(t, r.out,
		`Digests:\s+blue@`+st.StableRevision+`  app  `+a+`  \(1 ready pod\)\n`,
		`\n\s+green@`+st.CanaryRevision+`  app  `+b+` `+c+`  \(2 ready pods; 2 digests: the tag was pushed again\)\n`)
	if i, j := strings.Index(r.out, "Canary:"), regexp.MustCompile(`Digests:`).FindStringIndex(r.out); i < 0 || j == nil || j[0] < i {
		t.Errorf("want the digests after the revisions:\n%s", r.out)
	}
}
