package controllers

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// +kubebuilder:rbac:groups="",resources=pods,verbs=list

// imagesEvery bounds the pod lists of one Rollout: at most one per color
// and revision in this interval.
const imagesEvery = 5 * time.Second

// digestRE finds a sha256 digest in an imageID, whatever its prefix:
// "docker-pullable://registry/name@sha256:…", "registry/name@sha256:…",
// or "sha256:…" (containerd, a local image).
var digestRE = regexp.MustCompile(`(?:^|[@/:])(sha256:[0-9a-f]{64})$`)

// ImageDigest returns the sha256 digest an imageID names, and false when it
// names none (an empty or unparsable imageID).
func ImageDigest(imageID string) (string, bool) {
	m := digestRE.FindStringSubmatch(imageID)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// imageLooks remembers, per Rollout color, the Deployment state the pods
// were last listed for and when, so that pods are listed only when a
// color's revision or ready pods changed, and not more often than
// imagesEvery.
type imageLooks struct {
	mu sync.Mutex
	m  map[imageLookKey]imageLook
}

type imageLookKey struct {
	rollout types.NamespacedName
	color   v1.Color
}

type imageLook struct {
	revision string
	ready    int32
	at       time.Time
	failed   bool // the list failed: retried at a later reconcile, none is asked for
}

// forget drops a deleted Rollout's looks.
func (l *imageLooks) forget(ro types.NamespacedName) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.m {
		if k.rollout == ro {
			delete(l.m, k)
		}
	}
}

// observeImages returns status.images for this reconcile, from prev and, for
// a color whose ready revision changed since the last look, a live list of
// its pods. It returns a requeue when a look had to wait for imagesEvery.
// A failed list keeps the color's entry: the status is written all the same.
func (r *RolloutReconciler) observeImages(ctx context.Context, ro *v1.Rollout, w *world, prev []v1.ColorImages) ([]v1.ColorImages, time.Duration) {
	var out []v1.ColorImages
	var requeue time.Duration
	now := r.now()
	for _, c := range []v1.Color{v1.Blue, v1.Green} {
		d := w.deployments[c]
		entry := findImages(prev, c)
		if d == nil || replicasOf(d) == 0 || d.Status.ReadyReplicas == 0 {
			continue // no ready pods: the entry goes
		}
		rev := d.Annotations[v1.AnnotationRevision]
		if entry != nil && entry.Revision != rev {
			entry = nil // pods of another revision: no longer what runs
		}
		// Only a settled Deployment: every pod it counts is of its
		// current template.
		settled := d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == d.Status.Replicas
		if !settled {
			if entry != nil {
				out = append(out, *entry)
			}
			continue
		}
		key := imageLookKey{rollout: types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}, color: c}
		r.images.mu.Lock()
		if r.images.m == nil {
			r.images.m = map[imageLookKey]imageLook{}
		}
		last, looked := r.images.m[key]
		r.images.mu.Unlock()
		fresh := entry != nil && entry.Pods == d.Status.ReadyReplicas
		if (looked && last.revision == rev && last.ready == d.Status.ReadyReplicas) || (!looked && fresh) {
			if entry != nil {
				out = append(out, *entry)
			}
			continue
		}
		// The first look at a revision is never put off: a promotion's
		// record and a required proof need the digests that ran. Looks
		// again at the same revision (more pods ready), and after a failed
		// list, wait.
		if looked && (last.revision == rev || last.failed) {
			if wait := last.at.Add(imagesEvery).Sub(now); wait > 0 {
				if entry != nil {
					out = append(out, *entry)
				}
				if !last.failed && (requeue == 0 || wait < requeue) {
					requeue = wait
				}
				continue
			}
		}
		got, err := r.listImages(ctx, ro, c, d, rev)
		look := imageLook{revision: rev, ready: d.Status.ReadyReplicas, at: now}
		if err != nil {
			// Never in the way of the reconcile (a rollback above all):
			// keep what was recorded and try again at a later reconcile,
			// not before imagesEvery.
			log.FromContext(ctx).Error(err, "status.images not observed", "rollout", klog.KObj(ro), "color", c)
			look.revision, look.failed, got = "", true, entry
		}
		r.images.mu.Lock()
		r.images.m[key] = look
		r.images.mu.Unlock()
		if got != nil {
			out = append(out, *got)
		}
	}
	return out, requeue
}

