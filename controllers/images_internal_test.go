package controllers

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// TestPodImagesRecordsUnparsableAndBounds: an imageID that names no digest
// is recorded as "" (so the status says a pod ran something unnamed), the
// digests are distinct and sorted, at most v1.MaxImageDigests of them, and
// init containers come first, in the template's order.
func TestPodImagesRecordsUnparsableAndBounds(t *testing.T) {
	tpl := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "migrate", Image: "migrate:v1"}},
		Containers:     []corev1.Container{{Name: "app", Image: "shop:v2"}, {Name: "proxy", Image: "proxy:v1"}},
	}
	var pods []*corev1.Pod
	for i := 0; i < 12; i++ {
		appID := fmt.Sprintf("registry.example/shop@sha256:%064x", 12-i)
		pods = append(pods, &corev1.Pod{Status: corev1.PodStatus{
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "migrate", ImageID: "sha256:" + strings.Repeat("e", 64)}},
			ContainerStatuses: []corev1.ContainerStatus{
				{Name: "proxy", ImageID: "proxy:v1"}, // names no digest
				{Name: "app", ImageID: appID},
			},
		}})
	}
	got := podImages(v1.Green, "rev1", tpl, pods)
	if got == nil || got.Color != v1.Green || got.Revision != "rev1" || got.Pods != 12 || len(got.Containers) != 3 {
		t.Fatalf("podImages = %+v", got)
	}
	names := []string{got.Containers[0].Name, got.Containers[1].Name, got.Containers[2].Name}
	if strings.Join(names, ",") != "migrate,app,proxy" {
		t.Errorf("containers %v, want migrate,app,proxy", names)
	}
	if d := got.Containers[0].Digests; len(d) != 1 || d[0] != "sha256:"+strings.Repeat("e", 64) {
		t.Errorf("migrate digests %v", d)
	}
	app := got.Containers[1].Digests
	if len(app) != v1.MaxImageDigests {
		t.Errorf("app has %d digests, want the bound %d: %v", len(app), v1.MaxImageDigests, app)
	}
	for i := range app {
		if want := fmt.Sprintf("sha256:%064x", i+1); app[i] != want {
			t.Errorf("app digest %d = %s, want %s (sorted, the first %d)", i, app[i], want, v1.MaxImageDigests)
		}
	}
	if d := got.Containers[2].Digests; len(d) != 1 || d[0] != "" {
		t.Errorf("proxy digests %q, want one empty (unparsable imageID)", d)
	}
	if podImages(v1.Blue, "rev1", tpl, nil) != nil {
		t.Error("no pods: want no entry")
	}
}
