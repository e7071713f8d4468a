package controllers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// credentials creates a Secret that opted in as credentials.
func (f *fixture) credentials(name string, data map[string]string) {
	f.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name, Labels: map[string]string{labelCredentials: "true"}},
		StringData: data}
	f.create(s)
}

// TestPrometheusTenantsBasicAuthAndTLS: the headers of a Mimir/Cortex
// tenant (one literal, one from a Secret) and basic auth reach Prometheus
// with every query, over https with a CA bundle from a Secret, and the
// rollout promotes on those checks; a header Secret that did not opt in
// makes the checks Error, naming it, and the canary is not promoted.
func TestPrometheusTenantsBasicAuthAndTLS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := testenv.StartAuthPromTLS(t)
	f.credentials("prom-auth", map[string]string{"password": "pw-7c1e", "api-key": "key-93af", "ca.crt": string(srv.CAPEM())})
	tenant := "team-shop"
	ro := testenv.Rollout(f.ns, "tenant", "tenant:v1", srv.URL)
	ro.Spec.Steps = []v1.Step{{Weight: 50}, {Weight: 100}}
	p := ro.Spec.Analysis.Prometheus
	p.BasicAuth = &v1.BasicAuth{Username: "ramp", PasswordSecretRef: v1.SecretKeyRef{Name: "prom-auth", Key: "password"}}
	p.Headers = []v1.HTTPHeader{
		{Name: "X-Scope-OrgID", Value: &tenant},
		{Name: "X-Api-Key", ValueFrom: &v1.HeaderValueSource{SecretKeyRef: v1.SecretKeyRef{Name: "prom-auth", Key: "api-key"}}},
	}
	p.TLS = &v1.PrometheusTLS{CASecretRef: &v1.SecretKeyRef{Name: "prom-auth", Key: "ca.crt"}}
	f.healthy(ro)
	f.setImage("tenant", "tenant:v2")
	f.eventually(30*time.Second, "promoted on checks over https", func() bool {
		ro := f.get("tenant")
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableColor == v1.Green
	}, func() string { return f.get("tenant").Status.Message })

	hs := srv.Headers()
	if len(hs) == 0 {
		t.Fatal("Prometheus received no query")
	}
	for _, h := range hs {
		u, pw, ok := (&http.Request{Header: h}).BasicAuth()
		if !ok || u != "ramp" || pw != "pw-7c1e" || h.Get("X-Scope-OrgID") != tenant || h.Get("X-Api-Key") != "key-93af" {
			t.Fatalf("a query came with basic auth %q/%q (%t), X-Scope-OrgID %q, X-Api-Key %q", u, pw, ok, h.Get("X-Scope-OrgID"), h.Get("X-Api-Key"))
		}
	}

	// A header from a Secret that did not opt in.
	f.create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "other"}, StringData: map[string]string{"api-key": "stolen-5b2d"}})
	f.update("tenant", func(ro *v1.Rollout) {
		ro.Spec.Analysis.Prometheus.Headers[1].ValueFrom.SecretKeyRef.Name = "other"
		ro.Spec.Template.Spec.Containers[0].Image = "tenant:v3"
	})
	f.eventually(20*time.Second, "the checks an Error naming the Secret", func() bool {
		a := f.get("tenant").Status.Analysis
		return a != nil && len(a.Metrics) == 1 && a.Metrics[0].Phase == v1.CheckError &&
			strings.Contains(a.Metrics[0].Message, "prometheus header X-Api-Key: secret other is not labeled "+labelCredentials)
	}, func() string { return f.get("tenant").Status.Message })
	for _, h := range srv.Headers() {
		if strings.Contains(h.Get("X-Api-Key"), "stolen") {
			t.Fatal("Prometheus received the value of a Secret that did not opt in")
		}
	}
	if st := f.get("tenant").Status; st.StableColor != v1.Green || strings.Contains(st.Message, "stolen") {
		t.Errorf("stable %s, message %q: want v2 still stable and no Secret value in status", st.StableColor, st.Message)
	}
}
