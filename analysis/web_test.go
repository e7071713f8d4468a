package analysis

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ramp-dev/ramp/api/v1alpha1"
)

func TestJudgeWeb(t *testing.T) {
	max := 0.05
	min := 10.0
	bounded := v1alpha1.Metric{Name: "web", Max: &max}
	floor := v1alpha1.Metric{Name: "web", Min: &min, NoData: v1alpha1.NoDataFail}
	tests := map[string]struct {
		m       v1alpha1.Metric
		path    string
		status  int
		body    string
		phase   v1alpha1.CheckPhase
		value   string
		message string
	}{
		"2xx passes without a path":              {bounded, "", 204, "", v1alpha1.CheckPassed, "204", "answered 204"},
		"5xx fails without a path":               {bounded, "", 503, "down", v1alpha1.CheckFailed, "503", "answered 503 Service Unavailable, want 2xx"},
		"3xx not followed fails":                 {bounded, "", 302, "", v1alpha1.CheckFailed, "302", "answered 302 Found, want 2xx"},
		"number within max":                      {bounded, "{.errorRate}", 200, `{"errorRate":0.01}`, v1alpha1.CheckPassed, "0.01", "0.01 <= max 0.05"},
		"number above max":                       {bounded, "{.errorRate}", 200, `{"errorRate":0.2}`, v1alpha1.CheckFailed, "0.2", "0.2 > max 0.05"},
		"nested number below min":                {floor, "{.stats.rps}", 200, `{"stats":{"rps":3}}`, v1alpha1.CheckFailed, "3", "3 < min 10"},
		"number written as a string":             {bounded, "{.errorRate}", 200, `{"errorRate":"0.02"}`, v1alpha1.CheckPassed, "0.02", "0.02 <= max 0.05"},
		"missing field holds by default":         {bounded, "{.errorRate}", 200, `{"other":1}`, v1alpha1.CheckInconclusive, "", "no data: {.errorRate} finds nothing (noData: hold)"},
		"missing field fails with noData fail":   {floor, "{.stats.rps}", 200, `{}`, v1alpha1.CheckFailed, "", "no data: {.stats.rps} finds nothing (noData: fail)"},
		"null is no data":                        {bounded, "{.errorRate}", 200, `{"errorRate":null}`, v1alpha1.CheckInconclusive, "", "no data: {.errorRate} is null (noData: hold)"},
		"a string is an Error":                   {bounded, "{.errorRate}", 200, `{"errorRate":"high"}`, v1alpha1.CheckError, "", `{.errorRate} is "high", not a number`},
		"an object is an Error":                  {bounded, "{.stats}", 200, `{"stats":{"a":1}}`, v1alpha1.CheckError, "", "{.stats} is a object, not a number"},
		"a boolean is an Error":                  {bounded, "{.ok}", 200, `{"ok":true}`, v1alpha1.CheckError, "", "{.ok} is a boolean, not a number"},
		"several values are an Error":            {bounded, "{.items[*].v}", 200, `{"items":[{"v":1},{"v":2}]}`, v1alpha1.CheckError, "", "{.items[*].v} finds 2 values, want 1"},
		"not JSON is an Error":                   {bounded, "{.errorRate}", 200, `<html>`, v1alpha1.CheckError, "", "answer is not JSON: invalid character '<' looking for beginning of value"},
		"non-2xx with a path is an Error":        {bounded, "{.errorRate}", 500, `{"errorRate":0}`, v1alpha1.CheckError, "500", "answered 500 Internal Server Error, want 2xx with a JSON body"},
		"a path that does not parse is an Error": {bounded, "{.a[", 200, `{}`, v1alpha1.CheckError, "", "jsonPath \"{.a[\": unterminated array"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := JudgeWeb(tc.m, tc.path, tc.status, []byte(tc.body))
			if r.Phase != tc.phase || r.Value != tc.value || r.Message != tc.message {
				t.Fatalf("got %s %q %q, want %s %q %q", r.Phase, r.Value, r.Message, tc.phase, tc.value, tc.message)
			}
		})
	}
}

func TestWebRequest(t *testing.T) {
	var got http.Header
	var gotBody, gotMethod string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		b, _ := io.ReadAll(r.Body)
		gotBody, gotMethod = string(b), r.Method
		fmt.Fprint(w, `{"errorRate":0.001}`)
	}))
	defer srv.Close()
	max := 0.01
	m := v1alpha1.Metric{Name: "deep", Max: &max}
	r := Web(context.Background(), m, WebRequest{URL: srv.URL + "/stats", Method: "POST", Body: `{"q":1}`, JSONPath: "{.errorRate}",
		Headers: map[string]string{"X-Token": "s3cret-value"}, Timeout: 5 * time.Second})
	if r.Phase != v1alpha1.CheckPassed || r.Value != "0.001" {
		t.Fatalf("got %+v", r)
	}
	if got.Get("X-Token") != "s3cret-value" || gotBody != `{"q":1}` || gotMethod != "POST" || got.Get("Content-Type") != "application/json" {
		t.Fatalf("request: %s %q %v", gotMethod, gotBody, got)
	}
}

func TestWebTooLargeAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"v":"`+strings.Repeat("x", MaxAnswerBytes)+`"}`)
	}))
	defer srv.Close()
	r := Web(context.Background(), v1alpha1.Metric{Name: "big"}, WebRequest{URL: srv.URL, Timeout: 5 * time.Second})
	if r.Phase != v1alpha1.CheckError || r.Message != "web: answer larger than 1 MiB" {
		t.Fatalf("got %+v", r)
	}
}

func TestWebTimeout(t *testing.T) {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(done)
	start := time.Now()
	r := Web(context.Background(), v1alpha1.Metric{Name: "slow"}, WebRequest{URL: srv.URL, Timeout: 200 * time.Millisecond})
	if r.Phase != v1alpha1.CheckError || !strings.HasPrefix(r.Message, "web: timed out after 200ms") {
		t.Fatalf("got %+v", r)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}
}

// A redirect to another host never carries the headers, whose values never
// reach the message either.
func TestWebRedirectKeepsHeadersHome(t *testing.T) {
	var leaked string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("X-Token")
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprint(w, "token was "+leaked)
	}))
	defer other.Close()
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/x", http.StatusFound)
	}))
	defer home.Close()
	r := Web(context.Background(), v1alpha1.Metric{Name: "r"}, WebRequest{URL: home.URL, Headers: map[string]string{"X-Token": "s3cret-value"}, Timeout: 5 * time.Second})
	if leaked != "" {
		t.Fatalf("the redirect carried the header: %q", leaked)
	}
	if r.Phase != v1alpha1.CheckFailed || r.Value != "418" || strings.Contains(r.Message, "s3cret") {
		t.Fatalf("got %+v", r)
	}
}

// An error that would echo a header value says [redacted], in one line of
// bounded length.
func TestWebErrorBounded(t *testing.T) {
	r := Web(context.Background(), v1alpha1.Metric{Name: "e"}, WebRequest{URL: "http://127.0.0.1:1/" + strings.Repeat("a", 500), Headers: map[string]string{"X-Token": "s3cret-value"}, Timeout: time.Second})
	if r.Phase != v1alpha1.CheckError || len(r.Message) > MaxErrorLen+len("web: ") || strings.ContainsAny(r.Message, "\n\r") {
		t.Fatalf("got %d bytes: %q", len(r.Message), r.Message)
	}
	r = Web(context.Background(), v1alpha1.Metric{Name: "e"}, WebRequest{URL: "http://127.0.0.1:1/s3cret-value", Headers: map[string]string{"X-Token": "s3cret-value"}, Timeout: time.Second})
	if strings.Contains(r.Message, "s3cret-value") || !strings.Contains(r.Message, "[redacted]") {
		t.Fatalf("got %q", r.Message)
	}
}

func TestRenderURL(t *testing.T) {
	u, err := RenderURL("w", "http://{{ .CanaryService }}.{{ .Namespace }}.svc:8080/healthz", sampleVars)
	if err != nil || u != "http://app-green.default.svc:8080/healthz" {
		t.Fatalf("got %q, %v", u, err)
	}
	for name, tmpl := range map[string]string{
		"unknown field": "http://{{ .Nope }}/",
		"range":         "http://x/{{ range 3 }}a{{ end }}",
		"not http":      "ftp://{{ .CanaryService }}/",
		"no host":       "http:///{{ .CanaryService }}",
		"user info":     "http://u:p@{{ .CanaryService }}/",
	} {
		if err := ValidateWebURL("w", tmpl); err == nil {
			t.Errorf("%s: %q validated", name, tmpl)
		}
	}
	if err := ValidateWebURL("w", "https://{{ .Args.host }}/x", "host"); err != nil {
		t.Errorf("template arg: %v", err)
	}
}

// An https url is checked against the CA bundle given, and refused without
// it (the test server's certificate is self-signed).
func TestWebTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	r := Web(context.Background(), v1alpha1.Metric{Name: "tls"}, WebRequest{URL: srv.URL, TLS: &TLS{CA: ca}, Timeout: 5 * time.Second})
	if r.Phase != v1alpha1.CheckPassed || r.Value != "204" {
		t.Fatalf("with the CA: %+v", r)
	}
	r = Web(context.Background(), v1alpha1.Metric{Name: "tls"}, WebRequest{URL: srv.URL, Timeout: 5 * time.Second})
	if r.Phase != v1alpha1.CheckError || !strings.Contains(r.Message, "certificate") {
		t.Fatalf("without the CA: %+v", r)
	}
	r = Web(context.Background(), v1alpha1.Metric{Name: "tls"}, WebRequest{URL: "http://127.0.0.1:1/", TLS: &TLS{CA: ca}, Timeout: 5 * time.Second})
	if r.Phase != v1alpha1.CheckError || r.Message != "web: TLS settings need an https address" {
		t.Fatalf("TLS on http: %+v", r)
	}
}
