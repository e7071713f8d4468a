// Package gateway is the end-to-end suite's Gateway API implementation: a
// small controller that watches the HTTPRoutes it is configured for and turns
// the weights of their backendRefs into server weights of a real HAProxy,
// through HAProxy's runtime API, then reports the route Accepted in
// status.parents as an implementation would. It implements only weighted
// backendRefs of one rule per route (no matches, filters or hostnames); see
// e2e/README.md.
package gateway
