package proof

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// Image is one container's image reference of a pod template.
type Image struct {
	Container string
	Ref       string
}

// Images are the images of a pod template, init containers first.
func Images(spec *corev1.PodSpec) []Image {
	var out []Image
	for _, c := range spec.InitContainers {
		out = append(out, Image{Container: c.Name, Ref: c.Image})
	}
	for _, c := range spec.Containers {
		out = append(out, Image{Container: c.Name, Ref: c.Image})
	}
	return out
}

// Digest returns the digest an image reference pins (repo@sha256:...), or
// "" for a tag.
func Digest(ref string) string {
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		return ref[i+1:]
	}
	return ""
}

// Verdict is whether a revision may start, and on what proof.
type Verdict struct {
	// Missing says which proof is missing; "" when every requirement holds.
	Missing string
	// Digests are the digests each image reference was proven as: what its
	// pods must be seen running.
	Digests map[string][]string
	// Upstream are the records (namespace/name) the proof rests on.
	Upstream []string
	// RecheckAt is when a soak that is not over yet ends (zero if none):
	// the verdict may change then without any record changing.
	RecheckAt time.Time
}

// Check decides whether images have the proof reqs ask for in records at now.
func Check(reqs []v1.PromotionRequirement, images []Image, records []v1.Verification, now time.Time) Verdict {
	v := Verdict{Digests: map[string][]string{}}
	var missing []string
	for _, req := range reqs {
		env := envRecords(records, req.Environment)
		for _, img := range images {
			digests, why := resolve(img.Ref, env, req.Environment)
			if why != "" {
				missing = append(missing, why)
				continue
			}
			for _, d := range digests {
				res := judge(d, env, req, now)
				if res.missing != "" {
					if Digest(img.Ref) == "" {
						res.missing = img.Ref + " as " + res.missing // a tag: say which digest it stands for
					}
					missing = append(missing, res.missing)
					if !res.recheck.IsZero() && (v.RecheckAt.IsZero() || res.recheck.Before(v.RecheckAt)) {
						v.RecheckAt = res.recheck
					}
					continue
				}
				v.Upstream = appendNew(v.Upstream, res.record)
			}
			v.Digests[img.Ref] = digests
		}
	}
	missing = slices.Compact(missing)
	if len(missing) > 0 {
		v.Missing = strings.Join(missing, "; ")
		if len(missing) > 3 {
			v.Missing = strings.Join(missing[:3], "; ") + fmt.Sprintf(" (and %d more)", len(missing)-3)
		}
	}
	sort.Strings(v.Upstream)
	return v
}

// Unproven returns which container of seen runs a digest that v does not
// prove for its image reference, or "" when every one is proven. Images
// the verdict does not know (none required) are not judged. A tag whose
// runtime reports no digest fails: nothing says what it pulled.
func (v Verdict) Unproven(seen []v1.ContainerImages) string {
	for _, c := range seen {
		proven, ok := v.Digests[c.Image]
		if !ok {
			continue
		}
		for _, d := range c.Digests {
			if d == "" {
				if Digest(c.Image) != "" {
					continue // pulled by the digest the proof names
				}
				return fmt.Sprintf("container %s runs the tag %s and its container runtime reports no digest for it: what it pulled cannot be proven", c.Name, c.Image)
			}
			if !slices.Contains(proven, d) {
				return fmt.Sprintf("container %s runs %s as %s, a digest no required environment passed (proven: %s)", c.Name, c.Image, d, strings.Join(proven, ", "))
			}
		}
	}
	return ""
}

