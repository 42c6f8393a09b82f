package tracker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
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

// cappedScroll is a scroll server whose X-Total-Count is capped at 10 000,
// as page mode's is (scroll mode's is only presumed uncapped). It holds
// issues issues, per a page, and answers the continuation that would start
// at issue failAfter with fail.
type cappedScroll struct {
	issues, per, failAfter int
	fail                   func(w http.ResponseWriter)

	mu   sync.Mutex
	pos  map[string]int // scroll id → the issue its page starts at
	next int
}

func (s *cappedScroll) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/_clear") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := 0
	if sid := r.URL.Query().Get("scrollId"); sid != "" {
		start = s.pos[sid]
		if start >= s.failAfter {
			s.fail(w)
			return
		}
	}
	end := min(start+s.per, s.issues)
	page := make([]map[string]any, 0, end-start)
	for i := start; i < end; i++ {
		page = append(page, map[string]any{"id": fmt.Sprintf("id%05d", i), "key": fmt.Sprintf("A-%d", i+1),
			"updatedAt": "2024-01-01T00:00:00.000+0000"})
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(min(s.issues, 10000)))
	if end < s.issues {
		s.next++
		sid := "sid" + strconv.Itoa(s.next)
		s.pos[sid] = end
		w.Header().Set("X-Scroll-Id", sid)
		w.Header().Set("X-Scroll-Token", "tok")
	}
	b, _ := json.Marshal(page)
	_, _ = w.Write(b)
}

// TestScrollCappedTotalThenContinuationFails: 10 500 issues, a total of
// 10 000 (perhaps capped) and a continuation past it that fails. Having
// collected the total is not the end then: Search reports the
// interruption. A scroll that ends on its own is complete.
func TestScrollCappedTotalThenContinuationFails(t *testing.T) {
	t.Parallel()
	const issues = 10500
	for _, tc := range []struct {
		name      string
		failAfter int
		fail      func(w http.ResponseWriter)
		want      int   // issues delivered
		is        error // nil: success
	}{{
		name:      "expired scroll 404",
		failAfter: 10000,
		fail: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":{},"errorMessages":["Scroll not found"]}`))
		},
		want: 10000, is: tracker.ErrScrollInterrupted,
	}, {
		name:      "503",
		failAfter: 10000,
		fail:      func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) },
		want:      10000, is: tracker.ErrScrollInterrupted,
	}, {
		name:      "200 with a cut body",
		failAfter: 10000,
		fail:      func(w http.ResponseWriter) { _, _ = w.Write([]byte(`[{"id":"id10000","key":"A-10001"`)) },
		want:      10000, is: tracker.ErrScrollInterrupted,
	}, {
		name:      "no failure",
		failAfter: issues,
		want:      issues,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := &cappedScroll{issues: issues, per: 1000, failAfter: tc.failAfter, fail: tc.fail, pos: map[string]int{}}
			c := newClient(t, "http://tracker.test", func(_ *tracker.Config, d *tracker.Deps) {
				d.HTTPClient = &http.Client{Transport: handlerTransport{srv}}
			})
			got := 0
			err := c.Search(context.Background(), tracker.SearchRequest{Query: "Queue: A"}, func(p tracker.SearchPage) error {
				got += len(p.Issues)
				return nil
			})
			if got != tc.want {
				t.Errorf("scroll of %d issues counted as 10000: delivered %d, want %d", issues, got, tc.want)
			}
			if tc.is == nil && err != nil || tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("scroll of %d issues counted as 10000, %d delivered: error %v, want %v", issues, got, err, tc.is)
			}
		})
	}
}
