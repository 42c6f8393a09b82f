package trackertest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestPageModeCap(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("pages through 12 000 issues: a scale test, skipped with -short")
	}
	s := New(Options{Issues: 12_000, Seed: 7})
	c := newClient(t, s)
	body := `{"filter": null, "filterId": null, "query": "Queue: DEV, SRE, OPS, TEST, SUP, TRASH", "keys": null, "queue": null, "order": null}`

	if n := c.mustOK("POST", "/v2/issues/_count", body).body; string(n) != "12000" {
		t.Fatalf("_count = %s, want the uncapped 12000", n)
	}
	r := c.mustOK("POST", "/v2/issues/_search?perPage=1000", body)
	if got := decode[[]wireIssue](t, r.body); len(got) != 1000 {
		t.Fatalf("page 1 has %d issues", len(got))
	}
	if r.header.Get("X-Total-Count") != "10000" || r.header.Get("X-Total-Pages") != "10" {
		t.Fatalf("X-Total-Count %q X-Total-Pages %q, want 10000 and 10", r.header.Get("X-Total-Count"), r.header.Get("X-Total-Pages"))
	}
	l := links(r.header)
	if !strings.HasSuffix(l["next"], "perPage=1000&page=2") || !strings.HasSuffix(l["seek"], "perPage=1000{&page}") {
		t.Fatalf("links %v", l)
	}
	// Following next with the same body, as the Python client does.
	next := l["next"]
	for page := 2; page <= 10; page++ {
		r = c.mustOK("POST", next, body)
		next = links(r.header)["next"]
		if page < 10 && next == "" {
			t.Fatalf("page %d has no next", page)
		}
	}
	if next != "" {
		t.Errorf("last page (10) has next %q", next)
	}
	msg := errorBody(t, c.do("POST", "/v2/issues/_search?perPage=1000&page=11", body), http.StatusBadRequest)
	if msg != "Request exceeds 10000 items limit" {
		t.Errorf("past the cap: %q", msg)
	}
	errorBody(t, c.do("POST", "/v2/issues/_search?perPage=50&page=201", body), http.StatusBadRequest)
}

// TestPageModeDefaults: perPage defaults to 50, and a small result's last
// page is short and has no next link.
func TestPageModeDefaults(t *testing.T) {
	t.Parallel()
	c := newClient(t, New(Options{Issues: 600, Seed: 7}))
	r := c.mustOK("POST", "/v3/issues/_search", `{"queue":"TRASH"}`)
	total := atoiHeader(t, r.header, "X-Total-Count")
	if got := len(decode[[]wireIssue](t, r.body)); got != 50 {
		t.Errorf("default page size %d, want 50", got)
	}
	pages := atoiHeader(t, r.header, "X-Total-Pages")
	if pages != (total+49)/50 {
		t.Errorf("X-Total-Pages %d for %d issues", pages, total)
	}
	r = c.mustOK("POST", "/v3/issues/_search?page="+strconv.Itoa(pages), `{"queue":"TRASH"}`)
	if links(r.header)["next"] != "" || len(decode[[]wireIssue](t, r.body)) != total-(pages-1)*50 {
		t.Errorf("last page: next %q", links(r.header)["next"])
	}
}

func TestScrollCollectsEveryIssueOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("scrolls through 12 001 issues: a scale test, skipped with -short")
	}
	s := New(Options{Issues: 12_000, Seed: 11})
	if err := s.AddFixture(Fixture73()); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s)
	issues, total := c.scrollAll("", "perScroll=1000")
	if total != 12_001 {
		t.Fatalf("X-Total-Count %d, want the uncapped 12001", total)
	}
	seen := map[string]bool{}
	for _, is := range issues {
		if seen[is.Key] {
			t.Fatalf("%s returned twice", is.Key)
		}
		seen[is.Key] = true
	}
	for _, k := range s.IssueKeys() {
		if !seen[k] {
			t.Fatalf("%s never returned", k)
		}
	}
	if len(seen) != s.IssueCount() {
		t.Fatalf("%d keys, want %d", len(seen), s.IssueCount())
	}
	// unsorted is not chronological
	sorted := true
	for i := 1; i < len(issues); i++ {
		if issues[i].UpdatedAt < issues[i-1].UpdatedAt {
			sorted = false
			break
		}
	}
	if sorted {
		t.Error("unsorted scroll came out in updatedAt order; clients could come to rely on it")
	}
}

