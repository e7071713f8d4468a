package controllers

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ramp-dev/ramp/analysis"
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/imagepolicy"
	"github.com/ramp-dev/ramp/internal/windows"
)

// specProblems finds what the API server's schema could not refuse: a
// selector whose expressions do not match the template, and query templates
// that do not parse or name unknown fields. Each message names its field.
func specProblems(ro *v1.Rollout, revision string) []string {
	var out []string
	sel, err := metav1.LabelSelectorAsSelector(ro.Spec.Selector)
	switch {
	case err != nil:
		out = append(out, fmt.Sprintf("spec.selector: %v", err))
	case sel.Empty():
		out = append(out, "spec.selector: must select at least one label")
	case !sel.Matches(labels.Set(ro.Spec.Template.Labels)):
		out = append(out, "spec.selector: does not match spec.template.metadata.labels")
	}
	if ro.Spec.Analysis != nil {
		for _, err := range analysis.ValidateMetrics(ro.Spec.Analysis.Metrics) {
			out = append(out, err.Error())
		}
	}
	out = append(out, windows.Validate(ro.Spec.DeployWindows)...)
	// A refused image never starts a rollout; a stable revision that runs
	// already is not refused after the fact.
	if p := ro.Spec.ImagePolicy; p != nil {
		if p.SemVer != "" {
			if _, err := imagepolicy.ParseConstraint(p.SemVer); err != nil {
				out = append(out, "spec.imagePolicy.semver: "+err.Error())
			}
		}
		if revision != ro.Status.StableRevision {
			if p.Immutable {
				out = append(out, imagepolicy.Problems(&ro.Spec.Template)...)
			}
			out = append(out, imagepolicy.ReleaseProblems(&ro.Spec.Template, imagepolicy.Release{RequireDigest: p.RequireDigest, SemVer: p.SemVer})...)
		}
	}
	for i, st := range ro.Spec.Steps {
		// The schema checks a percentage's form; a number's range is
		// checked here (a CEL rule per step exceeds the API server's
		// cost budget for the CRD).
		if r := st.Replicas; r != nil && r.Type == intstr.Int && (r.IntVal < 1 || r.IntVal > 10000) {
			out = append(out, fmt.Sprintf("spec.steps[%d].replicas: %d must be from 1 to 10000", i, r.IntVal))
		}
	}
	for _, k := range []string{v1.LabelRollout, v1.LabelColor} {
		if _, ok := ro.Spec.Template.Labels[k]; ok {
			out = append(out, fmt.Sprintf("spec.template.metadata.labels: %s is set by Ramp and must not be given", k))
		}
	}
	return out
}
