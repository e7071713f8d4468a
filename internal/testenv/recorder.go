package testenv

import (
	"context"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// WeightRecorder records every distinct weight a Rollout's HTTPRoute (or
// GRPCRoute) carries for one color, polling the API server every 10ms.
type WeightRecorder struct {
	mu   sync.Mutex
	seen []int32
	stop func()
}

// RecordWeights starts recording the weights of color on the route of the
// Rollout named name until Stop or ctx ends.
func RecordWeights(ctx context.Context, c client.Client, namespace, name string, color v1.Color) *WeightRecorder {
	return recordWeights(ctx, c, namespace, name, color, RouteWeights)
}

// RecordGRPCWeights records as RecordWeights, the weights of the GRPCRoute
// of the Rollout named name.
func RecordGRPCWeights(ctx context.Context, c client.Client, namespace, name string, color v1.Color) *WeightRecorder {
	return recordWeights(ctx, c, namespace, name, color, GRPCRouteWeights)
}

func recordWeights(ctx context.Context, c client.Client, namespace, name string, color v1.Color,
	read func(context.Context, client.Client, string, string) (int32, int32, error)) *WeightRecorder {
	ctx, cancel := context.WithCancel(ctx)
	wr := &WeightRecorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if blue, green, err := read(ctx, c, namespace, name); err == nil {
				w := blue
				if color == v1.Green {
					w = green
				}
				wr.mu.Lock()
				if n := len(wr.seen); n == 0 || wr.seen[n-1] != w {
					wr.seen = append(wr.seen, w)
				}
				wr.mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	wr.stop = func() { cancel(); <-done }
	return wr
}

// Stop ends the recording.
func (wr *WeightRecorder) Stop() { wr.stop() }

// Weights are the distinct weights seen so far, in order.
func (wr *WeightRecorder) Weights() []int32 {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return append([]int32(nil), wr.seen...)
}
