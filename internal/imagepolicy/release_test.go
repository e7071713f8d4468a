package imagepolicy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheckRelease(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("0", 64)
	for name, tc := range map[string]struct {
		image string
		p     Release
		want  string // substring of the reason; "" means accepted
	}{
		"in range":                      {"shop:v1.4.2", Release{SemVer: ">=1.2.0 <2.0.0"}, ""},
		"in range without v":            {"shop:1.2.0", Release{SemVer: ">=1.2.0 <2.0.0"}, ""},
		"above the range":               {"shop:v2.0.0", Release{SemVer: ">=1.2.0 <2.0.0"}, "version 2.0.0 does not meet imagePolicy.semver"},
		"below the range":               {"shop:v1.1.9", Release{SemVer: ">=1.2.0 <2.0.0"}, "does not meet"},
		"tilde":                         {"shop:v1.4.9", Release{SemVer: "~1.4"}, ""},
		"tilde, next minor":             {"shop:v1.5.0", Release{SemVer: "~1.4"}, "does not meet"},
		"pre-release refused":           {"shop:v1.5.0-rc.1", Release{SemVer: ">=1.2.0 <2.0.0"}, "does not meet"},
		"pre-release named":             {"shop:v1.5.0-rc.1", Release{SemVer: ">=1.5.0-0 <2.0.0"}, ""},
		"short tag is no version":       {"shop:v1.4", Release{SemVer: ">=1.2.0"}, "is not a semantic version"},
		"branch tag":                    {"shop:main", Release{SemVer: ">=1.2.0"}, "is not a semantic version"},
		"no tag":                        {"shop" + digest, Release{SemVer: ">=1.2.0"}, "has no tag"},
		"tag and digest in range":       {"shop:v1.3.0" + digest, Release{SemVer: ">=1.2.0", RequireDigest: true}, ""},
		"digest required, tag only":     {"shop:v1.3.0", Release{RequireDigest: true}, "has no digest"},
		"digest required, digest given": {"registry.example/shop" + digest, Release{RequireDigest: true}, ""},
		"nothing asked":                 {"shop:latest", Release{}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			var got string
			if ps := ReleaseProblems(&corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: tc.image}}}}, tc.p); len(ps) > 0 {
				got = ps[0]
			}
			switch {
			case tc.want == "" && got != "":
				t.Errorf("%q refused: %s", tc.image, got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("%q: got %q, want a reason containing %q", tc.image, got, tc.want)
			case tc.want != "" && !strings.HasPrefix(got, "spec.template.spec.containers[0] (app): "):
				t.Errorf("reason %q does not name the container", got)
			}
		})
	}
	if _, err := ParseConstraint(">= one"); err == nil || !strings.Contains(err.Error(), `semver constraint ">= one"`) {
		t.Errorf("a bad constraint: %v, want an error naming it", err)
	}
}
