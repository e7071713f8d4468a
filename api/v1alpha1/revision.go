package v1alpha1

import (
	"encoding/json"
	"hash/fnv"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// TemplateRevision is the hash of a pod template that names a version of
// the application (status.stableRevision, canaryRevision, the
// ramp.dev/revision annotation): equal templates give equal revisions,
// across restarts too. The controller hashes the template as resolved
// (workloadRef, configRefs copies); kubectl ramp hashes spec.template.
func TemplateRevision(t *corev1.PodTemplateSpec) string {
	b, err := json.Marshal(t)
	if err != nil {
		// A PodTemplateSpec always marshals; keep a stable value anyway.
		b = []byte(t.String())
	}
	h := fnv.New32a()
	_, _ = h.Write(b)
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}
