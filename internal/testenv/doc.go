// Package testenv starts a real kube-apiserver and etcd (controller-runtime's
// envtest, on the binaries `make tools` builds into bin/) with the Rollout and
// Gateway API CRDs installed, and offers the small helpers the envtest suites
// share, such as marking a Deployment ready as the deployment controller would.
package testenv
