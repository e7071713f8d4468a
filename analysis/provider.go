package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Provider runs one PromQL query and returns one number.
type Provider interface {
	// Query runs query at the current time. It returns ErrNoData (wrapped)
	// for an empty or NaN answer, a *ShapeError for an answer that is not
	// one number, and other errors when the server could not be asked.
	Query(ctx context.Context, query string) (Sample, error)
}

// Sample is the one number a query answered.
type Sample struct {
	// Value is the number.
	Value float64
	// Raw is the value as Prometheus wrote it, e.g. "0.002" or "+Inf".
	Raw string
}

// ErrNoData means the answer was an empty vector or NaN. What that means for
// a check is the metric's noData policy.
var ErrNoData = errors.New("no data")

// ShapeError means Prometheus answered something other than one number: a
// vector of several series, a matrix, a string or a native histogram.
type ShapeError struct {
	// Type is the type of the answer.
	Type model.ValueType
	// Series is the number of series of a vector answer.
	Series int
	// Histogram is set when a vector's one sample is a native histogram.
	Histogram bool
}

// Error says what was answered.
func (e *ShapeError) Error() string {
	switch {
	case e.Histogram:
		return "answered a native histogram, want one number"
	case e.Type == model.ValVector:
		return fmt.Sprintf("answered %d series, want 1", e.Series)
	case e.Type == model.ValNone:
		return "answered no result, want one number"
	default:
		return fmt.Sprintf("answered a %s, want one number", e.Type)
	}
}

// ErrAnswerTooLarge means an answer (its body, decompressed) was larger than
// MaxAnswerBytes; it was not read further.
var ErrAnswerTooLarge = errors.New("answer larger than 1 MiB")

// MaxAnswerBytes bounds how much of an answer a Prometheus provider reads.
const MaxAnswerBytes = 1 << 20

// MaxErrorLen bounds the text of the errors a Prometheus provider returns,
// which end up in a Rollout's status: "query: " and such an error stay within
// 256 bytes.
const MaxErrorLen = 240

// Prometheus is a Provider that asks the Prometheus HTTP API.
type Prometheus struct {
	api     promv1.API
	timeout time.Duration
	secrets []string
}

var _ Provider = (*Prometheus)(nil)

// NewPrometheus returns a Provider for the Prometheus HTTP API at address (an
// http or https URL, optionally with a path prefix). Each query is bounded by
// timeout; a non-empty bearerToken is sent as "Authorization: Bearer <token>",
// only to the scheme and host of address (never on a redirect elsewhere).
// Answers are read up to MaxAnswerBytes, and the errors returned are at most
// MaxErrorLen bytes, one line, and never carry the token.
func NewPrometheus(address string, timeout time.Duration, bearerToken string) (*Prometheus, error) {
	return Connect(Connection{Address: address, Timeout: timeout, BearerToken: bearerToken})
}

// Connect returns a Provider for the Prometheus HTTP API c describes, with
// the guarantees of NewPrometheus for every credential of c: the token, the
// basic-auth password and the header values are sent to the scheme and host
// of c.Address only, and no error carries them.
func Connect(c Connection) (*Prometheus, error) {
	address, timeout := c.Address, c.Timeout
	u, err := url.Parse(address)
	if err != nil {
		return nil, boundError(fmt.Errorf("prometheus address %q: %w", address, err), "")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, boundError(fmt.Errorf("prometheus address %q: want an http or https URL such as http://prometheus.monitoring:9090", address), "")
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("prometheus timeout %s: must be positive", timeout)
	}
	if err := c.check(u.Scheme); err != nil {
		return nil, err
	}
	next, err := c.transport()
	if err != nil {
		return nil, err
	}
	headers := http.Header{}
	for n, v := range c.Headers {
		headers.Set(n, v)
	}
	if a := c.authorization(); a != "" {
		headers.Set("Authorization", a)
	}
	rt := &guardRoundTripper{scheme: u.Scheme, host: u.Host, headers: headers, next: next}
	client, err := api.NewClient(api.Config{Address: address, RoundTripper: rt})
	if err != nil {
		return nil, boundError(fmt.Errorf("prometheus client for %q: %w", address, err), "")
	}
	return &Prometheus{api: promv1.NewAPI(client), timeout: timeout, secrets: c.secrets()}, nil
}

// Query runs query as an instant query, bounded by the provider's timeout and
// by ctx. Warnings from Prometheus are ignored.
func (p *Prometheus) Query(ctx context.Context, query string) (Sample, error) {
	s, err := p.query(ctx, query)
	return s, boundError(err, p.secrets...)
}

func (p *Prometheus) query(ctx context.Context, query string) (Sample, error) {
	qctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	v, _, _, err := p.api.Query(qctx, query, time.Time{}, promv1.WithTimeout(p.timeout))
	if err != nil {
		if errors.Is(err, ErrAnswerTooLarge) {
			// Said alone: whatever came with it is the sender's.
			return Sample{}, ErrAnswerTooLarge
		}
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return Sample{}, fmt.Errorf("timed out after %s: %w", p.timeout, err)
		}
		if isStringAnswer(err) {
			return Sample{}, &ShapeError{Type: model.ValString}
		}
		return Sample{}, err
	}
	return sampleOf(v)
}

// boundedError is an error whose text was made fit for a status: one line,
// at most MaxErrorLen bytes, the token redacted. It unwraps to the original.
type boundedError struct {
	msg string
	err error
}