func findImages(list []v1.ColorImages, c v1.Color) *v1.ColorImages {
	for i := range list {
		if list[i].Color == c {
			e := list[i].DeepCopy()
			return e
		}
	}
	return nil
}

// listImages reads color c's pods from the API server (Ramp does not cache
// pods) and returns the digests its ready pods of the Deployment's current
// template run, nil when none is ready.
func (r *RolloutReconciler) listImages(ctx context.Context, ro *v1.Rollout, c v1.Color, d *appsv1.Deployment, rev string) (*v1.ColorImages, error) {
	reader := r.Reader
	if reader == nil {
		reader = r.Client
	}
	var pods corev1.PodList
	if err := reader.List(ctx, &pods, client.InNamespace(ro.Namespace), client.MatchingLabels(colorLabels(ro, c))); err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", ColorName(ro, c), err)
	}
	tpl := &d.Spec.Template.Spec
	var ready []*corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || !podReady(p) || !sameImages(tpl, &p.Spec) {
			continue
		}
		ready = append(ready, p)
	}
	return podImages(c, rev, tpl, ready), nil
}

// podImages gathers the distinct digests of each container of pods, in the
// template's order (init containers first); nil without pods.
func podImages(c v1.Color, rev string, tpl *corev1.PodSpec, pods []*corev1.Pod) *v1.ColorImages {
	if len(pods) == 0 {
		return nil
	}
	out := &v1.ColorImages{Color: c, Revision: rev, Pods: int32(len(pods))}
	add := func(ct corev1.Container, statuses func(*corev1.Pod) []corev1.ContainerStatus) {
		seen := map[string]bool{}
		for _, p := range pods {
			for _, s := range statuses(p) {
				if s.Name != ct.Name {
					continue
				}
				dg, _ := ImageDigest(s.ImageID) // "" when it names none
				seen[dg] = true
			}
		}
		digests := make([]string, 0, len(seen))
		for dg := range seen {
			digests = append(digests, dg)
		}
		sort.Strings(digests)
		if len(digests) > v1.MaxImageDigests {
			digests = digests[:v1.MaxImageDigests]
		}
		if len(out.Containers) < 32 {
			out.Containers = append(out.Containers, v1.ContainerImages{Name: ct.Name, Image: ct.Image, Digests: digests})
		}
	}
	for _, ct := range tpl.InitContainers {
		add(ct, func(p *corev1.Pod) []corev1.ContainerStatus { return p.Status.InitContainerStatuses })
	}
	for _, ct := range tpl.Containers {
		add(ct, func(p *corev1.Pod) []corev1.ContainerStatus { return p.Status.ContainerStatuses })
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// sameImages reports whether a pod runs the template's images (container
// names and image references): a pod of an older template that is still
// there does not count for the current revision.
func sameImages(tpl, pod *corev1.PodSpec) bool {
	if len(tpl.Containers) != len(pod.Containers) || len(tpl.InitContainers) != len(pod.InitContainers) {
		return false
	}
	for i := range tpl.Containers {
		if tpl.Containers[i].Name != pod.Containers[i].Name || tpl.Containers[i].Image != pod.Containers[i].Image {
			return false
		}
	}
	for i := range tpl.InitContainers {
		if tpl.InitContainers[i].Name != pod.InitContainers[i].Name || tpl.InitContainers[i].Image != pod.InitContainers[i].Image {
			return false
		}
	}
	return true
}
