package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// configIndex indexes Rollouts by the "kind/namespace/name" of each
// ConfigMap and Secret their configRefs list.
const configIndex = "ramp.dev/config"

const (
	configSource = "source"
	configCopy   = "copy"
)

// configKind is what differs between a ConfigMap and a Secret for
// configRefs: how to read, hash and copy one, and where a pod template
// names one.
type configKind struct {
	name    string
	newObj  func() client.Object
	newList func() client.ObjectList
	// hash writes the object's content.
	hash func(client.Object, hash.Hash)
	// copyOf is an immutable copy of the object's content named name.
	copyOf func(src client.Object, name string) client.Object
	// optIn is true when Ramp uses only objects the user labelled
	// ramp.dev/config: source (Secrets: Ramp reads no Secret it was not
	// given); otherwise Ramp labels them itself.
	optIn bool
	// refs calls f with every name of this kind tpl references.
	refs func(tpl *corev1.PodTemplateSpec, f func(*string))
}

var configKinds = map[string]*configKind{
	"ConfigMap": {
		name:    "ConfigMap",
		newObj:  func() client.Object { return &corev1.ConfigMap{} },
		newList: func() client.ObjectList { return &corev1.ConfigMapList{} },
		hash: func(o client.Object, h hash.Hash) {
			cm := o.(*corev1.ConfigMap)
			hashEntries(h, "data", cm.Data, func(v string) []byte { return []byte(v) })
			hashEntries(h, "binaryData", cm.BinaryData, func(v []byte) []byte { return v })
		},
		copyOf: func(src client.Object, name string) client.Object {
			cm := src.(*corev1.ConfigMap)
			return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: cm.Data, BinaryData: cm.BinaryData, Immutable: ptr.To(true)}
		},
		refs: func(tpl *corev1.PodTemplateSpec, f func(*string)) {
			visitPodRefs(tpl, func(v *corev1.Volume) *string {
				if v.ConfigMap != nil {
					return &v.ConfigMap.Name
				}
				return nil
			}, func(p *corev1.VolumeProjection) *string {
				if p.ConfigMap != nil {
					return &p.ConfigMap.Name
				}
				return nil
			}, func(e *corev1.EnvFromSource) *string {
				if e.ConfigMapRef != nil {
					return &e.ConfigMapRef.Name
				}
				return nil
			}, func(e *corev1.EnvVarSource) *string {
				if e.ConfigMapKeyRef != nil {
					return &e.ConfigMapKeyRef.Name
				}
				return nil
			}, f)
		},
	},
	"Secret": {
		name:    "Secret",
		newObj:  func() client.Object { return &corev1.Secret{} },
		newList: func() client.ObjectList { return &corev1.SecretList{} },
		hash: func(o client.Object, h hash.Hash) {
			s := o.(*corev1.Secret)
			fmt.Fprintf(h, "type\x00%s\x00", s.Type)
			hashEntries(h, "data", s.Data, func(v []byte) []byte { return v })
		},
		copyOf: func(src client.Object, name string) client.Object {
			s := src.(*corev1.Secret)
			return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: s.Type, Data: s.Data, Immutable: ptr.To(true)}
		},
		optIn: true,
		refs: func(tpl *corev1.PodTemplateSpec, f func(*string)) {
			visitPodRefs(tpl, func(v *corev1.Volume) *string {
				if v.Secret != nil {
					return &v.Secret.SecretName
				}
				return nil
			}, func(p *corev1.VolumeProjection) *string {
				if p.Secret != nil {
					return &p.Secret.Name
				}
				return nil
			}, func(e *corev1.EnvFromSource) *string {
				if e.SecretRef != nil {
					return &e.SecretRef.Name
				}
				return nil
			}, func(e *corev1.EnvVarSource) *string {
				if e.SecretKeyRef != nil {
					return &e.SecretKeyRef.Name
				}
				return nil
			}, f)
		},
	},
}

func kindOf(ref v1.ConfigRef) *configKind {
	if k, ok := configKinds[ref.Kind]; ok {
		return k
	}
	return configKinds["ConfigMap"]
}

func configKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

func configKeys(ro *v1.Rollout) []string {
	var out []string
	for _, c := range ro.Spec.ConfigRefs {
		out = append(out, configKey(kindOf(c).name, ro.Namespace, c.Name))
	}
	return out
}

// hashEntries writes the entries of m in key order, each with its length,
// so that no two contents write the same bytes.
func hashEntries[V any](h hash.Hash, what string, m map[string]V, bytes func(V) []byte) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := bytes(m[k])
		fmt.Fprintf(h, "%s\x00%d:%s\x00%d:", what, len(k), k, len(v))
		h.Write(v)
	}
}

// configCopyName is the name of the copy of name with content hash.
func configCopyName(ro *v1.Rollout, name, hash string) string {
	return ro.Name + "-" + name + "-" + hash
}

