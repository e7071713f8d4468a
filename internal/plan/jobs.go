package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// A job check runs a Job against the canary once per step it names and
// revision, before that step's weight is set. The plan decides from the
// Jobs it observes and the status alone, so a restart changes nothing:
//   - at such a step, once the step's canary pods are ready, it creates the
//     Job (named by JobName) and holds the step, Progressing, while it runs;
//     the routes keep the weight of the step before (0 % at step 0);
//   - a Complete Job is a Passed check: the step's weight is set;
//   - a Failed Job is a Failed check, counted in failedChecks, and rolls
//     back at once whatever failureLimit and consecutiveFailures say: the
//     Job runs once per step and revision, so no later check could make up
//     for it (retries are the Job's backoffLimit);
//   - a Job running past its timeout (or failed by its activeDeadlineSeconds),
//     or one the API server refused to create, is an Error check: the step
//     holds (Paused, ChecksUndecided) and the rollout rolls back once it has
//     answered Error for progressDeadline, as for queries. It is not run
//     again for that revision and Job template (a new one gets a new name);
//   - the result is kept in status.analysis.metrics, its value the Job's
//     name, so it is recorded once, survives the Job's deletion and counts
//     once;
//   - every other Job (an old step, revision or template, or any once the
//     rollout is over) is deleted with its pods.

// JobPhase is how far an observed Job got.
type JobPhase string

const (
	// JobRunning is a Job with neither a Complete nor a Failed condition.
	JobRunning JobPhase = "Running"
	// JobComplete is a Job whose Complete condition is True.
	JobComplete JobPhase = "Complete"
	// JobFailed is a Job whose Failed condition is True.
	JobFailed JobPhase = "Failed"
)

// JobReasonDeadline is the reason of the Failed condition of a Job that
// outlasted its activeDeadlineSeconds.
const JobReasonDeadline = "DeadlineExceeded"

// Job is what the controller observed of one Job it created for a job check.
type Job struct {
	// Name is the Job's name.
	Name string
	// Metric, Revision and Step are the check, canary revision and step it
	// was created for (from its labels).
	Metric, Revision string
	Step             int32
	// Created is its creation time.
	Created time.Time
	// Phase is Running, Complete or Failed.
	Phase JobPhase
	// Reason and Message are those of its Failed condition.
	Reason, Message string
	// Deleting is true once its deletion began.
	Deleting bool
}

// Jobs is what the controller observed of the job checks' Jobs.
type Jobs struct {
	// Rollout is the Rollout's name, the start of its Jobs' names.
	Rollout string
	// Items are the Jobs the Rollout owns.
	Items []Job
	// Refused maps the name of a Job the API server refused to create to
	// why.
	Refused map[string]string
}

// JobName is the name of the Job of check metric at step of revision:
// <rollout>-<metric>-s<step>-<hash>, at most 63 characters (the rollout and
// metric part is cut to fit). The hash covers all of it and the Job check's
// settings, so a new template gets a new Job, and two Rollouts whose names
// and metrics join alike ("a" with "b-smoke", "a-b" with "smoke") do not
// share one.
func JobName(rollout, metric, revision string, step int32, check *v1.JobCheck) string {
	spec, _ := json.Marshal(check) // a struct of plain fields: cannot fail
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%d\x00%s", rollout, metric, revision, step, spec))
	suffix := fmt.Sprintf("-s%d-%s", step, hex.EncodeToString(sum[:])[:8])
	base := rollout + "-" + metric
	if len(base)+len(suffix) > 63 {
		base = strings.TrimRight(base[:63-len(suffix)], "-.")
	}
	return base + suffix
}

// JobSteps are the steps a job check runs at: its steps, or step 0.
func JobSteps(check *v1.JobCheck) []int32 {
	if len(check.Steps) == 0 {
		return []int32{0}
	}
	return check.Steps
}

// JobTimeout is a job check's timeout: its timeout, or 10 minutes.
func JobTimeout(check *v1.JobCheck) time.Duration {
	if check.Timeout != nil && check.Timeout.Duration > 0 {
		return check.Timeout.Duration
	}
	return 10 * time.Minute
}

