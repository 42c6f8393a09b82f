package trackertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// scrollKeys returns the keys of a scroll page body.
func scrollKeys(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, is := range decode[[]wireIssue](t, body) {
		out = append(out, is.Key)
	}
	return out
}

// TestScrollCursor checks Options.ScrollCursor against the default
// per-page ids, with and without lost responses.
func TestScrollCursor(t *testing.T) {
	t.Parallel()
	const (
		issues = 250
		per    = 100
		body   = `{"query":""}`
		start  = "/v2/issues/_search?scrollType=unsorted&perScroll=100"
	)
	// Reference pages: the same snapshot served by a default server.
	ref := newClient(t, New(Options{Issues: issues, Seed: 2}))
	all, total := ref.scrollAll("", "perScroll=100")
	if len(all) != issues || total != issues {
		t.Fatalf("reference scroll: %d issues, total %d", len(all), total)
	}
	var pages [][]string
	for i := 0; i < len(all); i += per {
		var keys []string
		for _, is := range all[i:min(i+per, len(all))] {
			keys = append(keys, is.Key)
		}
		pages = append(pages, keys)
	}

	// Every step re-sends the scroll id of the first page's answer; lose
	// makes the server lose that response. page is the page the step must
	// return when status is 200.
	type step struct {
		lose   bool
		status int
		page   int
	}
	ok := func(page int) step { return step{status: http.StatusOK, page: page} }
	lost := step{lose: true, status: http.StatusBadGateway}
	gone := step{status: http.StatusNotFound}
	cases := []struct {
		name   string
		cursor bool
		steps  []step
	}{
		{"default: re-sent id returns the same page", false, []step{ok(1), ok(1), ok(1)}},
		{"default: retry after a lost response", false, []step{lost, ok(1), ok(1)}},
		{"cursor: re-sent id returns the next page", true, []step{ok(1), ok(2), gone, gone}},
		{"cursor: a lost response advances the cursor", true, []step{lost, ok(2), gone}},
		{"cursor: losing the last page", true, []step{ok(1), lost, gone}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{Issues: issues, Seed: 2, ScrollCursor: tc.cursor})
			c := newClient(t, s)
			r := c.mustOK("POST", start, body)
			if got := scrollKeys(t, r.body); strings.Join(got, ",") != strings.Join(pages[0], ",") {
				t.Fatalf("first page differs from the reference")
			}
			id := r.header.Get("X-Scroll-Id")
			if id == "" || !strings.Contains(links(r.header)["next"], "scrollId="+id) {
				t.Fatalf("first page: X-Scroll-Id %q, Link %q", id, r.header.Values("Link"))
			}
			for i, st := range tc.steps {
				if st.lose {
					s.InjectFaults(Faults{NextLost: 1, LostEndpoint: EpSearch})
				}
				r := c.do("POST", "/v2/issues/_search?scrollId="+id, body)
				if st.status != http.StatusOK {
					errorBody(t, r, st.status)
					if r.header.Get("X-Scroll-Id") != "" || len(r.header.Values("Link")) != 0 {
						t.Errorf("step %d: error answer has scroll headers: %v", i, r.header)
					}
					continue
				}
				if r.status != http.StatusOK {
					t.Fatalf("step %d: status %d, body %.200s", i, r.status, r.body)
				}
				if got := scrollKeys(t, r.body); strings.Join(got, ",") != strings.Join(pages[st.page], ",") {
					t.Fatalf("step %d: got %d issues from %v, want page %d", i, len(got), got[:min(len(got), 2)], st.page)
				}
				if n := atoiHeader(t, r.header, "X-Total-Count"); n != issues {
					t.Errorf("step %d: X-Total-Count %d, want %d", i, n, issues)
				}
				next := r.header.Get("X-Scroll-Id")
				last := st.page == len(pages)-1
				switch {
				case last && (next != "" || links(r.header)["next"] != ""):
					t.Errorf("step %d: last page carries X-Scroll-Id %q / next", i, next)
				case !last && tc.cursor && next != id:
					t.Errorf("step %d: cursor X-Scroll-Id %q, want the scroll's id %q", i, next, id)
				case !last && !tc.cursor && (next == "" || next == id):
					t.Errorf("step %d: default X-Scroll-Id %q, want the id of page %d", i, next, st.page+1)
				case !last && !strings.Contains(links(r.header)["next"], "scrollId="+next):
					t.Errorf("step %d: next link %q lacks scrollId=%s", i, links(r.header)["next"], next)
				}
			}
			lostWant := 0
			for _, st := range tc.steps {
				if st.lose {
					lostWant++
				}
			}
			if s.Lost() != int64(lostWant) {
				t.Errorf("Lost() = %d, want %d", s.Lost(), lostWant)
			}
		})
	}

	// A cursor scroll read to its end by a client that follows X-Scroll-Id
	// gets every issue once; _clear releases it.
	s := New(Options{Issues: issues, Seed: 2, ScrollCursor: true})
	c := newClient(t, s)
	got, n := c.scrollAll("", "perScroll=100")
	seen := map[string]bool{}
	for _, is := range got {
		if seen[is.Key] {
			t.Fatalf("cursor scroll returned %s twice", is.Key)
		}
		seen[is.Key] = true
	}
	if len(got) != issues || n != issues {
		t.Fatalf("cursor scroll: %d issues, total %d", len(got), n)
	}
	r := c.mustOK("POST", start, body)
	id, tok := r.header.Get("X-Scroll-Id"), r.header.Get("X-Scroll-Token")
	// A per-page id of the same scroll is not its cursor: 404, and the
	// position does not move.
	errorBody(t, c.do("POST", "/v2/issues/_search?scrollId="+id[:16]+"00000001", body), http.StatusNotFound)
	if got := scrollKeys(t, c.mustOK("POST", "/v2/issues/_search?scrollId="+id, body).body); strings.Join(got, ",") != strings.Join(pages[1], ",") {
		t.Error("a refused id moved the cursor")
	}
	if cr := c.do("POST", "/v2/system/search/scroll/_clear", `{"`+id+`":"`+tok+`"}`); cr.status != http.StatusOK {
		t.Fatalf("_clear: %d", cr.status)
	}
	errorBody(t, c.do("POST", "/v2/issues/_search?scrollId="+id, body), http.StatusNotFound)
}

