package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
)

// scripted is one answer of a scripted server: status, headers, body.
type scripted struct {
	status int
	header map[string]string
	body   string
}

// scriptServer answers requests from a script, in order, and records each
// request as "METHOD path?query body".
type scriptServer struct {
	t      *testing.T
	script []scripted
	sent   []string
}

func (s *scriptServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.sent = append(s.sent, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	if strings.HasSuffix(r.URL.Path, "/_clear") {
		return
	}
	if len(s.script) == 0 {
		s.t.Errorf("unscripted request %s %s", r.Method, r.URL.RequestURI())
		w.WriteHeader(http.StatusTeapot)
		return
	}
	a := s.script[0]
	s.script = s.script[1:]
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// TestSearchRequestsAndEndings pins the requests Search sends and how it
// ends: the continuation parameters, the body re-sent, a continuation
// re-sent only after a 429, the checks against X-Total-Count and the
// release of a scroll left early.
func TestSearchRequestsAndEndings(t *testing.T) {
	t.Parallel()
	const (
		first  = "POST /v2/issues/_search?perScroll=1000&scrollTTLMillis=60000&scrollType=sorted "
		second = "POST /v2/issues/_search?scrollId=s1&scrollTTLMillis=60000 "
		query  = `{"query":"Queue: A"}`
		two    = `[{"id":"1","key":"A-1"},{"id":"2","key":"A-2"}]`
		one    = `[{"id":"3","key":"A-3"}]`
	)
	ok := func(body string, h ...string) scripted {
		s := scripted{status: http.StatusOK, header: map[string]string{}, body: body}
		for i := 0; i+1 < len(h); i += 2 {
			s.header[h[i]] = h[i+1]
		}
		return s
	}
	failFn := errors.New("fn failed")
	for _, tc := range []struct {
		name   string
		req    tracker.SearchRequest
		script []scripted
		failOn int // page on which fn fails (0: never)
		sent   []string
		pages  []string // "issues/total" per page handed to fn
		err    string
		is     []error
	}{{
		name: "filter, unsorted, expand, page size capped; continuations carry id, token, ttl, expand and the body",
		req:  tracker.SearchRequest{Filter: map[string]any{"queue": "A"}, Unsorted: true, PerScroll: 5000, TTLMillis: 0, Expand: "transitions"},
		script: []scripted{
			ok(two, "X-Total-Count", "3", "X-Scroll-Id", "s1", "X-Scroll-Token", "t1"),
			ok(one, "X-Scroll-Id", "s2", "X-Total-Count", "99"),
			ok(`[]`),
		},
		sent: []string{
			`POST /v2/issues/_search?expand=transitions&perScroll=1000&scrollTTLMillis=60000&scrollType=unsorted {"filter":{"queue":"A"}}`,
			`POST /v2/issues/_search?expand=transitions&scrollId=s1&scrollTTLMillis=60000&scrollToken=t1 {"filter":{"queue":"A"}}`,
			`POST /v2/issues/_search?expand=transitions&scrollId=s2&scrollTTLMillis=60000 {"filter":{"queue":"A"}}`,
		},
		pages: []string{"2/3", "1/3", "0/3"},
	}, {
		name: "page size and ttl as asked",
		req:  tracker.SearchRequest{Query: "Queue: A", PerScroll: 10, TTLMillis: 5000},
		script: []scripted{
			ok(one, "X-Scroll-Id", "s1"),
			ok(one),
		},
		sent: []string{
			"POST /v2/issues/_search?perScroll=10&scrollTTLMillis=5000&scrollType=sorted " + query,
			"POST /v2/issues/_search?scrollId=s1&scrollTTLMillis=5000 " + query,
		},
		pages: []string{"1/-1", "1/-1"},
	}, {
		name: "neither query nor filter",
		req:  tracker.SearchRequest{},
		err:  "tracker search: neither query nor filter given",
	}, {
		name:   "first page retried after a 5xx",
		req:    tracker.SearchRequest{Query: "Queue: A"},
		script: []scripted{{status: http.StatusServiceUnavailable}, ok(one, "X-Total-Count", "1")},
		sent:   []string{first + query, first + query},
		pages:  []string{"1/1"},
	}, {
		name:   "first page refused",
		req:    tracker.SearchRequest{Query: "Queue: A"},
		script: []scripted{{status: http.StatusNotFound}},
		sent:   []string{first + query},
		err:    "search page 1: tracker POST /v2/issues/_search?perScroll=1000&scrollTTLMillis=60000&scrollType=sorted: 404 Not Found",
		is:     []error{tracker.ErrNotFound},
	}, {
		name:   "continuation failing before the count is reached is not re-sent",
		req:    tracker.SearchRequest{Query: "Queue: A"},
		script: []scripted{ok(two, "X-Total-Count", "5", "X-Scroll-Id", "s1"), {status: http.StatusInternalServerError}},
		sent:   []string{first + query, second + query, `POST /v2/system/search/scroll/_clear {"s1":""}`},
		pages:  []string{"2/5"},
		err:    "search page 2 after 2 issues: scroll interrupted: tracker POST /v2/issues/_search?scrollId=s1&scrollTTLMillis=60000: 500 Internal Server Error",
		is:     []error{tracker.ErrScrollInterrupted},
	}, {
		name:   "continuation failing once the count is reached",
		req:    tracker.SearchRequest{Query: "Queue: A"},
		script: []scripted{ok(two, "X-Total-Count", "2", "X-Scroll-Id", "s1"), {status: http.StatusNotFound}},
		sent:   []string{first + query, second + query},
		pages:  []string{"2/2"},
	}, {
		name:   "continuation re-sent after a 429",
		req:    tracker.SearchRequest{Query: "Queue: A"},
		script: []scripted{ok(one, "X-Total-Count", "2", "X-Scroll-Id", "s1"), {status: http.StatusTooManyRequests}, ok(one)},
		sent:   []string{first + query, second + query, second + query},
		pages:  []string{"1/2", "1/2"},
	}, {
		name:   "scroll ending short of the count",
		req:    tracker.SearchRequest{Query: "Queue: A"},
		script: []scripted{ok(two, "X-Total-Count", "5")},
		sent:   []string{first + query},
		pages:  []string{"2/5"},
		err:    "search incomplete: the scroll ended after 2 of the 5 issues the server counted",
		is:     []error{tracker.ErrSearchIncomplete},
	}, {
		name:   "empty page with a scroll id ends the scroll",
		req:    tracker.SearchRequest{Query: "Queue: A"},
		script: []scripted{ok(`[]`, "X-Scroll-Id", "s1")},
		sent:   []string{first + query},
		pages:  []string{"0/-1"},
	}, {
		name:   "fn failing releases the scroll",
		req:    tracker.SearchRequest{Query: "Queue: A"},
		script: []scripted{ok(one, "X-Scroll-Id", "s1"), ok(one, "X-Scroll-Id", "s2")},
		failOn: 2,
		sent:   []string{first + query, second + query, `POST /v2/system/search/scroll/_clear {"s1":""}`},
		pages:  []string{"1/-1", "1/-1"},
		err:    "fn failed",
		is:     []error{failFn},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &scriptServer{t: t, script: tc.script}
			c := newClient(t, "http://tracker.test", func(_ *tracker.Config, d *tracker.Deps) {
				d.HTTPClient = &http.Client{Transport: handlerTransport{srv}}
			})
			var pages []string
			err := c.Search(context.Background(), tc.req, func(p tracker.SearchPage) error {
				pages = append(pages, fmt.Sprintf("%d/%d", len(p.Issues), p.Total))
				if len(pages) == tc.failOn {
					return failFn
				}
				return nil
			})
			if got := fmt.Sprint(err); tc.err == "" && err != nil || tc.err != "" && got != tc.err {
				t.Errorf("error %q, want %q", got, tc.err)
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("error %v is not %v", err, target)
				}
			}
			if got, want := strings.Join(pages, " "), strings.Join(tc.pages, " "); got != want {
				t.Errorf("pages %q, want %q", got, want)
			}
			if got, want := strings.Join(srv.sent, "\n"), strings.Join(tc.sent, "\n"); got != want {
				t.Errorf("requests sent:\n%s\nwant:\n%s", got, want)
			}
			if len(srv.script) > 0 {
				t.Errorf("%d scripted answers left", len(srv.script))
			}
		})
	}
}
