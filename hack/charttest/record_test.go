package charttest

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/rest"
)

// access is one (verb, API group, resource) that an RBAC rule can grant;
// resource carries the subresource as in RBAC ("rollouts/status").
type access struct{ Verb, Group, Resource string }

func (a access) String() string {
	g := a.Group
	if g == "" {
		g = "core"
	}
	return fmt.Sprintf("%s %s/%s", a.Verb, g, a.Resource)
}

// recorder is an http.RoundTripper wrapper that records the RBAC access of
// every API request a client makes, parsed from the URL and method as the
// API server's authorizer sees it (k8s.io/apiserver's RequestInfoFactory),
// with the answer's status.
type recorder struct {
	infos *request.RequestInfoFactory
	mu    sync.Mutex
	// used counts the answered (non-403) requests per access.
	used map[access]int
	// forbidden lists every request answered 403.
	forbidden []string
	// log keeps every resource request in order: "<verb> <group/resource> <ns> -> <code>".
	log []string
	// writes keeps the mutating requests that succeeded (2xx), in the same form.
	writes []string
	// cut fails every request from now on, as for a pod that was killed
	// or cut off (it can neither renew nor release its Lease).
	cut atomic.Bool
}

func newRecorder() *recorder {
	return &recorder{
		infos: &request.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")},
		used:  map[access]int{},
	}
}

// wrap is a rest.Config WrapTransport.
func (r *recorder) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if r.cut.Load() {
			return nil, fmt.Errorf("cut off by the test")
		}
		info, err := r.infos.NewRequestInfo(req)
		resp, rerr := rt.RoundTrip(req)
		if err != nil || !info.IsResourceRequest || rerr != nil {
			return resp, rerr
		}
		a := access{Verb: info.Verb, Group: info.APIGroup, Resource: info.Resource}
		if info.Subresource != "" {
			a.Resource += "/" + info.Subresource
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		line := fmt.Sprintf("%s %s -> %d", a, info.Namespace, resp.StatusCode)
		r.log = append(r.log, line)
		switch a.Verb {
		case "create", "update", "patch", "delete", "deletecollection":
			if resp.StatusCode < 300 {
				r.writes = append(r.writes, line)
			}
		}
		if resp.StatusCode == http.StatusForbidden {
			r.forbidden = append(r.forbidden, fmt.Sprintf("%s in namespace %q (%s %s)", a, info.Namespace, req.Method, req.URL.Path))
			return resp, rerr
		}
		r.used[a]++
		return resp, rerr
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// config returns a copy of cfg whose requests this recorder sees.
func (r *recorder) config(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Wrap(r.wrap)
	return c
}

// Forbidden is every request answered 403 so far.
func (r *recorder) Forbidden() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.forbidden...)
}

// Used is every access answered without 403 so far.
func (r *recorder) Used() map[access]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[access]int, len(r.used))
	for k, v := range r.used {
		out[k] = v
	}
	return out
}

// Writes is every mutating request (create, update, patch, delete) that
// succeeded so far. A replica that loses the race to create the Lease gets
// a 409 and has changed nothing.
func (r *recorder) Writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

func sortedAccess(m map[access]int) []string {
	var out []string
	for a, n := range m {
		out = append(out, fmt.Sprintf("%s ×%d", a, n))
	}
	sort.Strings(out)
	return out
}
