package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/util/jsonpath"

	"github.com/ramp-dev/ramp/api/v1alpha1"
)

// WebRequest is one web check's request, its url rendered and its header
// values read.
type WebRequest struct {
	// URL is the rendered url (http or https).
	URL string
	// Method is GET or POST ("" is GET).
	Method string
	// Body is sent with a POST.
	Body string
	// Headers are sent to the url's scheme and host only.
	Headers map[string]string
	// Timeout bounds the whole request, answer included.
	Timeout time.Duration
	// TLS is the CA bundle and client certificate of an https url.
	TLS *TLS
	// JSONPath names the number to judge; "" judges the status code.
	JSONPath string
}

// RenderURL renders a web check's url template with vars, as a query is
// rendered (the same fields, the same limits), and refuses a result that is
// not an http or https URL with a host.
func RenderURL(name, tmpl string, vars Vars) (string, error) {
	s, err := render(name, tmpl, vars)
	if err != nil {
		return "", err
	}
	return s, checkWebURL(s)
}

func checkWebURL(s string) error {
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("url %q: renders with white space", shorten(s, 128))
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("url does not parse: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: want an http or https URL with a host", shorten(s, 128))
	}
	if u.User != nil {
		return errors.New("url: user information is not allowed (use a header from a Secret)")
	}
	return nil
}

// ValidateWebURL checks a web check's url template the way ValidateMetrics
// checks a query: it parses, names only known fields, and renders with
// sample values to an http or https URL.
func ValidateWebURL(name, tmpl string, args ...string) error {
	if err := validateQuery(name, tmpl, args); err != nil {
		return err
	}
	_, err := RenderURL(name, tmpl, sampleVarsWith(args))
	return err
}

// Web makes the request of a web check and judges the answer (see
// JudgeWeb). The answer is read up to MaxAnswerBytes; the error text is one
// line of at most MaxErrorLen bytes and never holds a header value.
func Web(ctx context.Context, m v1alpha1.Metric, req WebRequest) Result {
	conn := Connection{Address: req.URL, Timeout: req.Timeout, Headers: req.Headers, TLS: req.TLS}
	status, body, err := fetch(ctx, conn, req)
	if err != nil {
		return Result{Metric: m.Name, Phase: v1alpha1.CheckError, Message: "web: " + boundError(err, conn.secrets()...).Error()}
	}
	r := JudgeWeb(m, req.JSONPath, status, body)
	r.Message = boundError(errors.New(r.Message), conn.secrets()...).Error()
	return r
}

func fetch(ctx context.Context, c Connection, req WebRequest) (int, []byte, error) {
	if err := checkWebURL(req.URL); err != nil {
		return 0, nil, err
	}
	u, _ := url.Parse(req.URL)
	if req.Timeout <= 0 {
		return 0, nil, fmt.Errorf("timeout %s: must be positive", req.Timeout)
	}
	if err := c.check(u.Scheme); err != nil {
		return 0, nil, errors.New(strings.Replace(err.Error(), "prometheus: ", "", 1))
	}
	next, err := c.transport()
	if err != nil {
		return 0, nil, errors.New(strings.Replace(err.Error(), "prometheus: ", "", 1))
	}
	headers := http.Header{}
	for n, v := range c.Headers {
		headers.Set(n, v)
	}
	client := &http.Client{
		Transport: &guardRoundTripper{scheme: u.Scheme, host: u.Host, headers: headers, next: next},
		Timeout:   req.Timeout,
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(req.Body)
	}
	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, method, req.URL, body)
	if err != nil {
		return 0, nil, err
	}
	if method == http.MethodPost && req.Body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("User-Agent", "ramp-web-check")
	resp, err := client.Do(hr)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// The url is the user's own; say what happened to it.
			err = fmt.Errorf("%s %s: %w", method, shorten(ue.URL, 128), ue.Err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, nil, fmt.Errorf("timed out after %s: %w", req.Timeout, err)
		}
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		if errors.Is(err, ErrAnswerTooLarge) {
			return 0, nil, ErrAnswerTooLarge
		}
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, data, nil
}

