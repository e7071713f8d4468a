// Package stack starts the whole end-to-end stack on one machine: the local
// control plane (e2e/harness), HAProxy driven by the e2e gateway controller,
// one demo-app process per color whose pods are Ready, Prometheus scraping the
// gateway and the apps, and the ramp-controller binary. Scenarios and the demo
// drive a Rollout through it.
package stack
