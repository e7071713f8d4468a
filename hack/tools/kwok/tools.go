//go:build tools

// Package kwok pins kwok, which simulates nodes and pods for the e2e harness.
package kwok

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
