// Package controllers holds the Rollout reconciler. Each reconcile observes
// the cluster (the two color Deployments, the HTTPRoutes, Prometheus when a
// check is due), asks the pure step machine in internal/plan what to do,
// writes the decided status once, and then applies the plan's actions.
package controllers
