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
	for _, h := range p.Headers {
		if c.Headers == nil {
			c.Headers = map[string]string{}
		}
		switch {
		case h.Value != nil:
			c.Headers[h.Name] = *h.Value
		case h.ValueFrom != nil:
			v, err := read("header "+h.Name, &h.ValueFrom.SecretKeyRef)
			if err != nil {
				return c, err
			}
			c.Headers[h.Name] = v
		}
	}
	if t := p.TLS; t != nil {
		c.TLS = &analysis.TLS{ServerName: t.ServerName}
		for _, f := range []struct {
			what string
			ref  *v1.SecretKeyRef
			into *[]byte
		}{{"tls CA bundle", t.CASecretRef, &c.TLS.CA}, {"tls client certificate", t.CertSecretRef, &c.TLS.Cert}, {"tls client key", t.KeySecretRef, &c.TLS.Key}} {
			if f.ref == nil {
				continue
			}
			v, err := read(f.what, f.ref)
			if err != nil {
				return c, err
			}
			*f.into = []byte(v)
		}
	}
	return c, nil
}
