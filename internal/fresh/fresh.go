// Package fresh gives a controller read-your-writes on top of an informer
// cache. A reconcile that runs right after one that wrote an object can read
// the cache before the write's watch event reached it; it would then decide
// again on the old object and write the same thing a second time (a status
// patch, a route patch that fails its resourceVersion test, a Deployment
// patch). The Client here remembers the object each write returned and, for
// as long as the cache still holds a version older than that write, answers
// Get with the written object instead.
//
// It is an optimisation only: it keeps nothing the cluster does not have
// (every remembered object is what the API server answered), it forgets an
// object as soon as the cache shows any version it did not write over, and a
// restarted controller starts with nothing remembered and reads the cluster.
package fresh

import (
	"context"
	"reflect"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// keep bounds how long a written object is remembered when the cache never
// shows it (a watch that lags this long has bigger problems, and the object
// may have been deleted).
const keep = time.Minute

type key struct {
	gvk schema.GroupVersionKind
	types.NamespacedName
}

type entry struct {
	obj     client.Object       // what the last write answered
	older   map[string]struct{} // resourceVersions this object replaced
	written time.Time
}

// Client wraps a client whose reads come from a cache.
type Client struct {
	client.Client
	now func() time.Time
	*memory
}

// memory is what Clients made by With share.
type memory struct {
	mu    sync.Mutex
	m     map[key]*entry
	swept time.Time

	informers cache.Informers // nil: forget on reads and after keep only
	watched   map[schema.GroupVersionKind]bool
}

// New wraps c. With informers (the cache c reads from), a written object is
// forgotten as soon as the cache shows a newer version, so memory holds only
// the writes the cache has not caught up with; without, on the next read or
// after keep. now is the clock for forgetting; time.Now when nil.
func New(c client.Client, informers cache.Informers, now func() time.Time) *Client {
	if now == nil {
		now = time.Now
	}
	return &Client{Client: c, now: now, memory: &memory{m: map[key]*entry{}, informers: informers, watched: map[schema.GroupVersionKind]bool{}}}
}

// watch has the cache's informer for gvk forget written objects once it
// holds a version they did not replace. It is called outside the lock.
func (c *Client) watch(gvk schema.GroupVersionKind, obj client.Object) {
	c.mu.Lock()
	done := c.informers == nil || c.watched[gvk]
	c.watched[gvk] = true
	c.mu.Unlock()
	if done {
		return
	}
	inf, err := c.informers.GetInformer(context.Background(), obj)
	if err != nil {
		c.mu.Lock()
		c.watched[gvk] = false // try again on the next write
		c.mu.Unlock()
		return
	}
	seen := func(o any) {
		if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		m, ok := o.(metav1.Object)
		if !ok {
			return
		}
		k := key{gvk: gvk, NamespacedName: types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}}
		c.mu.Lock()
		defer c.mu.Unlock()
		if e := c.m[k]; e != nil {
			if _, stale := e.older[m.GetResourceVersion()]; !stale {
				delete(c.m, k)
			}
		}
	}
	_, _ = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    seen,
		UpdateFunc: func(_, o any) { seen(o) },
		DeleteFunc: seen,
	})
}

// With wraps another client (e.g. one with its own rate limit) that shares
// this one's memory: each reads back what either wrote.
func (c *Client) With(other client.Client) *Client {
	return &Client{Client: other, now: c.now, memory: c.memory}
}

func (c *Client) keyOf(obj client.Object) (key, bool) {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return key{}, false
	}
	return key{gvk: gvk, NamespacedName: client.ObjectKeyFromObject(obj)}, true
}

// absent stands for "not there" among the versions a write replaced: the
// version a create replaces.
const absent = ""

// Get reads through the wrapped client and answers with the object this
// client last wrote when the read returned a version that write replaced
// (or NotFound for an object this client created).
func (c *Client) Get(ctx context.Context, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := c.Client.Get(ctx, k, obj, opts...)
	rv := obj.GetResourceVersion()
	switch {
	case apierrors.IsNotFound(err):
		obj.SetNamespace(k.Namespace)
		obj.SetName(k.Name)
		rv = absent
	case err != nil:
		return err
	}
	kk, ok := c.keyOf(obj)
	if !ok {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[kk]
	if e == nil {
		return err
	}
	if _, stale := e.older[rv]; !stale || c.now().Sub(e.written) > keep {
		delete(c.m, kk) // the cache caught up, or someone else wrote since
		return err
	}
	dst, src := reflect.ValueOf(obj), reflect.ValueOf(e.obj.DeepCopyObject())
	if dst.Type() != src.Type() || dst.Kind() != reflect.Pointer {
		return err
	}
	dst.Elem().Set(src.Elem())
	return nil
}

// Create creates and remembers the answer, so that a read before the
// cache has seen the object finds it rather than creating it again.
func (c *Client) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := c.Client.Create(ctx, obj, opts...); err != nil {
		return err
	}
	c.remember(obj, absent)
	return nil
}

// remember records obj as written over the version before.
func (c *Client) remember(obj client.Object, before string) {
	if obj.GetResourceVersion() == "" || obj.GetResourceVersion() == before {
		return
	}
	kk, ok := c.keyOf(obj)
	if !ok {
		return
	}
	c.watch(kk.gvk, obj)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	older := map[string]struct{}{before: {}}
	if e := c.m[kk]; e != nil {
		if _, chained := e.older[before]; chained || e.obj.GetResourceVersion() == before {
			for rv := range e.older {
				older[rv] = struct{}{}
			}
		}
	}
	c.m[kk] = &entry{obj: obj.DeepCopyObject().(client.Object), older: older, written: now}
	if now.Sub(c.swept) > keep {
		c.swept = now
		for k, e := range c.m {
			if now.Sub(e.written) > keep {
				delete(c.m, k)
			}
		}
	}
}

// Len is how many written objects are remembered (for tests).
func (c *Client) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Patch patches and remembers the answer.
func (c *Client) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	before := obj.GetResourceVersion()
	if err := c.Client.Patch(ctx, obj, patch, opts...); err != nil {
		return err
	}
	c.remember(obj, before)
	return nil
}

// Update updates and remembers the answer.
func (c *Client) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	before := obj.GetResourceVersion()
	if err := c.Client.Update(ctx, obj, opts...); err != nil {
		return err
	}
	c.remember(obj, before)
	return nil
}

// Status returns a writer of the status subresource that remembers answers.
func (c *Client) Status() client.SubResourceWriter {
	return &statusWriter{SubResourceWriter: c.Client.Status(), c: c}
}

type statusWriter struct {
	client.SubResourceWriter
	c *Client
}

func (s *statusWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	before := obj.GetResourceVersion()
	if err := s.SubResourceWriter.Patch(ctx, obj, patch, opts...); err != nil {
		return err
	}
	s.c.remember(obj, before)
	return nil
}

func (s *statusWriter) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	before := obj.GetResourceVersion()
	if err := s.SubResourceWriter.Update(ctx, obj, opts...); err != nil {
		return err
	}
	s.c.remember(obj, before)
	return nil
}
