package analysis_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ramp-dev/ramp/analysis"
	"github.com/ramp-dev/ramp/api/v1alpha1"
	"github.com/ramp-dev/ramp/internal/testenv"
)

// token is the bearer token of these tests; a server echoing it back must
// not get it into a message.
const token = "tok-SECRET-MARKER-7f3a"

// queryMessage asks p for vector(1) and returns the judged message.
func queryMessage(t *testing.T, p analysis.Provider) string {
	t.Helper()
	s, err := p.Query(t.Context(), "vector(1)")
	r := analysis.Judge(v1alpha1.Metric{Name: "m", Max: new(1.0)}, s, err)
	return r.Message
}

// fitForStatus fails t unless msg is short, one line and free of the token
// and of marker.
func fitForStatus(t *testing.T, msg, marker string) {
	t.Helper()
	if len(msg) > 256 {
		t.Errorf("message is %d bytes, want at most 256: %.300q...", len(msg), msg)
	}
	if strings.Contains(msg, token) || (marker != "" && strings.Contains(msg, marker)) {
		t.Errorf("message echoes what the server sent: %.300q", msg)
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("message has line breaks: %.300q", msg)
	}
}

func TestPrometheusAnswerSizeLimit(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 5<<20)
	// A valid answer padded with spaces past 1 MiB is still too large: the
	// limit is on what is read, not on what is kept.
	padded := bodyOneSample[:len(bodyOneSample)-1] + strings.Repeat(" ", 1<<20) + "}"
	tests := map[string]answer{
		"200 of 5 MiB":          {body: `{"status":"success","data":{"resultType":"vector","result":[],"x":"` + huge + `"}}`},
		"500 of 5 MiB":          {status: http.StatusInternalServerError, body: token + huge + token},
		"422 error of 5 MiB":    {status: http.StatusUnprocessableEntity, body: `{"status":"error","errorType":"execution","error":"` + token + huge + `"}`},
		"valid answer padded":   {body: padded},
		"400 of 5 MiB, no JSON": {status: http.StatusBadRequest, body: "<html>" + huge},
	}
	for name, a := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeProm(t, map[string]answer{"": a})
			p, err := analysis.NewPrometheus(srv.URL, 10*time.Second, token)
			if err != nil {
				t.Fatal(err)
			}
			msg := queryMessage(t, p)
			if msg != "query: answer larger than 1 MiB" {
				t.Errorf("message = %.300q, want %q", msg, "query: answer larger than 1 MiB")
			}
			fitForStatus(t, msg, "")
		})
	}

	t.Run("just under the limit", func(t *testing.T) {
		t.Parallel()
		body := bodyOneSample[:len(bodyOneSample)-1] + strings.Repeat(" ", 1<<20-len(bodyOneSample)) + "}"
		if len(body) != 1<<20 {
			t.Fatalf("body is %d bytes", len(body))
		}
		srv := newFakeProm(t, map[string]answer{"": {body: body}})
		p, err := analysis.NewPrometheus(srv.URL, 10*time.Second, "")
		if err != nil {
			t.Fatal(err)
		}
		if s, err := p.Query(t.Context(), "vector(1)"); err != nil || s.Raw != "0.002" {
			t.Fatalf("Query = %+v, %v; want 0.002", s, err)
		}
	})
}

