package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// The namespace's webhooks are a YAML (or JSON) list of webhooks, written
// as spec.notifications.webhooks is, under this key of the ConfigMap
// v1.NamespaceNotificationsConfigMap.
const namespaceWebhooksKey = "webhooks"

var (
	webhookName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	webhookURL  = regexp.MustCompile(`^https?://[^\s/?#]+[^\s]*$`)
)

// webhooks returns the webhooks of ro: the namespace's (unless ro opts out)
// with those of its spec in place of any of the same name. problem names
// what of the namespace's ConfigMap was left out, and why.
func (r *RolloutReconciler) webhooks(ctx context.Context, ro *v1.Rollout) (hooks []v1.Webhook, problem string) {
	n := ro.Spec.Notifications
	if n.UsesNamespaceWebhooks() {
		// The ConfigMap reaches the cache only with a ramp.dev/config label.
		var cm corev1.ConfigMap
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: v1.NamespaceNotificationsConfigMap}, &cm)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			problem = fmt.Sprintf("ConfigMap %s: %v", v1.NamespaceNotificationsConfigMap, err)
		case cm.Labels[v1.LabelConfig] != v1.ConfigNotifications:
			problem = fmt.Sprintf("ConfigMap %s is not labelled %s: %s; its webhooks are ignored", cm.Name, v1.LabelConfig, v1.ConfigNotifications)
		default:
			hooks, problem = parseWebhooks(cm.Data[namespaceWebhooksKey])
			if problem != "" {
				problem = fmt.Sprintf("ConfigMap %s: %s", cm.Name, problem)
			}
		}
	}
	if n != nil {
		for _, w := range n.Webhooks {
			hooks = slices.DeleteFunc(hooks, func(h v1.Webhook) bool { return h.Name == w.Name })
			hooks = append(hooks, w)
		}
	}
	return hooks, problem
}

// parseWebhooks reads a list of webhooks and keeps those the CRD would
// accept; problem says which were left out.
func parseWebhooks(data string) (hooks []v1.Webhook, problem string) {
	if strings.TrimSpace(data) == "" {
		return nil, "no webhooks under key " + namespaceWebhooksKey
	}
	raw, err := utilyaml.ToJSON([]byte(data))
	if err != nil {
		return nil, fmt.Sprintf("key %s is not YAML: %v", namespaceWebhooksKey, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var all []v1.Webhook
	if err := dec.Decode(&all); err != nil {
		hint := ""
		if strings.Contains(err.Error(), `unknown field "true"`) {
			hint = ` (YAML reads a key on as true: the field is moments)`
		}
		return nil, fmt.Sprintf("key %s is not a list of webhooks: %v%s", namespaceWebhooksKey, err, hint)
	}
	var problems []string
	seen := map[string]bool{}
	for i, w := range all {
		if w.Format == "" {
			w.Format = v1.FormatJSON
		}
		if p := checkWebhook(w); p != "" {
			problems = append(problems, fmt.Sprintf("webhook %d (%q): %s", i, w.Name, p))
			continue
		}
		if seen[w.Name] {
			problems = append(problems, fmt.Sprintf("webhook %d: name %q is used twice", i, w.Name))
			continue
		}
		seen[w.Name] = true
		hooks = append(hooks, w)
	}
	return hooks, strings.Join(problems, "; ")
}

// checkWebhook says what the CRD's validation would refuse in w.
func checkWebhook(w v1.Webhook) string {
	switch {
	case len(w.Name) > 63 || !webhookName.MatchString(w.Name):
		return "name must be a DNS label"
	case (w.URL != "") == (w.URLFrom != nil):
		return "a webhook needs exactly one of url and urlFrom"
	case w.URL != "" && (len(w.URL) > 2048 || !webhookURL.MatchString(w.URL)):
		return "url must be an http:// or https:// URL"
	case w.URLFrom != nil && (w.URLFrom.SecretKeyRef.Name == "" || w.URLFrom.SecretKeyRef.Key == ""):
		return "urlFrom.secretKeyRef needs name and key"
	case w.Format != v1.FormatJSON && w.Format != v1.FormatSlack && w.Format != v1.FormatTeams:
		return fmt.Sprintf("unknown format %q (json, slack or teams)", w.Format)
	}
	for _, m := range w.Moments {
		switch m {
		case v1.MomentRolloutStarted, v1.MomentAwaitingApproval, v1.MomentDeployWindow, v1.MomentRolledBack, v1.MomentPromoted, v1.MomentFailed:
		default:
			return fmt.Sprintf("unknown moment %q", m)
		}
	}
	return ""
}

// webhookAddress returns w's URL, read from its opt-in Secret when urlFrom
// names one. Errors name the Secret and key, never the content.
func (r *RolloutReconciler) webhookAddress(ctx context.Context, namespace string, w v1.Webhook) (string, error) {
	if w.URLFrom == nil {
		return w.URL, nil
	}
	ref := w.URLFrom.SecretKeyRef
	u, err := readCredential(ctx, r.Reader, namespace, &ref)
	if err != nil {
		return "", err
	}
	u = strings.TrimSpace(u)
	if !webhookURL.MatchString(u) {
		return "", fmt.Errorf("secret %s key %q does not hold an http:// or https:// URL", ref.Name, ref.Key)
	}
	return u, nil
}
