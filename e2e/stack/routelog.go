package stack

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// RouteChange is the moment the API server served a new generation of the
// HTTPRoute, with the weight of each backendRef.
type RouteChange struct {
	At         time.Time
	Generation int64
	Weights    map[string]int32
}

// RouteLog watches the HTTPRoute and records each new generation, so that a
// route write by the controller can be timed against the gateway.
type RouteLog struct {
	mu      sync.Mutex
	changes []RouteChange
}

// WatchRoute records the route's generations until ctx ends.
func (s *Stack) WatchRoute(ctx context.Context) (*RouteLog, error) {
	wc, err := client.NewWithWatch(s.CP.Config, client.Options{Scheme: s.Client.Scheme()})
	if err != nil {
		return nil, err
	}
	w, err := wc.Watch(ctx, &gatewayv1.HTTPRouteList{}, client.InNamespace(s.Namespace))
	if err != nil {
		return nil, err
	}
	l := &RouteLog{}
	go func() {
		defer w.Stop()
		var last int64
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			r, ok := ev.Object.(*gatewayv1.HTTPRoute)
			if !ok || r.Name != s.Name || r.Generation == last {
				continue
			}
			last = r.Generation
			c := RouteChange{At: time.Now(), Generation: r.Generation, Weights: map[string]int32{}}
			for _, rule := range r.Spec.Rules {
				for _, b := range rule.BackendRefs {
					w := int32(1)
					if b.Weight != nil {
						w = *b.Weight
					}
					c.Weights[string(b.Name)] = w
				}
			}
			l.mu.Lock()
			l.changes = append(l.changes, c)
			l.mu.Unlock()
		}
	}()
	return l, nil
}

// Changes returns the generations seen, oldest first.
func (l *RouteLog) Changes() []RouteChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]RouteChange(nil), l.changes...)
}