func TestPrometheusErrorsFitForStatus(t *testing.T) {
	t.Parallel()
	const marker = "BODY-MARKER-91c2"
	long := strings.Repeat("y", 10_000)
	tests := map[string]struct {
		answer answer
		want   string // the message starts with it
	}{
		"500 echoing the token": {answer: answer{status: http.StatusInternalServerError,
			body: "Authorization: Bearer " + token + "\n" + marker},
			want: "query: server_error: server error: 500"},
		"502 HTML page": {answer: answer{status: http.StatusBadGateway,
			body: "<html><body><h1>Bad Gateway</h1><p>" + marker + long + "</p></body></html>"},
			want: "query: server_error: server error: 502"},
		"400 HTML page": {answer: answer{status: http.StatusBadRequest,
			body: "<html>\n<title>" + marker + "</title>\n" + long + "</html>"},
			want: "query: client_error: client error: 400"},
		"400 error echoing the token": {answer: answer{status: http.StatusBadRequest,
			body: `{"status":"error","errorType":"bad_data","error":"bad token ` + token + `"}`},
			want: "query: bad_data: bad token "},
		"422 error of 10 kB with the token at its end": {answer: answer{status: http.StatusUnprocessableEntity,
			body: `{"status":"error","errorType":"execution","error":"` + long + token + `"}`},
			want: "query: execution: yyy"},
		"200 error with the token in errorType and lines": {answer: answer{
			body: `{"status":"error","errorType":"` + token + `","error":"a\nb\r\n` + long + `"}`},
			want: "query: [redacted]: a b"},
		"200 not JSON": {answer: answer{body: "<html>" + marker + long}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeProm(t, map[string]answer{"": tc.answer})
			p, err := analysis.NewPrometheus(srv.URL, 10*time.Second, token)
			if err != nil {
				t.Fatal(err)
			}
			msg := queryMessage(t, p)
			fitForStatus(t, msg, marker)
			if !strings.HasPrefix(msg, tc.want) {
				t.Errorf("message = %.300q, want it to start with %q", msg, tc.want)
			}
			if reqs := srv.requests(); len(reqs) != 1 || reqs[0].auth != "Bearer "+token {
				t.Errorf("server received %+v, want one request with the token", reqs)
			}
		})
	}

	t.Run("long address, connection refused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		addr := srv.URL + "/" + strings.Repeat("prefix/", 250)
		srv.Close()
		p, err := analysis.NewPrometheus(addr, time.Second, token)
		if err != nil {
			t.Fatal(err)
		}
		msg := queryMessage(t, p)
		fitForStatus(t, msg, "")
		if !strings.HasPrefix(msg, "query: Post ") || !strings.HasSuffix(msg, "connection refused") {
			t.Errorf("message = %q, want it to say what failed and why", msg)
		}
	})

	t.Run("long bad address", func(t *testing.T) {
		t.Parallel()
		_, err := analysis.NewPrometheus("prometheus:9090/"+strings.Repeat("x", 2000), time.Second, "")
		if err == nil {
			t.Fatal("NewPrometheus accepted a bad address")
		}
		if msg := err.Error(); len(msg) > 256 || !strings.HasSuffix(msg, "want an http or https URL such as http://prometheus.monitoring:9090") {
			t.Errorf("error = %q (%d bytes), want at most 256 bytes ending with the reason", msg, len(msg))
		}
	})
}

func TestPrometheusTokenStaysOnItsHost(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprintf("%d to another host", code), func(t *testing.T) {
			t.Parallel()
			other := testenv.StartAuthProm(t)
			var mu sync.Mutex
			var auths []string
			home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				mu.Lock()
				auths = append(auths, req.Header.Get("Authorization"))
				mu.Unlock()
				http.Redirect(w, req, other.URL+req.URL.Path, code)
			}))
			t.Cleanup(home.Close)

			p, err := analysis.NewPrometheus(home.URL, 5*time.Second, token)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Query(t.Context(), "vector(1)"); err != nil {
				t.Logf("Query: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(auths) == 0 || auths[0] != "Bearer "+token {
				t.Errorf("configured host received %q, want the token", auths)
			}
			got := other.Authorizations()
			if len(got) == 0 {
				t.Fatal("the redirect was not followed; the test proves nothing")
			}
			for _, a := range got {
				if a != "" {
					t.Errorf("the other host received Authorization %q, want none", a)
				}
			}
		})
	}

	t.Run("to the same host", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		var auths []string
		home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			auths = append(auths, req.URL.Path+" "+req.Header.Get("Authorization"))
			mu.Unlock()
			if strings.HasPrefix(req.URL.Path, "/old/") {
				http.Redirect(w, req, strings.TrimPrefix(req.URL.Path, "/old"), http.StatusTemporaryRedirect)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(bodyOneSample))
		}))
		t.Cleanup(home.Close)
		p, err := analysis.NewPrometheus(home.URL+"/old", 5*time.Second, token)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Query(t.Context(), "vector(1)"); err != nil {
			t.Fatalf("Query: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		want := []string{"/old/api/v1/query Bearer " + token, "/api/v1/query Bearer " + token}
		if fmt.Sprint(auths) != fmt.Sprint(want) {
			t.Errorf("received %q, want %q", auths, want)
		}
	})
}
