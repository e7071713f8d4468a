package main

import (
	"context"
	"encoding/json"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// readier stands in for the deployment controller and the kubelet: it
// watches Deployments through an informer and, whenever spec.replicas or the
// generation moves, writes a status with every pod of the template ready.
// Unlike testenv.Readier (a List every 50 ms) its cost follows the changes,
// not the number of Deployments.
type readier struct {
	cache cache.Cache
	c     client.Client
	queue workqueue.TypedInterface[types.NamespacedName]
	mu    sync.Mutex
	n     int // status writes
}

func startReadier(ctx context.Context, ca cache.Cache, c client.Client, workers int) (*readier, error) {
	r := &readier{cache: ca, c: c, queue: workqueue.NewTyped[types.NamespacedName]()}
	inf, err := ca.GetInformer(ctx, &appsv1.Deployment{})
	if err != nil {
		return nil, err
	}
	enqueue := func(o any) {
		if d, ok := o.(*appsv1.Deployment); ok && !ready(d) {
			r.queue.Add(client.ObjectKeyFromObject(d))
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, o any) { enqueue(o) },
	}); err != nil {
		return nil, err
	}
	go func() { <-ctx.Done(); r.queue.ShutDown() }()
	for range workers {
		go r.work(ctx)
	}
	return r, nil
}

func want(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func ready(d *appsv1.Deployment) bool {
	w, s := want(d), d.Status
	return s.ObservedGeneration == d.Generation && s.Replicas == w && s.UpdatedReplicas == w &&
		s.ReadyReplicas == w && s.AvailableReplicas == w && s.UnavailableReplicas == 0
}

func (r *readier) work(ctx context.Context) {
	for {
		key, quit := r.queue.Get()
		if quit {
			return
		}
		r.sync(ctx, key)
		r.queue.Done(key)
	}
}

func (r *readier) sync(ctx context.Context, key types.NamespacedName) {
	var d appsv1.Deployment
	if err := r.cache.Get(ctx, key, &d); err != nil || ready(&d) {
		return
	}
	w := want(&d)
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{
		"observedGeneration": d.Generation, "replicas": w, "updatedReplicas": w,
		"readyReplicas": w, "availableReplicas": w, "unavailableReplicas": 0,
	}})
	if err := r.c.Status().Patch(ctx, &d, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if ctx.Err() == nil {
			r.queue.Add(key) // try again; the informer brings the newest object
		}
		return
	}
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
}
