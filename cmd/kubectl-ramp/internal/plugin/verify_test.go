package plugin_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// verify says, from the records of every namespace, which environments
// ran an image and how, and whether a production Rollout requiring
// staging (soak 1h) would start it now: exit 0 for a digest passed long
// enough ago, 1 with the missing proof for one still soaking (naming the
// end of the soak), one whose later run failed, a tag pushed again, and
// 0 for a tag the staging runs saw as one digest.
func TestVerify(t *testing.T) {
	t.Parallel()
	// Environment names unique to the test: other tests' records share the
	// API server.
	suffix := rand.String(5)
	stagingEnv, devEnv := "staging-"+suffix, "dev-"+suffix
	staging := newBareFixture(t, "staging", stagingEnv)
	dev := newBareFixture(t, "dev", devEnv)
	prod := newBareFixture(t, "prod", "prod-"+suffix)

	const repo = "registry.example/shop"
	now := time.Now().UTC().Truncate(time.Second)
	run := func(f *fixture, env, name, image string, outcome v1.VerificationOutcome, finished time.Time, digests ...string) {
		spec := v1.VerificationSpec{
			Rollout: "shop", Environment: env, Revision: name, Outcome: outcome,
			Images:    []v1.ContainerImages{{Name: "app", Image: image, Digests: digests}},
			StartedAt: histAt(finished.Add(-10 * time.Minute)), FinishedAt: histAt(finished),
		}
		if outcome == v1.VerificationFailed {
			spec.Reason = "error-rate 0.05 > 0.01 at step 1"
		}
		f.putRecord("shop-"+name, spec)
	}
	a, b, c, d, e, g := histDigest("a"), histDigest("b"), histDigest("c"), histDigest("d"), histDigest("e"), histDigest("f")
	run(dev, devEnv, "d1", repo+":v1", v1.VerificationPassed, now.Add(-5*time.Hour), a)
	run(staging, stagingEnv, "s1", repo+":v1", v1.VerificationPassed, now.Add(-2*time.Hour), a)    // soaked
	run(staging, stagingEnv, "s2", repo+":v2", v1.VerificationPassed, now.Add(-10*time.Minute), b) // soaking
	run(staging, stagingEnv, "s3", repo+":v3", v1.VerificationPassed, now.Add(-3*time.Hour), c)
	run(staging, stagingEnv, "s4", repo+":v3", v1.VerificationFailed, now.Add(-1*time.Hour), c) // failed later
	run(staging, stagingEnv, "s5", repo+":v4", v1.VerificationPassed, now.Add(-4*time.Hour), d)
	run(staging, stagingEnv, "s6", repo+":v4", v1.VerificationPassed, now.Add(-3*time.Hour), e) // v4 pushed again
	run(staging, stagingEnv, "s7", repo+":v5", v1.VerificationPassed, now.Add(-2*time.Hour), g) // one digest

	ro := testenv.Rollout(prod.ns, "shop", repo+"@"+a, prom.URL)
	ro.Spec.Promotion = &v1.Promotion{Requires: []v1.PromotionRequirement{{Environment: stagingEnv, Soak: hold(time.Hour)}}}
	if err := prod.c.Create(prod.ctx, ro); err != nil {
		t.Fatal(err)
	}
	q := regexp.QuoteMeta

	// The template's image (repo@a): passed in dev and in staging 2h ago.
	r := prod.run("verify", "shop")
	prod.expect(r, 0)
	contains(t, r.out,
		`Rollout:\s+`+prod.ns+`/shop\n`,
		`Environment:\s+prod-`+suffix+`\n`,
		`Requires:\s+`+stagingEnv+` passed at least 1h0m0s ago\n`,
		`Records:\s+\d+ Verifications in all namespaces\n`,
		`Image:\s+app  `+q(repo+"@"+a)+`\n`,
		`(?m)^  ENVIRONMENT\s+DIGEST\s+LATEST\s+PASSED SINCE\s+RECORDS$`,
		`(?m)^  `+devEnv+`\s+sha256:aaaaaaaaaaaa\s+Passed\s+`+histStamp(now.Add(-5*time.Hour))+` \(5h ago\)\s+`+dev.ns+`/shop-d1$`,
		`(?m)^  `+stagingEnv+` \(required\)\s+sha256:aaaaaaaaaaaa\s+Passed\s+`+histStamp(now.Add(-2*time.Hour))+` \(120m ago\)\s+`+staging.ns+`/shop-s1$`,
		`Would start:\s+yes, on `+staging.ns+`/shop-s1\n`)

	// Still soaking: exit 1, naming when the soak ends.
	r = prod.run("verify", "shop", "--image", repo+"@"+b)
	prod.expect(r, 1)
	until := histStamp(now.Add(50 * time.Minute))
	contains(t, r.out,
		`Image:\s+`+q(repo+"@"+b)+`\n`,
		`(?m)^  `+stagingEnv+` \(required\)\s+sha256:bbbbbbbbbbbb\s+Passed\s+`+histStamp(now.Add(-10*time.Minute))+` \(10m ago\)\s+`+staging.ns+`/shop-s2$`,
		`Would start:\s+no: `+q("sha256:bbbbbbbbbbbb passed in "+stagingEnv+" at "+histStamp(now.Add(-10*time.Minute))+
			" ("+staging.ns+"/shop-s2) and soaks for 1h0m0s, until "+until)+`\n`,
		`Recheck:\s+`+until+` \(in (49|50)m\), when a soak ends\n`)
	contains(t, r.err, `error: rollout shop would not start it now: `+q("sha256:bbbbbbbbbbbb passed in "+stagingEnv))

	// Passed, then failed: the latest run counts.
	r = prod.run("verify", "shop", "--image", repo+"@"+c)
	prod.expect(r, 1)
	contains(t, r.out,
		`(?m)^  `+stagingEnv+` \(required\)\s+sha256:cccccccccccc\s+Failed: error-rate 0.05 > 0.01 at step 1\s+-\s+`+staging.ns+`/shop-s3,`+staging.ns+`/shop-s4$`,
		`Would start:\s+no: `+q("sha256:cccccccccccc failed in "+stagingEnv+" ("+staging.ns+"/shop-s4: error-rate 0.05 > 0.01 at step 1) and has not passed there since")+`\n`)
	if strings.Contains(r.out, "Recheck:") {
		t.Errorf("a failed digest has no soak to wait for:\n%s", r.out)
	}

	// A tag staging saw as two digests: both listed, refused.
	r = prod.run("verify", "shop", "--image", repo+":v4")
	prod.expect(r, 1)
	pushed := q(repo + ":v4: the tag was pushed again: " + stagingEnv + " ran it as 2 digests (" + d + ", " + e + "); deploy it by digest")
	contains(t, r.out,
		`(?m)^  `+stagingEnv+` \(required\)\s+sha256:dddddddddddd\s+Passed\s+`+histStamp(now.Add(-4*time.Hour))+` \(4h ago\)\s+`+staging.ns+`/shop-s5$`,
		`(?m)^  `+stagingEnv+` \(required\)\s+sha256:eeeeeeeeeeee\s+Passed\s+`+histStamp(now.Add(-3*time.Hour))+` \(3h ago\)\s+`+staging.ns+`/shop-s6$`,
		`\n  `+pushed+`\n`,
		`Would start:\s+no: `+pushed+`\n`)

	// A tag staging saw as one digest, passed 2h ago: resolved and proven;
	// with a second image that no environment ran, refused.
	r = prod.run("verify", "shop", "--image", repo+":v5")
	prod.expect(r, 0)
	contains(t, r.out,
		`(?m)^  `+stagingEnv+` \(required\)\s+sha256:ffffffffffff\s+Passed\s+`+histStamp(now.Add(-2*time.Hour))+` \(120m ago\)\s+`+staging.ns+`/shop-s7$`,
		`Would start:\s+yes, on `+staging.ns+`/shop-s7\n`)
	r = prod.run("verify", "shop", "--image", repo+":v5", "--image", "registry.example/sidecar:v1")
	prod.expect(r, 1)
	contains(t, r.out,
		`Image:\s+registry.example/sidecar:v1\n(?m)^  ENVIRONMENT.*\n^  `+stagingEnv+` \(required\)\s+-\s+-\s+-\s+never ran it$`,
		`Would start:\s+no: registry.example/sidecar:v1: no run in `+stagingEnv+` was seen running this tag\n`)

	// The override annotation is reported, and for the template's own
	// revision it starts it without the proof.
	r = prod.run("verify", "shop", "--image", repo+"@"+b)
	prod.expect(r, 1)
	if strings.Contains(r.out, "Override:") {
		t.Errorf("no annotation, yet an override is reported:\n%s", r.out)
	}
	prod.annotateRollout("shop", v1.AnnotationPromotionOverride, "0000000/wrong revision")
	r = prod.run("verify", "shop")
	prod.expect(r, 0) // the template's image is proven anyway
	contains(t, r.out, `Override:\s+ramp.dev/promotion-override names revision 0000000, not \w+: ignored\n`)

	// The template moves to the digest still soaking; an override naming
	// its revision starts it (exit 0) and says what proof is missing, but
	// not for images other than the template's.
	prod.setImage("shop", repo+"@"+b)
	rev := v1.TemplateRevision(&prod.get("shop").Spec.Template)
	prod.annotateRollout("shop", v1.AnnotationPromotionOverride, rev+"/INC-7 staging is down")
	r = prod.run("verify", "shop")
	prod.expect(r, 0)
	contains(t, r.out,
		`Override:\s+ramp.dev/promotion-override starts revision `+rev+` without proof: INC-7 staging is down\n`,
		`Would start:\s+yes, by ramp.dev/promotion-override \(INC-7 staging is down\), though proof is missing: `+q("sha256:bbbbbbbbbbbb passed in "+stagingEnv)+`.* until `+until+`\n`)
	r = prod.run("verify", "shop", "--image", repo+"@"+c)
	prod.expect(r, 1)
	contains(t, r.out, `Override:\s+ramp.dev/promotion-override names revision `+rev+` \(spec.template\), whose images are not those verified here: it does not count for them\n`,
		`Would start:\s+no: `)

	// A record that claims staging from a namespace of another environment
	// does not count, as for the controller, and verify says so.
	n := histDigest("9")
	run(prod, stagingEnv, "x1", repo+"@"+n, v1.VerificationPassed, now.Add(-3*time.Hour), n)
	r = prod.run("verify", "shop", "--image", repo+"@"+n)
	prod.expect(r, 1)
	ignored := q("records claiming a required environment in namespace(s) " + prod.ns + " were ignored: not that environment's namespace (label it ramp.dev/environment, or list it in promotion.requires[].namespaces)")
	contains(t, r.out,
		`(?m)^  `+stagingEnv+` \(required\)\s+sha256:999999999999\s+Passed\s+.*`+prod.ns+`/shop-x1 \(ignored\)$`,
		`Ignored:\s+`+ignored+`\n`,
		`Would start:\s+no: sha256:999999999999 has no Passed verification in `+stagingEnv+` \(`+ignored+`\)\n`)
}

