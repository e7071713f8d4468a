package controllers

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/ramp-dev/ramp/internal/plan"
)

// CheckPool runs the Prometheus checks of every Rollout outside the
// reconcile, so that no query, however slow, holds a worker that decides or
// rolls back: a reconcile starts a Rollout's due checks here and goes on;
// when they finish, the pool brings the Rollout back and that reconcile
// hands the results to the plan as observations. Results live in memory
// only: after a restart the checks are simply due again.
type CheckPool struct {
	sem    chan struct{}
	events chan event.GenericEvent
	// share is the most slots the checks of one Prometheus address may
	// hold at once, so that a Prometheus that hangs takes a share of the
	// pool, never all of it.
	share int

	mu        sync.Mutex
	jobs      map[types.NamespacedName]*checkJob
	addresses map[string]chan struct{}
}

// checkJob is the checks of one Rollout for one due slot (see checkKey).
type checkJob struct {
	key      string
	done     bool
	checks   []plan.Check
	finished time.Time
	cancel   context.CancelFunc
}

// NewCheckPool returns a pool that runs at most size Rollouts' checks at once.
func NewCheckPool(size int) *CheckPool {
	if size < 1 {
		size = 1
	}
	return &CheckPool{sem: make(chan struct{}, size), events: make(chan event.GenericEvent, 1024), share: max(1, size/4),
		jobs: map[types.NamespacedName]*checkJob{}, addresses: map[string]chan struct{}{}}
}

// Events are the Rollouts whose checks finished, for the controller's watch.
func (p *CheckPool) Events() <-chan event.GenericEvent { return p.events }

// Take returns the results of the finished checks of obj for key, once. A
// job for another key (the step, the revision or the spec moved on) is
// cancelled and forgotten. running reports whether checks for key are still
// under way.
func (p *CheckPool) Take(name types.NamespacedName, key string) (checks []plan.Check, finished time.Time, ok, running bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	j := p.jobs[name]
	switch {
	case j == nil:
		return nil, time.Time{}, false, false
	case j.key != key:
		j.cancel()
		delete(p.jobs, name)
		return nil, time.Time{}, false, false
	case !j.done:
		return nil, time.Time{}, false, true
	}
	delete(p.jobs, name)
	return j.checks, j.finished, true, false
}

// Start runs check for obj under key in the pool, unless a job for that key
// exists already. timeout bounds the job, waiting for a slot included.
// address is the Prometheus it asks: its checks hold at most a quarter of
// the pool.
func (p *CheckPool) Start(obj client.Object, key, address string, timeout time.Duration, now func() time.Time, check func(context.Context) []plan.Check) {
	name := client.ObjectKeyFromObject(obj)
	p.mu.Lock()
	if j := p.jobs[name]; j != nil && j.key == key {
		p.mu.Unlock()
		return
	} else if j != nil {
		j.cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	j := &checkJob{key: key, cancel: cancel}
	p.jobs[name] = j
	share := p.addresses[address]
	if share == nil {
		share = make(chan struct{}, p.share)
		p.addresses[address] = share
	}
	p.mu.Unlock()

	go func() {
		defer cancel()
		var checks []plan.Check
		if acquire(ctx, share) {
			if acquire(ctx, p.sem) {
				checks = check(ctx)
				<-p.sem
			}
			<-share
		} // no slot within the timeout: checks stays nil, due again next time
		p.mu.Lock()
		if p.jobs[name] != j { // replaced or forgotten meanwhile
			p.mu.Unlock()
			return
		}
		if checks == nil {
			delete(p.jobs, name)
		} else {
			j.done, j.checks, j.finished = true, checks, now()
		}
		p.mu.Unlock()
		p.events <- event.GenericEvent{Object: obj}
	}()
}

// Forget cancels and drops the checks of a Rollout that is gone.
func (p *CheckPool) Forget(name types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if j := p.jobs[name]; j != nil {
		j.cancel()
		delete(p.jobs, name)
	}
}

// acquire takes a slot of sem, or gives up when ctx ends.
func acquire(ctx context.Context, sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}
