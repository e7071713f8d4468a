package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ramp-dev/ramp"

// pkg is what go list says of one package.
type pkg struct {
	ImportPath string
	Imports    []string // of its non-test files
	Deps       []string
}

func listAll(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", "e2e", "-json=ImportPath,Imports,Deps", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	return pkgs
}

func within(path, dir string) bool {
	full := module + "/" + dir
	return path == full || strings.HasPrefix(path, full+"/")
}

// rule is one import rule: packages under dir may import (directly) of
// Ramp's own packages only those under allowed, and depend on none of
// banned (anywhere in their dependencies).
type rule struct {
	dir     string
	allowed []string
	banned  []string
}

var clients = []string{"k8s.io/client-go", "sigs.k8s.io/controller-runtime", "sigs.k8s.io/gateway-api", "github.com/prometheus/client_golang"}

var rules = []rule{
	{dir: "api", allowed: []string{"api"}, banned: clients},
	{dir: "internal/plan", allowed: []string{"api"}, banned: clients},
	{dir: "internal/windows", allowed: []string{"api"}, banned: clients},
	{dir: "internal/imagepolicy", allowed: []string{"api"}, banned: clients},
	// The proof decision is shared by the controller and kubectl ramp verify.
	{dir: "internal/proof", allowed: []string{"api"}, banned: clients},
	{dir: "analysis", allowed: []string{"api"}, banned: []string{"sigs.k8s.io/controller-runtime", "sigs.k8s.io/gateway-api"}},
	{dir: "traffic", allowed: []string{"api"}},
	// The notification sender knows nothing of Kubernetes nor of Ramp's API.
	{dir: "notify", allowed: []string{}, banned: append([]string{"k8s.io/api", "k8s.io/apimachinery"}, clients...)},
	// The Argo CD Lua runner reads objects and scripts, nothing of Ramp's.
	{dir: "internal/argocdlua", allowed: []string{}, banned: clients},
	{dir: "controllers", allowed: []string{"api", "analysis", "traffic", "notify", "internal/plan", "internal/metrics", "internal/windows", "internal/imagepolicy", "internal/proof"}},
	{dir: "internal/manager", allowed: []string{"api", "analysis", "traffic", "notify", "controllers", "internal/fresh", "internal/metrics"}},
	{dir: "cmd/ramp-controller", allowed: []string{"internal/manager", "api"}},
}

// Each folder of DESIGN.md's layout imports only what its responsibility
// needs: the API imports nothing of Ramp's, the step machine only the API,
// the router and the provider only the API, and no program, test harness or
// tool is imported by the controller's code.
func TestLayoutImportRules(t *testing.T) {
	pkgs := listAll(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		for _, r := range rules {
			if !within(p.ImportPath, r.dir) {
				continue
			}
			seen[r.dir] = true
			for _, imp := range p.Imports {
				if !strings.HasPrefix(imp, module+"/") {
					continue
				}
				ok := false
				for _, a := range r.allowed {
					ok = ok || within(imp, a)
				}
				if !ok {
					t.Errorf("%s imports %s: %s may import only %v of Ramp's packages", p.ImportPath, imp, r.dir, r.allowed)
				}
			}
			for _, dep := range p.Deps {
				for _, b := range r.banned {
					if dep == b || strings.HasPrefix(dep, b+"/") {
						t.Errorf("%s depends on %s", p.ImportPath, dep)
					}
				}
			}
		}
	}
	for _, r := range rules {
		if !seen[r.dir] {
			t.Errorf("no package under %s: the rule is stale", r.dir)
		}
	}
}

// Test harnesses and tools stay out of what ships: no package outside e2e,
// hack and the test helpers imports e2e, hack or internal/testenv.
func TestHarnessesAreNotShipped(t *testing.T) {
	for _, p := range listAll(t) {
		if within(p.ImportPath, "e2e") || within(p.ImportPath, "hack") || within(p.ImportPath, "internal/testenv") {
			continue
		}
		for _, imp := range p.Imports {
			for _, h := range []string{"e2e", "hack", "internal/testenv"} {
				if within(imp, h) {
					t.Errorf("%s imports %s", p.ImportPath, imp)
				}
			}
		}
	}
}
