package controllers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// statsServer answers GET /<service>/stats with {"errorRate": x}, x set per
// service, and records the X-Tenant header of each request.
type statsServer struct {
	*httptest.Server
	mu      sync.Mutex
	rates   map[string]float64
	tenants map[string]int
}

func newStatsServer(t *testing.T) *statsServer {
	s := &statsServer{rates: map[string]float64{}, tenants: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/stats")
		s.mu.Lock()
		rate, ok := s.rates[svc]
		s.tenants[r.Header.Get("X-Tenant")]++
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]float64{"errorRate": rate})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *statsServer) set(svc string, rate float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rates[svc] = rate
}

func (s *statsServer) tenant(v string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[v]
}

// webRollout checks the canary with a web metric only: errorRate from
// <server>/<canary service>/stats, at most 0.05, with a tenant header read
// from an opt-in Secret.
func (f *fixture) webRollout(name, url string) *v1.Rollout {
	maxRate := 0.05
	ro := f.rollout(name, name+":v1")
	ro.Spec.Steps = []v1.Step{{Weight: 20, Hold: &metav1.Duration{Duration: 2 * time.Second}}, {Weight: 100}}
	ro.Spec.Analysis.Prometheus = nil
	ro.Spec.Analysis.Metrics = []v1.Metric{{
		Name: "deep-health",
		Web: &v1.WebCheck{
			URL:      url + "/{{ .CanaryService }}/stats",
			JSONPath: "{.errorRate}",
			Headers:  []v1.HTTPHeader{{Name: "X-Tenant", ValueFrom: &v1.HeaderValueSource{SecretKeyRef: v1.SecretKeyRef{Name: name + "-tenant", Key: "id"}}}},
		},
		Max: &maxRate,
	}}
	f.create(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name + "-tenant", Labels: map[string]string{v1.LabelCredentials: "true"}},
		Data:       map[string][]byte{"id": []byte("team-" + name)},
	})
	return ro
}

// TestWebCheckPromotesAndRollsBack: a web check whose JSON answer is within
// its bound promotes the canary; one above it rolls the canary back. The
// header from the Secret reaches the server.
func TestWebCheckPromotesAndRollsBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := newStatsServer(t)

	good := f.webRollout("good", srv.URL)
	f.healthy(good)
	srv.set("good-green", 0.01)
	f.setImage("good", "good:v2")
	f.eventually(30*time.Second, "good promoted", func() bool {
		ro := f.get("good")
		return ro.Status.Phase == v1.PhaseHealthy && ro.Status.StableColor == v1.Green
	}, func() string { return f.get("good").Status.Message })
	if n := srv.tenant("team-good"); n == 0 {
		t.Fatalf("the tenant header from the Secret never reached the server")
	}
	ms := f.get("good").Status.Analysis.Metrics
	t.Logf("promoted; last check: %+v", ms)

	bad := f.webRollout("bad", srv.URL)
	f.healthy(bad)
	srv.set("bad-green", 0.3)
	f.setImage("bad", "bad:v2")
	f.eventually(30*time.Second, "bad rolled back", func() bool { return f.phase("bad") == v1.PhaseRolledBack },
		func() string { return f.get("bad").Status.Message })
	ro := f.get("bad")
	if !strings.Contains(ro.Status.Message, "deep-health = 0.3: 0.3 > max 0.05") {
		t.Fatalf("message %q", ro.Status.Message)
	}
	t.Logf("rolled back: %s", ro.Status.Message)
	if blue, green := f.weights("bad"); blue != 100 || green != 0 {
		t.Fatalf("weights after the rollback: blue %d green %d", blue, green)
	}
}

// TestWebCheckURLValidated: a url template naming an unknown field is
// refused on the Valid condition before anything moves, naming the field.
func TestWebCheckURLValidated(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ro := f.webRollout("typo", "http://127.0.0.1:1")
	ro.Spec.Analysis.Metrics[0].Web.URL = "http://{{ .CanaryServce }}/stats"
	f.create(f.route("typo"), ro)
	f.eventually(10*time.Second, "invalid", func() bool { return f.phase("typo") == v1.PhaseFailed })
	msg := f.get("typo").Status.Message
	if !strings.Contains(msg, "spec.analysis.metrics[0].web.url") || !strings.Contains(msg, "CanaryServce") {
		t.Fatalf("message %q", msg)
	}
	t.Logf("refused: %s", msg)
}
