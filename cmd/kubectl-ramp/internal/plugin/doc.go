// Package plugin is kubectl-ramp, the kubectl plugin of Ramp: it lists
// Rollouts, shows one rollout's progress (live with watch), and steers it
// through the annotations of DESIGN.md, then reports what the controller did
// with them. Every command writes to the streams it is given and reads the
// time from an injected clock, so tests run it against a real API server.
package plugin
