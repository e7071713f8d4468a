// Package scenarios holds the end-to-end scenarios of issue 3 (build tag
// e2e): each starts the whole stack of e2e/stack, sends steady traffic
// through the gateway and rolls a version out with the real ramp-controller.
package scenarios