// Someone who may list Verifications only in the Rollout's namespace gets
// the verdict on those records, and is told so.
func TestVerifyNamespaceOnly(t *testing.T) {
	t.Parallel()
	suffix := rand.String(5)
	stagingEnv := "staging-" + suffix
	staging := newBareFixture(t, "staging", stagingEnv)
	prod := newBareFixture(t, "prod", "prod-"+suffix)
	a := histDigest("7")
	const repo = "registry.example/shop"
	staging.putRecord("shop-s1", v1.VerificationSpec{
		Rollout: "shop", Environment: stagingEnv, Revision: "s1", Outcome: v1.VerificationPassed,
		Images:     []v1.ContainerImages{{Name: "app", Image: repo + "@" + a, Digests: []string{a}}},
		FinishedAt: histAt(time.Now().Add(-2 * time.Hour)),
	})
	ro := testenv.Rollout(prod.ns, "shop", repo+"@"+a, prom.URL)
	ro.Spec.Promotion = &v1.Promotion{Requires: []v1.PromotionRequirement{{Environment: stagingEnv}}}
	if err := prod.c.Create(prod.ctx, ro); err != nil {
		t.Fatal(err)
	}
	prod.grant("dora", "verify-reader",
		rbacv1.PolicyRule{APIGroups: []string{v1.GroupVersion.Group}, Resources: []string{"rollouts", "verifications"}, Verbs: []string{"get", "list"}})

	r := prod.run("verify", "shop")
	prod.expect(r, 0)
	contains(t, r.out, `Records:\s+\d+ Verifications? in all namespaces\n`, `Would start:\s+yes, on `+staging.ns+`/shop-s1\n`)

	r = prod.run("verify", "shop", "--as", "dora")
	prod.expect(r, 1)
	contains(t, r.out,
		`Environment:\s+`+prod.ns+` \(namespace unreadable: its ramp.dev/environment label may say otherwise\)\n`,
		`Records:\s+0 Verifications in namespace `+prod.ns+` only \(you may not list verifications in all namespaces: records elsewhere are not seen\)\n`,
		`(?m)^  `+stagingEnv+` \(required\)\s+-\s+-\s+-\s+never ran it$`,
		`Would start:\s+no: sha256:777777777777 has no Passed verification in `+stagingEnv+`\n`)
}

// grant gives user the rules in the fixture's namespace through a Role
// named role.
func (f *fixture) grant(user, role string, rules ...rbacv1.PolicyRule) {
	f.t.Helper()
	r := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: role, Namespace: f.ns}, Rules: rules}
	b := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role, Namespace: f.ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if err := f.c.Create(f.ctx, r); err != nil {
		f.t.Fatal(err)
	}
	if err := f.c.Create(f.ctx, b); err != nil {
		f.t.Fatal(err)
	}
}

// annotateRollout sets one annotation of a Rollout.
func (f *fixture) annotateRollout(name, key, value string) {
	f.t.Helper()
	ro := f.get(name)
	if ro.Annotations == nil {
		ro.Annotations = map[string]string{}
	}
	ro.Annotations[key] = value
	if err := f.c.Update(f.ctx, ro); err != nil {
		f.t.Fatal(err)
	}
}
