package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// session is a client of the API server and the namespace the flags chose.
type session struct {
	c  client.Client
	ns string
}

func (o *Options) session() (*session, error) {
	cfg, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100 // watch and the controls poll; keep client-side throttling quiet
	ns, _, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connect to the API server: %w", err)
	}
	return &session{c: c, ns: ns}, nil
}

// rollout reads Rollout name of the session's namespace.
func (s *session) rollout(ctx context.Context, name string) (*v1.Rollout, error) {
	var ro v1.Rollout
	if err := s.c.Get(ctx, types.NamespacedName{Namespace: s.ns, Name: name}, &ro); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, notFoundError{name: name, namespace: s.ns}
		}
		return nil, fmt.Errorf("get rollout %s/%s: %w", s.ns, name, err)
	}
	return &ro, nil
}

// notFoundError says a Rollout is not there.
type notFoundError struct{ name, namespace string }

func (e notFoundError) Error() string {
	return fmt.Sprintf("rollout %q not found in namespace %q", e.name, e.namespace)
}

// annotate sets (or, for a nil value, removes) one annotation with a JSON
// merge patch that touches nothing else.
func (s *session) annotate(ctx context.Context, name, key string, value *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{key: value}}})
	if err != nil {
		return err
	}
	ro := &v1.Rollout{}
	ro.Namespace, ro.Name = s.ns, name
	if err := s.c.Patch(ctx, ro, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("annotate rollout %s/%s with %s: %w", s.ns, name, key, err)
	}
	return nil
}

// whoAmI asks the API server for the caller's user name (SelfSubjectReview).
func (s *session) whoAmI(ctx context.Context) (string, error) {
	r := &authenticationv1.SelfSubjectReview{}
	if err := s.c.Create(ctx, r); err != nil {
		return "", fmt.Errorf("ask the API server who you are (SelfSubjectReview): %w", err)
	}
	if r.Status.UserInfo.Username == "" {
		return "", fmt.Errorf("the API server knows no user name for your credentials")
	}
	return r.Status.UserInfo.Username, nil
}

// images reads what each color runs: the stable color's Deployment, and
// for a canary the canary color's Deployment when it runs the canary
// revision already, else spec.template (what it will run).
func (s *session) images(ctx context.Context, ro *v1.Rollout) (stable, canary string, err error) {
	if ro.Status.StableColor != "" {
		d, err := s.deployment(ctx, ro, ro.Status.StableColor)
		if err != nil {
			return "", "", err
		}
		if d != nil {
			stable = podImages(d.Spec.Template.Spec)
		}
	}
	if ro.Status.CanaryRevision != "" {
		d, err := s.deployment(ctx, ro, ro.Status.StableColor.Other())
		if err != nil {
			return "", "", err
		}
		if d != nil && d.Annotations[v1.AnnotationRevision] == ro.Status.CanaryRevision {
			canary = podImages(d.Spec.Template.Spec)
		} else {
			canary = podImages(ro.Spec.Template.Spec)
		}
	}
	return stable, canary, nil
}

func (s *session) deployment(ctx context.Context, ro *v1.Rollout, c v1.Color) (*appsv1.Deployment, error) {
	var d appsv1.Deployment
	err := s.c.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name + "-" + string(c)}, &d)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get deployment %s-%s: %w", ro.Name, c, err)
	}
	return &d, nil
}

// podImages names the images of a pod's containers: the image alone for one
// container, name=image for several.
func podImages(spec corev1.PodSpec) string {
	if len(spec.Containers) == 1 {
		return spec.Containers[0].Image
	}
	parts := make([]string, 0, len(spec.Containers))
	for _, c := range spec.Containers {
		parts = append(parts, c.Name+"="+c.Image)
	}
	return strings.Join(parts, ", ")
}
