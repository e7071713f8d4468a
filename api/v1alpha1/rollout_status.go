package v1alpha1

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Color is one of the two Deployments of a Rollout.
// +kubebuilder:validation:Enum=blue;green
type Color string

const (
	// Blue is the color the first version is deployed to.
	Blue Color = "blue"
	// Green is the other color.
	Green Color = "green"
)

// Other returns the opposite color.
func (c Color) Other() Color {
	if c == Green {
		return Blue
	}
	return Green
}

// Phase is where a Rollout stands.
// +kubebuilder:validation:Enum=Healthy;Progressing;Paused;RolledBack;Failed
type Phase string

const (
	// PhaseHealthy: the stable color serves all traffic; nothing is in flight.
	PhaseHealthy Phase = "Healthy"
	// PhaseProgressing: a new version is moving through its steps.
	PhaseProgressing Phase = "Progressing"
	// PhasePaused: a rollout in flight is held by an annotation, a manual gate
	// or checks that could not decide.
	PhasePaused Phase = "Paused"
	// PhaseRolledBack: the last new version was rolled back; the stable color
	// serves all traffic until the template changes or ramp.dev/retry is set.
	PhaseRolledBack Phase = "RolledBack"
	// PhaseFailed: the Rollout cannot be acted on as written (see conditions).
	PhaseFailed Phase = "Failed"
)

// CheckPhase is the result of one check of one metric.
// +kubebuilder:validation:Enum=Passed;Failed;Inconclusive;Error
type CheckPhase string

const (
	// CheckPassed: the value is within its bounds.
	CheckPassed CheckPhase = "Passed"
	// CheckFailed: the value is past min or max (or no data under noData: fail).
	CheckFailed CheckPhase = "Failed"
	// CheckInconclusive: no data or NaN under noData: hold.
	CheckInconclusive CheckPhase = "Inconclusive"
	// CheckError: Prometheus could not be asked or answered something that is
	// not one number.
	CheckError CheckPhase = "Error"
)

// Condition types of a Rollout.
const (
	// ConditionReady is True when the stable color serves all traffic with
	// ready pods and nothing is in flight.
	ConditionReady = "Ready"
	// ConditionProgressing is True while a new version moves through its steps.
	ConditionProgressing = "Progressing"
	// ConditionPaused is True while a rollout in flight is held.
	ConditionPaused = "Paused"
	// ConditionValid is False when the spec or the routes it names cannot be
	// acted on; its message names the field.
	ConditionValid = "Valid"
	// ConditionReconciling is True while a revision is in flight (kstatus).
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when nothing progresses without a person or a
	// new revision: rolled back, failed, invalid (kstatus).
	ConditionStalled = "Stalled"
)