func (e *boundedError) Error() string { return e.msg }
func (e *boundedError) Unwrap() error { return e.err }

// boundError returns err with its text made fit for a status, or err itself
// when its text already is. The text of an error can carry what a server
// answered (Prometheus's "error" field of a 400 or 422 answer), so a server
// echoing the token back does not get it into the status.
func boundError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	orig := err.Error()
	msg := orig
	for _, token := range secrets {
		if token == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, token, "[redacted]")
		if t := strings.TrimSpace(token); t != "" && t != token {
			msg = strings.ReplaceAll(msg, t, "[redacted]")
		}
	}
	msg = strings.ToValidUTF8(msg, "?")
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, msg)
	msg = shorten(msg, MaxErrorLen)
	if msg == orig {
		return err
	}
	return &boundedError{msg: msg, err: err}
}

// shorten cuts the middle out of a valid UTF-8 s longer than max bytes,
// keeping its beginning (what failed) and its end (why).
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const sep = " ... "
	tail := (max - len(sep)) / 3
	head := max - len(sep) - tail
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	start := len(s) - tail
	for start < len(s) && !utf8.RuneStart(s[start]) {
		start++
	}
	return s[:head] + sep + s[start:]
}

// sampleOf turns an answer into one number, following the shape rules:
// a vector of one sample or a scalar is its value; an empty vector or NaN is
// ErrNoData; anything else is a *ShapeError.
func sampleOf(v model.Value) (Sample, error) {
	switch v := v.(type) {
	case model.Vector:
		switch {
		case len(v) == 0:
			return Sample{}, fmt.Errorf("%w: empty vector", ErrNoData)
		case len(v) > 1:
			return Sample{}, &ShapeError{Type: model.ValVector, Series: len(v)}
		case v[0].Histogram != nil:
			return Sample{}, &ShapeError{Type: model.ValVector, Series: 1, Histogram: true}
		}
		return number(v[0].Value)
	case *model.Scalar:
		return number(v.Value)
	case nil:
		return Sample{}, &ShapeError{Type: model.ValNone}
	default:
		return Sample{}, &ShapeError{Type: v.Type()}
	}
}

// isStringAnswer tells whether err is client_golang refusing a string answer,
// which it does before handing the value over. Should its message change, the
// answer still ends as an error, only not as a *ShapeError.
func isStringAnswer(err error) bool {
	var pe *promv1.Error
	return errors.As(err, &pe) && pe.Type == promv1.ErrBadResponse &&
		pe.Msg == fmt.Sprintf("unexpected value type %q", model.ValString.String())
}

func number(v model.SampleValue) (Sample, error) {
	if math.IsNaN(float64(v)) {
		return Sample{}, fmt.Errorf("%w: NaN", ErrNoData)
	}
	return Sample{Value: float64(v), Raw: v.String()}, nil
}

// guardRoundTripper adds the connection's headers (Authorization among
// them) to the requests for the configured scheme and host only: the client
// follows redirects, and a redirect to another host (or to plain http) must
// not carry a credential. It also bounds every answer's body to
// MaxAnswerBytes.
type guardRoundTripper struct {
	scheme, host string
	headers      http.Header
	next         http.RoundTripper
}

func (g *guardRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	home := strings.EqualFold(req.URL.Scheme, g.scheme) && strings.EqualFold(req.URL.Host, g.host)
	req.Header.Del("Authorization")
	for name, values := range g.headers {
		if home {
			req.Header[name] = values
		} else {
			req.Header.Del(name)
		}
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxAnswerBytes}
	return resp, nil
}

// limitedBody reads at most left bytes of rc; a byte more is
// ErrAnswerTooLarge.
type limitedBody struct {
	rc       io.ReadCloser
	left     int64
	tooLarge bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.tooLarge {
		return 0, ErrAnswerTooLarge
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.left <= 0 {
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.tooLarge = true
			return 0, ErrAnswerTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// Factory hands out Providers for a Rollout's Prometheus settings.
type Factory interface {
	// Provider returns a Provider for the connection, or an error when it
	// is not usable.
	Provider(c Connection) (Provider, error)
}

// PrometheusFactory is a Factory of *Prometheus providers that reuses one
// provider per connection (keyed by a digest of all its settings). It is
// safe for concurrent use.
type PrometheusFactory struct {
	mu        sync.Mutex
	providers map[[32]byte]*Prometheus
}

// maxProviders bounds how many providers a PrometheusFactory keeps.
const maxProviders = 256

var _ Factory = (*PrometheusFactory)(nil)

// NewPrometheusFactory returns an empty PrometheusFactory.
func NewPrometheusFactory() *PrometheusFactory {
	return &PrometheusFactory{providers: map[[32]byte]*Prometheus{}}
}

// Provider returns the provider for these settings, making it on first use.
func (f *PrometheusFactory) Provider(c Connection) (Provider, error) {
	key := c.key()
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.providers[key]; ok {
		return p, nil
	}
	p, err := Connect(c)
	if err != nil {
		return nil, err
	}
	if f.providers == nil || len(f.providers) >= maxProviders {
		// Rotated tokens and edited addresses leave stale entries behind;
		// providers are cheap to make again, so start afresh.
		f.providers = map[[32]byte]*Prometheus{}
	}
	f.providers[key] = p
	return p, nil
}