// TestLostResponse checks Faults.NextLost, LostEndpoint and LostRate.
func TestLostResponse(t *testing.T) {
	t.Parallel()
	type call struct {
		method, path, body string
		status             int
	}
	s0 := New(Options{Issues: 50, Seed: 1})
	key := s0.IssueKeys()[0]
	myself := func(status int) call { return call{"GET", "/v2/myself", "", status} }
	search := func(status int) call { return call{"POST", "/v2/issues/_search?perPage=5", "{}", status} }
	changelog := func(status int) call { return call{"GET", "/v2/issues/" + key + "/changelog", "", status} }
	const lost = http.StatusBadGateway
	cases := []struct {
		name     string
		faults   Faults
		calls    []call
		wantLost int64
	}{
		{"any endpoint", Faults{NextLost: 1}, []call{myself(lost), myself(200)}, 1},
		{"only the named endpoint", Faults{NextLost: 1, LostEndpoint: EpChangelog},
			[]call{myself(200), search(200), changelog(lost), changelog(200)}, 1},
		{"next two searches", Faults{NextLost: 2, LostEndpoint: EpSearch},
			[]call{search(lost), changelog(200), search(lost), search(200)}, 2},
		{"unknown endpoint name matches nothing", Faults{NextLost: 1, LostEndpoint: "nope"},
			[]call{myself(200), search(200)}, 0},
		{"injected 429 and 503 come first and are not lost", Faults{Next5xx: 1, Next429: 1, NextLost: 1},
			[]call{myself(503), myself(429), myself(lost), myself(200)}, 1},
		{"an error answer is lost too", Faults{NextLost: 1},
			[]call{{"GET", "/v2/issues/NOPE-1", "", lost}, {"GET", "/v2/issues/NOPE-1", "", 404}}, 1},
		{"LostRate 1", Faults{LostRate: 1, LostEndpoint: EpSearch},
			[]call{search(lost), search(lost), myself(200)}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{Issues: 50, Seed: 1})
			c := newClient(t, s)
			s.InjectFaults(tc.faults)
			for i, cl := range tc.calls {
				r := c.do(cl.method, cl.path, cl.body)
				if cl.status != http.StatusOK {
					msg := errorBody(t, r, cl.status)
					if cl.status == lost && (msg == "" || r.header.Get("Link") != "" || r.header.Get("X-Total-Count") != "") {
						t.Errorf("call %d: 502 message %q, headers %v", i, msg, r.header)
					}
					continue
				}
				if r.status != http.StatusOK || !json.Valid(r.body) {
					t.Fatalf("call %d %s: status %d, body %.200s", i, cl.path, r.status, r.body)
				}
			}
			if s.Lost() != tc.wantLost {
				t.Errorf("Lost() = %d, want %d", s.Lost(), tc.wantLost)
			}
			if s.TotalRequests() != int64(len(tc.calls)) {
				t.Errorf("TotalRequests() = %d, want %d (lost requests count)", s.TotalRequests(), len(tc.calls))
			}
		})
	}

	t.Run("auth and unknown-path refusals are not lost", func(t *testing.T) {
		s := New(Options{Token: "good"})
		c := newClient(t, s)
		c.hdr["Authorization"] = "OAuth good"
		s.InjectFaults(Faults{NextLost: 1})
		errorBody(t, c.do("GET", "/v2/myself", "", "Authorization", "OAuth bad"), http.StatusUnauthorized)
		errorBody(t, c.do("GET", "/v2/nothing-here", ""), http.StatusNotFound)
		errorBody(t, c.do("GET", "/v2/myself", ""), lost)
		c.mustOK("GET", "/v2/myself", "")
		if s.Lost() != 1 || s.Requests(EpMyself) != 3 {
			t.Errorf("Lost() = %d, Requests(myself) = %d; want 1, 3", s.Lost(), s.Requests(EpMyself))
		}
		s.ResetCounters()
		if s.Lost() != 0 {
			t.Errorf("ResetCounters left Lost() = %d", s.Lost())
		}
	})

	t.Run("a lost response does not use up NextMalformed", func(t *testing.T) {
		s := New(Options{Issues: 50, Seed: 1})
		c := newClient(t, s)
		s.InjectFaults(Faults{NextLost: 1, NextMalformed: 1})
		errorBody(t, c.do("POST", "/v2/issues/_search", "{}"), lost)
		if r := c.mustOK("POST", "/v2/issues/_search", "{}"); json.Valid(r.body) {
			t.Error("the malformed body was consumed by the lost response")
		}
	})

	t.Run("LostRate is deterministic", func(t *testing.T) {
		count := func() (int64, string) {
			s := New(Options{Issues: 50, Seed: 3})
			c := newClient(t, s)
			s.InjectFaults(Faults{LostRate: 0.3})
			var pattern []byte
			for range 200 {
				r := c.do("GET", "/v2/statuses", "")
				pattern = append(pattern, byte('0'+r.status/100))
			}
			return s.Lost(), string(pattern)
		}
		n1, p1 := count()
		n2, p2 := count()
		if n1 < 30 || n1 > 90 || p1 != p2 || n1 != n2 {
			t.Errorf("LostRate 0.3 over 200: %d and %d lost, same pattern %v", n1, n2, p1 == p2)
		}
	})
}