func TestScrollProtocol(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 1000, Seed: 2})
	c := newClient(t, s)
	body := `{"query":"Updated: >= \"2025-06-01\" \"Sort by\": Updated ASC"}`
	r := c.mustOK("POST", "/v3/issues/_search?scrollType=sorted&perScroll=100&scrollTTLMillis=60000", body)
	total := atoiHeader(t, r.header, "X-Total-Count")
	id, tok := r.header.Get("X-Scroll-Id"), r.header.Get("X-Scroll-Token")
	l := links(r.header)
	if id == "" || tok == "" || l["first"] == "" || !strings.Contains(l["next"], "scrollId="+id) {
		t.Fatalf("first page headers: %v", r.header)
	}
	if len(r.header.Values("Link")) != 2 {
		t.Errorf("want two Link header lines (first, next), got %q", r.header.Values("Link"))
	}
	var all []wireIssue
	all = append(all, decode[[]wireIssue](t, r.body)...)
	// Re-sending the same scroll id returns the same page (safe retry).
	p2a := c.mustOK("POST", "/v3/issues/_search?scrollId="+id, body)
	p2b := c.mustOK("POST", "/v3/issues/_search?scrollId="+id+"&scrollToken="+tok, body)
	if string(p2a.body) != string(p2b.body) {
		t.Error("repeating a scroll id gave a different page")
	}
	r = p2a
	for {
		all = append(all, decode[[]wireIssue](t, r.body)...)
		if r.header.Get("X-Scroll-Id") == "" {
			if links(r.header)["next"] != "" || r.header.Get("X-Scroll-Token") != "" {
				t.Errorf("last page has next/token: %v", r.header)
			}
			break
		}
		r = c.mustOK("POST", links(r.header)["next"], body)
	}
	if len(all) != total {
		t.Fatalf("collected %d, X-Total-Count %d", len(all), total)
	}
	from := time.Date(2025, 6, 1, 0, 0, 0, 0, moscow())
	for i, is := range all {
		u := parseTime(t, is.UpdatedAt)
		if u.Before(from) {
			t.Fatalf("%s updated %s before %s", is.Key, u, from)
		}
		if i > 0 && is.UpdatedAt < all[i-1].UpdatedAt {
			t.Fatalf("sorted scroll out of order at %d", i)
		}
	}

	// Scroll with queue or keys is refused.
	for _, b := range []string{`{"queue":"DEV"}`, `{"keys":["DEV-1"]}`} {
		if msg := errorBody(t, c.do("POST", "/v2/issues/_search?scrollType=unsorted", b), 400); msg != "Scroll is not supported" {
			t.Errorf("%s: %q", b, msg)
		}
	}
	// Unknown id, expired id, cleared id → 404.
	errorBody(t, c.do("POST", "/v2/issues/_search?scrollId=0123456789abcdef00000001", body), 404)
	errorBody(t, c.do("POST", "/v2/issues/_search?scrollId=garbage", body), 404)
	r = c.mustOK("POST", "/v2/issues/_search?scrollType=unsorted&perScroll=10", body)
	id, tok = r.header.Get("X-Scroll-Id"), r.header.Get("X-Scroll-Token")
	if cr := c.do("POST", "/v2/system/search/scroll/_clear", `{"`+id+`":"`+tok+`"}`); cr.status != 200 || len(cr.body) != 0 {
		t.Fatalf("_clear: %d %s", cr.status, cr.body)
	}
	errorBody(t, c.do("POST", "/v2/issues/_search?scrollId="+id, body), 404)
	if s.Requests(EpScrollClear) != 1 {
		t.Errorf("Requests(scroll_clear) = %d", s.Requests(EpScrollClear))
	}
}

// truth is the ground truth of a server's issues for query tests.
type truth struct {
	key     string
	aliases []string
	queue   string
	status  string
	updated time.Time
	created time.Time
}

