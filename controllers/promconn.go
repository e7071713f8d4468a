package controllers

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ramp-dev/ramp/analysis"
	v1 "github.com/ramp-dev/ramp/api/v1alpha1"
)

// prometheusConnection reads every credential p names (each from a Secret
// that opted in, see readCredential) into the connection the analysis
// provider dials. The first Secret that cannot be read makes the error; it
// names the setting and the Secret, never a value.
func prometheusConnection(ctx context.Context, reader client.Reader, namespace string, p *v1.PrometheusProvider) (analysis.Connection, error) {
	if p == nil {
		return analysis.Connection{}, fmt.Errorf("no prometheus: set spec.analysis.prometheus (or the template's)")
	}
	c := analysis.Connection{Address: p.Address, Timeout: p.QueryTimeout()}
	read := func(what string, ref *v1.SecretKeyRef) (string, error) {
		v, err := readCredential(ctx, reader, namespace, ref)
		if err != nil {
			return "", fmt.Errorf("prometheus %s: %w", what, err)
		}
		return v, nil
	}
	var err error
	if ref := p.BearerTokenSecretRef; ref != nil {
		if c.BearerToken, err = read("bearer token", ref); err != nil {
			return c, err
		}
	}
	if b := p.BasicAuth; b != nil {
		pw, err := read("basic-auth password", &b.PasswordSecretRef)
		if err != nil {
			return c, err
		}
		c.BasicAuth = &analysis.BasicAuth{Username: b.Username, Password: pw}
	}
	if c.Headers, err = readHeaders(ctx, reader, namespace, "prometheus ", p.Headers); err != nil {
		return c, err
	}
	if c.TLS, err = readTLS(ctx, reader, namespace, "prometheus ", p.TLS); err != nil {
		return c, err
	}
	return c, nil
}

// readHeaders reads headers into a map, each value given or read from a
// Secret that opted in; errors start with what (e.g. "prometheus ") and
// name the header and the Secret, never a value.
func readHeaders(ctx context.Context, reader client.Reader, namespace, what string, headers []v1.HTTPHeader) (map[string]string, error) {
	if len(headers) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(headers))
	for _, h := range headers {
		switch {
		case h.Value != nil:
			out[h.Name] = *h.Value
		case h.ValueFrom != nil:
			v, err := readCredential(ctx, reader, namespace, &h.ValueFrom.SecretKeyRef)
			if err != nil {
				return nil, fmt.Errorf("%sheader %s: %w", what, h.Name, err)
			}
			out[h.Name] = v
		}
	}
	return out, nil
}

// readTLS reads the CA bundle and client certificate t names, each from a
// Secret that opted in; nil without t.
func readTLS(ctx context.Context, reader client.Reader, namespace, what string, t *v1.PrometheusTLS) (*analysis.TLS, error) {
	if t == nil {
		return nil, nil
	}
	out := &analysis.TLS{ServerName: t.ServerName}
	for _, f := range []struct {
		what string
		ref  *v1.SecretKeyRef
		into *[]byte
	}{{"tls CA bundle", t.CASecretRef, &out.CA}, {"tls client certificate", t.CertSecretRef, &out.Cert}, {"tls client key", t.KeySecretRef, &out.Key}} {
		if f.ref == nil {
			continue
		}
		v, err := readCredential(ctx, reader, namespace, f.ref)
		if err != nil {
			return nil, fmt.Errorf("%s%s: %w", what, f.what, err)
		}
		*f.into = []byte(v)
	}
	return out, nil
}
