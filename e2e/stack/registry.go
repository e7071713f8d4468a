package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ramp-dev/ramp/e2e/harness"
)

// Registry is the image registry of the stack (Options.Registry): a table
// of tag → digest that the test controls, and the pull a kubelet makes
// before a pod starts. Every 50 ms it looks for pods not pulled yet and,
// when every image of a pod resolves, annotates it with the imageID of each
// container (<name>@sha256:<64 hex>, as a kubelet reports what it pulled)
// and harness.PulledAnnotation; kwok makes only such pods Ready, with those
// imageIDs (harness.Options.PullImages). A pod whose image does not resolve
// stays Pending, as one in ErrImagePull would.
//
// Pushing a tag again (Push) changes what later pulls resolve it to; pods
// pulled before keep the digest they got, as in a cluster.
type Registry struct {
	mu      sync.Mutex
	digests map[string]string // image reference (name:tag) → sha256:<hex>
	pushes  int
	pulls   []Pull
}

// Pull is one pod's pull.
type Pull struct {
	At       time.Time
	Pod      types.NamespacedName
	ImageIDs map[string]string // container → imageID
}

// Push makes image (name:tag) resolve to a new digest, and returns it. The
// digest is the sha256 of the reference and the push's number, so that a
// run's digests are the same every time.
func (r *Registry) Push(image string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pushes++
	sum := sha256.Sum256(fmt.Appendf(nil, "%s#%d", image, r.pushes))
	d := "sha256:" + hex.EncodeToString(sum[:])
	if r.digests == nil {
		r.digests = map[string]string{}
	}
	r.digests[image] = d
	return d
}

// Digest is what image resolves to now ("" when it does not).
func (r *Registry) Digest(image string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.digests[image]
}

// imageID resolves an image reference to the imageID a kubelet would
// report: name@digest. A reference pinned by a digest is its own.
func (r *Registry) imageID(image string) (string, bool) {
	if name, d, ok := strings.Cut(image, "@"); ok {
		if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
			name = name[:i]
		}
		return name + "@" + d, true
	}
	d := r.Digest(image)
	if d == "" {
		return "", false
	}
	name := image
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name + "@" + d, true
}

// Pulls are the pulls so far, oldest first.
func (r *Registry) Pulls() []Pull {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Pull(nil), r.pulls...)
}

// Run pulls for new pods until ctx ends.
func (r *Registry) Run(ctx context.Context, c client.Client, logf func(string, ...any)) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if err := r.sync(ctx, c, logf); err != nil && ctx.Err() == nil {
			logf("registry: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Registry) sync(ctx context.Context, c client.Client, logf func(string, ...any)) error {
	var pods corev1.PodList
	if err := c.List(ctx, &pods); err != nil {
		return err
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if _, done := p.Annotations[harness.PulledAnnotation]; done || p.DeletionTimestamp != nil {
			continue
		}
		ids := map[string]string{}
		all := true
		for _, ct := range append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
			id, ok := r.imageID(ct.Image)
			if !ok {
				all = false
				break
			}
			ids[ct.Name] = id
		}
		if !all {
			continue
		}
		ann := map[string]string{harness.PulledAnnotation: "true"}
		for n, id := range ids {
			ann[harness.ImageIDAnnotationPrefix+n] = id
		}
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
		if err != nil {
			return err
		}
		if err := c.Patch(ctx, p, client.RawPatch(types.MergePatchType, patch)); err != nil {
			if client.IgnoreNotFound(err) == nil {
				continue
			}
			return fmt.Errorf("annotate pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		r.mu.Lock()
		r.pulls = append(r.pulls, Pull{At: time.Now(), Pod: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, ImageIDs: ids})
		r.mu.Unlock()
		logf("registry: pod %s/%s pulled %v", p.Namespace, p.Name, ids)
	}
	return nil
}
