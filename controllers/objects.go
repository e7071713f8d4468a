package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// ColorName is the name of a color's Deployment and Service: <rollout>-<color>.
func ColorName(ro *v1.Rollout, c v1.Color) string { return ro.Name + "-" + string(c) }

func colorLabels(ro *v1.Rollout, c v1.Color) map[string]string {
	return map[string]string{v1.LabelRollout: ro.Name, v1.LabelColor: string(c)}
}

// desiredDeployment is the Deployment of color c running spec.template.
func desiredDeployment(ro *v1.Rollout, c v1.Color, revision string, replicas int32) *appsv1.Deployment {
	sel := ro.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	for k, v := range colorLabels(ro, c) {
		sel.MatchLabels[k] = v
	}
	tpl := ro.Spec.Template.DeepCopy()
	if tpl.Labels == nil {
		tpl.Labels = map[string]string{}
	}
	for k, v := range colorLabels(ro, c) {
		tpl.Labels[k] = v
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:        ColorName(ro, c),
			Namespace:   ro.Namespace,
			Labels:      colorLabels(ro, c),
			Annotations: map[string]string{v1.AnnotationRevision: revision},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: sel,
			Template: *tpl,
		},
	}
}

// desiredService is the Service of color c.
func desiredService(ro *v1.Rollout, c v1.Color) *corev1.Service {
	target := intstr.FromInt32(ro.Spec.Service.Port)
	if ro.Spec.Service.TargetPort != nil {
		target = *ro.Spec.Service.TargetPort
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ColorName(ro, c),
			Namespace: ro.Namespace,
			Labels:    colorLabels(ro, c),
		},
		Spec: corev1.ServiceSpec{
			Selector: colorLabels(ro, c),
			Ports: []corev1.ServicePort{{
				Name:       "http",
				Port:       ro.Spec.Service.Port,
				TargetPort: target,
				Protocol:   corev1.ProtocolTCP,
			}},
		},
	}
	if ro.Spec.Service.Headless {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	return svc
}