func groundTruth(t *testing.T, s *Server) []truth {
	t.Helper()
	var out []truth
	for _, k := range s.IssueKeys() {
		info, ok := s.Issue(k)
		if !ok {
			t.Fatalf("Issue(%s) not found", k)
		}
		out = append(out, truth{info.Key, info.Aliases, info.Queue, info.Status, info.UpdatedAt, info.CreatedAt})
	}
	return out
}

// TestScrollExpires runs on a fake clock (the handler called directly): a
// scroll id is good until its scrollTTLMillis, and 404 from then on.
func TestScrollExpires(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{Issues: 100, Seed: 2})
		post := func(target string) *httptest.ResponseRecorder {
			return serveRaw(s, "POST", target, `{"query":"Updated: >= \"2025-06-01\""}`)
		}
		first := post("/v2/issues/_search?scrollType=unsorted&perScroll=10&scrollTTLMillis=30")
		if first.Code != 200 {
			t.Fatalf("first page: %d %s", first.Code, first.Body)
		}
		id := first.Header().Get("X-Scroll-Id")
		time.Sleep(29 * time.Millisecond)
		if r := post("/v2/issues/_search?scrollId=" + id); r.Code != 200 {
			t.Fatalf("29 ms later (TTL 30 ms): %d, want 200", r.Code)
		}
		time.Sleep(31 * time.Millisecond)
		if r := post("/v2/issues/_search?scrollId=" + id); r.Code != 404 {
			t.Errorf("31 ms after the last use: %d, want 404", r.Code)
		}
	})
}

func TestQueryLanguage(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 2000, Seed: 5})
	c := newClient(t, s)
	all := groundTruth(t, s)
	msk := moscow()
	mid := all[1000].updated
	midText := mid.In(msk).Format("2006-01-02 15:04:05")
	var moved truth
	for _, x := range all {
		if len(x.aliases) > 0 {
			moved = x
			break
		}
	}
	if moved.key == "" {
		t.Fatal("no moved issue among 2000")
	}
	inQ := func(qs ...string) func(truth) bool {
		return func(x truth) bool {
			for _, q := range qs {
				if x.queue == q {
					return true
				}
			}
			return false
		}
	}
	tests := []struct {
		query string
		want  func(truth) bool
	}{
		{"Queue: DEV", inQ("DEV")},
		{"queue: dev, SRE", inQ("DEV", "SRE")},
		{"Queue: !TRASH", func(x truth) bool { return x.queue != "TRASH" }},
		{"Queue: !TRASH, !SUP", func(x truth) bool { return x.queue != "TRASH" && x.queue != "SUP" }},
		{"Queue: TEST, TRASH and Updated: >= \"" + midText + "\" \"Sort by\": Updated ASC",
			func(x truth) bool { return inQ("TEST", "TRASH")(x) && !x.updated.Before(mid.Truncate(time.Second)) }},
		{"Queue: TEST and  Updated: >= \"" + midText + "\" \"Sort by\": Updated ASC",
			func(x truth) bool { return x.queue == "TEST" && !x.updated.Before(mid.Truncate(time.Second)) }},
		{"Updated: > \"" + midText + "\"", func(x truth) bool { return !x.updated.Before(mid.Truncate(time.Second).Add(time.Second)) }},
		{"Updated: < \"" + midText + "\"", func(x truth) bool { return x.updated.Before(mid.Truncate(time.Second)) }},
		{"Updated: <= \"" + midText + "\"", func(x truth) bool { return x.updated.Before(mid.Truncate(time.Second).Add(time.Second)) }},
		{"Updated: >= now()-30d", func(x truth) bool { return !x.updated.Before(DefaultNow.Add(-30 * 24 * time.Hour)) }},
		{"Updated: > now() - 2w AND Queue: SUP", func(x truth) bool {
			return x.queue == "SUP" && x.updated.After(DefaultNow.Add(-14*24*time.Hour))
		}},
		{"Updated: >= now()-36h", func(x truth) bool { return !x.updated.Before(DefaultNow.Add(-36 * time.Hour)) }},
		{"Created: < \"2025-01-01\"", func(x truth) bool { return x.created.Before(time.Date(2025, 1, 1, 0, 0, 0, 0, msk)) }},
		{"Updated: \"2025-03-10\"", func(x truth) bool {
			d := time.Date(2025, 3, 10, 0, 0, 0, 0, msk)
			return !x.updated.Before(d) && x.updated.Before(d.AddDate(0, 0, 1))
		}},
		{"Updated: \"2025-03-10\"..\"2025-03-20\"", func(x truth) bool {
			d := time.Date(2025, 3, 10, 0, 0, 0, 0, msk)
			return !x.updated.Before(d) && x.updated.Before(d.AddDate(0, 0, 11))
		}},
		{"Status: closed", func(x truth) bool { return x.status == "closed" }},
		{"Status: !closed, !cancelled and Queue: OPS", func(x truth) bool {
			return x.queue == "OPS" && x.status != "closed" && x.status != "cancelled"
		}},
		{`Status: "In progress"`, func(x truth) bool { return x.status == "inProgress" }},
		{"Key: " + all[5].key, func(x truth) bool { return x.key == all[5].key }},
		{"Key: " + moved.aliases[0], func(x truth) bool { return x.key == moved.key }},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var want []string
			for _, x := range all {
				if tt.want(x) {
					want = append(want, x.key)
				}
			}
			if len(want) == 0 || len(want) == len(all) && !strings.HasPrefix(tt.query, "Updated: >= now()-") {
				t.Fatalf("the query selects %d of %d issues: the case proves nothing", len(want), len(all))
			}
			got, total := c.scrollAll(tt.query, "perScroll=1000")
			if total != len(want) || len(got) != len(want) {
				t.Fatalf("got %d issues (X-Total-Count %d), want %d", len(got), total, len(want))
			}
			set := map[string]bool{}
			for _, k := range want {
				set[k] = true
			}
			for _, g := range got {
				if !set[g.Key] {
					t.Fatalf("unexpected %s", g.Key)
				}
			}
			if n := string(c.mustOK("POST", "/v2/issues/_count", `{"query":`+jsonString(tt.query)+`}`).body); n != strconv.Itoa(len(want)) {
				t.Errorf("_count = %s, want %d", n, len(want))
			}
		})
	}
}

