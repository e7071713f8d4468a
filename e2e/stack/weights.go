package stack

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/ramp-dev/ramp/e2e/gateway"
)

// WeightChange is the moment HAProxy took new server weights for a backend.
type WeightChange struct {
	At      time.Time
	Backend string
	Weights map[string]int
}

// WeightLog wraps the gateway's runtime API and records when each set of
// weights took effect in HAProxy: the truth a client-side share is compared
// with.
type WeightLog struct {
	Inner gateway.WeightSetter

	mu      sync.Mutex
	changes []WeightChange
}

// SetWeights sets the weights and records the time HAProxy answered.
func (l *WeightLog) SetWeights(ctx context.Context, backend string, weights map[string]int) error {
	if err := l.Inner.SetWeights(ctx, backend, weights); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, WeightChange{At: time.Now(), Backend: backend, Weights: maps.Clone(weights)})
	return nil
}

// Changes returns the recorded changes, oldest first, leaving out those that
// repeat the weights already in effect.
func (l *WeightLog) Changes() []WeightChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []WeightChange
	last := map[string]map[string]int{}
	for _, c := range l.changes {
		if prev, ok := last[c.Backend]; ok && maps.Equal(prev, c.Weights) {
			continue
		}
		last[c.Backend] = c.Weights
		out = append(out, c)
	}
	return out
}
