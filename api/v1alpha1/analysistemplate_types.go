package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnalysisTemplate is a shared set of checks that Rollouts of its namespace
// reference from spec.analysis.templates, with argument values.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=at,categories=ramp
// +kubebuilder:printcolumn:name="Metrics",type=integer,JSONPath=`.spec.metrics[*].name`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AnalysisTemplate struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the template's arguments and metrics.
	// +required
	Spec AnalysisTemplateSpec `json:"spec"`
}

// AnalysisTemplateList is a list of AnalysisTemplates.
//
// +kubebuilder:object:root=true
type AnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the AnalysisTemplates.
	Items []AnalysisTemplate `json:"items"`
}

// ClusterAnalysisTemplate is an AnalysisTemplate that Rollouts of every
// namespace may reference. Secrets its Prometheus settings name are read in
// the namespace of the Rollout that uses it, with the same opt-in label.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=cat,categories=ramp
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterAnalysisTemplate struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec holds the template's arguments and metrics.
	// +required
	Spec AnalysisTemplateSpec `json:"spec"`
}

// ClusterAnalysisTemplateList is a list of ClusterAnalysisTemplates.
//
// +kubebuilder:object:root=true
type ClusterAnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the ClusterAnalysisTemplates.
	Items []ClusterAnalysisTemplate `json:"items"`
}

// AnalysisTemplateSpec is a template's arguments and metrics.
type AnalysisTemplateSpec struct {
	// args are the arguments the template's queries, URLs and jobs read
	// as {{ .Args.<name> }}. An argument without a default must be given by
	// every Rollout that uses the template.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Args []TemplateArg `json:"args,omitempty"`

	// prometheus is the server of the template's query metrics; without
	// it, the using Rollout's analysis.prometheus.
	// +optional
	Prometheus *PrometheusProvider `json:"prometheus,omitempty"`

	// metrics are the template's checks, as in a Rollout's analysis.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	Metrics []Metric `json:"metrics"`
}

// TemplateArg declares one argument of a template.
type TemplateArg struct {
	// name of the argument, as the template reads it: {{ .Args.<name> }}.
	// +required
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_]*$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// default is the value when a Rollout gives none.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Default *string `json:"default,omitempty"`
}

// AnalysisTemplateRef names a template and gives its arguments.
type AnalysisTemplateRef struct {
	// kind is AnalysisTemplate (the default, in the Rollout's namespace) or
	// ClusterAnalysisTemplate.
	// +optional
	// +kubebuilder:default=AnalysisTemplate
	// +kubebuilder:validation:Enum=AnalysisTemplate;ClusterAnalysisTemplate
	Kind string `json:"kind,omitempty"`
	// name of the template.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// args are the values of the template's arguments.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Args []TemplateArgValue `json:"args,omitempty"`
}

// TemplateArgValue is the value of one argument: literal, or a field of the
// Rollout.
// +kubebuilder:validation:XValidation:rule="has(self.value) != has(self.valueFrom)",message="an argument needs exactly one of value and valueFrom"
type TemplateArgValue struct {
	// name of the argument.
	// +required
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_]*$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// value is the argument's value.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Value *string `json:"value,omitempty"`
	// valueFrom takes the value from the Rollout.
	// +optional
	ValueFrom *ArgValueSource `json:"valueFrom,omitempty"`
}

// ArgValueSource is a field of the Rollout an argument takes its value from.
type ArgValueSource struct {
	// field is one of namespace, rollout, canaryService, stableService,
	// canaryRevision, stableRevision, canaryColor and stableColor, read
	// when the template is resolved (when a revision starts).
	// +required
	// +kubebuilder:validation:Enum=namespace;rollout;canaryService;stableService;canaryRevision;stableRevision;canaryColor;stableColor
	Field string `json:"field"`
}

// ResolvedTemplate is the snapshot of one template a revision uses, taken
// when the revision started.
type ResolvedTemplate struct {
	// kind is AnalysisTemplate or ClusterAnalysisTemplate.
	// +required
	Kind string `json:"kind"`
	// name of the template.
	// +required
	Name string `json:"name"`
	// generation of the template the snapshot was taken from.
	// +optional
	Generation int64 `json:"generation,omitempty"`
	// args are the argument values the snapshot was resolved with.
	// +optional
	Args map[string]string `json:"args,omitempty"`
	// prometheus is the template's own server, if it names one.
	// +optional
	Prometheus *PrometheusProvider `json:"prometheus,omitempty"`
	// metrics are the template's metrics as they were then.
	// +optional
	Metrics []Metric `json:"metrics,omitempty"`
}

// The kinds of template an AnalysisTemplateRef names.
const (
	KindAnalysisTemplate        = "AnalysisTemplate"
	KindClusterAnalysisTemplate = "ClusterAnalysisTemplate"
)

// TemplateKind is the kind r names, AnalysisTemplate when it names none.
func (r AnalysisTemplateRef) TemplateKind() string {
	if r.Kind == "" {
		return KindAnalysisTemplate
	}
	return r.Kind
}
