package controllers_test

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ramp-dev/ramp/internal/manager"
)

// Served securely (the controller's default), the metrics endpoint answers
// only callers the API server authenticates and authorizes for GET /metrics.
func TestMetricsEndpointIsSecure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	addr := freeAddr(t)
	mgr, err := manager.New(f.ctx, env.Config, manager.Options{
		MetricsBindAddress: addr, MetricsSecure: true, HealthProbeBindAddress: "0",
		SkipNameValidation: true, Namespaces: []string{f.ns},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = mgr.Start(f.ctx) }()

	cs := kubernetes.NewForConfigOrDie(env.Config)
	token := func(sa string) string {
		if _, err := cs.CoreV1().ServiceAccounts(f.ns).Create(f.ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := cs.CoreV1().ServiceAccounts(f.ns).CreateToken(f.ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("token for %s: %v", sa, err)
		}
		return tr.Status.Token
	}
	reader, stranger := token("metrics-reader"), token("stranger")
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: f.ns + "-metrics-reader"},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: f.ns + "-metrics-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "metrics-reader", Namespace: f.ns}}}
	f.create(role, binding)

	// The certificate is self-signed: this test checks access, not trust.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
	status := func(tok string) int {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	f.eventually(20*time.Second, "the authorized reader gets 200", func() bool { return status(reader) == http.StatusOK })
	if got := status(""); got != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", got)
	}
	if got := status(stranger); got != http.StatusForbidden {
		t.Errorf("a service account without the role: %d, want 403", got)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP served the metrics")
		}
	}
}
