package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Rollout takes each new version of an application's pod template from 0 to
// 100 % of its traffic through weighted steps, on a blue and a green
// Deployment, checking Prometheus between steps and switching all traffic back
// to the stable color the moment a threshold is breached.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=ro,categories=ramp
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Step",type=string,JSONPath=`.status.stepProgress`
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.status.canaryWeight`
// +kubebuilder:printcolumn:name="Stable",type=string,JSONPath=`.status.stableRevision`
// +kubebuilder:printcolumn:name="Canary",type=string,JSONPath=`.status.canaryRevision`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 57",message="metadata.name must be at most 57 characters: Ramp names its Services <name>-green, and a Service name has at most 63"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS label (lowercase letters, digits and '-', starting with a letter, no dots): it names the color Services"
type Rollout struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired application and how a new version of it is rolled out.
	// +required
	Spec RolloutSpec `json:"spec"`

	// status is what the controller last observed and decided.
	// +optional
	Status RolloutStatus `json:"status,omitempty"`
}

// RolloutList is a list of Rollouts.
//
// +kubebuilder:object:root=true
type RolloutList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Rollouts.
	Items []Rollout `json:"items"`
}

// RolloutSpec is the desired application and how a new version is rolled out.
// +kubebuilder:validation:XValidation:rule="has(self.template) != has(self.workloadRef)",message="exactly one of spec.template and spec.workloadRef must be given"
// +kubebuilder:validation:XValidation:rule="!has(self.workloadRef) || !has(oldSelf.workloadRef) || self.workloadRef.name == oldSelf.workloadRef.name",message="spec.workloadRef.name is immutable: delete the Rollout (which scales the old Deployment back up) to point it elsewhere"
// +kubebuilder:validation:XValidation:rule="!has(self.environment) || !has(self.promotion) || !has(self.promotion.requires) || self.promotion.requires.all(r, r.environment != self.environment)",message="spec.promotion.requires names the Rollout's own spec.environment: its own runs cannot prove an image for it"

// A selector that does not match the template is reported on the Valid
// condition (a CEL rule over the pod template's labels is too costly for
// the API server's budget).
type RolloutSpec struct {
	// replicas is the number of pods of the stable color. The canary color gets
	// ceil(replicas*weight/100) pods, at least one (or what its step's
	// replicas says). It is the Rollout's scale subresource: a
	// HorizontalPodAutoscaler or a KEDA ScaledObject targets the Rollout
	// (never a color Deployment) and sets it, and Ramp never writes it.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	Replicas *int32 `json:"replicas,omitempty"`

	// selector selects the application's pods; it must match the template's
	// labels. Ramp adds its own rollout and color labels to each Deployment's
	// selector. It cannot change after creation.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.selector is immutable"
	Selector *metav1.LabelSelector `json:"selector"`

	// template is the application's pod template. Changing it starts a
	// rollout. Exactly one of template and workloadRef is given.
	// +optional
	// +kubebuilder:validation:XValidation:rule="has(self.spec) && has(self.spec.containers) && size(self.spec.containers) > 0",message="spec.template.spec.containers must name at least one container"
	Template corev1.PodTemplateSpec `json:"template,omitzero"`

	// workloadRef names an existing Deployment in the Rollout's namespace
	// whose pod template is the application's: Helm, kustomize or Argo CD
	// go on managing it, and a change of its template starts a rollout as
	// a change of spec.template does. Ramp labels it ramp.dev/rollout (to
	// watch it), brings the first color up from its template, moves the
	// routes to that color only once its pods are ready, and (scaleDown
	// onsuccess) then scales the Deployment to zero. Deleting the Rollout
	// scales it back up first. Exactly one of template and workloadRef is
	// given.
	// +optional
	WorkloadRef *WorkloadRef `json:"workloadRef,omitempty"`

	// configRefs are ConfigMaps and Secrets the pods use whose content is part of each
	// revision: a change of their data starts a rollout as a change of the
	// template does. Each revision runs its own immutable copy
	// (<rollout>-<name>-<hash of the data>, owned by the Rollout), and the
	// pod template's references to a listed ConfigMap (volumes, projected
	// volumes, envFrom, env valueFrom) are pointed at that copy, so that the
	// stable color keeps the content it was checked with until the canary
	// passed. Copies no color uses any more are deleted. Ramp labels each
	// listed ConfigMap ramp.dev/config: source to watch it; a Secret must
	// carry that label already. Names are unique across both kinds.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	ConfigRefs []ConfigRef `json:"configRefs,omitempty"`

	// service describes the Services Ramp creates for each color.
	// +required
	Service ServiceSpec `json:"service"`

	// trafficRouting names the routes whose weights Ramp steers.
	// +required
	TrafficRouting TrafficRouting `json:"trafficRouting"`

	// steps are the canary weights a new version goes through, in order. The
	// weights never decrease and the last is 100. When omitted, the steps are
	// 1, 5, 25, 50 and 100 %, each held for one analysis interval.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:XValidation:rule="self[size(self)-1].weight == 100",message="the last step must have weight 100"
	// +kubebuilder:validation:XValidation:rule="self.map(s, s.weight).isSorted()",message="step weights must not decrease"
	Steps []Step `json:"steps,omitempty"`

	// analysis is how each step is checked. Without it, steps advance on their
	// holds alone (a step without hold then holds one minute).
	// +optional
	Analysis *Analysis `json:"analysis,omitempty"`

	// progressDeadline is how long the canary's pods may take to become ready
	// for a step, and how long checks may keep answering Error, before the
	// rollout is rolled back.
	// +optional
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="progressDeadline must be at least 1s"
	ProgressDeadline *metav1.Duration `json:"progressDeadline,omitempty"`

	// scaleDownDelay is how long the old color keeps its pods after a
	// promotion, so that a switch back is instant.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="scaleDownDelay must not be negative"
	ScaleDownDelay *metav1.Duration `json:"scaleDownDelay,omitempty"`

	// deployWindows say when a rollout may start and move forward, as Argo
	// CD's sync windows do: deny wins; where any allow window exists,
	// progress happens only inside one. A rollback is never delayed.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	DeployWindows []DeployWindow `json:"deployWindows,omitempty"`

	// imagePolicy refuses templates whose images are not pinned.
	// +optional
	ImagePolicy *ImagePolicy `json:"imagePolicy,omitempty"`

	// postPromotion keeps checking after the canary became stable, while the
	// old color keeps its pods; a breach then switches back at once.
	// +optional
	PostPromotion *PostPromotion `json:"postPromotion,omitempty"`

	// minReadySeconds is the color Deployments' minReadySeconds: how long
	// a new pod must be ready before it counts as available (and, for
	// Ramp, as ready for a step's weight).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3600
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`

	// revisionHistoryLimit is the color Deployments' revisionHistoryLimit:
	// how many old ReplicaSets each keeps (2 when omitted; Ramp keeps its
	// own history of revisions in the colors).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`

	// colorMetadata adds labels and annotations to one color's Deployment
	// and pod template (e.g. a label a dashboard or a NetworkPolicy
	// selects). Ramp's own labels win. Changing it rolls that color's pods
	// the way a plain Deployment update does: metadata only, nothing to
	// check. The role of a color (stable or canary) is in the
	// ramp_rollout_info metric's stable_color label, not on its pods: a
	// label that followed the role would restart the pods at every
	// promotion.
	// +optional
	ColorMetadata *ColorMetadata `json:"colorMetadata,omitempty"`

	// deletionPolicy says what deleting the Rollout does to the application.
	// Release (the default) first sends all traffic to the color with ready
	// pods of the stable revision, then releases that color's Deployment and
	// Service (they lose their owner reference and go on serving) and lets
	// the other color go. Delete sends traffic the same way, then lets the
	// garbage collector remove both colors: the routes then point at
	// Services that are gone. A delete with --cascade=orphan leaves
	// everything as it is, routes included.
	// +optional
	// +kubebuilder:default=Release
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// notifications are the webhooks told about the moments of a rollout:
	// waiting for approval, held by a deploy window, rolled back, promoted.
	// Delivery never holds a decision: it runs apart, with retries.
	// +optional
	Notifications *Notifications `json:"notifications,omitempty"`

	// environment names the environment this Rollout deploys to (dev,
	// staging, prod): the environment of the Verifications it writes.
	// Default: its namespace's ramp.dev/environment label, else the
	// namespace's name.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Environment string `json:"environment,omitempty"`

	// promotion says which environments must have passed every image digest
	// of a new revision before it starts here (with how long ago), and how
	// many Verifications of its own runs this Rollout keeps.
	// +optional
	Promotion *Promotion `json:"promotion,omitempty"`
}

