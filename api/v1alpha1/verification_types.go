package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Verification is the record of one run of a revision in one environment:
// the digests its pods ran, its checks, approvers, times and outcome. Ramp
// writes one when a revision is promoted (outcome Watching while a
// postPromotion watch runs, then Passed) or rolled back (Failed). A Rollout
// whose spec.promotion.requires names an environment starts a revision only
// on the Passed records of that environment.
//
// Everything is in spec and there is no status subresource, so that a sync
// (Argo CD, Kargo, kubectl apply) that copies a record to another cluster
// copies all of it; records carry no owner reference for the same reason,
// and outlive their Rollout (spec.promotion.historyLimit bounds how many
// each Rollout keeps). A Passed or Failed record cannot be changed.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=ver,categories=ramp
// +kubebuilder:printcolumn:name="Environment",type=string,JSONPath=`.spec.environment`
// +kubebuilder:printcolumn:name="Rollout",type=string,JSONPath=`.spec.rollout`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.spec.revision`
// +kubebuilder:printcolumn:name="Outcome",type=string,JSONPath=`.spec.outcome`
// +kubebuilder:printcolumn:name="Finished",type=date,JSONPath=`.spec.finishedAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Verification struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the record.
	// +required
	// +kubebuilder:validation:XValidation:rule="oldSelf.outcome == 'Watching' || self == oldSelf",message="a Passed or Failed verification is a record and cannot be changed"
	Spec VerificationSpec `json:"spec"`
}

// VerificationList is a list of Verifications.
//
// +kubebuilder:object:root=true
type VerificationList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Verifications.
	Items []Verification `json:"items"`
}

// VerificationOutcome is how a run ended.
// +kubebuilder:validation:Enum=Passed;Failed;Watching;Running
type VerificationOutcome string

const (
	// VerificationPassed: promoted, and its postPromotion watch (if any)
	// passed. Only Passed records prove an image.
	VerificationPassed VerificationOutcome = "Passed"
	// VerificationFailed: rolled back (a breach, an abort, a deadline), in
	// flight or during its watch.
	VerificationFailed VerificationOutcome = "Failed"
	// VerificationWatching: promoted, its postPromotion watch under way. A
	// record left Watching (a new revision started before the watch ended)
	// proves nothing.
	VerificationWatching VerificationOutcome = "Watching"
)

// VerificationSpec is what one run of a revision showed.
type VerificationSpec struct {
	// rollout is the name of the Rollout that ran it, in this namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Rollout string `json:"rollout"`

	// environment is the Rollout's environment: spec.environment, else its
	// namespace's ramp.dev/environment label, else the namespace's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Environment string `json:"environment"`

	// revision is the pod-template hash of the run.
	// +kubebuilder:validation:MaxLength=64
	Revision string `json:"revision"`

	// outcome is Passed, Failed or Watching.
	Outcome VerificationOutcome `json:"outcome"`

	// reason says why it failed (the rollback reason) or how it passed.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`

	// images are the containers of the run with the digests its ready pods
	// were seen running; a container whose pods were never seen ready has
	// no digests (and proves nothing).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Images []ContainerImages `json:"images,omitempty"`

	// checks are the last result of each metric.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Checks []RecordedCheck `json:"checks,omitempty"`

	// approvers are the users whose approvals passed its gates.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Approvers []Approval `json:"approvers,omitempty"`

	// startedAt is when the run started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// promotedAt is when it was promoted.
	// +optional
	PromotedAt *metav1.Time `json:"promotedAt,omitempty"`
	// watchEndedAt is when its postPromotion watch ended.
	// +optional
	WatchEndedAt *metav1.Time `json:"watchEndedAt,omitempty"`
	// finishedAt is when the outcome was decided: promotion or the end of
	// the watch for Passed, the rollback for Failed.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`

	// upstream are the records (namespace/name) of the environments
	// spec.promotion.requires named that let this run start.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=512
	Upstream []string `json:"upstream,omitempty"`

	// override is set when the run started without the proof
	// spec.promotion.requires asks for, by ramp.dev/promotion-override.
	// +optional
	Override *ProofOverride `json:"override,omitempty"`
}