// stepJob is the Job a job check wants at the current step.
type stepJob struct {
	metric v1.Metric
	name   string
}

// stepJobs are the Jobs of the job checks that run at the current step of
// the revision in flight.
func (m *machine) stepJobs() []stepJob {
	if !inFlight(&m.st) {
		return nil
	}
	var out []stepJob
	for _, s := range Metrics(m.spec, &m.st) {
		if j := s.Metric.Job; j != nil && slices.Contains(JobSteps(j), m.st.CurrentStep) {
			out = append(out, stepJob{s.Metric, JobName(m.obs.Jobs.Rollout, s.Metric.Name, m.st.CanaryRevision, m.st.CurrentStep, j)})
		}
	}
	return out
}

// observedJob is the Job of that name, or nil.
func (m *machine) observedJob(name string) *Job {
	for i := range m.obs.Jobs.Items {
		if m.obs.Jobs.Items[i].Name == name {
			return &m.obs.Jobs.Items[i]
		}
	}
	return nil
}

// jobRecord is the status of the check of j when it records j's result.
func (m *machine) jobRecord(j stepJob) *v1.MetricStatus {
	if m.st.Analysis == nil {
		return nil
	}
	for i := range m.st.Analysis.Metrics {
		ms := &m.st.Analysis.Metrics[i]
		if ms.Name == j.metric.Name && ms.Value == j.name {
			return ms
		}
	}
	return nil
}

// judgeJobs records the outcome of the current step's Jobs into status and
// returns a rollback reason when one failed, or "".
func (m *machine) judgeJobs() string {
	breach := ""
	for _, j := range m.stepJobs() {
		if m.jobRecord(j) == nil {
			timeout := JobTimeout(j.metric.Job)
			job := m.observedJob(j.name)
			switch {
			case job != nil && job.Deleting:
			case job != nil && job.Phase == JobComplete:
				m.recordJob(j, v1.CheckPassed, fmt.Sprintf("job %s succeeded", j.name))
			case job != nil && job.Phase == JobFailed && job.Reason == JobReasonDeadline:
				m.recordJob(j, v1.CheckError, fmt.Sprintf("job %s ran past its timeout %s", j.name, timeout))
			case job != nil && job.Phase == JobFailed:
				m.recordJob(j, v1.CheckFailed, fmt.Sprintf("job %s failed: %s", j.name, jobWhy(job)))
			case job != nil && !m.obs.Now.Before(job.Created.Add(timeout)):
				m.recordJob(j, v1.CheckError, fmt.Sprintf("job %s ran past its timeout %s", j.name, timeout))
			case job == nil && m.obs.Jobs.Refused[j.name] != "":
				m.recordJob(j, v1.CheckError, fmt.Sprintf("the API server refused job %s: %s", j.name, m.obs.Jobs.Refused[j.name]))
			}
		}
		ms := m.jobRecord(j)
		switch {
		case ms == nil:
		case ms.Phase == v1.CheckFailed && breach == "":
			breach = fmt.Sprintf("%s: %s", j.metric.Name, ms.Message)
		case ms.Phase == v1.CheckError && m.st.Analysis.ErrorSince == nil && ms.CheckedAt != nil:
			// Checks of other metrics that passed since do not end the
			// Error: the Job is not run again.
			since := metav1.NewTime(ms.CheckedAt.Time)
			m.st.Analysis.ErrorSince = &since
		}
	}
	return breach
}

// jobWhy is what a failed Job's condition says.
func jobWhy(j *Job) string {
	switch {
	case j.Reason != "" && j.Message != "":
		return j.Reason + ": " + j.Message
	case j.Message != "":
		return j.Message
	case j.Reason != "":
		return j.Reason
	}
	return "the Job failed"
}