// ColorMetadata is the extra metadata of each color.
type ColorMetadata struct {
	// blue is added to the blue color.
	// +optional
	Blue *Metadata `json:"blue,omitempty"`
	// green is added to the green color.
	// +optional
	Green *Metadata `json:"green,omitempty"`
}

// Of returns the extra metadata of color c, nil when none.
func (m *ColorMetadata) Of(c Color) *Metadata {
	switch {
	case m == nil:
		return nil
	case c == Green:
		return m.Green
	default:
		return m.Blue
	}
}

// Metadata are labels and annotations Ramp adds to an object it generates.
type Metadata struct {
	// labels to add.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Labels map[string]string `json:"labels,omitempty"`
	// annotations to add.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ConfigRef names a ConfigMap or a Secret in the Rollout's namespace.
type ConfigRef struct {
	// kind of the object: ConfigMap or Secret. A Secret is copied only
	// when its owner labelled it ramp.dev/config: source (Ramp reads no
	// Secret it was not given); Ramp labels a ConfigMap itself.
	// +optional
	// +kubebuilder:default=ConfigMap
	// +kubebuilder:validation:Enum=ConfigMap;Secret
	Kind string `json:"kind,omitempty"`
	// name of the ConfigMap. Its copies are named
	// <rollout>-<name>-<10 hex>, hence at most 180 characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=180
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
}

// WorkloadRef names the Deployment whose pod template a Rollout rolls out.
type WorkloadRef struct {
	// apiVersion of the workload: apps/v1.
	// +required
	// +kubebuilder:validation:Enum=apps/v1
	APIVersion string `json:"apiVersion"`
	// kind of the workload: Deployment.
	// +required
	// +kubebuilder:validation:Enum=Deployment
	Kind string `json:"kind"`
	// name of the Deployment, in the Rollout's namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// scaleDown says what happens to the Deployment once a color of the
	// Rollout serves all traffic with ready pods: onsuccess (the default)
	// scales it to zero, never leaves its replicas alone.
	// +optional
	// +kubebuilder:default=onsuccess
	ScaleDown WorkloadScaleDown `json:"scaleDown,omitempty"`
}

// WorkloadScaleDown says when a referenced Deployment is scaled to zero.
// +kubebuilder:validation:Enum=never;onsuccess
type WorkloadScaleDown string

const (
	// ScaleDownNever leaves the Deployment's replicas alone.
	ScaleDownNever WorkloadScaleDown = "never"
	// ScaleDownOnSuccess scales it to zero once a color serves.
	ScaleDownOnSuccess WorkloadScaleDown = "onsuccess"
)

// DeletionPolicy says what deleting a Rollout does to its colors.
// +kubebuilder:validation:Enum=Release;Delete
type DeletionPolicy string

const (
	// DeletionRelease keeps the serving color's Deployment and Service.
	DeletionRelease DeletionPolicy = "Release"
	// DeletionDelete removes both colors once traffic left the canary.
	DeletionDelete DeletionPolicy = "Delete"
)

// WindowKind is allow or deny.
// +kubebuilder:validation:Enum=allow;deny
type WindowKind string

const (
	// WindowAllow lets rollouts progress inside the window.
	WindowAllow WindowKind = "allow"
	// WindowDeny holds rollouts inside the window.
	WindowDeny WindowKind = "deny"
)

// DeployWindow is a recurring period given by a cron schedule (when it
// opens), a duration (how long it stays open) and a time zone.
type DeployWindow struct {
	// kind is allow or deny.
	// +required
	Kind WindowKind `json:"kind"`

	// schedule is a five-field cron expression for when the window opens,
	// e.g. "0 22 * * 5" for Fridays at 22:00.
	// +required
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=128
	Schedule string `json:"schedule"`

	// duration is how long the window stays open.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="duration must be at least 1m"
	Duration metav1.Duration `json:"duration"`

	// timeZone is the IANA time zone of the schedule, UTC when omitted.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`
}

// ImagePolicy says which image references a template may use.
type ImagePolicy struct {
	// immutable refuses mutable references: a missing tag, latest and
	// branch-like tags. Digests, semantic-version tags (v1.2.3) and
	// full-commit tags (main-<40 hex>) pass.
	// +optional
	Immutable bool `json:"immutable,omitempty"`

	// requireDigest refuses every image not pinned by a digest
	// (name@sha256:...), as production takes what was built and verified,
	// not what a tag points to now.
	// +optional
	RequireDigest bool `json:"requireDigest,omitempty"`

	// semver is a semantic-version constraint every image's tag must meet,
	// e.g. ">=1.2.0 <2.0.0" or "~1.4" (Masterminds/semver syntax; a leading
	// v in tags is allowed). An image whose tag is no version, or has no
	// tag, is refused. Pre-releases pass only a constraint that names one
	// (">=1.3.0-0").
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	SemVer string `json:"semver,omitempty"`
}

// PostPromotion is the watch after a promotion.
type PostPromotion struct {
	// hold is how long checks keep running after the promotion.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="hold must be at least 1s"
	Hold metav1.Duration `json:"hold"`
}

// ServiceSpec describes the Service Ramp creates for each color
// (<rollout>-blue and <rollout>-green).
// +kubebuilder:validation:XValidation:rule="(has(self.headless) && self.headless) == (has(oldSelf.headless) && oldSelf.headless)",message="spec.service.headless is immutable: a Service's clusterIP cannot change"
type ServiceSpec struct {
	// port is the Service port the HTTPRoute's backendRefs name.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// targetPort is the container port (number or name) the Service sends to.
	// Defaults to port.
	// +optional
	TargetPort *intstr.IntOrString `json:"targetPort,omitempty"`

	// appProtocol is the port's appProtocol, e.g. kubernetes.io/h2c for a
	// gRPC backend without TLS, so that the gateway speaks HTTP/2 to it.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	AppProtocol *string `json:"appProtocol,omitempty"`

	// additionalPorts are more ports of both color Services (a metrics or
	// admin port). The port above is named http.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:XValidation:rule="self.all(p, p.name != 'http')",message="additionalPorts: the name http is the main port's"
	AdditionalPorts []ServicePort `json:"additionalPorts,omitempty"`

	// metadata are labels and annotations added to both color Services
	// (e.g. for a service mesh or a monitoring selector). Ramp's own labels
	// win.
	// +optional
	Metadata *Metadata `json:"metadata,omitempty"`

	// headless makes both color Services headless (clusterIP: None): no
	// ClusterIP is allocated for them, and the gateway reaches the pods
	// through the Services' endpoints, as most Gateway API implementations
	// do anyway. Allocating a ClusterIP costs the API server (1.33 and
	// later) time in proportion to the Services already in the cluster,
	// which at thousands of Rollouts dominates creating them. Use it only
	// with a gateway that routes to endpoints. Fixed at creation.
	// +optional
	Headless bool `json:"headless,omitempty"`
}

// ServicePort is one more port of the color Services.
type ServicePort struct {
	// name of the port.
	// +required
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=15
	Name string `json:"name"`
	// port is the Service port.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// targetPort is the container port (number or name); port when omitted.
	// +optional
	TargetPort *intstr.IntOrString `json:"targetPort,omitempty"`
	// protocol is TCP, UDP or SCTP; TCP when omitted.
	// +optional
	// +kubebuilder:validation:Enum=TCP;UDP;SCTP
	Protocol corev1.Protocol `json:"protocol,omitempty"`
	// appProtocol of the port.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	AppProtocol *string `json:"appProtocol,omitempty"`
}

// TrafficRouting names how traffic is split between the two colors.
type TrafficRouting struct {
	// gatewayAPI steers the weights of Gateway API HTTPRoutes and GRPCRoutes.
	// +required
	GatewayAPI *GatewayAPIRouting `json:"gatewayAPI"`
}

// GatewayAPIRouting names the HTTPRoutes and GRPCRoutes whose blue and green
// backendRef weights Ramp sets. Each route must name both color Services in
// every rule Ramp steers; nothing else in the route is changed. At least one
// route of either kind is needed.
// +kubebuilder:validation:XValidation:rule="(has(self.httpRoutes) ? size(self.httpRoutes) : 0) + (has(self.grpcRoutes) ? size(self.grpcRoutes) : 0) >= 1",message="name at least one route in httpRoutes or grpcRoutes"
type GatewayAPIRouting struct {
	// httpRoutes are the HTTPRoutes to steer.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	HTTPRoutes []RouteRef `json:"httpRoutes,omitempty"`

	// grpcRoutes are the GRPCRoutes to steer, exactly as httpRoutes: only
	// the weights of the two color backendRefs change.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	GRPCRoutes []RouteRef `json:"grpcRoutes,omitempty"`
}

// RouteRef names an HTTPRoute or a GRPCRoute.
type RouteRef struct {
	// name of the route.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the route; the Rollout's own when omitted.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// Step is one weight of a rollout.
type Step struct {
	// weight is the percent of traffic sent to the canary at this step.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Weight int32 `json:"weight"`

	// hold is how long the step lasts at least, with analysis running.
	// Defaults to analysis.interval (one minute without analysis).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="hold must be at least 1s"
	Hold *metav1.Duration `json:"hold,omitempty"`

	// pause makes the step a manual gate: once its hold has passed and its
	// checks passed, the rollout waits for the ramp.dev/promote annotation.
	// +optional
	Pause *PauseGate `json:"pause,omitempty"`

	// replicas is how many canary pods this step runs, as a number or a
	// percentage of spec.replicas (rounded up), whatever its weight: a
	// service where 1 % of traffic still needs several pods, or a weight 0
	// preview step at full size. The canary never gets fewer pods than the
	// weight needs (ceil(replicas*weight/100), at least one): a step's
	// replicas can add pods, never overload the canary. The step's weight
	// is set, and a weight 0 step starts, only once that many canary pods
	// are ready.
	// +optional
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^([1-9][0-9]?|100)%$`
	Replicas *intstr.IntOrString `json:"replicas,omitempty"`
}

// PauseGate is a manual gate on a step.
type PauseGate struct {
	// approvals is how many distinct people must approve (kubectl ramp
	// approve) before the gate opens. Zero means one ramp.dev/promote opens it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	Approvals int32 `json:"approvals,omitempty"`
}

// Analysis describes the checks run between steps.
// +kubebuilder:validation:XValidation:rule="(has(self.metrics) && size(self.metrics) > 0) || (has(self.templates) && size(self.templates) > 0)",message="analysis needs metrics or templates"
// +kubebuilder:validation:XValidation:rule="has(self.prometheus) || !has(self.metrics) || self.metrics.all(m, !has(m.query))",message="analysis.prometheus is required by metrics with a query"
type Analysis struct {
	// interval is the time between two checks of every metric.
	// +optional
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="interval must be at least 1s"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// failureLimit is the number of failed checks tolerated over the whole
	// rollout; one more rolls back.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	FailureLimit int32 `json:"failureLimit,omitempty"`

	// prometheus is the server the metric queries are sent to (and the
	// queries of templates that name no server of their own). Required when
	// a metric has a query.
	// +optional
	Prometheus *PrometheusProvider `json:"prometheus,omitempty"`

	// metrics are the checks. Each must pass at least once at every step.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Metrics []Metric `json:"metrics,omitempty"`

	// templates add the metrics of shared AnalysisTemplates (in the
	// Rollout's namespace) or ClusterAnalysisTemplates, with argument
	// values. A template is resolved once, when a revision starts; that
	// snapshot (status.analysis.templates) is used to the end of its
	// rollout, so editing a shared template never changes a rollout in
	// flight. A missing template or argument holds the revision before
	// any traffic moves (Valid=False).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=8
	Templates []AnalysisTemplateRef `json:"templates,omitempty"`
}

// PrometheusProvider says how to reach Prometheus.
// +kubebuilder:validation:XValidation:rule="!has(self.bearerTokenSecretRef) || !has(self.basicAuth)",message="bearerTokenSecretRef and basicAuth cannot both be set"
// +kubebuilder:validation:XValidation:rule="!has(self.tls) || self.address.startsWith('https://')",message="tls needs an https address"
type PrometheusProvider struct {
	// address is the base URL of the Prometheus HTTP API.
	// +required
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	// +kubebuilder:validation:MaxLength=2048
	Address string `json:"address"`

	// timeout bounds each query, at most 1m. Checks run apart from the
	// workers that decide, so a slow Prometheus never delays a rollback.
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="timeout must be at least 1s"
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('1m')",message="timeout must be at most 1m"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// bearerTokenSecretRef names a Secret key in the Rollout's namespace whose
	// value is sent as a bearer token.
	// +optional
	BearerTokenSecretRef *SecretKeyRef `json:"bearerTokenSecretRef,omitempty"`

	// basicAuth sends a user name and a password from a Secret.
	// +optional
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`

	// headers are sent with every query: X-Scope-OrgID names the tenant of
	// a Mimir, Cortex or Thanos. Authorization, Host and the headers of
	// HTTP itself cannot be set.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Headers []HTTPHeader `json:"headers,omitempty"`

	// tls is the CA bundle the server's certificate must chain to and the
	// client certificate to present, for an https address.
	// +optional
	TLS *PrometheusTLS `json:"tls,omitempty"`
}

// BasicAuth is a user name and a password from an opt-in Secret.
type BasicAuth struct {
	// username is the user name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.contains(':')",message="basicAuth.username may not contain ':'"
	Username string `json:"username"`
	// passwordSecretRef names the Secret key holding the password.
	// +required
	PasswordSecretRef SecretKeyRef `json:"passwordSecretRef"`
}

// HTTPHeader is one header sent to Prometheus, its value given or read
// from an opt-in Secret.
// +kubebuilder:validation:XValidation:rule="has(self.value) != has(self.valueFrom)",message="a header needs exactly one of value and valueFrom"
type HTTPHeader struct {
	// name of the header, e.g. X-Scope-OrgID.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`
	// +kubebuilder:validation:XValidation:rule="!(self.lowerAscii() in ['authorization', 'host', 'connection', 'content-length', 'content-type', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'accept-encoding'])",message="this header cannot be set: HTTP or Ramp sets it (use bearerTokenSecretRef or basicAuth for Authorization)"
	Name string `json:"name"`
	// value of the header.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Value *string `json:"value,omitempty"`
	// valueFrom reads the value from a Secret key.
	// +optional
	ValueFrom *HeaderValueSource `json:"valueFrom,omitempty"`
}

// HeaderValueSource is where a header's value comes from.
type HeaderValueSource struct {
	// secretKeyRef names a Secret key in the Rollout's namespace; the Secret
	// must be labelled ramp.dev/credentials: "true".
	// +required
	SecretKeyRef SecretKeyRef `json:"secretKeyRef"`
}

// PrometheusTLS is how Ramp checks the server and proves itself to it. Every
// Secret named must be labelled ramp.dev/credentials: "true".
// +kubebuilder:validation:XValidation:rule="has(self.certSecretRef) == has(self.keySecretRef)",message="tls.certSecretRef and tls.keySecretRef go together"
type PrometheusTLS struct {
	// caSecretRef names a Secret key holding the PEM CA bundle; without it
	// the system's CAs are trusted.
	// +optional
	CASecretRef *SecretKeyRef `json:"caSecretRef,omitempty"`
	// certSecretRef names a Secret key holding the PEM client certificate.
	// +optional
	CertSecretRef *SecretKeyRef `json:"certSecretRef,omitempty"`
	// keySecretRef names a Secret key holding the PEM key of the client
	// certificate.
	// +optional
	KeySecretRef *SecretKeyRef `json:"keySecretRef,omitempty"`
	// serverName is the name the server's certificate must hold, when it
	// is not the address's host.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ServerName string `json:"serverName,omitempty"`
}

// SecretKeyRef names one key of a Secret in the Rollout's namespace.
type SecretKeyRef struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// key in the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// NoDataPolicy says what an empty or NaN answer means.
// +kubebuilder:validation:Enum=hold;pass;fail
type NoDataPolicy string

const (
	// NoDataHold makes the check Inconclusive: the rollout holds.
	NoDataHold NoDataPolicy = "hold"
	// NoDataPass makes the check Passed.
	NoDataPass NoDataPolicy = "pass"
	// NoDataFail makes the check Failed.
	NoDataFail NoDataPolicy = "fail"
)

// Metric is one check: a Prometheus query with its bounds, a Job run
// against the canary, or a web request.
//
// +kubebuilder:validation:XValidation:rule="[has(self.query), has(self.job), has(self.web)].filter(x, x).size() == 1",message="a metric needs exactly one of query, job and web"
// +kubebuilder:validation:XValidation:rule="has(self.min) || has(self.max) || has(self.compareToStable) || has(self.job) || (has(self.web) && !has(self.web.jsonPath))",message="a metric needs min, max or compareToStable"
// +kubebuilder:validation:XValidation:rule="!has(self.compareToStable) || has(self.query)",message="compareToStable needs a query"
// +kubebuilder:validation:XValidation:rule="!has(self.minSamples) || has(self.query)",message="minSamples needs a query"
// +kubebuilder:validation:XValidation:rule="!has(self.min) || !has(self.max) || self.min <= self.max",message="min must not exceed max"
type Metric struct {
	// name identifies the metric in status and metrics.
	// +required
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// query is a PromQL expression returning one number, written as a Go
	// template that sees .Namespace, .Rollout, .CanaryService, .StableService,
	// .CanaryColor, .StableColor, .CanaryRevision, .StableRevision, .Interval
	// and .Step. range, template, block and define are refused: a query
	// never needs them, and they let one template run without bound.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=8192
	// +kubebuilder:validation:XValidation:rule="!self.matches('[{][{]-?[[:space:]]*(range|template|block|define)([^a-zA-Z0-9_]|$)')",message="query: range, template, block and define are not allowed in a query template"
	Query string `json:"query,omitempty"`

	// job runs a Job against the canary color (a smoke or load test) at the
	// steps it names, before their weight is set: Passed when the Job
	// succeeds, Failed when it fails, Error when it outlasts its timeout.
	// A first step of weight 0 with a job is blue-green's "smoke-test
	// green, then switch".
	// +optional
	Job *JobCheck `json:"job,omitempty"`

	// web asks an HTTP(S) endpoint at every check: with jsonPath, the
	// field it names in the JSON answer is judged against min and max;
	// without, a 2xx answer passes and any other fails.
	// +optional
	Web *WebCheck `json:"web,omitempty"`

	// min is the lowest passing value.
	// +optional
	Min *float64 `json:"min,omitempty"`

	// max is the highest passing value.
	// +optional
	Max *float64 `json:"max,omitempty"`

	// noData says what an empty or NaN answer means.
	// +optional
	// +kubebuilder:default=hold
	NoData NoDataPolicy `json:"noData,omitempty"`

	// interval is the time between two checks of this metric (and its
	// .Interval in templates), for a metric slower or faster than the
	// others; analysis.interval when unset. Every metric is checked at
	// least once at each step, at the first check after its weight took
	// effect.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="a metric's interval must be at least 1s"
	Interval *metav1.Duration `json:"interval,omitempty"`

	// compareToStable bounds the canary relative to the stable color
	// measured in the same check: the query is rendered once per color
	// (.Service, .Color and .Revision name the color measured) and both
	// answers are judged together, so that an incident that raises both
	// colors does not roll back a good canary, while a canary worse than
	// stable does. min and max, if given, still bound the canary alone.
	// +optional
	CompareToStable *StableComparison `json:"compareToStable,omitempty"`

	// minSamples holds the metric Inconclusive while a second query (the
	// number of requests behind a ratio, say) answers less than min for
	// the color measured: an error rate of 3 requests says nothing.
	// +optional
	MinSamples *SampleGuard `json:"minSamples,omitempty"`

	// consecutiveFailures is how many failed checks in a row make a
	// failure that counts against failureLimit. 1 (the default) counts every
	// failed check; 3 lets a flaky metric fail twice between passes
	// without rolling back. A failed check that does not count yet holds
	// the step.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`

	// inconclusiveLimit bounds how long the metric may hold a rollout by
	// answering Inconclusive (no data with noData: hold, too few samples, no
	// stable answer to compare with) in a row. Once that time is up the
	// check is judged as then says. Without it the limit is the
	// Rollout's progressDeadline, then fail: a canary that gets no traffic is
	// never held forever.
	// +optional
	InconclusiveLimit *InconclusiveLimit `json:"inconclusiveLimit,omitempty"`
}

// JobCheck is a Job Ramp runs against the canary color.
type JobCheck struct {
	// template is the pod template of the Job. Ramp sets restartPolicy
	// Never and adds to each container's environment RAMP_NAMESPACE,
	// RAMP_ROLLOUT, RAMP_REVISION, RAMP_CANARY_SERVICE, RAMP_STABLE_SERVICE,
	// RAMP_SERVICE_PORT and RAMP_CANARY_URL (http://<canary
	// service>.<namespace>.svc:<port>). It is checked by the API server
	// when the Job is created; a template it refuses makes the check an
	// Error naming why.
	// +required
	// +kubebuilder:validation:Type=object
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Template corev1.PodTemplateSpec `json:"template"`

	// steps are the indices of the steps the Job runs at, each once per
	// revision, once the step's canary pods are ready and before its
	// weight is set. Default [0]: before the canary gets any traffic.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Minimum=0
	Steps []int32 `json:"steps,omitempty"`

	// backoffLimit is the Job's backoffLimit: how many times a failed pod
	// is tried again before the check fails.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	BackoffLimit int32 `json:"backoffLimit,omitempty"`

	// timeout bounds the Job's run; beyond it the Job is deleted and the
	// check is an Error.
	// +optional
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('6h')",message="job.timeout must be between 1s and 6h"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// WebCheck is an HTTP(S) request Ramp makes at every check.
type WebCheck struct {
	// url is a Go template like a query's (it sees the same fields), e.g.
	// http://{{ .CanaryService }}.{{ .Namespace }}.svc/healthz/deep.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\r\n]+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('[{][{]-?[[:space:]]*(range|template|block|define)([^a-zA-Z0-9_]|$)')",message="url: range, template, block and define are not allowed in a template"
	URL string `json:"url"`

	// method is GET (the default) or POST.
	// +optional
	// +kubebuilder:default=GET
	// +kubebuilder:validation:Enum=GET;POST
	Method string `json:"method,omitempty"`

	// body is sent with a POST.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	Body string `json:"body,omitempty"`

	// headers are sent with the request (values may come from opt-in
	// Secrets).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Headers []HTTPHeader `json:"headers,omitempty"`

	// jsonPath names the number to judge in a JSON answer, in kubectl's
	// JSONPath, e.g. {.errorRate}. Without it, a 2xx answer passes.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	JSONPath string `json:"jsonPath,omitempty"`

	// timeout bounds the request (10s by default, at most 1m).
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('1m')",message="web.timeout must be between 1s and 1m"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// tls is the CA bundle and client certificate for an https url.
	// +optional
	TLS *PrometheusTLS `json:"tls,omitempty"`
}

// StableComparison bounds a canary's value by the stable color's value v.
// Upper bounds (maxRatio, maxIncrease) allow the canary up to the larger of
// v*maxRatio and v+maxIncrease; lower bounds (minRatio, maxDecrease) down to
// the smaller of v*minRatio and v-maxDecrease. Give both kinds of a side to
// have a ratio that still works when stable measures 0.
//
// +kubebuilder:validation:XValidation:rule="has(self.maxRatio) || has(self.maxIncrease) || has(self.minRatio) || has(self.maxDecrease)",message="compareToStable needs maxRatio, maxIncrease, minRatio or maxDecrease"
type StableComparison struct {
	// maxRatio: the canary may be at most this many times stable (1.5:
	// 50 % worse), for metrics where lower is better.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxRatio *float64 `json:"maxRatio,omitempty"`
	// maxIncrease: the canary may exceed stable by at most this much
	// (0.005: half a point of error rate).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxIncrease *float64 `json:"maxIncrease,omitempty"`
	// minRatio: the canary must be at least this fraction of stable (0.9),
	// for metrics where higher is better.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinRatio *float64 `json:"minRatio,omitempty"`
	// maxDecrease: the canary may fall short of stable by at most this
	// much.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxDecrease *float64 `json:"maxDecrease,omitempty"`
}

// SampleGuard is a query whose answer must reach min before a metric is
// judged.
type SampleGuard struct {
	// query is a PromQL template like a metric's, typically the request
	// count over the interval: sum(increase(http_requests_total{service="{{ .Service }}"}[{{ .Interval }}])).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=8192
	// +kubebuilder:validation:XValidation:rule="!self.matches('[{][{]-?[[:space:]]*(range|template|block|define)([^a-zA-Z0-9_]|$)')",message="query: range, template, block and define are not allowed in a query template"
	Query string `json:"query"`
	// min is the least answer that lets the metric be judged.
	// +required
	// +kubebuilder:validation:Minimum=0
	Min float64 `json:"min"`
}

// InconclusiveLimit is how long Inconclusive may last, and what then.
type InconclusiveLimit struct {
	// after is how long the metric may answer Inconclusive in a row.
	// +required
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="inconclusiveLimit.after must be at least 1s"
	After metav1.Duration `json:"after"`
	// then is the judgement once after has passed: fail (the default) or
	// pass.
	// +optional
	// +kubebuilder:default=fail
	Then InconclusiveJudgement `json:"then,omitempty"`
}

// InconclusiveJudgement is what a check that stayed Inconclusive too long
// becomes.
// +kubebuilder:validation:Enum=pass;fail
type InconclusiveJudgement string

const (
	// InconclusivePass makes it Passed.
	InconclusivePass InconclusiveJudgement = "pass"
	// InconclusiveFail makes it Failed, counted at once.
	InconclusiveFail InconclusiveJudgement = "fail"
)
