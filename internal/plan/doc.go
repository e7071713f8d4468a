// Package plan is Ramp's step machine. Next is a pure function of a Rollout's
// spec, its last status and what the controller observed (deployments, routes,
// check results, annotations, the time): it returns the new status, the
// ordered idempotent actions that bring the cluster to it, the events of the
// transition and when to look again. It reads no clock and imports no client.
package plan
