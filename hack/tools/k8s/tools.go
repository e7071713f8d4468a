//go:build tools

// Package k8s pins the Kubernetes control-plane components that the test
// suites build from source: kube-apiserver (and later kube-controller-manager).
package k8s

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
