package charttest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ramp-dev/ramp/internal/testenv"
)

// The chart grants the generated rules in four roles: the controller's
// (ClusterRole, or a Role per watched namespace), leader election's (a Role
// in the release namespace, whatever config/rbac/role.yaml scopes it to:
// the Lease, and the core Events controller-runtime's leader election
// records on it), the secure metrics endpoint's (a ClusterRole:
// TokenReviews and SubjectAccessReviews are cluster-scoped) and the
// ClusterAnalysisTemplates' (a ClusterRole: they are cluster-scoped, and
// read whatever watchNamespaces says).
const (
	mainRules            = "controller"
	leaderElectionRules  = "leader-election"
	metricsAuthRules     = "metrics-auth"
	clusterTemplateRules = "cluster-templates"
)

// ruleClass tells which of the chart's roles grants access a.
func ruleClass(a access) string {
	switch {
	case a.Group == "coordination.k8s.io" && a.Resource == "leases", a.Group == "" && a.Resource == "events":
		return leaderElectionRules
	case a.Group == "authentication.k8s.io" && a.Resource == "tokenreviews", a.Group == "authorization.k8s.io" && a.Resource == "subjectaccessreviews":
		return metricsAuthRules
	case a.Group == "ramp.dev" && a.Resource == "clusteranalysistemplates", a.Group == "" && a.Resource == "namespaces":
		return clusterTemplateRules
	}
	return mainRules
}

// roleClass tells which of the chart's roles a rendered role is, by name.
func roleClass(fullname, role string) string {
	switch role {
	case fullname + "-leader-election":
		return leaderElectionRules
	case fullname + "-metrics-auth":
		return metricsAuthRules
	case fullname + "-cluster-templates":
		return clusterTemplateRules
	}
	return mainRules
}

// The chart's RBAC rules are the generated ones: config/rbac/role.yaml,
// written by `make manifests` from the +kubebuilder:rbac markers in
// controllers/, grants exactly what the chart's roles grant together, verb
// for verb, each in the role of its kind.
func TestRBACRulesMatchGenerated(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	generated, err := decodeObjects(string(b))
	if err != nil {
		t.Fatalf("config/rbac/role.yaml: %v", err)
	}
	want := map[string]map[access]bool{mainRules: {}, leaderElectionRules: {}, metricsAuthRules: {}, clusterTemplateRules: {}}
	for _, o := range generated {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
			t.Fatalf("config/rbac/role.yaml holds a %s; the chart knows ClusterRole and Role only", o.GetKind())
		}
		for _, r := range rulesOf(t, o) {
			if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
				t.Fatalf("config/rbac/role.yaml has a rule with resourceNames or nonResourceURLs, which the chart does not carry: %+v", r)
			}
		}
		for _, a := range expand(rulesOf(t, o)) {
			want[ruleClass(a)][a] = true
		}
	}

	const release, namespace = "ramp", "ramp-system"
	for _, tc := range []struct {
		name   string
		vals   map[string]any
		scopes []string // namespaces the controller rules are granted in
	}{
		{"cluster-wide", nil, []string{""}},
		{"watchNamespaces", map[string]any{"watchNamespaces": []any{"team-a", "team-b"}}, []string{"team-a", "team-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, chartDir(t), release, namespace, tc.vals)
			ns, sa := serviceAccountUser(t, r)
			got := map[string]map[string]map[access]bool{} // class → namespace → access
			for _, g := range grantsTo(t, r, ns, sa) {
				c := roleClass(release, g.Role)
				if got[c] == nil {
					got[c] = map[string]map[access]bool{}
				}
				if got[c][g.Namespace] == nil {
					got[c][g.Namespace] = map[access]bool{}
				}
				got[c][g.Namespace][g.access] = true
			}
			for class, scopes := range map[string][]string{mainRules: tc.scopes, leaderElectionRules: {namespace}, metricsAuthRules: {""}, clusterTemplateRules: {""}} {
				if k := keys(got[class]); strings.Join(k, ",") != strings.Join(scopes, ",") {
					t.Errorf("%s rules granted in namespaces %q, want %q (\"\" is cluster-wide)", class, k, scopes)
				}
				for scope, g := range got[class] {
					diff(t, fmt.Sprintf("%s rules (namespace %q)", class, scope), g, want[class])
				}
			}
		})
	}
}

func diff(t *testing.T, what string, got, want map[access]bool) {
	t.Helper()
	var extra, missing []string
	for a := range got {
		if !want[a] {
			extra = append(extra, a.String())
		}
	}
	for a := range want {
		if !got[a] {
			missing = append(missing, a.String())
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra) > 0 {
		t.Errorf("%s: the chart grants what config/rbac/role.yaml does not: %s (change the +kubebuilder:rbac markers in controllers/ and run `make manifests`, or change charts/ramp/templates/_rbac_rules.tpl)", what, strings.Join(extra, ", "))
	}
	if len(missing) > 0 {
		t.Errorf("%s: config/rbac/role.yaml grants what the chart does not: %s (change charts/ramp/templates/_rbac_rules.tpl; or, when TestControllerUnderChartRBAC shows that the controller never uses it, drop it from the +kubebuilder:rbac markers in controllers/ and run `make manifests`)", what, strings.Join(missing, ", "))
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
