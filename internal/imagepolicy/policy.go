// Package imagepolicy decides whether a pod template's image references are
// pinned (immutable): digests, full semantic-version tags and full-commit
// tags pass; a missing tag, latest and branch-like tags are refused.
// References are parsed with the distribution reference grammar.
package imagepolicy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"golang.org/x/mod/semver"
	corev1 "k8s.io/api/core/v1"
)

// commitTag is a tag naming one commit: 40 hex digits, optionally after a
// branch name and a dash (main-<sha>).
var commitTag = regexp.MustCompile(`^([A-Za-z0-9_.-]+-)?[0-9a-f]{40}$`)

// Check returns why image is mutable, or "" when it is pinned.
func Check(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return fmt.Sprintf("image %q does not parse: %v", image, err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return "" // a digest pins the content, whatever the tag says
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return fmt.Sprintf("image %q has no tag or digest (it means latest, which moves)", image)
	}
	tag := tagged.Tag()
	switch {
	case tag == "latest":
		return fmt.Sprintf("image %q uses the tag latest, which moves", image)
	case isFullSemver(tag):
		return ""
	case commitTag.MatchString(tag):
		return ""
	default:
		return fmt.Sprintf("image %q uses tag %q, which looks like a branch and may move: use a digest, a full version (v1.2.3) or a commit tag (main-<40 hex>)", image, tag)
	}
}

// isFullSemver accepts v1.2.3 and 1.2.3 (with pre-release or build
// metadata), not the shorthands v1 or v1.2 that track a line.
func isFullSemver(tag string) bool {
	v := tag
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semver.IsValid(v) {
		return false
	}
	core, _, _ := strings.Cut(v, "+")
	return semver.Canonical(v) == core
}

// Problems lists the refused images of a pod template, each naming its
// container by field path and name.
func Problems(t *corev1.PodTemplateSpec) []string {
	var out []string
	check := func(kind string, cs []corev1.Container) {
		for i, c := range cs {
			if why := Check(c.Image); why != "" {
				out = append(out, fmt.Sprintf("spec.template.spec.%s[%d] (%s): %s", kind, i, c.Name, why))
			}
		}
	}
	check("initContainers", t.Spec.InitContainers)
	check("containers", t.Spec.Containers)
	return out
}