// RolloutStatus is what the controller last observed and decided. Every
// decision is read back from here after a restart.
type RolloutStatus struct {
	// observedGeneration is the generation this status was decided from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// replicas is the number of pods of both colors, as their Deployments
	// report: what the scale subresource reports to an autoscaler, whose
	// metrics cover the pods status.selector selects.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// selector selects the pods of both colors (spec.selector and the
	// ramp.dev/rollout label), as a label-selector string for the scale
	// subresource.
	// +optional
	Selector string `json:"selector,omitempty"`

	// phase is where the Rollout stands.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// message says in one line what is happening.
	// +optional
	Message string `json:"message,omitempty"`

	// stableColor is the color that serves when nothing is in flight.
	// +optional
	StableColor Color `json:"stableColor,omitempty"`

	// stableRevision is the pod-template hash of the stable color.
	// +optional
	StableRevision string `json:"stableRevision,omitempty"`

	// canaryRevision is the pod-template hash of the version in flight, or of
	// the version last rolled back.
	// +optional
	CanaryRevision string `json:"canaryRevision,omitempty"`

	// currentStep is the index of the step in flight in the effective steps.
	// +optional
	CurrentStep int32 `json:"currentStep"`

	// stepProgress is currentStep and the number of steps, as "2/5".
	// +optional
	StepProgress string `json:"stepProgress,omitempty"`

	// canaryWeight is the percent of traffic on the canary color that is in
	// effect: the weight of the last step that every steered route was
	// observed carrying (both weights of every rule) with no parent
	// rejecting it. A weight that was only written is not in effect.
	// +optional
	CanaryWeight int32 `json:"canaryWeight"`

	// stepStartedAt is when the current step's weight was first observed in
	// effect, to the microsecond: a step's checks and hold are timed from it.
	// It is unset while the step's weight is not (or no longer) in effect; a
	// repaired drift starts the step's clock again.
	// +optional
	StepStartedAt *metav1.MicroTime `json:"stepStartedAt,omitempty"`

	// rollbackReason is set when a rollback (or a switch back after a
	// promotion) is decided and the routes do not carry 0 % canary yet. The
	// phase becomes RolledBack once they do.
	// +optional
	RollbackReason string `json:"rollbackReason,omitempty"`

	// heldSince is when a spec or route problem began holding the rollout in
	// flight; held past progressDeadline, it rolls back.
	// +optional
	HeldSince *metav1.Time `json:"heldSince,omitempty"`

	// waitingForPodsSince is when the rollout began waiting for canary pods
	// that are not ready yet.
	// +optional
	WaitingForPodsSince *metav1.Time `json:"waitingForPodsSince,omitempty"`

	// gatePassed is true once ramp.dev/promote passed the current step's gate.
	// +optional
	GatePassed bool `json:"gatePassed,omitempty"`

	// promoteFull is true once ramp.dev/promote-full asked to skip the
	// remaining steps of the rollout in flight.
	// +optional
	PromoteFull bool `json:"promoteFull,omitempty"`

	// scaleDownAt is when the color that is not stable is scaled to zero.
	// +optional
	ScaleDownAt *metav1.Time `json:"scaleDownAt,omitempty"`

	// abortReason is the reason given with the last ramp.dev/abort.
	// +optional
	AbortReason string `json:"abortReason,omitempty"`

	// analysis holds the last check of each metric.
	// +optional
	Analysis *AnalysisStatus `json:"analysis,omitempty"`

	// approvals are the distinct approvers of the current step's gate.
	// +optional
	// +listType=map
	// +listMapKey=user
	Approvals []Approval `json:"approvals,omitempty"`

	// postPromotionUntil is when the watch after the last promotion ends.
	// +optional
	PostPromotionUntil *metav1.Time `json:"postPromotionUntil,omitempty"`

	// previousRevision is the revision the old color runs during the watch
	// after a promotion (what a switch back returns to).
	// +optional
	PreviousRevision string `json:"previousRevision,omitempty"`

	// controls records the value of each one-shot annotation already acted
	// on, so that each value acts exactly once, also across restarts.
	// +optional
	Controls *ControlsStatus `json:"controls,omitempty"`

	// notifications are the last moments notified (at most 8), newest
	// last; a Pending one is sent again after a controller restart.
	// +optional
	// +listType=map
	// +listMapKey=key
	// +kubebuilder:validation:MaxItems=8
	Notifications []NotificationRecord `json:"notifications,omitempty"`

	// images are, per color with ready pods of its current revision, the
	// image digests those pods actually run, read from their container
	// statuses (imageID): what really ran, not only the template hash. A
	// color scaled to 0, or moved to another revision, loses its entry
	// until its pods are ready again.
	// +optional
	// +listType=map
	// +listMapKey=color
	// +kubebuilder:validation:MaxItems=2
	Images []ColorImages `json:"images,omitempty"`

	// canaryStartedAt is when the run of canaryRevision started.
	// +optional
	CanaryStartedAt *metav1.Time `json:"canaryStartedAt,omitempty"`

	// verification is the record of the current or last finished run (the
	// Verification of that name holds it once written): a new revision
	// starts only once the last run's record is written.
	// +optional
	Verification *VerificationRecord `json:"verification,omitempty"`

	// conditions are Ready, Progressing, Paused and Valid.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ColorImages are the image digests the ready pods of one color run.
type ColorImages struct {
	// color is blue or green.
	Color Color `json:"color"`

	// revision is the pod-template hash the pods were observed running.
	// +kubebuilder:validation:MaxLength=64
	Revision string `json:"revision"`

	// pods is how many ready pods of that revision were read.
	// +optional
	Pods int32 `json:"pods,omitempty"`

	// containers are the pods' containers (init containers too), in the
	// template's order.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Containers []ContainerImages `json:"containers,omitempty"`
}

// MaxImageDigests bounds the distinct digests recorded for one container.
const MaxImageDigests = 8

// ContainerImages are the digests one container runs across a color's pods.
type ContainerImages struct {
	// name is the container's name.
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// image is the image reference of the template (often a tag).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Image string `json:"image,omitempty"`

	// digests are the distinct digests (sha256:...) its ready pods run,
	// sorted: more than one when a tag was pushed again between pod starts.
	// An empty string stands for an imageID that names no digest.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=128
	Digests []string `json:"digests,omitempty"`
}

// AnalysisStatus holds the checks of the rollout in flight.
type AnalysisStatus struct {
	// metrics is the last check of each metric.
	// +optional
	// +listType=map
	// +listMapKey=name
	Metrics []MetricStatus `json:"metrics,omitempty"`

	// failedChecks counts failed checks over the whole rollout.
	// +optional
	FailedChecks int32 `json:"failedChecks"`

	// lastCheckAt is when the metrics were last checked (microseconds).
	// +optional
	LastCheckAt *metav1.MicroTime `json:"lastCheckAt,omitempty"`

	// errorSince is when checks began answering Error without a pass since.
	// +optional
	ErrorSince *metav1.Time `json:"errorSince,omitempty"`

	// templates is the snapshot of spec.analysis.templates taken when the
	// revision started, used to the end of its rollout. Only the
	// controller writes it; it carries no schema of its own (a copy of the
	// metrics' validation rules would exceed the API server's CEL budget).
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Templates *TemplateSnapshot `json:"templates,omitempty"`
}

// TemplateSnapshot holds the templates a revision resolved.
type TemplateSnapshot struct {
	// items are the resolved templates, in the order of
	// spec.analysis.templates.
	// +optional
	Items []ResolvedTemplate `json:"items,omitempty"`
}

// MetricStatus is the last check of one metric.
type MetricStatus struct {
	// name of the metric.
	// +required
	Name string `json:"name"`
	// phase is the result of the last check.
	// +optional
	Phase CheckPhase `json:"phase,omitempty"`
	// value is the last value read, as Prometheus wrote it.
	// +optional
	Value string `json:"value,omitempty"`
	// message explains an Inconclusive, Failed or Error check.
	// +optional
	Message string `json:"message,omitempty"`
	// checkedAt is when the check ran (microseconds).
	// +optional
	CheckedAt *metav1.MicroTime `json:"checkedAt,omitempty"`
	// lastPassedAt is when the metric last passed (microseconds).
	// +optional
	LastPassedAt *metav1.MicroTime `json:"lastPassedAt,omitempty"`
	// stableValue is the stable color's value of a compareToStable metric
	// in the same check.
	// +optional
	StableValue string `json:"stableValue,omitempty"`
	// failuresInARow counts the failed checks since the metric last
	// passed (see consecutiveFailures).
	// +optional
	FailuresInARow int32 `json:"failuresInARow,omitempty"`
	// inconclusiveSince is when the metric began answering Inconclusive
	// without a decided check since (see inconclusiveLimit).
	// +optional
	InconclusiveSince *metav1.Time `json:"inconclusiveSince,omitempty"`
}

// Approval is one approver of a gate.
type Approval struct {
	// user is the approver's name as the API server knows it.
	// +required
	User string `json:"user"`
	// at is when the controller saw the approval.
	// +optional
	At *metav1.Time `json:"at,omitempty"`
}

// ControlsStatus records the one-shot annotation values already acted on.
type ControlsStatus struct {
	// promote is the last ramp.dev/promote value acted on.
	// +optional
	Promote string `json:"promote,omitempty"`
	// promoteFull is the last ramp.dev/promote-full value acted on.
	// +optional
	PromoteFull string `json:"promoteFull,omitempty"`
	// abort is the last ramp.dev/abort value acted on.
	// +optional
	Abort string `json:"abort,omitempty"`
	// retry is the last ramp.dev/retry value acted on.
	// +optional
	Retry string `json:"retry,omitempty"`
	// pause is the last ramp.dev/pause value seen, so that a value that is
	// not understood is reported once.
	// +optional
	Pause string `json:"pause,omitempty"`
}

// Annotations an SRE sets on a Rollout.
const (
	// AnnotationPause holds the rollout at its weight while "true".
	AnnotationPause = "ramp.dev/pause"
	// AnnotationPromote passes the current manual gate, once per value.
	AnnotationPromote = "ramp.dev/promote"
	// AnnotationPromoteFull skips the remaining steps, once per value.
	AnnotationPromoteFull = "ramp.dev/promote-full"
	// AnnotationAbort rolls back now, once per value; the value is the reason.
	AnnotationAbort = "ramp.dev/abort"
	// AnnotationRetry starts a rolled-back revision again, once per value.
	AnnotationRetry = "ramp.dev/retry"
)

// Labels Ramp puts on the objects it owns.
const (
	// LabelRollout names the owning Rollout.
	LabelRollout = "ramp.dev/rollout"
	// LabelColor is blue or green.
	LabelColor = "ramp.dev/color"
	// AnnotationRevision on a color's Deployment is the pod-template hash it runs.
	AnnotationRevision = "ramp.dev/revision"
	// LabelCredentials, with the value "true", marks a Secret that Rollouts
	// of its namespace may name as Prometheus credentials; Ramp reads no
	// other Secret.
	LabelCredentials = "ramp.dev/credentials"
	// LabelConfig marks a ConfigMap a Rollout's configRefs list (source)
	// and the per-revision copies Ramp makes of it (copy).
	LabelConfig = "ramp.dev/config"
	// AnnotationConfigSource names the ConfigMap a copy was made of.
	AnnotationConfigSource = "ramp.dev/config-source"
)

// FieldManager is the field manager of every write Ramp's controller makes,
// the route weights among them: the name GitOps tools are told to leave alone
// (Argo CD's ignoreDifferences.managedFieldsManagers).
const FieldManager = "ramp-controller"

// ApprovalAnnotationPrefix starts the key of an approval annotation:
// "approve.ramp.dev/<8 hex digits: FNV-32a of the user name>", with the value
// "<canaryRevision>/<step index>/<user name>". kubectl ramp approve writes it
// with the caller's name from a SelfSubjectReview; the controller counts
// distinct users whose revision and step are the gate's.
const ApprovalAnnotationPrefix = "approve.ramp.dev/"

// Reasons of the Paused condition: what holds a rollout in flight.
const (
	// ReasonPausedByAnnotation: ramp.dev/pause is "true".
	ReasonPausedByAnnotation = "PausedByAnnotation"
	// ReasonGate: a manual gate waits for ramp.dev/promote or approvals.
	ReasonGate = "Gate"
	// ReasonDeployWindow: a deploy window is closed.
	ReasonDeployWindow = "DeployWindow"
	// ReasonChecksUndecided: a check answered Inconclusive or Error.
	ReasonChecksUndecided = "ChecksUndecided"
	// ReasonInvalid: a spec or route problem appeared in flight.
	ReasonInvalid = "Invalid"
	// ReasonRouteNotInEffect: a route does not carry the step's weight yet,
	// or a gateway does not accept it.
	ReasonRouteNotInEffect = "RouteNotInEffect"
	// ReasonNotHeld: nothing holds the rollout.
	ReasonNotHeld = "NotHeld"
)

// Reasons of the Valid condition.
const (
	ReasonValid        = "Valid"
	ReasonInvalidSpec  = "InvalidSpec"
	ReasonInvalidRoute = "InvalidRoute"
	// ReasonForeignObject: a Deployment or Service with one of Ramp's names
	// exists that Ramp did not create.
	ReasonForeignObject = "ForeignObject"
	// ReasonRefused: the API server refused an object Ramp wrote (for
	// example a pod template it cannot run).
	ReasonRefused = "Refused"
	// ReasonTemplateUnresolved: a template spec.analysis.templates names,
	// or one of its arguments, cannot be resolved, so a new revision
	// cannot start (no traffic moves until it can).
	ReasonTemplateUnresolved = "TemplateUnresolved"
)

// FinalizerTraffic holds a Rollout's deletion until traffic is on the color
// that keeps serving.
const FinalizerTraffic = "ramp.dev/traffic"

// PauseValue reads a ramp.dev/pause value: paused for the usual spellings of
// true (true, True, TRUE, yes, on, 1), not paused for those of false and for
// an empty or missing value; understood is false for anything else (which
// does not pause, and is reported).
func PauseValue(v string) (paused, understood bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1", "y", "t":
		return true, true
	case "false", "no", "off", "0", "n", "f", "":
		return false, true
	}
	return false, false
}
