package analysis

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	"golang.org/x/net/http/httpguts"
)

// Connection is how to reach one Prometheus: its address and everything a
// company's Prometheus (Mimir, Cortex, Thanos behind a gateway) asks of a
// client. Credentials (the token, the basic-auth password, header values,
// the client key) are sent only to the scheme and host of Address, never on
// a redirect elsewhere, and never appear in an error.
type Connection struct {
	// Address is the base URL of the HTTP API (http or https, optionally
	// with a path prefix).
	Address string
	// Timeout bounds each query.
	Timeout time.Duration
	// BearerToken, when set, is sent as "Authorization: Bearer <token>".
	BearerToken string
	// BasicAuth, when set, is sent as "Authorization: Basic ...".
	BasicAuth *BasicAuth
	// Headers are sent with every query, e.g. X-Scope-OrgID for a tenant.
	Headers map[string]string
	// TLS is the server's CA bundle and the client certificate; https only.
	TLS *TLS
}

// BasicAuth is a user name and password.
type BasicAuth struct {
	Username, Password string
}

// TLS holds PEM blocks: the CAs to trust instead of the system's, and a
// client certificate with its key.
type TLS struct {
	// CA is the PEM bundle of the CAs the server's certificate must chain
	// to; empty means the system's.
	CA []byte
	// Cert and Key are the PEM client certificate and its key, both or
	// neither.
	Cert, Key []byte
	// ServerName, when set, is the name the server's certificate must hold
	// instead of the address's host.
	ServerName string
}

// reservedHeaders are headers a Connection may not set: HTTP itself or the
// client owns them, and Authorization is set from BearerToken or BasicAuth.
var reservedHeaders = []string{"Authorization", "Connection", "Content-Length", "Content-Type",
	"Host", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade", "User-Agent", "Accept-Encoding"}

// MaxHeaders bounds how many headers a Connection may set.
const MaxHeaders = 16

// check says what is wrong with c, naming fields and never their secret
// values.
func (c Connection) check(scheme string) error {
	if c.BearerToken != "" && c.BasicAuth != nil {
		return errors.New("prometheus: a bearer token and basic auth cannot both be set")
	}
	if c.BasicAuth != nil && strings.Contains(c.BasicAuth.Username, ":") {
		return errors.New("prometheus: the basic-auth user name may not contain ':'")
	}
	if len(c.Headers) > MaxHeaders {
		return fmt.Errorf("prometheus: %d headers, at most %d", len(c.Headers), MaxHeaders)
	}
	for name, value := range c.Headers {
		if !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("prometheus: header name %q is not a valid HTTP header name", shorten(strings.ToValidUTF8(name, "?"), 64))
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if slices.Contains(reservedHeaders, canon) {
			return fmt.Errorf("prometheus: header %s may not be set (HTTP or Ramp sets it)", canon)
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			return fmt.Errorf("prometheus: the value of header %s is not a valid HTTP header value", canon)
		}
	}
	if c.TLS != nil {
		if scheme != "https" {
			return errors.New("prometheus: TLS settings need an https address")
		}
		if (len(c.TLS.Cert) == 0) != (len(c.TLS.Key) == 0) {
			return errors.New("prometheus: a client certificate needs its key, and a key its certificate")
		}
	}
	return nil
}

// transport returns the RoundTripper for c: the client's default, with c's
// TLS settings when it has any.
func (c Connection) transport() (http.RoundTripper, error) {
	if c.TLS == nil {
		return api.DefaultRoundTripper, nil
	}
	base, ok := api.DefaultRoundTripper.(*http.Transport)
	if !ok {
		return nil, errors.New("prometheus: the default transport is not an *http.Transport")
	}
	t := base.Clone()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName}
	if len(c.TLS.CA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.TLS.CA) {
			return nil, errors.New("prometheus: the CA bundle holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if len(c.TLS.Cert) > 0 {
		pair, err := tls.X509KeyPair(c.TLS.Cert, c.TLS.Key)
		if err != nil {
			// The error of X509KeyPair never holds key material.
			return nil, fmt.Errorf("prometheus: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	t.TLSClientConfig = cfg
	return t, nil
}

// authorization is the Authorization header's value for c, or "".
func (c Connection) authorization() string {
	switch {
	case c.BearerToken != "":
		return "Bearer " + c.BearerToken
	case c.BasicAuth != nil:
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.BasicAuth.Username+":"+c.BasicAuth.Password))
	}
	return ""
}

// secrets are the strings of c that must never reach an error or a status.
func (c Connection) secrets() []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
		}
	}
	add(c.BearerToken)
	if c.BasicAuth != nil {
		add(c.BasicAuth.Password)
		add(c.authorization())
	}
	for _, v := range c.Headers {
		if len(v) >= 4 { // a short value (a tenant such as "a") would redact words
			add(v)
		}
	}
	return out
}

// key is a digest of everything in c, for the Factory's map: the secrets are
// not kept in it in the clear.
func (c Connection) key() [sha256.Size]byte {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	field(c.Address)
	field(c.Timeout.String())
	field(c.BearerToken)
	if c.BasicAuth != nil {
		field("basic")
		field(c.BasicAuth.Username)
		field(c.BasicAuth.Password)
	}
	names := make([]string, 0, len(c.Headers))
	for n := range c.Headers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		field("h")
		field(n)
		field(c.Headers[n])
	}
	if c.TLS != nil {
		field("tls")
		field(string(c.TLS.CA))
		field(string(c.TLS.Cert))
		field(string(c.TLS.Key))
		field(c.TLS.ServerName)
	}
	var k [sha256.Size]byte
	copy(k[:], h.Sum(nil))
	return k
}
