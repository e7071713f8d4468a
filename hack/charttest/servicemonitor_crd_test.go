package charttest

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// serviceMonitorCRD is a minimal stand-in for the Prometheus Operator's
// ServiceMonitor CRD (monitoring.coreos.com/v1): the real one is not in any
// module this project builds with. It checks the shape the chart relies on
// (spec.selector and spec.endpoints are required, endpoints a list of
// objects) and keeps every other field.
const serviceMonitorCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor, shortNames: [smon]}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          required: [spec]
          properties:
            spec:
              type: object
              required: [selector, endpoints]
              x-kubernetes-preserve-unknown-fields: true
              properties:
                selector:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
                endpoints:
                  type: array
                  minItems: 1
                  items:
                    type: object
                    x-kubernetes-preserve-unknown-fields: true
                    properties:
                      port: {type: string}
                      scheme: {type: string, enum: [http, https]}
                      path: {type: string}
                      interval: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
                      bearerTokenFile: {type: string}
                      tlsConfig:
                        type: object
                        x-kubernetes-preserve-unknown-fields: true
`

// installServiceMonitorCRD creates the stand-in CRD once and waits until
// the API server serves it.
func installServiceMonitorCRD(t *testing.T) {
	t.Helper()
	e := cluster(t)
	objs, err := decodeObjects(serviceMonitorCRD)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	crd := objs[0]
	if err := e.Client.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create the ServiceMonitor CRD: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got unstructured.Unstructured
		got.SetGroupVersionKind(crd.GroupVersionKind())
		if err := e.Client.Get(ctx, types.NamespacedName{Name: crd.GetName()}, &got); err == nil && established(&got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the ServiceMonitor CRD was not Established within 20s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