// envRecords are the records of one environment, oldest run first.
func envRecords(records []v1.Verification, env string) []*v1.Verification {
	var out []*v1.Verification
	for i := range records {
		if records[i].Spec.Environment == env {
			out = append(out, &records[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return finished(out[i]).Before(finished(out[j])) })
	return out
}

// finished is when a record's outcome was decided (its start, or its
// creation, when it does not say).
func finished(r *v1.Verification) time.Time {
	switch {
	case r.Spec.FinishedAt != nil:
		return r.Spec.FinishedAt.Time
	case r.Spec.PromotedAt != nil:
		return r.Spec.PromotedAt.Time
	case r.Spec.StartedAt != nil:
		return r.Spec.StartedAt.Time
	}
	return r.CreationTimestamp.Time
}

// resolve turns an image reference into the digests to prove: the one it
// pins, or those the environment's runs saw its tag run as. A tag seen as
// more than one digest was pushed again, and cannot be proven.
func resolve(ref string, env []*v1.Verification, name string) ([]string, string) {
	if d := Digest(ref); d != "" {
		return []string{d}, ""
	}
	seen := tagDigests(ref, env)
	switch len(seen) {
	case 0:
		return nil, fmt.Sprintf("%s: no run in %s was seen running this tag", ref, name)
	case 1:
		return seen, ""
	}
	return nil, fmt.Sprintf("%s: the tag was pushed again: %s ran it as %d digests (%s); deploy it by digest", ref, name, len(seen), strings.Join(seen, ", "))
}

// tagDigests are the distinct digests the records' containers that ran
// ref were seen running, sorted.
func tagDigests(ref string, env []*v1.Verification) []string {
	var seen []string
	for _, r := range env {
		for _, c := range r.Spec.Images {
			if c.Image != ref {
				continue
			}
			for _, d := range c.Digests {
				if d != "" && !slices.Contains(seen, d) {
					seen = append(seen, d)
				}
			}
		}
	}
	sort.Strings(seen)
	return seen
}

type judgement struct {
	missing string
	record  string
	recheck time.Time
}

// judge decides one digest against one environment's records.
func judge(digest string, env []*v1.Verification, req v1.PromotionRequirement, now time.Time) judgement {
	var soak time.Duration
	if req.Soak != nil {
		soak = req.Soak.Duration
	}
	var passed *v1.Verification // the first Passed run since the last Failed one
	var failed *v1.Verification
	for _, r := range env {
		if !runs(r, digest) {
			continue
		}
		switch r.Spec.Outcome {
		case v1.VerificationFailed:
			failed, passed = r, nil
		case v1.VerificationPassed:
			if passed == nil {
				passed = r
			}
		}
	}
	short := shortDigest(digest)
	switch {
	case passed == nil && failed != nil:
		return judgement{missing: fmt.Sprintf("%s failed in %s (%s/%s: %s) and has not passed there since", short, req.Environment, failed.Namespace, failed.Name, failed.Spec.Reason)}
	case passed == nil:
		return judgement{missing: fmt.Sprintf("%s has no Passed verification in %s", short, req.Environment)}
	}
	at := finished(passed)
	if ready := at.Add(soak); now.Before(ready) {
		return judgement{
			missing: fmt.Sprintf("%s passed in %s at %s (%s/%s) and soaks for %s, until %s", short, req.Environment, at.UTC().Format(time.RFC3339), passed.Namespace, passed.Name, soak, ready.UTC().Format(time.RFC3339)),
			recheck: ready,
		}
	}
	return judgement{record: passed.Namespace + "/" + passed.Name}
}

// runs reports whether a record's pods ran digest.
func runs(r *v1.Verification, digest string) bool {
	for _, c := range r.Spec.Images {
		if slices.Contains(c.Digests, digest) {
			return true
		}
	}
	return false
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// Override reads ramp.dev/promotion-override for revision: the reason, or
// "" when the annotation is missing or names another revision (problem
// says how it is wrong then, "" when absent).
func Override(annotations map[string]string, revision string) (reason, problem string) {
	v, ok := annotations[v1.AnnotationPromotionOverride]
	if !ok {
		return "", ""
	}
	rev, why, found := strings.Cut(v, "/")
	why = strings.TrimSpace(why)
	switch {
	case !found || why == "":
		return "", fmt.Sprintf("%s is %q, want <revision>/<reason>", v1.AnnotationPromotionOverride, v)
	case rev != revision:
		return "", fmt.Sprintf("%s names revision %s, not %s: ignored", v1.AnnotationPromotionOverride, rev, revision)
	}
	return why, ""
}
