package testenv

import (
	"context"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Readier stands in for the deployment controller and the kubelet in one
// namespace: it keeps writing the status of every Deployment there as if all
// pods of its current template were ready, unless told to hold a Deployment
// at a given number of ready pods.
type Readier struct {
	c         client.Client
	namespace string
	mu        sync.Mutex
	hold      map[string]int32
}

// StartReadier runs a Readier until ctx ends.
func StartReadier(ctx context.Context, c client.Client, namespace string) *Readier {
	r := &Readier{c: c, namespace: namespace, hold: map[string]int32{}}
	go r.loop(ctx)
	return r
}

// Hold keeps Deployment name at ready pods (its spec may ask for more).
func (r *Readier) Hold(name string, ready int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hold[name] = ready
}

// Release lets Deployment name become fully ready again.
func (r *Readier) Release(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.hold, name)
}

func (r *Readier) loop(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var list appsv1.DeploymentList
		if err := r.c.List(ctx, &list, client.InNamespace(r.namespace)); err != nil {
			continue
		}
		for i := range list.Items {
			d := &list.Items[i]
			want := int32(1)
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			ready := want
			r.mu.Lock()
			if h, ok := r.hold[d.Name]; ok && h < want {
				ready = h
			}
			r.mu.Unlock()
			s := d.Status
			if s.ObservedGeneration == d.Generation && s.Replicas == want && s.UpdatedReplicas == want && s.ReadyReplicas == ready {
				continue
			}
			_ = SetDeploymentReadyReplicas(ctx, r.c, client.ObjectKeyFromObject(d), ready)
		}
	}
}
