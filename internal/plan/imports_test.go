package plan

import (
	"os/exec"
	"strings"
	"testing"
)

// The step machine must stay pure: no Kubernetes client, no controller
// runtime, no Prometheus or Gateway API client among its dependencies.
func TestImportsNoClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"k8s.io/client-go", "sigs.k8s.io/controller-runtime", "sigs.k8s.io/gateway-api", "github.com/prometheus/client_golang"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("internal/plan depends on %s", dep)
			}
		}
	}
}
