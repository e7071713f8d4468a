// Package charttest tests the Helm chart in charts/ramp with Helm's own Go
// packages and a real envtest API server: it lints and renders the chart,
// dry-runs every rendered object on the server, runs the controller under
// the chart's RBAC, checks that every granted verb is used, and proves
// leader-election failover. It is a module of its own so that Helm's
// dependencies stay out of the controller's go.mod.
package charttest
