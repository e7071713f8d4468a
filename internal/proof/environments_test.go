package proof

import (
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

var envT0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func envDigest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// envRecord is a record of one run of image (as digests) in env, finished at
// envT0+at.
func envRecord(env, name, image string, outcome v1.VerificationOutcome, at time.Duration, digests ...string) v1.Verification {
	fin := metav1.NewTime(envT0.Add(at))
	return v1.Verification{
		ObjectMeta: metav1.ObjectMeta{Namespace: env, Name: name},
		Spec: v1.VerificationSpec{
			Rollout: "shop", Environment: env, Revision: name, Outcome: outcome, FinishedAt: &fin,
			Reason: map[v1.VerificationOutcome]string{v1.VerificationFailed: "error-rate 0.05 > 0.01"}[outcome],
			Images: []v1.ContainerImages{{Name: "app", Image: image, Digests: digests}},
		},
	}
}

func TestEnvironments(t *testing.T) {
	const tag = "registry.example/shop:v2"
	a, b := envDigest("a"), envDigest("b")
	pinned := "registry.example/shop@" + a
	for name, tc := range map[string]struct {
		ref     string
		records []v1.Verification
		want    []Environment
	}{
		"no records": {ref: pinned},
		"a digest passed in two environments, sorted by name": {
			ref: pinned,
			records: []v1.Verification{
				envRecord("staging", "s1", tag, v1.VerificationPassed, 2*time.Hour, a),
				envRecord("dev", "d1", tag, v1.VerificationPassed, time.Hour, a),
				envRecord("dev", "d0", tag, v1.VerificationPassed, 0, b), // another digest: not this image
			},
			want: []Environment{
				{Name: "dev", Digests: []DigestRuns{{Digest: a, Outcome: v1.VerificationPassed, Records: []string{"dev/d1"}, PassedSince: envT0.Add(time.Hour), PassedRecord: "dev/d1"}}},
				{Name: "staging", Digests: []DigestRuns{{Digest: a, Outcome: v1.VerificationPassed, Records: []string{"staging/s1"}, PassedSince: envT0.Add(2 * time.Hour), PassedRecord: "staging/s1"}}},
			},
		},
		"a digest is found under any image name": {
			ref:     pinned,
			records: []v1.Verification{envRecord("dev", "d1", "mirror.example/shop:v2", v1.VerificationPassed, 0, a)},
			want:    []Environment{{Name: "dev", Digests: []DigestRuns{{Digest: a, Outcome: v1.VerificationPassed, Records: []string{"dev/d1"}, PassedSince: envT0, PassedRecord: "dev/d1"}}}},
		},
		"passed since the first pass after the last failure, records oldest first": {
			ref: pinned,
			records: []v1.Verification{
				envRecord("staging", "s4", tag, v1.VerificationPassed, 4*time.Hour, a),
				envRecord("staging", "s1", tag, v1.VerificationPassed, time.Hour, a),
				envRecord("staging", "s3", tag, v1.VerificationPassed, 3*time.Hour, a),
				envRecord("staging", "s2", tag, v1.VerificationFailed, 2*time.Hour, a),
			},
			want: []Environment{{Name: "staging", Digests: []DigestRuns{{
				Digest: a, Outcome: v1.VerificationPassed, Records: []string{"staging/s1", "staging/s2", "staging/s3", "staging/s4"},
				PassedSince: envT0.Add(3 * time.Hour), PassedRecord: "staging/s3",
				FailedRecord: "staging/s2", FailedReason: "error-rate 0.05 > 0.01",
			}}}},
		},
		"a later failure: not passed since": {
			ref: pinned,
			records: []v1.Verification{
				envRecord("staging", "s1", tag, v1.VerificationPassed, time.Hour, a),
				envRecord("staging", "s2", tag, v1.VerificationFailed, 2*time.Hour, a),
			},
			want: []Environment{{Name: "staging", Digests: []DigestRuns{{
				Digest: a, Outcome: v1.VerificationFailed, Records: []string{"staging/s1", "staging/s2"},
				FailedRecord: "staging/s2", FailedReason: "error-rate 0.05 > 0.01",
			}}}},
		},
		"watching proves nothing yet": {
			ref:     pinned,
			records: []v1.Verification{envRecord("staging", "s1", tag, v1.VerificationWatching, time.Hour, a)},
			want:    []Environment{{Name: "staging", Digests: []DigestRuns{{Digest: a, Outcome: v1.VerificationWatching, Records: []string{"staging/s1"}}}}},
		},
		"a tag resolved to the one digest it ran as": {
			ref: tag,
			records: []v1.Verification{
				envRecord("staging", "s1", tag, v1.VerificationPassed, time.Hour, a),
				envRecord("staging", "s0", "registry.example/shop:v1", v1.VerificationPassed, 0, b),
			},
			want: []Environment{{Name: "staging", Digests: []DigestRuns{{Digest: a, Outcome: v1.VerificationPassed, Records: []string{"staging/s1"}, PassedSince: envT0.Add(time.Hour), PassedRecord: "staging/s1"}}}},
		},
		"a tag pushed again: both digests and Check's problem": {
			ref: tag,
			records: []v1.Verification{
				envRecord("staging", "s1", tag, v1.VerificationPassed, time.Hour, a),
				envRecord("staging", "s2", tag, v1.VerificationFailed, 2*time.Hour, b),
			},
			want: []Environment{{
				Name: "staging",
				Digests: []DigestRuns{
					{Digest: a, Outcome: v1.VerificationPassed, Records: []string{"staging/s1"}, PassedSince: envT0.Add(time.Hour), PassedRecord: "staging/s1"},
					{Digest: b, Outcome: v1.VerificationFailed, Records: []string{"staging/s2"}, FailedRecord: "staging/s2", FailedReason: "error-rate 0.05 > 0.01"},
				},
				Problem: tag + ": the tag was pushed again: staging ran it as 2 digests (" + a + ", " + b + "); deploy it by digest",
			}},
		},
		"a pod pushed again within one run": {
			ref:     tag,
			records: []v1.Verification{envRecord("dev", "d1", tag, v1.VerificationPassed, time.Hour, b, a, "")},
			want: []Environment{{
				Name: "dev",
				Digests: []DigestRuns{
					{Digest: a, Outcome: v1.VerificationPassed, Records: []string{"dev/d1"}, PassedSince: envT0.Add(time.Hour), PassedRecord: "dev/d1"},
					{Digest: b, Outcome: v1.VerificationPassed, Records: []string{"dev/d1"}, PassedSince: envT0.Add(time.Hour), PassedRecord: "dev/d1"},
				},
				Problem: tag + ": the tag was pushed again: dev ran it as 2 digests (" + a + ", " + b + "); deploy it by digest",
			}},
		},
		"a container never seen ready proves nothing and is not listed": {
			ref:     tag,
			records: []v1.Verification{envRecord("dev", "d1", tag, v1.VerificationPassed, time.Hour)},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := Environments(tc.ref, tc.records)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Environments(%s)\n got %+v\nwant %+v", tc.ref, got, tc.want)
			}
		})
	}
}

