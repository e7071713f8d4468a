// Package argocdlua runs the Argo CD health check and resource actions that
// the chart ships for ramp.dev/Rollout (charts/ramp/argocd) the way Argo CD
// runs Lua from argocd-cm: gopher-lua with only the package, base and table
// libraries and a safe os library (time and date), the object fed in as the
// global obj, and the returned table read back through JSON. Tests use it on
// Rollouts from envtest and on recorded ones.
package argocdlua
