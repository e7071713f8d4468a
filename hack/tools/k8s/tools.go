//go:build tools

// Package k8s pins the Kubernetes control-plane components that the test
// suites build from source: kube-apiserver, kube-controller-manager and
// kube-scheduler.
package k8s

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
