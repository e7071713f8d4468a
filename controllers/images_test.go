package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/controllers"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// digest is a made-up sha256 digest of one hex character repeated.
func digest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// pod creates a pod of the Rollout's color as its ReplicaSet would (the
// template's labels and image), with the status a kubelet would write:
// Ready (or not) and the imageID its container runtime reports.
func (f *fixture) pod(rollout string, c v1.Color, name, image, imageID string, ready bool) {
	f.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name, Labels: map[string]string{
			"app": rollout, v1.LabelRollout: rollout, v1.LabelColor: string(c)}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
	f.create(p)
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status = corev1.PodStatus{
		Phase:      corev1.PodRunning,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Image: image, ImageID: imageID, Ready: ready,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}},
	}
	if err := f.c.Status().Update(f.ctx, p); err != nil {
		f.t.Fatalf("pod %s status: %v", name, err)
	}
}

// imagesOf describes status.images as "color@revision: container=digests"
// lines, and returns the entry of color c (nil without one).
func imagesOf(ro *v1.Rollout, c v1.Color) (*v1.ColorImages, string) {
	var b strings.Builder
	var found *v1.ColorImages
	for i, e := range ro.Status.Images {
		fmt.Fprintf(&b, "%s@%s (%d pods):", e.Color, e.Revision, e.Pods)
		for _, ct := range e.Containers {
			fmt.Fprintf(&b, " %s=%s %v", ct.Name, ct.Image, ct.Digests)
		}
		b.WriteString("; ")
		if e.Color == c {
			found = &ro.Status.Images[i]
		}
	}
	return found, b.String()
}

func digestsAre(e *v1.ColorImages, rev string, want ...string) bool {
	if e == nil || e.Revision != rev || len(e.Containers) != 1 || e.Containers[0].Name != "app" {
		return false
	}
	return strings.Join(e.Containers[0].Digests, ",") == strings.Join(want, ",")
}

// TestStatusRecordsTheDigestsThatRan: status.images records, per color, the
// digests that the ready pods of its current revision report, read from
// the API server: the stable color's before and during a rollout, the
// canary's with two digests when its tag was pushed again between pod
// starts (pods not ready, or of another template, do not count), and the
// canary's entry goes once a rollback scaled it to 0.
func TestStatusRecordsTheDigestsThatRan(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b, c, stray := digest("a"), digest("b"), digest("c"), digest("d")
	f.pod("img", v1.Blue, "img-blue-1", "shop:v1", "docker-pullable://registry.example/shop@"+a, true)
	f.pod("img", v1.Blue, "img-blue-2", "shop:v1", "registry.example/shop@"+a, true)

	ro := f.rollout("img", "shop:v1")
	ro.Spec.Steps = []v1.Step{{Weight: 50, Pause: &v1.PauseGate{}}, {Weight: 100}}
	f.healthy(ro)
	var blueRev string
	f.eventually(10*time.Second, "blue's digest recorded", func() bool {
		got := f.get("img")
		blueRev = got.Status.StableRevision
		e, _ := imagesOf(got, v1.Blue)
		return digestsAre(e, blueRev, a)
	}, func() string { _, s := imagesOf(f.get("img"), v1.Blue); return s })
	_, s := imagesOf(f.get("img"), v1.Blue)
	t.Logf("healthy: %s", s)

	// The canary's pods: two ready ones that pulled shop:v2 at different
	// times (the tag was pushed again between them), one that is not ready
	// and one of the old template; only the first two count.
	f.pod("img", v1.Green, "img-green-1", "shop:v2", "registry.example/shop@"+b, true)
	f.pod("img", v1.Green, "img-green-2", "shop:v2", c, true) // containerd, a local image: "sha256:…"
	f.pod("img", v1.Green, "img-green-3", "shop:v2", "registry.example/shop@"+stray, false)
	f.pod("img", v1.Green, "img-green-4", "shop:v1", "registry.example/shop@"+stray, true)
	f.setImage("img", "shop:v2")
	f.eventually(10*time.Second, "at the gate", func() bool { return f.phase("img") == v1.PhasePaused })
	var greenRev string
	f.eventually(10*time.Second, "both colors' digests recorded", func() bool {
		got := f.get("img")
		greenRev = got.Status.CanaryRevision
		be, _ := imagesOf(got, v1.Blue)
		ge, _ := imagesOf(got, v1.Green)
		return greenRev != blueRev && digestsAre(be, blueRev, a) && digestsAre(ge, greenRev, b, c) && ge.Pods == 2 &&
			ge.Containers[0].Image == "shop:v2"
	}, func() string { _, s := imagesOf(f.get("img"), v1.Green); return s })
	y, err := yaml.Marshal(map[string]any{"images": f.get("img").Status.Images})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("at the gate, status:\n%s", y)

	prom.Set(f.ns, "img-green", errorMetric, testenv.Answer{Value: 0.4})
	f.eventually(10*time.Second, "rolled back", func() bool { return f.phase("img") == v1.PhaseRolledBack })
	f.eventually(15*time.Second, "the canary's entry gone once scaled to 0", func() bool {
		got := f.get("img")
		ge, _ := imagesOf(got, v1.Green)
		be, _ := imagesOf(got, v1.Blue)
		return ge == nil && f.replicas("img-green") == 0 && digestsAre(be, blueRev, a)
	}, func() string {
		_, s := imagesOf(f.get("img"), v1.Green)
		return fmt.Sprintf("green replicas %d; %s", f.replicas("img-green"), s)
	})
	_, s = imagesOf(f.get("img"), v1.Green)
	t.Logf("rolled back: %s", s)
}

// TestImageDigest: the digest is found in every imageID form container
// runtimes report, and an imageID that names none gives none.
func TestImageDigest(t *testing.T) {
	d := digest("0")
	for _, tc := range []struct {
		id, want string
		ok       bool
	}{
		{"docker-pullable://registry.example/shop@" + d, d, true},
		{"registry.example:5000/team/shop@" + d, d, true},
		{d, d, true},
		{"docker://" + d, d, true},
		{"", "", false},
		{"shop:v2", "", false},
		{"registry.example/shop@sha256:abc", "", false},
		{"sha256:" + strings.Repeat("G", 64), "", false},
		{"registry.example/shop@sha512:" + strings.Repeat("0", 128), "", false},
	} {
		got, ok := controllers.ImageDigest(tc.id)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ImageDigest(%q) = %q, %v; want %q, %v", tc.id, got, ok, tc.want, tc.ok)
		}
	}
}
