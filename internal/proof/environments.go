package proof

import (
	"slices"
	"sort"
	"time"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// Environment is what one environment's records say of one image
// reference: what kubectl ramp verify prints.
type Environment struct {
	// Name is the environment (the records' spec.environment).
	Name string
	// Digests are the digests the reference ran as there, sorted: the one
	// it pins, or every digest its tag was seen running as.
	Digests []DigestRuns
	// Problem says why the reference cannot be proven there whatever the
	// outcomes ("" when it can): a tag seen as more than one digest. It is
	// the message Check gives.
	Problem string
}

// DigestRuns are the runs of one digest in one environment.
type DigestRuns struct {
	Digest string
	// Outcome is that of the latest run of the digest there.
	Outcome v1.VerificationOutcome
	// Records are the runs (namespace/name), oldest first.
	Records []string
	// PassedSince is when it first passed since its last failure (the time
	// a soak counts from), zero when it has not passed since.
	PassedSince time.Time
	// PassedRecord is the record (namespace/name) of that pass.
	PassedRecord string
	// FailedRecord is the record of its last failure, "" when none, and
	// FailedReason the reason it gave.
	FailedRecord, FailedReason string
}

// Environments says, per environment (sorted by name), which digests ref
// ran as in records and how their runs there went. A digest reference is
// found in every record that ran it, whatever image name the record gives;
// a tag in the records whose container ran that exact reference.
// Environments that never ran ref are left out.
func Environments(ref string, records []v1.Verification) []Environment {
	var names []string
	for i := range records {
		if n := records[i].Spec.Environment; !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []Environment
	for _, name := range names {
		env := envRecords(records, name)
		digests := ranAs(ref, env)
		if len(digests) == 0 {
			continue
		}
		e := Environment{Name: name}
		if _, why := resolve(ref, env, name); why != "" {
			e.Problem = why
		}
		for _, d := range digests {
			e.Digests = append(e.Digests, runsOf(d, env, name))
		}
		out = append(out, e)
	}
	return out
}

// ranAs are the digests ref ran as in env: the one it pins if a record ran
// it, else those of the records' containers that ran the tag.
func ranAs(ref string, env []*v1.Verification) []string {
	if d := Digest(ref); d != "" {
		for _, r := range env {
			if runs(r, d) {
				return []string{d}
			}
		}
		return nil
	}
	return tagDigests(ref, env)
}

// endOfTime is a now at which every soak is over.
var endOfTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// runsOf gathers the runs of digest in env (oldest first). When it first
// passed since its last failure is judge's answer with no soak, so that
// verify names the same pass the controller's soak counts from.
func runsOf(digest string, env []*v1.Verification, name string) DigestRuns {
	d := DigestRuns{Digest: digest}
	for _, r := range env {
		if !runs(r, digest) {
			continue
		}
		d.Records = append(d.Records, r.Namespace+"/"+r.Name)
		d.Outcome = r.Spec.Outcome
		if r.Spec.Outcome == v1.VerificationFailed {
			d.FailedRecord, d.FailedReason = r.Namespace+"/"+r.Name, r.Spec.Reason
		}
	}
	j := judge(digest, env, v1.PromotionRequirement{Environment: name}, endOfTime)
	if j.record == "" {
		return d
	}
	for _, r := range env {
		if r.Namespace+"/"+r.Name == j.record {
			d.PassedSince, d.PassedRecord = finished(r), j.record
		}
	}
	return d
}
