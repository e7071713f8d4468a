// Package v1alpha1 holds the ramp.dev/v1alpha1 API: the Rollout kind, which
// takes a new version of an application from 0 to 100 % of its traffic through
// weighted steps, checked by Prometheus queries between steps.
//
// +kubebuilder:object:generate=true
// +groupName=ramp.dev
package v1alpha1
