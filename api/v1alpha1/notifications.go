package v1alpha1

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Notifications say whom Ramp tells about the moments of a rollout.
type Notifications struct {
	// webhooks receive a POST for each moment they are on. A webhook of
	// the namespace's ConfigMap (see useNamespaceWebhooks) with the same
	// name is replaced by this one.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	Webhooks []Webhook `json:"webhooks,omitempty"`

	// useNamespaceWebhooks says whether the webhooks of the ConfigMap
	// ramp-notifications (labelled ramp.dev/config: notifications) in the
	// Rollout's namespace apply too; true when omitted.
	// +optional
	UseNamespaceWebhooks *bool `json:"useNamespaceWebhooks,omitempty"`
}

// UsesNamespaceWebhooks reports whether the namespace's webhooks apply to a
// Rollout with these notifications (true for nil).
func (n *Notifications) UsesNamespaceWebhooks() bool {
	return n == nil || n.UseNamespaceWebhooks == nil || *n.UseNamespaceWebhooks
}

// Webhook is one receiver of notifications.
// +kubebuilder:validation:XValidation:rule="has(self.url) != has(self.urlFrom)",message="a webhook needs exactly one of url and urlFrom"
type Webhook struct {
	// name identifies the webhook in events and status.
	// +required
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// url receives the POST. Prefer urlFrom when the URL is the secret
	// (Slack's and Teams' are).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s/?#]+[^\s]*$`
	URL string `json:"url,omitempty"`

	// urlFrom reads the URL from a Secret key in the Rollout's namespace;
	// the Secret must be labelled ramp.dev/credentials: "true".
	// +optional
	URLFrom *WebhookURLSource `json:"urlFrom,omitempty"`

	// format of the body: json (Ramp's own schema, see the README), slack
	// (an incoming webhook's text and blocks) or teams (an Adaptive Card
	// for a Teams Workflows webhook).
	// +optional
	// +kubebuilder:default=json
	Format WebhookFormat `json:"format,omitempty"`

	// moments are the moments this webhook is told about. When omitted:
	// AwaitingApproval, DeployWindow, RolledBack and Promoted. (Not "on":
	// YAML 1.1, which kubectl and most GitOps tools parse, reads the key on
	// as true.)
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	Moments []NotificationMoment `json:"moments,omitempty"`
}

// WebhookURLSource says where a webhook's URL is read from.
type WebhookURLSource struct {
	// secretKeyRef names the Secret key holding the URL.
	// +required
	SecretKeyRef SecretKeyRef `json:"secretKeyRef"`
}

// WebhookFormat is the shape of a notification's body.
// +kubebuilder:validation:Enum=json;slack;teams
type WebhookFormat string

const (
	// FormatJSON is Ramp's own JSON document.
	FormatJSON WebhookFormat = "json"
	// FormatSlack is a Slack incoming webhook message.
	FormatSlack WebhookFormat = "slack"
	// FormatTeams is an Adaptive Card message for a Teams Workflows webhook.
	FormatTeams WebhookFormat = "teams"
)

// NotificationMoment is a moment of a rollout that people are told about.
// +kubebuilder:validation:Enum=RolloutStarted;AwaitingApproval;DeployWindow;RolledBack;Promoted;Failed
type NotificationMoment string

const (
	// MomentRolloutStarted: a new revision starts at step 0.
	MomentRolloutStarted NotificationMoment = "RolloutStarted"
	// MomentAwaitingApproval: a manual gate waits for ramp.dev/promote or
	// approvals.
	MomentAwaitingApproval NotificationMoment = "AwaitingApproval"
	// MomentDeployWindow: a closed deploy window holds a rollout (in
	// flight, or before it starts).
	MomentDeployWindow NotificationMoment = "DeployWindow"
	// MomentRolledBack: the routes carry 0 % canary after a rollback (or a
	// switch back after a promotion).
	MomentRolledBack NotificationMoment = "RolledBack"
	// MomentPromoted: the canary became the stable color.
	MomentPromoted NotificationMoment = "Promoted"
	// MomentFailed: the Rollout cannot be acted on as written.
	MomentFailed NotificationMoment = "Failed"
)

// DefaultMoments are the moments of a webhook without moments.
var DefaultMoments = []NotificationMoment{MomentAwaitingApproval, MomentDeployWindow, MomentRolledBack, MomentPromoted}

// Wants reports whether the webhook is on moment m.
func (w *Webhook) Wants(m NotificationMoment) bool {
	on := w.Moments
	if len(on) == 0 {
		on = DefaultMoments
	}
	for _, o := range on {
		if o == m {
			return true
		}
	}
	return false
}

// NotificationState is where the notification of one moment stands.
// +kubebuilder:validation:Enum=Pending;Sent;Failed;Dropped
type NotificationState string

const (
	// NotificationPending: not every webhook was answered yet; a restarted
	// controller sends it again.
	NotificationPending NotificationState = "Pending"
	// NotificationSent: every webhook accepted it.
	NotificationSent NotificationState = "Sent"
	// NotificationFailed: at least one webhook refused it, or Ramp gave up.
	NotificationFailed NotificationState = "Failed"
	// NotificationDropped: the send queue was full.
	NotificationDropped NotificationState = "Dropped"
)

// NotificationRecord is one moment the status showed, and what became of
// its notification. A moment is notified once: its key is never recorded
// twice, and a Pending one is sent again after a restart (at least once).
type NotificationRecord struct {
	// key identifies the moment: <moment>/<revision>/<step>.
	// +required
	Key string `json:"key"`
	// moment is the kind of moment.
	// +required
	Moment NotificationMoment `json:"moment"`
	// revision is the revision the moment is about.
	// +optional
	Revision string `json:"revision,omitempty"`
	// step is the step index at the moment.
	// +optional
	Step int32 `json:"step"`
	// weight is the canary weight at the moment.
	// +optional
	Weight int32 `json:"weight"`
	// message is the status message at the moment.
	// +optional
	Message string `json:"message,omitempty"`
	// reason says why: what a hold waits for, a rollback's reason.
	// +optional
	Reason string `json:"reason,omitempty"`
	// at is when the status showed the moment.
	// +required
	At metav1.Time `json:"at"`
	// state is Pending until every webhook answered.
	// +required
	State NotificationState `json:"state"`
	// result says what each webhook did with it; it never holds a URL.
	// +optional
	Result string `json:"result,omitempty"`
}

// NotificationKey is the key of a moment of revision at step.
func NotificationKey(m NotificationMoment, revision string, step int32) string {
	return string(m) + "/" + revision + "/" + strconv.Itoa(int(step))
}

// NamespaceNotificationsConfigMap is the ConfigMap whose webhooks apply to
// every Rollout of its namespace; it must be labelled
// ramp.dev/config: notifications, and holds a YAML list of webhooks under
// the key webhooks.
const NamespaceNotificationsConfigMap = "ramp-notifications"

// ConfigNotifications is the ramp.dev/config label value of that ConfigMap.
const ConfigNotifications = "notifications"
