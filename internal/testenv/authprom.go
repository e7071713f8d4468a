package testenv

import (
	"encoding/pem"
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
	mu      sync.Mutex
	auths   []string
	headers []http.Header
}

// StartAuthProm starts an AuthProm, closed when t ends.
func StartAuthProm(t testing.TB) *AuthProm { return startAuthProm(t, false) }

// StartAuthPromTLS starts an AuthProm serving https with a certificate of
// its own CA (see AuthProm.CAPEM), closed when t ends.
func StartAuthPromTLS(t testing.TB) *AuthProm { return startAuthProm(t, true) }

func startAuthProm(t testing.TB, useTLS bool) *AuthProm {
	t.Helper()
	p := &AuthProm{}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.auths = append(p.auths, r.Header.Get("Authorization"))
		p.headers = append(p.headers, r.Header.Clone())
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(OneSample))
	}))
	if useTLS {
		p.StartTLS()
	} else {
		p.Start()
	}
	t.Cleanup(p.Close)
	return p
}

// CAPEM is the PEM certificate an https AuthProm serves, which is its own
// CA.
func (p *AuthProm) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Certificate().Raw})
}

// Headers are the headers of each request received so far, in order.
func (p *AuthProm) Headers() []http.Header {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]http.Header(nil), p.headers...)
}

// Authorizations are the Authorization headers received so far, in order.
func (p *AuthProm) Authorizations() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.auths...)
}
