package imagepolicy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheck(t *testing.T) {
	sha := strings.Repeat("ab", 20)
	digest := "sha256:" + strings.Repeat("0", 64)
	cases := map[string]struct {
		image string
		want  string // substring of the reason; "" means accepted
	}{
		"digest":                      {"registry.example/shop@" + digest, ""},
		"tag and digest":              {"registry.example/shop:latest@" + digest, ""},
		"semver with v":               {"registry.example/shop:v1.2.3", ""},
		"semver without v":            {"shop:1.2.3", ""},
		"semver pre-release":          {"shop:v1.2.3-rc.1", ""},
		"plus is not a tag character": {"shop:v1.2.3+build.7", "does not parse"},
		"commit":                      {"shop:" + sha, ""},
		"branch and commit":           {"shop:main-" + sha, ""},
		"no tag":                      {"registry.example/shop", "no tag or digest"},
		"latest":                      {"shop:latest", "latest"},
		"branch":                      {"shop:main", "looks like a branch"},
		"short version":               {"shop:v1.2", "looks like a branch"},
		"major only":                  {"shop:v1", "looks like a branch"},
		"short commit":                {"shop:main-abc1234", "looks like a branch"},
		"upper-case name":             {"Shop:v1.2.3", "does not parse"},
		"empty":                       {"", "does not parse"},
	}
	for name, tc := range cases {
		got := Check(tc.image)
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%s: %q refused: %s", name, tc.image, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s: %q gave %q, want a reason containing %q", name, tc.image, got, tc.want)
		}
	}
}

func TestProblemsNameTheContainer(t *testing.T) {
	tpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "migrate", Image: "migrate:v2.0.0"}},
		Containers:     []corev1.Container{{Name: "shop", Image: "shop:v1.0.0"}, {Name: "sidecar", Image: "proxy:latest"}},
	}}
	got := Problems(tpl)
	if len(got) != 1 || !strings.HasPrefix(got[0], "spec.template.spec.containers[1] (sidecar): ") {
		t.Fatalf("problems %q, want one naming containers[1] (sidecar)", got)
	}
}
