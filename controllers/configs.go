package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// configIndex indexes Rollouts by the "namespace/name" of each ConfigMap
// their configRefs list.
const configIndex = "ramp.dev/config"

const (
	configSource = "source"
	configCopy   = "copy"
)

func configKeys(ro *v1.Rollout) []string {
	var out []string
	for _, c := range ro.Spec.ConfigRefs {
		out = append(out, types.NamespacedName{Namespace: ro.Namespace, Name: c.Name}.String())
	}
	return out
}

// configHash names the content of a ConfigMap: equal data, equal hash.
func configHash(cm *corev1.ConfigMap) string {
	h := sha256.New()
	write := func(kind string, keys []string, value func(string) []byte) {
		sort.Strings(keys)
		for _, k := range keys {
			v := value(k)
			fmt.Fprintf(h, "%s\x00%d:%s\x00%d:", kind, len(k), k, len(v))
			h.Write(v)
		}
	}
	data := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		data = append(data, k)
	}
	write("data", data, func(k string) []byte { return []byte(cm.Data[k]) })
	bin := make([]string, 0, len(cm.BinaryData))
	for k := range cm.BinaryData {
		bin = append(bin, k)
	}
	write("binaryData", bin, func(k string) []byte { return cm.BinaryData[k] })
	return hex.EncodeToString(h.Sum(nil))[:10]
}

// configCopyName is the name of the copy of ConfigMap name with content hash.
func configCopyName(ro *v1.Rollout, name, hash string) string {
	return ro.Name + "-" + name + "-" + hash
}

// resolveConfigs makes sure an immutable copy of each listed ConfigMap's
// current content exists, and points ro's pod template (in memory) at the
// copies. A missing ConfigMap is a spec problem; transient errors are
// returned.
func (r *RolloutReconciler) resolveConfigs(ctx context.Context, ro *v1.Rollout) (string, error) {
	if len(ro.Spec.ConfigRefs) == 0 {
		return "", nil
	}
	names := map[string]string{}
	for i, ref := range ro.Spec.ConfigRefs {
		src, err := r.getConfig(ctx, ro.Namespace, ref.Name)
		if err != nil {
			return "", err
		}
		if src == nil {
			return fmt.Sprintf("spec.configRefs[%d]: ConfigMap %s/%s not found", i, ro.Namespace, ref.Name), nil
		}
		if src.Labels[v1.LabelConfig] == configCopy {
			return fmt.Sprintf("spec.configRefs[%d]: ConfigMap %s/%s is a copy Ramp made; name its source", i, ro.Namespace, ref.Name), nil
		}
		if src.Labels[v1.LabelConfig] != configSource {
			base := src.DeepCopy()
			if src.Labels == nil {
				src.Labels = map[string]string{}
			}
			src.Labels[v1.LabelConfig] = configSource
			if err := r.Client.Patch(ctx, src, client.MergeFrom(base)); err != nil {
				return "", fmt.Errorf("label ConfigMap %s: %w", ref.Name, err)
			}
		}
		name := configCopyName(ro, ref.Name, configHash(src))
		if err := r.ensureConfigCopy(ctx, ro, src, name); err != nil {
			if isRefusal(err) {
				return fmt.Sprintf("spec.configRefs[%d]: the API server refused the copy %s: %v", i, name, err), nil
			}
			return "", err
		}
		names[ref.Name] = name
	}
	pointAtConfigs(&ro.Spec.Template, names)
	return "", nil
}

func (r *RolloutReconciler) getConfig(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	var cm corev1.ConfigMap
	err := r.Client.Get(ctx, key, &cm)
	if apierrors.IsNotFound(err) && r.Reader != nil {
		err = r.Reader.Get(ctx, key, &cm) // not labelled yet: not in the cache
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get ConfigMap %s: %w", name, err)
	}
	return &cm, nil
}

// ensureConfigCopy creates the immutable copy name of src, owned by ro,
// unless it exists.
func (r *RolloutReconciler) ensureConfigCopy(ctx context.Context, ro *v1.Rollout, src *corev1.ConfigMap, name string) error {
	var cur corev1.ConfigMap
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: name}, &cur)
	if err == nil {
		return nil // the name holds the content hash: an existing copy is this content
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("get ConfigMap copy %s: %w", name, err)
	}
	immutable := true
	cp := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   ro.Namespace,
			Labels:      map[string]string{v1.LabelConfig: configCopy, v1.LabelRollout: ro.Name},
			Annotations: map[string]string{v1.AnnotationConfigSource: src.Name},
		},
		Data:       src.Data,
		BinaryData: src.BinaryData,
		Immutable:  &immutable,
	}
	if err := ctrl.SetControllerReference(ro, cp, r.Client.Scheme()); err != nil {
		return err
	}
	if err := r.Client.Create(ctx, cp); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// pointAtConfigs renames every reference of tpl to a ConfigMap in names.
func pointAtConfigs(tpl *corev1.PodTemplateSpec, names map[string]string) {
	visitConfigRefs(tpl, func(name *string) {
		if to, ok := names[*name]; ok {
			*name = to
		}
	})
}

// configsOf lists the ConfigMaps tpl references.
func configsOf(tpl *corev1.PodTemplateSpec) []string {
	var out []string
	visitConfigRefs(tpl, func(name *string) { out = append(out, *name) })
	return out
}

// visitConfigRefs calls f with every ConfigMap name tpl references: in
// volumes, projected volumes, envFrom and env valueFrom of every container.
func visitConfigRefs(tpl *corev1.PodTemplateSpec, f func(*string)) {
	spec := &tpl.Spec
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if v.ConfigMap != nil {
			f(&v.ConfigMap.Name)
		}
		if v.Projected != nil {
			for j := range v.Projected.Sources {
				if s := v.Projected.Sources[j].ConfigMap; s != nil {
					f(&s.Name)
				}
			}
		}
	}
	containers := func(cs []corev1.Container) {
		for i := range cs {
			c := &cs[i]
			for j := range c.EnvFrom {
				if ref := c.EnvFrom[j].ConfigMapRef; ref != nil {
					f(&ref.Name)
				}
			}
			for j := range c.Env {
				if vf := c.Env[j].ValueFrom; vf != nil && vf.ConfigMapKeyRef != nil {
					f(&vf.ConfigMapKeyRef.Name)
				}
			}
		}
	}
	containers(spec.InitContainers)
	containers(spec.Containers)
}

// cleanConfigCopies deletes the copies of this Rollout's ConfigMaps that
// neither the template in effect nor either color's Deployment uses.
func (r *RolloutReconciler) cleanConfigCopies(ctx context.Context, ro *v1.Rollout, w *world) error {
	var list corev1.ConfigMapList
	if err := r.Client.List(ctx, &list, client.InNamespace(ro.Namespace), client.MatchingLabels{v1.LabelConfig: configCopy, v1.LabelRollout: ro.Name}); err != nil {
		return fmt.Errorf("list ConfigMap copies: %w", err)
	}
	if len(list.Items) == 0 {
		return nil
	}
	used := configsOf(&ro.Spec.Template)
	for _, d := range w.deployments {
		used = append(used, configsOf(&d.Spec.Template)...)
	}
	for i := range list.Items {
		cm := &list.Items[i]
		if slices.Contains(used, cm.Name) || !metav1.IsControlledBy(cm, ro) {
			continue
		}
		if err := r.Client.Delete(ctx, cm, client.Preconditions{UID: &cm.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete ConfigMap copy %s: %w", cm.Name, err)
		}
	}
	return nil
}