// TestChangelogPageCap checks Options.ChangelogPageCap with both readings
// of the links' perPage and with Options.Realistic.
func TestChangelogPageCap(t *testing.T) {
	t.Parallel()
	ref := New(Options{Issues: 300, Seed: 8})
	key := pickIssues300(t, ref)
	workflow, _ := newClient(t, ref).changelogAll(key, "type=IssueWorkflow")
	cases := []struct {
		name      string
		pageCap   int
		echo      bool
		realistic bool
		params    string
		size      int // entries on a full page
		linkPer   string
	}{
		{"no cap", 0, false, false, "perPage=100", 100, "100"},
		{"cap tells its size", 30, false, false, "perPage=100", 30, "30"},
		{"cap echoes the request", 30, true, false, "perPage=100", 30, "100"},
		{"cap tells, realistic", 30, false, true, "perPage=100", 30, "30"},
		{"cap echoes, realistic", 30, true, true, "perPage=100", 30, "100"},
		{"request below the cap", 30, true, false, "perPage=20", 20, "20"},
		{"default perPage, cap tells", 30, false, false, "", 30, "30"},
		{"default perPage, cap echoes", 30, true, true, "", 30, "50"},
		{"cap with a type filter", 7, false, false, "type=IssueWorkflow&perPage=1000", 7, "7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{Issues: 300, Seed: 8, ChangelogPageCap: tc.pageCap,
				ChangelogCapEchoesRequest: tc.echo, Realistic: tc.realistic})
			c := newClient(t, s)
			want := s.ChangelogLen(key)
			if strings.Contains(tc.params, "type=IssueWorkflow") {
				want = len(workflow)
			}
			target := c.base + "/v2/issues/" + key + "/changelog"
			if tc.params != "" {
				target += "?" + tc.params
			}
			seen := map[string]bool{}
			var sizes []int
			got, requests := 0, 0
			for target != "" {
				requests++
				if requests > 1000 {
					t.Fatal("changelog does not end")
				}
				r := c.mustOK("GET", target, "")
				page := decode[[]wireEntry](t, r.body)
				l := links(r.header)
				if len(page) > tc.size {
					t.Fatalf("page %d holds %d entries, more than %d", requests, len(page), tc.size)
				}
				for _, rel := range []string{"first", "next"} {
					if l[rel] == "" {
						continue
					}
					u, err := url.Parse(l[rel])
					if err != nil {
						t.Fatalf("%s link %q: %v", rel, l[rel], err)
					}
					if pp := u.Query().Get("perPage"); pp != tc.linkPer {
						t.Errorf("page %d: %s link perPage=%s, want %s", requests, rel, pp, tc.linkPer)
					}
					if rel == "next" && u.Query().Get("id") != page[len(page)-1].ID {
						t.Errorf("page %d: next cursor %q, want the last entry's id", requests, u.Query().Get("id"))
					}
				}
				for _, e := range page {
					if seen[e.ID] {
						t.Fatalf("entry %s served twice", e.ID)
					}
					seen[e.ID] = true
				}
				got += len(page)
				sizes = append(sizes, len(page))
				target = l["next"]
			}
			// Full pages, the rest, then (Realistic) an empty page.
			var wantSizes []int
			for left := want; left > 0; left -= tc.size {
				wantSizes = append(wantSizes, min(left, tc.size))
			}
			if tc.realistic {
				wantSizes = append(wantSizes, 0)
			}
			if got != want || fmt.Sprint(sizes) != fmt.Sprint(wantSizes) {
				t.Errorf("%d entries in pages %v, want %d in %v", got, sizes, want, wantSizes)
			}
			if int64(requests) != s.Requests(EpChangelog) {
				t.Errorf("Requests(changelog) = %d, want %d", s.Requests(EpChangelog), requests)
			}
		})
	}
}
