// Package harness starts the end-to-end suite's local Kubernetes control
// plane as real processes: etcd and kube-apiserver (through controller-runtime's
// envtest, which generates the serving certificates and an admin user),
// kube-controller-manager, kube-scheduler and kwok, which makes fake nodes and
// their pods Ready so that Deployments move as in a cluster. Every binary
// comes from bin/ (hack/build-tools.sh).
package harness
