package charttest

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// grant is one rendered rule expanded to a single access, with where it holds.
type grant struct {
	access
	// Namespace is where a Role grants it; "" for a ClusterRole (everywhere).
	Namespace string
	// Role is the granting role's name.
	Role string
}

// rulesOf decodes the rules of a rendered Role or ClusterRole.
func rulesOf(t testing.TB, o *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	var role rbacv1.ClusterRole // a Role's rules have the same shape
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role); err != nil {
		t.Fatalf("decode %s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return role.Rules
}

// expand lists the accesses of rules, one per verb, group and resource.
func expand(rules []rbacv1.PolicyRule) []access {
	var out []access
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, access{Verb: v, Group: g, Resource: res})
				}
			}
		}
	}
	return out
}

// grantsTo lists what the rendered bindings grant ServiceAccount sa of
// namespace ns, through rendered roles only.
func grantsTo(t testing.TB, r *rendered, ns, sa string) []grant {
	t.Helper()
	roles := map[string]*unstructured.Unstructured{}
	for _, o := range r.Objects {
		if o.GetKind() == "Role" || o.GetKind() == "ClusterRole" {
			roles[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = o
		}
	}
	var out []grant
	for _, o := range r.Objects {
		if o.GetKind() != "RoleBinding" && o.GetKind() != "ClusterRoleBinding" {
			continue
		}
		var b rbacv1.RoleBinding // a ClusterRoleBinding has the same shape
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &b); err != nil {
			t.Fatalf("decode %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		bound := false
		for _, s := range b.Subjects {
			if s.Kind == "ServiceAccount" && s.Name == sa && s.Namespace == ns {
				bound = true
			}
		}
		if !bound {
			continue
		}
		roleNs := o.GetNamespace()
		if b.RoleRef.Kind == "ClusterRole" {
			roleNs = ""
		}
		role, ok := roles[b.RoleRef.Kind+"/"+roleNs+"/"+b.RoleRef.Name]
		if !ok {
			t.Fatalf("%s %s/%s binds %s %s, which the chart does not render", o.GetKind(), o.GetNamespace(), o.GetName(), b.RoleRef.Kind, b.RoleRef.Name)
		}
		for _, a := range expand(rulesOf(t, role)) {
			out = append(out, grant{access: a, Namespace: o.GetNamespace(), Role: role.GetName()})
		}
	}
	return out
}
