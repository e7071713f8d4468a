// Package traffic reads and sets how traffic is split between the blue and
// green Services of a Rollout. Its GatewayAPI router steers HTTPRoutes and
// GRPCRoutes alike (one kind adapter each, see kinds.go) by changing only the
// weights of the two color backendRefs in the rules that name both, and
// reports what each route carries now, including whether its Gateways
// accepted the current generation.
package traffic
