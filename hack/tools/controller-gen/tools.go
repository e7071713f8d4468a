//go:build tools

// Package controllergen pins controller-gen, which generates the CRDs and deepcopy code.
package controllergen

import (
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
