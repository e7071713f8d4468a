package proof

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

func dg(c string) string { return "sha256:" + strings.Repeat(c, 64) }

func rec(name, env, image, digest string, outcome v1.VerificationOutcome, finished time.Time) v1.Verification {
	at := metav1.NewTime(finished)
	return v1.Verification{
		ObjectMeta: metav1.ObjectMeta{Namespace: env, Name: name},
		Spec: v1.VerificationSpec{Rollout: "shop", Environment: env, Outcome: outcome, FinishedAt: &at, Reason: "why",
			Images: []v1.ContainerImages{{Name: "app", Image: image, Digests: []string{digest}}}},
	}
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	hour := &metav1.Duration{Duration: time.Hour}
	staging := []v1.PromotionRequirement{{Environment: "staging", Soak: hour}}
	a, b := dg("a"), dg("b")
	byDigest := "registry.example/shop@" + a
	for name, tc := range map[string]struct {
		reqs    []v1.PromotionRequirement
		image   string
		records []v1.Verification
		missing string // "" when it may start
		recheck bool
		proven  string // the digests the image is proven as
	}{
		"no record": {reqs: staging, image: byDigest, missing: "has no Passed verification in staging"},
		"another environment's record does not count": {reqs: staging, image: byDigest,
			records: []v1.Verification{rec("d1", "dev", byDigest, a, v1.VerificationPassed, now.Add(-2*time.Hour))},
			missing: "has no Passed verification in staging"},
		"passed, soaked": {reqs: staging, image: byDigest, proven: a,
			records: []v1.Verification{rec("s1", "staging", byDigest, a, v1.VerificationPassed, now.Add(-2*time.Hour))}},
		"passed, soaking": {reqs: staging, image: byDigest, recheck: true,
			records: []v1.Verification{rec("s1", "staging", byDigest, a, v1.VerificationPassed, now.Add(-10*time.Minute))},
			missing: "soaks for 1h0m0s, until 2026-12-02T12:50:00Z"},
		"no soak asked": {reqs: []v1.PromotionRequirement{{Environment: "staging"}}, image: byDigest, proven: a,
			records: []v1.Verification{rec("s1", "staging", byDigest, a, v1.VerificationPassed, now)}},
		"a later run failed": {reqs: staging, image: byDigest,
			records: []v1.Verification{
				rec("s2", "staging", byDigest, a, v1.VerificationFailed, now.Add(-time.Hour)),
				rec("s1", "staging", byDigest, a, v1.VerificationPassed, now.Add(-3*time.Hour)),
			},
			missing: "failed in staging (staging/s2: why) and has not passed there since"},
		"passed again after a failure: the soak counts from then": {reqs: staging, image: byDigest, recheck: true,
			records: []v1.Verification{
				rec("s1", "staging", byDigest, a, v1.VerificationPassed, now.Add(-5*time.Hour)),
				rec("s2", "staging", byDigest, a, v1.VerificationFailed, now.Add(-4*time.Hour)),
				rec("s3", "staging", byDigest, a, v1.VerificationPassed, now.Add(-30*time.Minute)),
			},
			missing: "soaks for 1h0m0s"},
		"watching proves nothing": {reqs: staging, image: byDigest,
			records: []v1.Verification{rec("s1", "staging", byDigest, a, v1.VerificationWatching, now.Add(-2*time.Hour))},
			missing: "has no Passed verification in staging"},
		"tag resolved to the digest staging ran": {reqs: staging, image: "shop:v2", proven: a,
			records: []v1.Verification{rec("s1", "staging", "shop:v2", a, v1.VerificationPassed, now.Add(-2*time.Hour))}},
		"tag staging never ran": {reqs: staging, image: "shop:v3",
			records: []v1.Verification{rec("s1", "staging", "shop:v2", a, v1.VerificationPassed, now.Add(-2*time.Hour))},
			missing: "shop:v3: no run in staging was seen running this tag"},
		"tag pushed again": {reqs: staging, image: "shop:v2",
			records: []v1.Verification{
				rec("s1", "staging", "shop:v2", a, v1.VerificationPassed, now.Add(-3*time.Hour)),
				rec("s2", "staging", "shop:v2", b, v1.VerificationPassed, now.Add(-2*time.Hour)),
			},
			missing: "the tag was pushed again: staging ran it as 2 digests"},
		"every required environment": {reqs: append([]v1.PromotionRequirement{{Environment: "dev"}}, staging...), image: byDigest,
			records: []v1.Verification{rec("s1", "staging", byDigest, a, v1.VerificationPassed, now.Add(-2*time.Hour))},
			missing: "has no Passed verification in dev"},
	} {
		t.Run(name, func(t *testing.T) {
			v := Check(tc.reqs, []Image{{Container: "app", Ref: tc.image}}, tc.records, now)
			switch {
			case tc.missing == "" && v.Missing != "":
				t.Errorf("missing %q, want none", v.Missing)
			case tc.missing != "" && !strings.Contains(v.Missing, tc.missing):
				t.Errorf("missing %q, want it to say %q", v.Missing, tc.missing)
			case tc.recheck != !v.RecheckAt.IsZero():
				t.Errorf("recheck at %v, want one: %v", v.RecheckAt, tc.recheck)
			case tc.proven != "" && strings.Join(v.Digests[tc.image], ",") != tc.proven:
				t.Errorf("proven %v, want %s", v.Digests[tc.image], tc.proven)
			}
		})
	}
}

func TestUnproven(t *testing.T) {
	a, b := dg("a"), dg("b")
	v := Verdict{Digests: map[string][]string{"shop:v2": {a}, "shop@" + a: {a}}}
	for name, tc := range map[string]struct {
		seen []v1.ContainerImages
		want string
	}{
		"the proven digest":                             {seen: []v1.ContainerImages{{Name: "app", Image: "shop:v2", Digests: []string{a}}}},
		"another digest":                                {seen: []v1.ContainerImages{{Name: "app", Image: "shop:v2", Digests: []string{a, b}}}, want: "container app runs shop:v2 as " + b},
		"an image the proof skips":                      {seen: []v1.ContainerImages{{Name: "side", Image: "mesh:1", Digests: []string{b}}}},
		"a tag whose runtime reports no digest":         {seen: []v1.ContainerImages{{Name: "app", Image: "shop:v2", Digests: []string{""}}}, want: "reports no digest"},
		"a digest reference whose runtime reports none": {seen: []v1.ContainerImages{{Name: "app", Image: "shop@" + a, Digests: []string{""}}}},
	} {
		t.Run(name, func(t *testing.T) {
			got := v.Unproven(tc.seen)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("Unproven = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOverride(t *testing.T) {
	for name, tc := range map[string]struct {
		value, reason, problem string
	}{
		"its revision":     {value: "abc/INC-1: hotfix", reason: "INC-1: hotfix"},
		"another revision": {value: "def/INC-1", problem: "names revision def, not abc"},
		"no reason":        {value: "abc/ ", problem: "want <revision>/<reason>"},
		"no revision":      {value: "hotfix", problem: "want <revision>/<reason>"},
	} {
		t.Run(name, func(t *testing.T) {
			reason, problem := Override(map[string]string{v1.AnnotationPromotionOverride: tc.value}, "abc")
			if reason != tc.reason || !strings.Contains(problem, tc.problem) || (tc.problem == "") != (problem == "") {
				t.Errorf("Override(%q) = %q, %q; want %q, %q", tc.value, reason, problem, tc.reason, tc.problem)
			}
		})
	}
	if r, p := Override(nil, "abc"); r != "" || p != "" {
		t.Errorf("no annotation: %q, %q", r, p)
	}
}
