package imagepolicy

import (
	"fmt"

	"github.com/Masterminds/semver/v3"
	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
)

// Release is the release policy of a Rollout's images beyond immutability:
// a digest required, and a semantic-version range for the tag.
type Release struct {
	// RequireDigest refuses images without a digest.
	RequireDigest bool
	// SemVer is a Masterminds/semver constraint on the tag; "" for none.
	SemVer string
}

// ParseConstraint parses a semver constraint, saying what is wrong with
// one that does not parse.
func ParseConstraint(c string) (*semver.Constraints, error) {
	cs, err := semver.NewConstraint(c)
	if err != nil {
		return nil, fmt.Errorf("semver constraint %q: %w", c, err)
	}
	return cs, nil
}

// CheckRelease returns why image breaks the policy, or "". constraint is
// the parsed p.SemVer (nil when it is "").
func CheckRelease(image string, p Release, constraint *semver.Constraints) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return fmt.Sprintf("image %q does not parse: %v", image, err)
	}
	if _, ok := named.(reference.Canonical); p.RequireDigest && !ok {
		return fmt.Sprintf("image %q has no digest: imagePolicy.requireDigest takes name@sha256:... only", image)
	}
	if constraint == nil {
		return ""
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return fmt.Sprintf("image %q has no tag to meet imagePolicy.semver %q", image, p.SemVer)
	}
	v, err := semver.StrictNewVersion(trimV(tagged.Tag()))
	if err != nil {
		return fmt.Sprintf("image %q: tag %q is not a semantic version (imagePolicy.semver %q)", image, tagged.Tag(), p.SemVer)
	}
	if ok, errs := constraint.Validate(v); !ok {
		why := "out of range"
		if len(errs) > 0 {
			why = errs[0].Error()
		}
		return fmt.Sprintf("image %q: version %s does not meet imagePolicy.semver %q: %s", image, v, p.SemVer, why)
	}
	return ""
}

func trimV(tag string) string {
	if len(tag) > 1 && (tag[0] == 'v' || tag[0] == 'V') {
		return tag[1:]
	}
	return tag
}

// ReleaseProblems lists the images of a pod template that break p, each
// naming its container by field path and name. A constraint that does not
// parse checks nothing here: the caller reports it with ParseConstraint.
func ReleaseProblems(t *corev1.PodTemplateSpec, p Release) []string {
	var constraint *semver.Constraints
	if p.SemVer != "" {
		c, err := ParseConstraint(p.SemVer)
		if err != nil {
			return nil // reported on its own, whatever the images (see ParseConstraint)
		}
		constraint = c
	}
	if !p.RequireDigest && constraint == nil {
		return nil
	}
	var out []string
	check := func(kind string, cs []corev1.Container) {
		for i, c := range cs {
			if why := CheckRelease(c.Image, p, constraint); why != "" {
				out = append(out, fmt.Sprintf("spec.template.spec.%s[%d] (%s): %s", kind, i, c.Name, why))
			}
		}
	}
	check("initContainers", t.Spec.InitContainers)
	check("containers", t.Spec.Containers)
	return out
}