// What Environments calls passed since is when Check's soak ends from.
func TestEnvironmentsAgreeWithCheck(t *testing.T) {
	a := envDigest("a")
	ref := "registry.example/shop@" + a
	records := []v1.Verification{
		envRecord("staging", "s1", ref, v1.VerificationPassed, time.Hour, a),
		envRecord("staging", "s2", ref, v1.VerificationFailed, 2*time.Hour, a),
		envRecord("staging", "s3", ref, v1.VerificationPassed, 3*time.Hour, a),
	}
	since := Environments(ref, records)[0].Digests[0].PassedSince
	req := []v1.PromotionRequirement{{Environment: "staging", Soak: &metav1.Duration{Duration: time.Hour}}}
	images := []Image{{Container: "app", Ref: ref}}
	if v := Check(req, images, records, since.Add(time.Hour-time.Second)); v.RecheckAt != since.Add(time.Hour) {
		t.Errorf("a second before the soak ends: recheck at %s, want %s (%s)", v.RecheckAt, since.Add(time.Hour), v.Missing)
	}
	if v := Check(req, images, records, since.Add(time.Hour)); v.Missing != "" || !reflect.DeepEqual(v.Upstream, []string{"staging/s3"}) {
		t.Errorf("once soaked: missing %q, upstream %v, want none and [staging/s3]", v.Missing, v.Upstream)
	}
}
