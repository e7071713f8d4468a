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
	extra := userMetadata{ro.Spec.ColorMetadata.Of(c)}
	tpl := ro.Spec.Template.DeepCopy()
	tpl.Labels = withMetadata(tpl.Labels, extra.labels(), colorLabels(ro, c))
	tpl.Annotations = withMetadata(tpl.Annotations, extra.annotations(), nil)
	history := defaultRevisionHistory
	if ro.Spec.RevisionHistoryLimit != nil {
		history = *ro.Spec.RevisionHistoryLimit
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:        ColorName(ro, c),
			Namespace:   ro.Namespace,
			Labels:      withMetadata(nil, extra.labels(), colorLabels(ro, c)),
			Annotations: withMetadata(nil, extra.annotations(), map[string]string{v1.AnnotationRevision: revision}),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas:             &replicas,
			Selector:             sel,
			Template:             *tpl,
			MinReadySeconds:      ro.Spec.MinReadySeconds,
			RevisionHistoryLimit: &history,
		},
	}
}

// defaultRevisionHistory is how many old ReplicaSets a color keeps when
// spec.revisionHistoryLimit is not given: each color runs one revision at a
// time and Ramp's own history is in the colors, not in ReplicaSets.
const defaultRevisionHistory = int32(2)

type userMetadata struct{ m *v1.Metadata }

func (u userMetadata) labels() map[string]string {
	if u.m == nil {
		return nil
	}
	return u.m.Labels
}

func (u userMetadata) annotations() map[string]string {
	if u.m == nil {
		return nil
	}
	return u.m.Annotations
}

// withMetadata is base with the user's entries added, then Ramp's (which
// win); nil when all are empty.
func withMetadata(base, user, ramp map[string]string) map[string]string {
	if len(base)+len(user)+len(ramp) == 0 {
		return base
	}
	out := make(map[string]string, len(base)+len(user)+len(ramp))
	for _, m := range []map[string]string{base, user, ramp} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// desiredService is the Service of color c.
func desiredService(ro *v1.Rollout, c v1.Color) *corev1.Service {
	target := intstr.FromInt32(ro.Spec.Service.Port)
	if ro.Spec.Service.TargetPort != nil {
		target = *ro.Spec.Service.TargetPort
	}
	extra := userMetadata{ro.Spec.Service.Metadata}
	ports := []corev1.ServicePort{{
		Name:        "http",
		Port:        ro.Spec.Service.Port,
		TargetPort:  target,
		Protocol:    corev1.ProtocolTCP,
		AppProtocol: ro.Spec.Service.AppProtocol,
	}}
	for _, p := range ro.Spec.Service.AdditionalPorts {
		sp := corev1.ServicePort{Name: p.Name, Port: p.Port, TargetPort: intstr.FromInt32(p.Port), Protocol: p.Protocol, AppProtocol: p.AppProtocol}
		if p.TargetPort != nil {
			sp.TargetPort = *p.TargetPort
		}
		if sp.Protocol == "" {
			sp.Protocol = corev1.ProtocolTCP
		}
		ports = append(ports, sp)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:        ColorName(ro, c),
			Namespace:   ro.Namespace,
			Labels:      withMetadata(nil, extra.labels(), colorLabels(ro, c)),
			Annotations: withMetadata(nil, extra.annotations(), nil),
		},
		Spec: corev1.ServiceSpec{
			Selector: colorLabels(ro, c),
			Ports:    ports,
		},
	}
	if ro.Spec.Service.Headless {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	return svc
}
