package analysis_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-dev/ramp/analysis"
)

// recordingProm answers every query with one sample and records the
// headers it received.
type recordingProm struct {
	mu      sync.Mutex
	headers []http.Header
}

func (r *recordingProm) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.headers = append(r.headers, req.Header.Clone())
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(bodyOneSample))
}

func (r *recordingProm) seen() []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]http.Header(nil), r.headers...)
}

func connect(t *testing.T, c analysis.Connection) analysis.Provider {
	t.Helper()
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	p, err := analysis.Connect(c)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return p
}

// Headers (a Mimir/Cortex tenant) and basic auth reach the server, and none
// of them follows a redirect to another host.
func TestConnectionHeadersAndBasicAuth(t *testing.T) {
	t.Parallel()
	other := &recordingProm{}
	otherSrv := httptest.NewServer(other)
	t.Cleanup(otherSrv.Close)
	home := &recordingProm{}
	homeSrv := httptest.NewServer(home)
	t.Cleanup(homeSrv.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		home.ServeHTTP(httptest.NewRecorder(), req) // recorded as the home host
		http.Redirect(w, req, otherSrv.URL+req.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)

	c := analysis.Connection{
		Address:   homeSrv.URL,
		BasicAuth: &analysis.BasicAuth{Username: "ramp", Password: "pw-SECRET-1"},
		Headers:   map[string]string{"X-Scope-OrgID": "team-shop", "x-custom": "v-SECRET-2"},
	}
	if _, err := connect(t, c).Query(t.Context(), "vector(1)"); err != nil {
		t.Fatal(err)
	}
	h := home.seen()[0]
	if u, p, ok := (&http.Request{Header: h}).BasicAuth(); !ok || u != "ramp" || p != "pw-SECRET-1" {
		t.Errorf("basic auth = %q %q %t, want ramp / the password", u, p, ok)
	}
	if h.Get("X-Scope-OrgID") != "team-shop" || h.Get("X-Custom") != "v-SECRET-2" {
		t.Errorf("headers = %v, want X-Scope-OrgID and X-Custom", h)
	}

	c.Address = redirect.URL
	if _, err := connect(t, c).Query(t.Context(), "vector(1)"); err != nil {
		t.Logf("Query: %v", err)
	}
	got := other.seen()
	if len(got) == 0 {
		t.Fatal("the redirect was not followed; the test proves nothing")
	}
	for _, h := range got {
		if h.Get("Authorization") != "" || h.Get("X-Scope-OrgID") != "" || h.Get("X-Custom") != "" {
			t.Errorf("the other host received credentials: %v", h)
		}
	}
}

// A server echoing the credentials in an error does not get them into the
// message a status shows.
func TestConnectionSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, _ := req.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = w.Write([]byte(`{"status":"error","errorType":"execution","error":"` + u + ":" + p + " " + req.Header.Get("X-Token") + " " + req.Header.Get("Authorization") + `"}`))
	}))
	t.Cleanup(srv.Close)
	p := connect(t, analysis.Connection{Address: srv.URL,
		BasicAuth: &analysis.BasicAuth{Username: "ramp", Password: "pw-SECRET-1"},
		Headers:   map[string]string{"X-Token": "hdr-SECRET-2"}})
	msg := queryMessage(t, p)
	if strings.Contains(msg, "SECRET") || strings.Contains(msg, "cmFtcDpw") {
		t.Errorf("message carries a credential: %q", msg)
	}
	if !strings.Contains(msg, "[redacted]") {
		t.Errorf("message = %q, want the echoed credentials redacted", msg)
	}
}

func TestConnectRefuses(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		c    analysis.Connection
		want string
	}{
		"token and basic auth": {analysis.Connection{BearerToken: "t", BasicAuth: &analysis.BasicAuth{Username: "u", Password: "p"}}, "cannot both be set"},
		"user with a colon":    {analysis.Connection{BasicAuth: &analysis.BasicAuth{Username: "a:b", Password: "p"}}, "may not contain ':'"},
		"Authorization header": {analysis.Connection{Headers: map[string]string{"authorization": "Bearer x"}}, "header Authorization may not be set"},
		"Host header":          {analysis.Connection{Headers: map[string]string{"Host": "evil"}}, "header Host may not be set"},
		"bad header name":      {analysis.Connection{Headers: map[string]string{"X Bad": "v"}}, "not a valid HTTP header name"},
		"header value newline": {analysis.Connection{Headers: map[string]string{"X-A": "v\r\nX-Injected: 1"}}, "not a valid HTTP header value"},
		"TLS on http":          {analysis.Connection{TLS: &analysis.TLS{CA: []byte("x")}}, "need an https address"},
		"cert without key":     {analysis.Connection{Address: "https://prom:9090", TLS: &analysis.TLS{Cert: []byte("x")}}, "needs its key"},
		"CA without PEM":       {analysis.Connection{Address: "https://prom:9090", TLS: &analysis.TLS{CA: []byte("not pem")}}, "holds no PEM certificate"},
		"bad key pair":         {analysis.Connection{Address: "https://prom:9090", TLS: &analysis.TLS{Cert: []byte("x"), Key: []byte("y")}}, "client certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			c := tc.c
			if c.Address == "" {
				c.Address = "http://prom:9090"
			}
			c.Timeout = time.Second
			_, err := analysis.Connect(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Connect = %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "Bearer x") || strings.Contains(err.Error(), "evil") {
				t.Errorf("error %q carries a header value", err)
			}
		})
	}
}

// pemCert returns a self-signed CA and a certificate it signed for a
// client, both PEM.
func clientPKI(t *testing.T) (caPEM, certPEM, keyPEM []byte, ca *x509.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ramp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), ca
}

// A Prometheus behind TLS with a private CA that asks for a client
// certificate: reached with the CA bundle and the certificate, refused
// without either.
func TestConnectionTLS(t *testing.T) {
	t.Parallel()
	_, certPEM, keyPEM, clientCA := clientPKI(t)
	rec := &recordingProm{}
	srv := httptest.NewUnstartedServer(rec)
	pool := x509.NewCertPool()
	pool.AddCert(clientCA)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	serverCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	ok := analysis.Connection{Address: srv.URL, TLS: &analysis.TLS{CA: serverCA, Cert: certPEM, Key: keyPEM}}
	if s, err := connect(t, ok).Query(t.Context(), "vector(1)"); err != nil || s.Raw != "0.002" {
		t.Fatalf("with the CA and a client certificate: %v, %v; want 0.002", s, err)
	}

	for name, c := range map[string]analysis.Connection{
		"no CA bundle":          {Address: srv.URL, TLS: &analysis.TLS{Cert: certPEM, Key: keyPEM}},
		"no client certificate": {Address: srv.URL, TLS: &analysis.TLS{CA: serverCA}},
		"another server name":   {Address: srv.URL, TLS: &analysis.TLS{CA: serverCA, Cert: certPEM, Key: keyPEM, ServerName: "prometheus.elsewhere"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := connect(t, c).Query(t.Context(), "vector(1)"); err == nil {
				t.Errorf("query succeeded, want a TLS error")
			} else if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error carries key material: %v", err)
			}
		})
	}
}
