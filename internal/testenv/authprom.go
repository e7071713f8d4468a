package testenv

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// OneSample is a Prometheus answer of one sample of value 0.
const OneSample = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"0"]}]}}`

// AuthProm is a Prometheus that answers OneSample to every query and
// records the Authorization header of each request (FakeProm does not).
type AuthProm struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

// StartAuthProm starts an AuthProm, closed when t ends.
func StartAuthProm(t testing.TB) *AuthProm {
	t.Helper()
	p := &AuthProm{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.auths = append(p.auths, r.Header.Get("Authorization"))
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(OneSample))
	}))
	t.Cleanup(p.Close)
	return p
}

// Authorizations are the Authorization headers received so far, in order.
func (p *AuthProm) Authorizations() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.auths...)
}