// RecordedCheck is the last result of one metric of a run.
type RecordedCheck struct {
	// name is the metric's name.
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// phase is its last result.
	// +optional
	Phase CheckPhase `json:"phase,omitempty"`
	// value is its last value.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Value string `json:"value,omitempty"`
	// stableValue is the stable color's value of a compareToStable metric.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	StableValue string `json:"stableValue,omitempty"`
}

// ProofOverride is an emergency start without upstream proof.
type ProofOverride struct {
	// reason is the reason the annotation gave.
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`
	// missing is the proof that was missing when the run started.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Missing string `json:"missing,omitempty"`
}

// Promotion says which environments must have passed an image before this
// Rollout runs it, and how many records of its own runs it keeps.
type Promotion struct {
	// requires are the environments whose Passed Verifications every image
	// digest of a new revision needs before it starts.
	// +optional
	// +listType=map
	// +listMapKey=environment
	// +kubebuilder:validation:MaxItems=8
	Requires []PromotionRequirement `json:"requires,omitempty"`

	// historyLimit is how many Verifications of this Rollout's runs are
	// kept; older ones are deleted. Default 20.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=200
	HistoryLimit *int32 `json:"historyLimit,omitempty"`
}

// PromotionRequirement is one environment an image must have passed.
type PromotionRequirement struct {
	// environment names it (a Verification's spec.environment).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Environment string `json:"environment"`

	// namespaces are the namespaces whose records of this environment
	// count. Without them, only records in a namespace labelled
	// ramp.dev/environment: <environment>, or named <environment>, count:
	// a namespace's label is its cluster admin's to set, so a team cannot
	// make its own namespace's runs pass for staging by naming it in a
	// Rollout's spec.environment.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=63
	Namespaces []string `json:"namespaces,omitempty"`

	// soak is how long ago the digest must have passed there (its first
	// Passed record since its last Failed one). Default 0.
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="soak must not be negative"
	Soak *metav1.Duration `json:"soak,omitempty"`
}

// VerificationRecord is the record of the Rollout's current or last run,
// as status keeps it until the Verification object carries it.
type VerificationRecord struct {
	// name is the Verification's name.
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// record is what the Verification holds (or will, once written).
	Record VerificationSpec `json:"record"`
}

// DefaultHistoryLimit is how many Verifications a Rollout keeps by default.
const DefaultHistoryLimit = 20

// HistoryLimit is spec.promotion.historyLimit or its default.
func (s *RolloutSpec) HistoryLimit() int {
	if s.Promotion != nil && s.Promotion.HistoryLimit != nil {
		return int(*s.Promotion.HistoryLimit)
	}
	return DefaultHistoryLimit
}

// AnnotationPromotionOverride starts a revision without the proof
// spec.promotion.requires asks for: "<revision>/<reason>". It counts only
// for the revision it names (the hash kubectl ramp status shows waiting),
// and the reason is written into that run's Verification.
const AnnotationPromotionOverride = "ramp.dev/promotion-override"

// LabelEnvironment on a namespace names the environment of its Rollouts
// (unless spec.environment does); Ramp sets it on every Verification too.
const LabelEnvironment = "ramp.dev/environment"

// ReasonProofMissing: spec.promotion.requires is not met by the new
// revision's images (Progressing condition and event).
const ReasonProofMissing = "ProofMissing"

// ReasonProofOverridden: a revision started without its proof, by
// ramp.dev/promotion-override.
const ReasonProofOverridden = "ProofOverridden"

// VerificationRunning is the outcome of the run in flight. It is kept in
// the Rollout's status only: Ramp writes a Verification once a run is
// promoted or rolled back.
const VerificationRunning VerificationOutcome = "Running"
