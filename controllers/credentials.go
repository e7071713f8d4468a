package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// The controller may read every Secret of a namespace, while a Rollout names
// both the Secret and the address its token is sent to: without the opt-in
// label (v1.LabelCredentials) any Secret could be sent to any URL.

// readCredential returns the value of ref's key in the Secret ref names in
// namespace. A Secret not labeled ramp.dev/credentials: "true" is refused before
// its data is looked at; the errors name the Secret, the label or the key,
// never the content.
func readCredential(ctx context.Context, reader client.Reader, namespace string, ref *v1.SecretKeyRef) (string, error) {
	var s corev1.Secret
	if err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, &s); err != nil {
		return "", fmt.Errorf("read secret %s: %w", ref.Name, err)
	}
	if s.Labels[v1.LabelCredentials] != "true" {
		return "", fmt.Errorf("secret %s is not labeled %s: \"true\"; only Secrets so labeled may be used as credentials", ref.Name, v1.LabelCredentials)
	}
	v, ok := s.Data[ref.Key]
	if !ok {
		return "", fmt.Errorf("secret %s has no key %q", ref.Name, ref.Key)
	}
	return string(v), nil
}