// recordJob writes the result of j's check into status.
func (m *machine) recordJob(j stepJob, phase v1.CheckPhase, msg string) {
	if m.st.Analysis == nil {
		m.st.Analysis = &v1.AnalysisStatus{}
	}
	a := m.st.Analysis
	ms := metricStatus(a, j.metric.Name)
	at := metav1.NewMicroTime(m.obs.Now)
	ms.Phase, ms.Value, ms.Message, ms.StableValue, ms.CheckedAt = phase, j.name, msg, "", &at
	ms.InconclusiveSince = nil
	switch phase {
	case v1.CheckPassed:
		ms.LastPassedAt = &at
		ms.FailuresInARow = 0
		m.event(false, "JobPassed", "%s: %s", j.metric.Name, msg)
	case v1.CheckFailed:
		ms.FailuresInARow++
		a.FailedChecks++
		m.event(true, "CheckFailed", "%s: %s (failed checks %d)", j.metric.Name, msg, a.FailedChecks)
	case v1.CheckError:
		if a.ErrorSince == nil {
			now := m.now()
			a.ErrorSince = &now
		}
		m.event(true, "CheckError", "%s: %s", j.metric.Name, msg)
	}
}

// jobGate holds the current step, before its weight is set, until each of
// its Jobs passed: it creates the Jobs once podsReady, and keeps the
// weight of the step before meanwhile. It reports whether it holds.
func (m *machine) jobGate(canary v1.Color, podsReady bool, pauseReason, paused string) bool {
	var wait, held string
	for _, j := range m.stepJobs() {
		ms := m.jobRecord(j)
		switch {
		case ms != nil && ms.Phase == v1.CheckPassed:
			continue
		case ms != nil:
			if held == "" {
				held = fmt.Sprintf("%s %s: %s", j.metric.Name, ms.Phase, ms.Message)
			}
		case m.observedJob(j.name) != nil:
			job := m.observedJob(j.name)
			timeout := JobTimeout(j.metric.Job)
			m.until(job.Created.Add(timeout))
			if wait == "" {
				// The time it started, not how long it ran: the message
				// stays true until the Job ends, without a write a second.
				wait = fmt.Sprintf("%s: job %s running since %s (timeout %s)", j.metric.Name, j.name, job.Created.UTC().Format("15:04:05"), timeout)
			}
		case !podsReady:
			if wait == "" {
				wait = fmt.Sprintf("waiting for %s pods before job %s", canary, j.name)
			}
		case paused != "":
			// A pause or a closed window starts no Job either.
			if wait == "" {
				wait = fmt.Sprintf("%s: job %s starts once nothing holds the rollout", j.metric.Name, j.name)
			}
		default:
			m.jobs = append(m.jobs, Action{Kind: CreateJob, Job: j.name, Metric: j.metric.Name, Step: m.st.CurrentStep})
			if wait == "" {
				wait = fmt.Sprintf("%s: starting job %s", j.metric.Name, j.name)
			}
		}
	}
	if wait == "" && held == "" {
		return false
	}
	m.setWeight(canary, m.st.CanaryWeight, false)
	switch {
	case held != "":
		m.hold(v1.ReasonChecksUndecided, held)
	case paused != "":
		m.hold(pauseReason, paused)
	}
	if !podsReady {
		if m.st.WaitingForPodsSince == nil {
			now := m.now()
			m.st.WaitingForPodsSince = &now
		}
		m.until(m.st.WaitingForPodsSince.Add(m.spec.Deadline()))
	} else {
		m.st.WaitingForPodsSince = nil
	}
	if m.waiting == "" {
		m.waiting = fmt.Sprintf("%d%% to %s, %s", m.st.CanaryWeight, canary, wait)
	}
	return true
}

// jobActions are the Job creations decided, then the deletion of every Job
// no check needs now: of another step, revision or template, of a rollout
// no longer in flight, or still running past its timeout.
func (m *machine) jobActions() []Action {
	keep := map[string]bool{}
	for _, j := range m.stepJobs() {
		ms := m.jobRecord(j)
		job := m.observedJob(j.name)
		if ms != nil && ms.Phase == v1.CheckError && job != nil && job.Phase == JobRunning {
			continue // timed out: its pods go
		}
		keep[j.name] = true
	}
	out := append([]Action{}, m.jobs...)
	for _, j := range m.obs.Jobs.Items {
		if !j.Deleting && !keep[j.Name] {
			out = append(out, Action{Kind: DeleteJob, Job: j.Name, Metric: j.Metric, Step: j.Step})
		}
	}
	return out
}
