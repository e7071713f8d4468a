package fresh

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ramp-dev/ramp/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, func(e *testenv.Env) { env = e }))
}

// lagging reads from the real API server, except for the objects whose
// reads the test holds at a copy taken earlier: an informer cache that has
// not seen the latest watch events yet.
type lagging struct {
	client.Client
	mu     sync.Mutex
	held   map[client.ObjectKey]*corev1.ConfigMap
	absent map[client.ObjectKey]bool // not seen yet: NotFound
}

func (l *lagging) hold(cm *corev1.ConfigMap) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held[client.ObjectKeyFromObject(cm)] = cm.DeepCopy()
}

func (l *lagging) release(key client.ObjectKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, key)
}

func (l *lagging) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	l.mu.Lock()
	h, gone := l.held[key], l.absent[key]
	l.mu.Unlock()
	if gone {
		return apierrors.NewNotFound(corev1.Resource("configmaps"), key.Name)
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok && h != nil {
		h.DeepCopyInto(cm)
		return nil
	}
	return l.Client.Get(ctx, key, obj, opts...)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T) (context.Context, *lagging, *Client, *clock, *corev1.ConfigMap) {
	t.Helper()
	ctx := context.Background()
	ns, err := env.CreateNamespace(ctx, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cm"}, Data: map[string]string{"step": "0"}}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	lag := &lagging{Client: env.Client, held: map[client.ObjectKey]*corev1.ConfigMap{}, absent: map[client.ObjectKey]bool{}}
	lag.hold(cm) // the cache has the created version and will not move
	clk := &clock{t: time.Now()}
	return ctx, lag, New(lag, nil, clk.now), clk, cm
}

// write patches step to v through c, from what c reads.
func write(t *testing.T, ctx context.Context, c client.Client, key client.ObjectKey, v string) *corev1.ConfigMap {
	t.Helper()
	var cm corev1.ConfigMap
	if err := c.Get(ctx, key, &cm); err != nil {
		t.Fatal(err)
	}
	base := cm.DeepCopy()
	cm.Data["step"] = v
	if err := c.Patch(ctx, &cm, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	return &cm
}

func read(t *testing.T, ctx context.Context, c client.Client, key client.ObjectKey) *corev1.ConfigMap {
	t.Helper()
	var cm corev1.ConfigMap
	if err := c.Get(ctx, key, &cm); err != nil {
		t.Fatal(err)
	}
	return &cm
}

func TestReadsOwnWritesWhileTheCacheLags(t *testing.T) {
	ctx, lag, c, _, cm := setup(t)
	key := client.ObjectKeyFromObject(cm)

	w1 := write(t, ctx, c, key, "1")
	if got := read(t, ctx, lag, key); got.Data["step"] != "0" {
		t.Fatalf("the lagging reader should still hold step 0, has %q", got.Data["step"])
	}
	got := read(t, ctx, c, key)
	if got.Data["step"] != "1" || got.ResourceVersion != w1.ResourceVersion {
		t.Fatalf("read after the write: step %q rv %s, want step 1 rv %s", got.Data["step"], got.ResourceVersion, w1.ResourceVersion)
	}

	// A second write from what was read back chains on the first.
	w2 := write(t, ctx, c, key, "2")
	got = read(t, ctx, c, key)
	if got.Data["step"] != "2" || got.ResourceVersion != w2.ResourceVersion {
		t.Fatalf("read after two writes: step %q rv %s, want step 2 rv %s", got.Data["step"], got.ResourceVersion, w2.ResourceVersion)
	}
	var live corev1.ConfigMap
	if err := env.Client.Get(ctx, key, &live); err != nil || live.ResourceVersion != w2.ResourceVersion {
		t.Fatalf("the API server should hold the second write: rv %s, err %v", live.ResourceVersion, err)
	}

	// The cache catches up: reads go to it and the write is forgotten.
	lag.release(key)
	got = read(t, ctx, c, key)
	if got.ResourceVersion != w2.ResourceVersion || c.Len() != 0 {
		t.Fatalf("after the cache caught up: rv %s (want %s), remembered %d (want 0)", got.ResourceVersion, w2.ResourceVersion, c.Len())
	}
}

func TestFindsWhatItCreatedBeforeTheCacheHasIt(t *testing.T) {
	ctx, lag, c, clk, cm := setup(t)
	made := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: cm.Namespace, Name: "made"}, Data: map[string]string{"step": "new"}}
	key := client.ObjectKeyFromObject(made)
	lag.mu.Lock()
	lag.absent[key] = true // the cache has not seen the create
	lag.mu.Unlock()
	if err := c.Create(ctx, made); err != nil {
		t.Fatal(err)
	}
	got := read(t, ctx, c, key)
	if got.Data["step"] != "new" || got.ResourceVersion != made.ResourceVersion {
		t.Fatalf("read after the create: step %q rv %s, want the created object (rv %s)", got.Data["step"], got.ResourceVersion, made.ResourceVersion)
	}
	// Past keep, a cache that never showed it is believed: NotFound.
	clk.t = clk.t.Add(keep + time.Second)
	var gone corev1.ConfigMap
	if err := c.Get(ctx, key, &gone); !apierrors.IsNotFound(err) || c.Len() != 0 {
		t.Fatalf("past keep: err %v with %d remembered, want NotFound and nothing remembered", err, c.Len())
	}
}

