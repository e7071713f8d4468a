package controllers

import (
	corev1 "k8s.io/api/core/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// Revision is the hash of a pod template that names a version of the
// application (v1.TemplateRevision).
func Revision(t *corev1.PodTemplateSpec) string { return v1.TemplateRevision(t) }