// JudgeWeb judges a web answer. It is pure:
//   - without path, a 2xx status is Passed and any other Failed, naming it;
//   - with path, a status other than 2xx is an Error (the number could not
//     be read), and so is a body that is not JSON, a path that does not
//     parse or finds several values, or a value that is not a number;
//   - a path that finds nothing (or a JSON null) follows m.NoData;
//   - the number found is judged against min and max as Judge does.
func JudgeWeb(m v1alpha1.Metric, path string, status int, body []byte) Result {
	ok := status >= 200 && status < 300
	if path == "" {
		r := Result{Metric: m.Name, Value: strconv.Itoa(status)}
		if ok {
			r.Phase, r.Message = v1alpha1.CheckPassed, fmt.Sprintf("answered %d", status)
		} else {
			r.Phase, r.Message = v1alpha1.CheckFailed, fmt.Sprintf("answered %d %s, want 2xx", status, http.StatusText(status))
		}
		return r
	}
	if !ok {
		return Result{Metric: m.Name, Phase: v1alpha1.CheckError, Value: strconv.Itoa(status), Message: fmt.Sprintf("answered %d %s, want 2xx with a JSON body", status, http.StatusText(status))}
	}
	v, err := numberAt(path, body)
	switch {
	case errors.Is(err, ErrNoData):
		return judgeNoData(Result{Metric: m.Name}, m.NoData, err.Error())
	case err != nil:
		return Result{Metric: m.Name, Phase: v1alpha1.CheckError, Message: err.Error()}
	}
	r := Judge(m, Sample{Value: v, Raw: strconv.FormatFloat(v, 'g', -1, 64)}, nil)
	return r
}

// numberAt finds the one number path names in a JSON body.
func numberAt(path string, body []byte) (float64, error) {
	jp := jsonpath.New("web").AllowMissingKeys(true)
	if err := jp.Parse(path); err != nil {
		return 0, fmt.Errorf("jsonPath %q: %w", shorten(path, 64), err)
	}
	var data any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		return 0, fmt.Errorf("answer is not JSON: %w", err)
	}
	results, err := jp.FindResults(data)
	if err != nil {
		return 0, fmt.Errorf("jsonPath %s: %w", shorten(path, 64), err)
	}
	var found []reflect.Value
	for _, r := range results {
		found = append(found, r...)
	}
	switch {
	case len(found) == 0:
		return 0, fmt.Errorf("%w: %s finds nothing", ErrNoData, shorten(path, 64))
	case len(found) > 1:
		return 0, fmt.Errorf("%s finds %d values, want 1", shorten(path, 64), len(found))
	}
	f := found[0]
	for f.Kind() == reflect.Interface && !f.IsNil() {
		f = f.Elem()
	}
	if !f.IsValid() || (f.Kind() == reflect.Interface && f.IsNil()) {
		return 0, fmt.Errorf("%w: %s is null", ErrNoData, shorten(path, 64))
	}
	switch x := f.Interface().(type) {
	case json.Number:
		v, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !math.IsInf(v, 0) {
			return 0, fmt.Errorf("%s is %s, not a number", shorten(path, 64), shorten(string(x), 32))
		}
		return v, nil
	case string:
		// Some services write numbers as strings ("0.02"); NaN is no data.
		v, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("%s is %q, not a number", shorten(path, 64), shorten(x, 32))
		}
		if math.IsNaN(v) {
			return 0, fmt.Errorf("%w: %s is NaN", ErrNoData, shorten(path, 64))
		}
		return v, nil
	default:
		return 0, fmt.Errorf("%s is a %s, not a number", shorten(path, 64), jsonKind(f))
	}
}

func jsonKind(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Map:
		return "object"
	case reflect.Slice:
		return "list"
	case reflect.Bool:
		return "boolean"
	}
	return v.Kind().String()
}