func TestAnotherWriterWins(t *testing.T) {
	ctx, lag, c, _, cm := setup(t)
	key := client.ObjectKeyFromObject(cm)

	write(t, ctx, c, key, "1")
	other := write(t, ctx, env.Client, key, "edited by hand")
	lag.hold(other) // the cache shows a version this client did not write over
	got := read(t, ctx, c, key)
	if got.Data["step"] != "edited by hand" || c.Len() != 0 {
		t.Fatalf("got step %q with %d remembered; want the other writer's version and nothing remembered", got.Data["step"], c.Len())
	}
}

func TestForgetsAfterKeep(t *testing.T) {
	ctx, _, c, clk, cm := setup(t)
	key := client.ObjectKeyFromObject(cm)

	write(t, ctx, c, key, "1")
	clk.t = clk.t.Add(keep + time.Second)
	if got := read(t, ctx, c, key); got.Data["step"] != "0" || c.Len() != 0 {
		t.Fatalf("past keep: got step %q with %d remembered; want the cache's step 0 and nothing remembered", got.Data["step"], c.Len())
	}
}

func TestStatusWritesAreRemembered(t *testing.T) {
	ctx := context.Background()
	ns, err := env.CreateNamespace(ctx, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	if err := env.Client.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	held := svc.DeepCopy()
	c := New(&heldService{Client: env.Client, svc: held}, nil, nil)
	base := svc.DeepCopy()
	svc.Status.Conditions = []metav1.Condition{{Type: "Seen", Status: metav1.ConditionTrue, Reason: "Test", LastTransitionTime: metav1.Now()}}
	if err := c.Status().Patch(ctx, svc, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	var got corev1.Service
	if err := c.Get(ctx, client.ObjectKeyFromObject(svc), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Conditions) != 1 || got.ResourceVersion != svc.ResourceVersion || got.ResourceVersion == held.ResourceVersion {
		t.Fatalf("read after a status write: conditions %v rv %s; want the written rv %s", got.Status.Conditions, got.ResourceVersion, svc.ResourceVersion)
	}
}

// heldService always reads one Service at the copy it was given.
type heldService struct {
	client.Client
	svc *corev1.Service
}

func (h *heldService) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if s, ok := obj.(*corev1.Service); ok && key == client.ObjectKeyFromObject(h.svc) {
		h.svc.DeepCopyInto(s)
		return nil
	}
	return h.Client.Get(ctx, key, obj, opts...)
}

// With the cache's informers, a write is forgotten once the cache shows it,
// without waiting for a read.
func TestInformerForgetsWhatTheCacheShows(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns, err := env.CreateNamespace(ctx, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := cache.New(env.Config, cache.Options{Scheme: env.Scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ca.Start(ctx) }()
	cached, err := client.New(env.Config, client.Options{Scheme: env.Scheme, Cache: &client.CacheOptions{Reader: ca}})
	if err != nil {
		t.Fatal(err)
	}
	c := New(cached, ca, nil)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cm"}, Data: map[string]string{"step": "0"}}
	if err := c.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(cm)
	for i := range 3 {
		w := write(t, ctx, c, key, fmt.Sprint(i+1))
		if got := read(t, ctx, c, key); got.ResourceVersion != w.ResourceVersion {
			t.Fatalf("write %d: read rv %s, want the written %s", i+1, got.ResourceVersion, w.ResourceVersion)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d objects still remembered 10s after the last write; the informer should have let them go", c.Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
