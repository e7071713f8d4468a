package controllers_test

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func (f *fixture) service(name string) *corev1.Service { return fetch(f, name, &corev1.Service{}) }

func (f *fixture) deploymentObj(name string) *appsv1.Deployment {
	return fetch(f, name, &appsv1.Deployment{})
}

// fetch reads the object name of the test's namespace into obj.
func fetch[T client.Object](f *fixture, name string, obj T) T {
	f.t.Helper()
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: name}, obj); err != nil {
		f.t.Fatal(err)
	}
	return obj
}

// TestGeneratedObjectsCanBeShaped: the color Services take the user's
// labels, annotations, appProtocol and more ports; the color Deployments
// take minReadySeconds, revisionHistoryLimit and per-color metadata.
// Changes and hand edits are carried to the objects; Ramp's own labels win.
func TestGeneratedObjectsCanBeShaped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h2c := "kubernetes.io/h2c"
	history := int32(3)
	ro := f.rollout("shop", "shop:v1")
	ro.Spec.Service.AppProtocol = &h2c
	ro.Spec.Service.AdditionalPorts = []v1.ServicePort{{Name: "metrics", Port: 9090, TargetPort: ptr.To(intstr.FromString("prom"))}}
	ro.Spec.Service.Metadata = &v1.Metadata{
		Labels:      map[string]string{"team": "checkout", v1.LabelColor: "purple"},
		Annotations: map[string]string{"mesh.example.com/inject": "true"},
	}
	ro.Spec.MinReadySeconds = 5
	ro.Spec.RevisionHistoryLimit = &history
	ro.Spec.ColorMetadata = &v1.ColorMetadata{Green: &v1.Metadata{Labels: map[string]string{"slot": "b"}, Annotations: map[string]string{"note": "green"}}}
	f.healthy(ro)

	svc := f.service("shop-blue")
	if svc.Labels["team"] != "checkout" || svc.Labels[v1.LabelColor] != "blue" || svc.Annotations["mesh.example.com/inject"] != "true" {
		t.Fatalf("blue Service labels %v annotations %v: want the user's, with Ramp's color label winning", svc.Labels, svc.Annotations)
	}
	if len(svc.Spec.Ports) != 2 || svc.Spec.Ports[0].AppProtocol == nil || *svc.Spec.Ports[0].AppProtocol != h2c ||
		svc.Spec.Ports[1].Name != "metrics" || svc.Spec.Ports[1].Port != 9090 || svc.Spec.Ports[1].TargetPort.StrVal != "prom" {
		t.Fatalf("blue Service ports %+v: want http with appProtocol %s and metrics 9090->prom", svc.Spec.Ports, h2c)
	}
	blue := f.deploymentObj("shop-blue")
	if blue.Spec.MinReadySeconds != 5 || blue.Spec.RevisionHistoryLimit == nil || *blue.Spec.RevisionHistoryLimit != 3 {
		t.Fatalf("blue Deployment minReadySeconds %d revisionHistoryLimit %v, want 5 and 3", blue.Spec.MinReadySeconds, blue.Spec.RevisionHistoryLimit)
	}
	if _, ok := blue.Spec.Template.Labels["slot"]; ok {
		t.Fatalf("blue's pods got green's metadata: %v", blue.Spec.Template.Labels)
	}

	// The canary color gets its own metadata on its pods.
	f.setImage("shop", "shop:v2")
	f.eventually(30*time.Second, "promotion to green", func() bool { return f.get("shop").Status.StableColor == v1.Green })
	green := f.deploymentObj("shop-green")
	if green.Spec.Template.Labels["slot"] != "b" || green.Spec.Template.Annotations["note"] != "green" || green.Labels["slot"] != "b" ||
		green.Spec.Template.Labels[v1.LabelColor] != "green" {
		t.Fatalf("green labels %v, pod labels %v, pod annotations %v: want slot=b and note=green", green.Labels, green.Spec.Template.Labels, green.Spec.Template.Annotations)
	}

	// A spec change reaches the objects; a hand edit is repaired.
	f.update("shop", func(ro *v1.Rollout) {
		ro.Spec.MinReadySeconds = 7
		ro.Spec.Service.Metadata.Labels["tier"] = "web"
	})
	s := f.service("shop-green")
	base := s.DeepCopy()
	s.Spec.Ports[0].AppProtocol = nil
	if err := f.c.Patch(f.ctx, s, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	f.eventually(10*time.Second, "new settings applied and the hand edit repaired", func() bool {
		s := f.service("shop-green")
		d := f.deploymentObj("shop-green")
		return s.Labels["tier"] == "web" && s.Spec.Ports[0].AppProtocol != nil && *s.Spec.Ports[0].AppProtocol == h2c && d.Spec.MinReadySeconds == 7
	})
}