// resolveConfigs makes sure an immutable copy of each listed ConfigMap's
// and Secret's current content exists, and points ro's pod template (in
// memory) at the copies. A missing or refused source is a spec problem;
// transient errors are returned.
func (r *RolloutReconciler) resolveConfigs(ctx context.Context, ro *v1.Rollout) (string, error) {
	names := map[*configKind]map[string]string{}
	for i, ref := range ro.Spec.ConfigRefs {
		k := kindOf(ref)
		src, err := r.getConfig(ctx, k, ro.Namespace, ref.Name)
		if err != nil {
			return "", err
		}
		where := fmt.Sprintf("spec.configRefs[%d]: %s %s/%s", i, k.name, ro.Namespace, ref.Name)
		if src == nil {
			return where + " not found", nil
		}
		switch label := src.GetLabels()[v1.LabelConfig]; {
		case label == configCopy:
			return where + " is a copy Ramp made; name its source", nil
		case label != configSource && k.optIn:
			// Refused before its data is looked at: Ramp copies only the
			// Secrets their owners let it copy.
			return fmt.Sprintf("%s is not labelled %s: %s; only Secrets so labelled are copied", where, v1.LabelConfig, configSource), nil
		case label != configSource:
			base := src.DeepCopyObject().(client.Object)
			src.SetLabels(withMetadata(src.GetLabels(), map[string]string{v1.LabelConfig: configSource}, nil))
			if err := r.Client.Patch(ctx, src, client.MergeFrom(base)); err != nil {
				return "", fmt.Errorf("label %s %s: %w", k.name, ref.Name, err)
			}
		}
		h := sha256.New()
		k.hash(src, h)
		name := configCopyName(ro, ref.Name, hex.EncodeToString(h.Sum(nil))[:10])
		if err := r.ensureConfigCopy(ctx, ro, k, src, name); err != nil {
			if isRefusal(err) {
				return fmt.Sprintf("%s: the API server refused the copy %s: %v", where, name, err), nil
			}
			return "", err
		}
		if names[k] == nil {
			names[k] = map[string]string{}
		}
		names[k][ref.Name] = name
	}
	for k, renames := range names {
		k.refs(&ro.Spec.Template, func(name *string) {
			if to, ok := renames[*name]; ok {
				*name = to
			}
		})
	}
	return "", nil
}

// getConfig reads a source through the cache and, when the cache does not
// hold it (not labelled yet), from the API server; nil when it is missing.
func (r *RolloutReconciler) getConfig(ctx context.Context, k *configKind, namespace, name string) (client.Object, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	obj := k.newObj()
	err := r.Client.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && r.Reader != nil {
		err = r.Reader.Get(ctx, key, obj)
	}
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", k.name, name, err)
	}
	return obj, nil
}

// ensureConfigCopy creates the immutable copy name of src, owned by ro,
// unless it exists.
func (r *RolloutReconciler) ensureConfigCopy(ctx context.Context, ro *v1.Rollout, k *configKind, src client.Object, name string) error {
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: ro.Namespace, Name: name}, k.newObj())
	if err == nil {
		return nil // the name holds the content hash: an existing copy is this content
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("get %s copy %s: %w", k.name, name, err)
	}
	cp := k.copyOf(src, name)
	cp.SetNamespace(ro.Namespace)
	cp.SetLabels(map[string]string{v1.LabelConfig: configCopy, v1.LabelRollout: ro.Name})
	cp.SetAnnotations(map[string]string{v1.AnnotationConfigSource: src.GetName()})
	if err := ctrl.SetControllerReference(ro, cp, r.Client.Scheme()); err != nil {
		return err
	}
	if err := r.Client.Create(ctx, cp); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// visitPodRefs calls f with the name each of the given accessors finds in
// tpl's volumes, projected volume sources, envFrom and env valueFrom of
// every container.
func visitPodRefs(tpl *corev1.PodTemplateSpec,
	volume func(*corev1.Volume) *string, projected func(*corev1.VolumeProjection) *string,
	envFrom func(*corev1.EnvFromSource) *string, env func(*corev1.EnvVarSource) *string, f func(*string)) {
	call := func(p *string) {
		if p != nil {
			f(p)
		}
	}
	spec := &tpl.Spec
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		call(volume(v))
		if v.Projected != nil {
			for j := range v.Projected.Sources {
				call(projected(&v.Projected.Sources[j]))
			}
		}
	}
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			for j := range cs[i].EnvFrom {
				call(envFrom(&cs[i].EnvFrom[j]))
			}
			for j := range cs[i].Env {
				if vf := cs[i].Env[j].ValueFrom; vf != nil {
					call(env(vf))
				}
			}
		}
	}
}

// configsOf lists the ConfigMaps and Secrets tpl references.
func configsOf(tpl *corev1.PodTemplateSpec) []string {
	var out []string
	for _, k := range configKinds {
		k.refs(tpl, func(name *string) { out = append(out, *name) })
	}
	return out
}

// cleanConfigCopies deletes the copies of this Rollout's configs that
// neither the template in effect nor either color's Deployment uses.
func (r *RolloutReconciler) cleanConfigCopies(ctx context.Context, ro *v1.Rollout, w *world) error {
	used := configsOf(&ro.Spec.Template)
	for _, d := range w.deployments {
		used = append(used, configsOf(&d.Spec.Template)...)
	}
	for _, k := range configKinds {
		list := k.newList()
		if err := r.Client.List(ctx, list, client.InNamespace(ro.Namespace), client.MatchingLabels{v1.LabelConfig: configCopy, v1.LabelRollout: ro.Name}); err != nil {
			return fmt.Errorf("list %s copies: %w", k.name, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, item := range items {
			obj, ok := item.(client.Object)
			if !ok || slices.Contains(used, obj.GetName()) || !metav1.IsControlledBy(obj, ro) {
				continue
			}
			uid := obj.GetUID()
			if err := r.Client.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("delete %s copy %s: %w", k.name, obj.GetName(), err)
			}
		}
	}
	return nil
}
