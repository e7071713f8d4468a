package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// labelCredentials is v1.LabelCredentials, spelled out so that the
// test says what users write.
const labelCredentials = "ramp.dev/credentials"

// received returns how many requests came and how many carried want.
func received(p *testenv.AuthProm, want string) (all, with int) {
	auths := p.Authorizations()
	for _, a := range auths {
		if a == want {
			with++
		}
	}
	return len(auths), with
}

// A Rollout may use as bearer token only a Secret that opts in with the
// ramp.dev/credentials: "true" label: any other Secret of the namespace is
// neither read out nor sent, and the check says why.
func TestBearerTokenSecretMustOptIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := testenv.StartAuthProm(t)
	const token = "s3cret-token-4d1e"
	f.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "db-password"},
		Data:       map[string][]byte{"token": []byte(token)},
	})
	ro := testenv.Rollout(f.ns, "creds", "creds:v1", srv.URL)
	ro.Spec.Analysis.Prometheus.BearerTokenSecretRef = &v1.SecretKeyRef{Name: "db-password", Key: "token"}
	f.healthy(ro)
	f.setImage("creds", "creds:v2")

	metric := func() v1.MetricStatus {
		if a := f.get("creds").Status.Analysis; a != nil && len(a.Metrics) > 0 {
			return a.Metrics[0]
		}
		return v1.MetricStatus{}
	}
	describe := func() string { return fmt.Sprintf("%+v", metric()) }
	f.eventually(20*time.Second, "the check an Error naming the Secret and the label", func() bool {
		m := metric()
		return m.Phase == v1.CheckError && strings.Contains(m.Message, "db-password") && strings.Contains(m.Message, labelCredentials)
	}, describe)
	time.Sleep(2 * time.Second) // two more check intervals
	m := metric()
	if m.Phase != v1.CheckError || strings.Contains(m.Message, token) {
		t.Fatalf("check %+v, want Error without the Secret's content", m)
	}
	if all, with := received(srv, "Bearer "+token); with != 0 {
		t.Fatalf("Prometheus received the token of an unlabeled Secret in %d of %d requests", with, all)
	}
	if st := f.get("creds").Status; st.StableColor != v1.Blue {
		t.Fatalf("promoted to %s on Error checks", st.StableColor)
	}

	// Opting in lets the token go.
	var s corev1.Secret
	if err := f.c.Get(f.ctx, types.NamespacedName{Namespace: f.ns, Name: "db-password"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Labels = map[string]string{labelCredentials: "true"}
	if err := f.c.Update(f.ctx, &s); err != nil {
		t.Fatal(err)
	}
	f.eventually(20*time.Second, "the token sent", func() bool { _, with := received(srv, "Bearer "+token); return with > 0 })
	f.eventually(20*time.Second, "the check passed", func() bool { return metric().Phase == v1.CheckPassed }, describe)
	if all, with := received(srv, "Bearer "+token); with != all {
		t.Errorf("%d of %d requests carried the token, want all", with, all)
	}
}

// A label other than "true" does not opt in.
func TestBearerTokenSecretLabelFalse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := testenv.StartAuthProm(t)
	f.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "prom", Labels: map[string]string{labelCredentials: "false"}},
		Data:       map[string][]byte{"token": []byte("t0ken")},
	})
	ro := testenv.Rollout(f.ns, "nolabel", "nolabel:v1", srv.URL)
	ro.Spec.Analysis.Prometheus.BearerTokenSecretRef = &v1.SecretKeyRef{Name: "prom", Key: "token"}
	f.healthy(ro)
	f.setImage("nolabel", "nolabel:v2")
	f.eventually(20*time.Second, "the check an Error naming the label", func() bool {
		a := f.get("nolabel").Status.Analysis
		return a != nil && len(a.Metrics) > 0 && a.Metrics[0].Phase == v1.CheckError && strings.Contains(a.Metrics[0].Message, labelCredentials)
	})
	if all, with := received(srv, "Bearer t0ken"); with != 0 {
		t.Fatalf("Prometheus received the token in %d of %d requests", with, all)
	}
}
