// Package kustomize holds no code: its tests build the example overlays
// beside it (example/base, example/overlays/{dev,staging,prod}) with
// sigs.k8s.io/kustomize/api, with and without the component in component/
// (Ramp's transformer configuration and Rollout schema), and create what they
// build in a real API server. README.md says how to use the component.
package kustomize
