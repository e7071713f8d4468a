// Package analysis asks Prometheus whether a canary is healthy: it renders the
// query templates of a Rollout's metrics, runs each query through a Provider,
// and judges the answer against the metric's bounds.
//
// Measuring and judging are kept apart: a Provider returns one number or an
// error, and the pure Judge turns that into Passed, Failed, Inconclusive or
// Error, so that "could not measure" never reads as "measured and bad".
package analysis