func TestQueryZone(t *testing.T) {
	t.Parallel()
	for _, zone := range []*time.Location{moscow(), time.UTC, time.FixedZone("X", -7*3600)} {
		t.Run(zone.String(), func(t *testing.T) {
			s := New(Options{Issues: 500, Seed: 9, Zone: zone})
			c := newClient(t, s)
			keys := s.IssueKeys()
			info, _ := s.Issue(keys[200])
			// The issue's own updatedAt written in the server's zone keeps
			// exactly the issues from index 200 on.
			lit := info.UpdatedAt.In(zone).Format("2006-01-02 15:04:05")
			n := c.mustOK("POST", "/v2/issues/_count", `{"query":`+jsonString(`Updated: >= "`+lit+`"`)+`}`).body
			if string(n) != "300" {
				t.Errorf("Updated >= %q in %s: %s issues, want 300", lit, zone, n)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 10})
	c := newClient(t, s)
	for _, q := range []string{
		"Foo: bar",
		"Queue DEV",
		"Queue:",
		`Updated: >= "yesterday-ish"`,
		"Updated: > now()-5x",
		"Updated: > now()-d",
		`Queue: DEV "Sort by": Votes ASC`,
		`Queue: DEV "Sort by": Updated ASC trailing`,
		`Summary: "unterminated`,
		"Queue: > DEV",
		"Status: now()",
		"(Queue: DEV or Queue: SRE)",
	} {
		r := c.do("POST", "/v2/issues/_search", `{"query":`+jsonString(q)+`}`)
		if msg := errorBody(t, r, http.StatusBadRequest); msg == "" {
			t.Errorf("%q: empty message", q)
		}
	}
	// Syntax the old tool and other clients send must parse.
	for _, q := range []string{
		`Queue: TEST and  Updated: >= "2024-05-01 10:00:00" "Sort by": Updated ASC`,
		`Queue: TEST, TRASH and Updated: >= "2024-05-01 10:00:00" "Sort by": Updated ASC`,
		`updated: >now()-5d`,
		`updated: >now() - 1y`,
		`Updated: >now()-7d "Sort by": Updated DESC, Key ASC`,
		`Sort by: Created`,
		`Assignee: empty() Resolution: notEmpty()`,
		`Assignee: me()`,
		`Epic: notEmpty() Queue: DEV "Sort by": Updated DESC`,
		`Tags: urgent`,
		`Type: bug, task Priority: blocker`,
	} {
		c.mustOK("POST", "/v2/issues/_search", `{"query":`+jsonString(q)+`}`)
	}
}

func TestSearchBodyPrecedence(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 600, Seed: 4})
	c := newClient(t, s)
	all := groundTruth(t, s)
	var dev, sre []string
	for _, x := range all {
		switch x.queue {
		case "DEV":
			dev = append(dev, x.key)
		case "SRE":
			sre = append(sre, x.key)
		}
	}
	count := func(body string) int {
		n, err := strconv.Atoi(string(c.mustOK("POST", "/v2/issues/_count", body).body))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	tests := []struct {
		body string
		want int
	}{
		{`{"queue":"DEV","query":"Queue: SRE"}`, len(dev)},
		{`{"keys":["` + sre[0] + `","` + dev[0] + `"],"filter":{"queue":"DEV"}}`, 2},
		{`{"keys":"` + sre[0] + `"}`, 1},
		{`{"filter":{"queue":"SRE"},"query":"Queue: DEV"}`, len(sre)},
		{`{"filter":{},"filterId":null,"query":"Queue: DEV","keys":null,"queue":null,"order":["updated"]}`, len(dev)},
		{`{"filter":null,"query":"Queue: SRE"}`, len(sre)},
		{`{"filter":{"queue":["DEV","SRE"]}}`, len(dev) + len(sre)},
		{`{}`, len(all)},
		{``, len(all)},
	}
	for _, tt := range tests {
		if got := count(tt.body); got != tt.want {
			t.Errorf("_count %s = %d, want %d", tt.body, got, tt.want)
		}
	}
	msg := errorBody(t, c.do("POST", "/v2/issues/_search", `{"queue":"DEV","keys":["DEV-1"],"query":"Queue: DEV"}`), 400)
	if msg != "You can only use keys, a queue, or a search query" {
		t.Errorf("three parameters: %q", msg)
	}
	errorBody(t, c.do("POST", "/v2/issues/_search", `{"query":`), 400)
	errorBody(t, c.do("POST", "/v2/issues/_search", `{"filter":{"nosuchfield":"x"}}`), 400)

	// queue and keys results are sorted by key; filter honours order.
	keys := decode[[]wireIssue](t, c.mustOK("POST", "/v2/issues/_search?perPage=1000", `{"queue":"DEV"}`).body)
	for i := 1; i < len(keys); i++ {
		a, _ := strconv.Atoi(strings.TrimPrefix(keys[i-1].Key, "DEV-"))
		b, _ := strconv.Atoi(strings.TrimPrefix(keys[i].Key, "DEV-"))
		if a >= b {
			t.Fatalf("queue search not sorted by key: %s before %s", keys[i-1].Key, keys[i].Key)
		}
	}
	from := all[300].updated.Format("2006-01-02T15:04:05.000-0700")
	for _, order := range []string{`"-updated"`, `["-updated"]`} {
		body := `{"filter":{"queue":"DEV","updated":{"from":"` + from + `"}},"order":` + order + `}`
		got := decode[[]wireIssue](t, c.mustOK("POST", "/v2/issues/_search?perPage=1000", body).body)
		want := 0
		for _, x := range all[300:] {
			if x.queue == "DEV" {
				want++
			}
		}
		if len(got) != want {
			t.Fatalf("filter from %s: %d issues, want %d", from, len(got), want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].UpdatedAt > got[i-1].UpdatedAt {
				t.Fatalf("order %s: not descending at %d", order, i)
			}
		}
	}
	// order in the query string
	got := decode[[]wireIssue](t, c.mustOK("POST", "/v2/issues/_search?perPage=5&order="+url.QueryEscape("-created"), `{"filter":{"queue":"SRE"}}`).body)
	for i := 1; i < len(got); i++ {
		if got[i].CreatedAt > got[i-1].CreatedAt {
			t.Fatalf("order=-created in URL ignored")
		}
	}
}
