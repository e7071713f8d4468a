package v1alpha1

import (
	"time"
)

// DefaultWeights are the step weights of a Rollout that gives no steps.
var DefaultWeights = []int32{1, 5, 25, 50, 100}

const (
	// DefaultHoldWithoutAnalysis is how long a step without hold lasts when
	// the Rollout has no analysis.
	DefaultHoldWithoutAnalysis = time.Minute
	defaultInterval            = time.Minute
	defaultProgressDeadline    = 10 * time.Minute
	defaultScaleDownDelay      = 30 * time.Second
	defaultPromTimeout         = 10 * time.Second
)

// EffectiveSteps returns spec.steps, or the default steps when none are given.
func (s *RolloutSpec) EffectiveSteps() []Step {
	if len(s.Steps) > 0 {
		return s.Steps
	}
	steps := make([]Step, len(DefaultWeights))
	for i, w := range DefaultWeights {
		steps[i] = Step{Weight: w}
	}
	return steps
}

// AnalysisInterval is the time between checks (one minute by default).
func (s *RolloutSpec) AnalysisInterval() time.Duration {
	if s.Analysis != nil && s.Analysis.Interval != nil && s.Analysis.Interval.Duration > 0 {
		return s.Analysis.Interval.Duration
	}
	return defaultInterval
}

// StepHold is how long step i lasts at least.
func (s *RolloutSpec) StepHold(step Step) time.Duration {
	if step.Hold != nil && step.Hold.Duration > 0 {
		return step.Hold.Duration
	}
	if s.Analysis != nil {
		return s.AnalysisInterval()
	}
	return DefaultHoldWithoutAnalysis
}

// DesiredReplicas is spec.replicas, one when unset.
func (s *RolloutSpec) DesiredReplicas() int32 {
	if s.Replicas != nil {
		return *s.Replicas
	}
	return 1
}

// Deadline is spec.progressDeadline, ten minutes when unset.
func (s *RolloutSpec) Deadline() time.Duration {
	if s.ProgressDeadline != nil && s.ProgressDeadline.Duration > 0 {
		return s.ProgressDeadline.Duration
	}
	return defaultProgressDeadline
}

// ScaleDown is spec.scaleDownDelay, thirty seconds when unset.
func (s *RolloutSpec) ScaleDown() time.Duration {
	if s.ScaleDownDelay != nil {
		return s.ScaleDownDelay.Duration
	}
	return defaultScaleDownDelay
}

// QueryTimeout is the Prometheus timeout, ten seconds when unset.
func (p *PrometheusProvider) QueryTimeout() time.Duration {
	if p != nil && p.Timeout != nil && p.Timeout.Duration > 0 {
		return min(p.Timeout.Duration, time.Minute) // the CRD refuses more; a stored object may predate that
	}
	return defaultPromTimeout
}
