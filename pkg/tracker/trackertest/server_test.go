package trackertest

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		hdr  []string // pairs; "" value deletes
		want int
	}{
		{"oauth and org", Options{}, nil, 200},
		{"bearer and cloud org", Options{}, []string{"Authorization", "Bearer t1.9euelZq", "X-Org-ID", "", "X-Cloud-Org-ID", "bpf123"}, 200},
		{"python client cloud quirk", Options{}, []string{"X-Org-Id", "not provided", "X-Cloud-Org-Id", "bpf123"}, 200},
		{"scheme case-insensitive", Options{}, []string{"Authorization", "oauth y0_x"}, 200},
		{"no authorization", Options{}, []string{"Authorization", ""}, 401},
		{"basic scheme", Options{}, []string{"Authorization", "Basic dXNlcjpwYXNz"}, 401},
		{"empty token", Options{}, []string{"Authorization", "OAuth "}, 401},
		{"token not provided", Options{}, []string{"Authorization", "OAuth not provided"}, 401},
		{"no org header", Options{}, []string{"X-Org-ID", ""}, 401},
		{"org not provided alone", Options{}, []string{"X-Org-ID", "not provided"}, 401},
		{"wrong token", Options{Token: "secret"}, nil, 401},
		{"right token", Options{Token: "y0_test"}, nil, 200},
		{"wrong org", Options{OrgID: "7"}, nil, 401},
		{"right org", Options{OrgID: "42"}, nil, 200},
		{"right cloud org", Options{OrgID: "bpf1"}, []string{"X-Org-ID", "", "X-Cloud-Org-ID", "bpf1"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.opts)
			c := newClient(t, s)
			r := c.do("GET", "/v2/statuses", "", tt.hdr...)
			if tt.want == 200 {
				if r.status != 200 {
					t.Fatalf("headers %v: status %d, want 200; body %s", tt.hdr, r.status, r.body)
				}
				return
			}
			errorBody(t, r, tt.want)
			if got := s.Requests(EpStatuses); got != 1 {
				t.Errorf("Requests(statuses) = %d, want 1 (401s count)", got)
			}
		})
	}
}

func TestVersionsAndTrailingSlash(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 300, Seed: 3})
	if err := s.AddFixture(Fixture73()); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s)
	key := s.IssueKeys()[10]
	paths := []string{
		"/statuses", "/statuses/2", "/users", "/users/1130000000000005", "/myself", "/issuetypes",
		"/priorities", "/resolutions", "/fields", "/fields/status", "/queues", "/queues/DEV",
		"/issues/" + key, "/issues/" + key + "/changelog", "/issues/METRICS-1/changelog",
		"/components", "/sprints/3", "/queues/DEV/localFields",
	}
	for _, p := range paths {
		v2 := c.mustOK("GET", "/v2"+p, "")
		v3 := c.mustOK("GET", "/v3"+p+"/", "")
		want := normalize(t, strings.ReplaceAll(string(v2.body), c.base+"/v2/", c.base+"/v3/"))
		if got := normalize(t, string(v3.body)); got != want {
			t.Errorf("GET %s: v3 body differs from v2 beyond the version in self URLs:\n%.400s\n%.400s", p, got, want)
		}
		if !strings.Contains(string(v3.body), c.base+"/v3/") {
			t.Errorf("GET /v3%s/: self URLs do not use /v3", p)
		}
	}
	// POST endpoints with and without slash.
	body := `{"query":"Queue: DEV"}`
	a := c.mustOK("POST", "/v2/issues/_search", body)
	b := c.mustOK("POST", "/v2/issues/_search/", body)
	if string(a.body) != string(b.body) {
		t.Error("POST _search and _search/ differ")
	}
	n1 := c.mustOK("POST", "/v3/issues/_count", body)
	n2 := c.mustOK("POST", "/v3/issues/_count/", body)
	if string(n1.body) != string(n2.body) {
		t.Error("POST _count and _count/ differ")
	}
}

func TestProjectShapeByVersion(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 400, Seed: 5})
	c := newClient(t, s)
	issues2 := decode[[]wireIssue](t, c.mustOK("POST", "/v2/issues/_search?perPage=400", `{}`).body)
	issues3 := decode[[]wireIssue](t, c.mustOK("POST", "/v3/issues/_search?perPage=400", `{}`).body)
	seen := 0
	for i := range issues2 {
		if issues2[i].Project == nil {
			continue
		}
		seen++
		var ref wireRef
		if err := json.Unmarshal(issues2[i].Project, &ref); err != nil || !strings.Contains(ref.Self, "/v2/projects/") {
			t.Fatalf("v2 project %s: want a ref to /v2/projects/", issues2[i].Project)
		}
		var v3 struct{ Primary wireRef }
		if err := json.Unmarshal(issues3[i].Project, &v3); err != nil || v3.Primary.Display != ref.Display {
			t.Fatalf("v3 project %s: want {primary: ref} with display %q", issues3[i].Project, ref.Display)
		}
	}
	if seen == 0 {
		t.Fatal("no issue has a project")
	}
}

func TestUnknownPathAndMethod(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 10})
	c := newClient(t, s)
	for _, p := range []string{"/v2/nope", "/v1/statuses", "/", "/v2/issues/NOPE-1", "/v2/issues/NOPE-1/changelog", "/v2/statuses/999", "/v3/users/nobody"} {
		errorBody(t, c.do("GET", p, ""), http.StatusNotFound)
	}
	errorBody(t, c.do("GET", "/v2/issues/_search", ""), http.StatusMethodNotAllowed)
	errorBody(t, c.do("POST", "/v2/statuses", "{}"), http.StatusMethodNotAllowed)
	if s.Requests(EpOther) < 3 {
		t.Errorf("Requests(other) = %d, want ≥ 3", s.Requests(EpOther))
	}
}

// TestRateLimit runs on a fake clock (the handler is called directly, so
// nothing leaves the bubble): 10 requests at one instant against 2/s with
// a burst of 3 get exactly 3 answers and 7 429s, and a token is back after
// half a second.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{RateLimit: 2, Burst: 3})
		get := func() *httptest.ResponseRecorder { return serveRaw(s, "GET", "/v2/statuses", "") }
		ok, limited := 0, 0
		for range 10 {
			r := get()
			switch r.Code {
			case 200:
				ok++
			case 429:
				limited++
				if ra := r.Header().Get("Retry-After"); ra != "1" {
					t.Fatalf("Retry-After = %q, want 1 (the wait of 0.5 s rounded up to a second)", ra)
				}
				errorBody(t, resp{status: r.Code, header: r.Header(), body: r.Body.Bytes()}, 429)
			default:
				t.Fatalf("status %d", r.Code)
			}
		}
		if ok != 3 || limited != 7 {
			t.Errorf("10 requests at once at 2 rps burst 3: %d ok, %d limited; want 3 and 7", ok, limited)
		}
		if s.Throttled() != int64(limited) {
			t.Errorf("Throttled() = %d, want %d", s.Throttled(), limited)
		}
		if s.Requests(EpStatuses) != 10 || s.TotalRequests() != 10 {
			t.Errorf("Requests = %d, Total = %d, want 10 and 10", s.Requests(EpStatuses), s.TotalRequests())
		}
		time.Sleep(499 * time.Millisecond)
		if r := get(); r.Code != 429 {
			t.Errorf("0.499 s later: status %d, want 429 (no token yet)", r.Code)
		}
		time.Sleep(time.Millisecond)
		if r := get(); r.Code != 200 {
			t.Errorf("0.5 s later: status %d, want 200 (one token back)", r.Code)
		}
		s.ResetCounters()
		if s.TotalRequests() != 0 || s.Throttled() != 0 || s.Requests(EpStatuses) != 0 {
			t.Error("ResetCounters left counts")
		}
	})
}

// TestRetryAfterOption: under a second, Options.RetryAfter is written as
// fractional seconds, for injected 429s and as the least of the limit's.
func TestRetryAfterOption(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		for _, c := range []struct {
			opt      time.Duration
			injected string
			limited  string
		}{
			{0, "1", "1"},
			{50 * time.Millisecond, "0.050", "0.500"},
			{time.Second, "1", "1"},
			{1500 * time.Millisecond, "2", "2"},
		} {
			s := New(Options{RateLimit: 2, Burst: 1, RetryAfter: c.opt})
			get := func() *httptest.ResponseRecorder { return serveRaw(s, "GET", "/v2/statuses", "") }
			s.InjectFaults(Faults{Next429: 1})
			if got := get().Header().Get("Retry-After"); got != c.injected {
				t.Errorf("RetryAfter %s: injected 429 says %q, want %q", c.opt, got, c.injected)
			}
			get() // the bucket's one token
			if got := get().Header().Get("Retry-After"); got != c.limited {
				t.Errorf("RetryAfter %s: limited 429 says %q, want %q", c.opt, got, c.limited)
			}
		}
	})
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 50, Seed: 1})
	c := newClient(t, s)
	key := s.IssueKeys()[0]

	s.InjectFaults(Faults{Next5xx: 2})
	for i := range 2 {
		errorBody(t, c.do("GET", "/v2/issues/"+key, ""), http.StatusServiceUnavailable)
		_ = i
	}
	c.mustOK("GET", "/v2/issues/"+key, "")

	s.InjectFaults(Faults{Next429: 1})
	r := c.do("GET", "/v2/issues/"+key, "")
	errorBody(t, r, http.StatusTooManyRequests)
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("injected 429: Retry-After = %q, want 1", r.header.Get("Retry-After"))
	}
	if s.Throttled() != 1 {
		t.Errorf("Throttled() = %d, want 1", s.Throttled())
	}

	s.InjectFaults(Faults{NextMalformed: 2})
	c.mustOK("GET", "/v2/statuses", "") // not a search/changelog body: untouched
	for _, p := range []string{"/v2/issues/_search", "/v2/issues/" + key + "/changelog"} {
		method, body := "GET", ""
		if strings.HasSuffix(p, "_search") {
			method, body = "POST", "{}"
		}
		r := c.mustOK(method, p, body)
		if json.Valid(r.body) {
			t.Errorf("%s: NextMalformed body is valid JSON", p)
		}
	}
	if r := c.mustOK("POST", "/v2/issues/_search", "{}"); !json.Valid(r.body) {
		t.Error("body after the malformed ones is invalid")
	}

	s.InjectFaults(Faults{Status5xxRate: 1})
	for range 5 {
		if r := c.do("GET", "/v2/myself", ""); r.status != 500 && r.status != 503 {
			t.Fatalf("Status5xxRate 1: status %d", r.status)
		}
	}
	s.InjectFaults(Faults{Status5xxRate: 0.3, MalformedRate: 0.3})
	bad, broken := 0, 0
	for range 200 {
		r := c.do("POST", "/v2/issues/_search?perPage=1", "{}")
		if r.status >= 500 {
			bad++
		} else if !json.Valid(r.body) {
			broken++
		}
	}
	if bad < 30 || bad > 90 || broken < 20 || broken > 70 {
		t.Errorf("rates 0.3/0.3 over 200 requests: %d 5xx, %d malformed", bad, broken)
	}

	s.InjectFaults(Faults{Hang: 300 * time.Millisecond})
	hc := &http.Client{Timeout: 50 * time.Millisecond}
	req, _ := http.NewRequest("GET", c.base+"/v2/myself", nil)
	req.Header.Set("Authorization", "OAuth x")
	req.Header.Set("X-Org-ID", "1")
	_, err := hc.Do(req)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Hang: err = %v, want a client timeout", err)
	}
	s.InjectFaults(Faults{})
	c.mustOK("GET", "/v2/myself", "")
}

func TestLatency(t *testing.T) {
	t.Parallel()
	s := New(Options{Latency: 40 * time.Millisecond})
	c := newClient(t, s)
	start := time.Now()
	c.mustOK("GET", "/v2/statuses", "")
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("request took %v, want ≥ 40ms", d)
	}
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 5})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	// The listener is open: the request waits until the server takes it.
	req, _ := http.NewRequest("GET", url+"/v3/myself", nil)
	req.Header.Set("Authorization", "OAuth x")
	req.Header.Set("X-Cloud-Org-ID", "1")
	r, err := http.DefaultClient.Do(req)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("GET /v3/myself: %v %v", r, err)
	}
	r.Body.Close()
	if s.URL() != url {
		t.Errorf("URL() = %q while serving on %s", s.URL(), url)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel = %v, want nil", err)
	}
	if err := New(Options{}).ListenAndServe(context.Background(), "256.0.0.1:1"); err == nil {
		t.Error("ListenAndServe on a bad address returned nil")
	}
}

func TestDirectories(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	c := newClient(t, s)

	type status struct {
		ID    int    `json:"id"`
		Key   string `json:"key"`
		Name  string `json:"name"`
		Type  string `json:"type"`
		Order int    `json:"order"`
	}
	en := decode[[]status](t, c.mustOK("GET", "/v3/statuses", "").body)
	ru := decode[[]status](t, c.do("GET", "/v3/statuses", "", "Accept-Language", "ru").body)
	types := map[string]bool{}
	byKey := map[string]string{}
	for i := range en {
		types[en[i].Type] = true
		byKey[en[i].Key] = en[i].Type
		if en[i].ID != i+1 || en[i].Key != ru[i].Key || en[i].Name == ru[i].Name {
			t.Errorf("status %d: en %+v, ru %+v; want the same id and key, localized names", i, en[i], ru[i])
		}
	}
	for _, ty := range []string{StatusTypeNew, StatusTypeInProgress, StatusTypePaused, StatusTypeDone, StatusTypeCancelled} {
		if !types[ty] {
			t.Errorf("no status of type %s", ty)
		}
	}
	want := map[string]string{"open": "new", "inProgress": "inProgress", "testing": "inProgress", "readyForRelease": "paused", "closed": "done"}
	for k, ty := range want {
		if byKey[k] != ty {
			t.Errorf("status %s has type %q, want %q", k, byKey[k], ty)
		}
	}
	one := decode[status](t, c.mustOK("GET", "/v2/statuses/5", "").body)
	if one.Key != "closed" {
		t.Errorf("/statuses/5 = %+v", one)
	}

	// users: paged directory of 50, deleted users absent.
	type user struct {
		UID       int64  `json:"uid"`
		Login     string `json:"login"`
		Email     string `json:"email"`
		Dismissed bool   `json:"dismissed"`
	}
	r := c.mustOK("GET", "/v2/users?perPage=20&page=3", "")
	if r.header.Get("X-Total-Count") != "50" || r.header.Get("X-Total-Pages") != "3" || links(r.header)["next"] != "" {
		t.Errorf("users page 3: headers %v", r.header)
	}
	if n := len(decode[[]user](t, r.body)); n != 10 {
		t.Errorf("users page 3 has %d users, want 10", n)
	}
	seen := map[int64]bool{}
	dismissed := 0
	url := "/v3/users/_relative?perPage=7"
	for url != "" {
		r := c.mustOK("GET", url, "")
		for _, u := range decode[[]user](t, r.body) {
			if seen[u.UID] {
				t.Fatalf("_relative returned uid %d twice", u.UID)
			}
			seen[u.UID] = true
			if u.Dismissed {
				dismissed++
			}
		}
		url = links(r.header)["next"]
	}
	if len(seen) != 50 || dismissed == 0 {
		t.Errorf("_relative walk: %d users, %d dismissed; want 50 and some", len(seen), dismissed)
	}
	for _, u := range s.Users() {
		r := c.do("GET", "/v2/users/"+strconv.FormatInt(u.UID, 10), "")
		if u.Deleted {
			errorBody(t, r, 404)
			continue
		}
		if got := decode[user](t, r.body); got.Login != u.Login || got.Email != u.Email {
			t.Errorf("user %d: got %+v, want %+v", u.UID, got, u)
		}
	}
	if got := decode[user](t, c.mustOK("GET", "/v2/users/login:"+s.Users()[3].Login, "").body); got.UID != s.Users()[3].UID {
		t.Errorf("users/login:… returned %+v", got)
	}
	me := decode[user](t, c.mustOK("GET", "/v2/myself", "").body)
	if me.UID != s.Users()[0].UID {
		t.Errorf("myself = %+v", me)
	}

	type named struct {
		ID   json.RawMessage `json:"id"`
		Key  string          `json:"key"`
		Name json.RawMessage `json:"name"`
	}
	prios := decode[[]named](t, c.mustOK("GET", "/v2/priorities?localized=false", "").body)
	if len(prios) != 5 || !strings.HasPrefix(string(prios[0].Name), `{"en":`) {
		t.Errorf("priorities localized=false: %s", prios[0].Name)
	}
	for _, p := range []string{"/v2/issuetypes", "/v2/resolutions", "/v2/fields", "/v2/queues", "/v2/components"} {
		if n := len(decode[[]named](t, c.mustOK("GET", p, "").body)); n < 2 {
			t.Errorf("%s: %d items", p, n)
		}
	}
	f := decode[struct {
		ID     string `json:"id"`
		Schema struct {
			Type string `json:"type"`
		} `json:"schema"`
	}](t, c.mustOK("GET", "/v2/fields/followers", "").body)
	if f.ID != "followers" || f.Schema.Type != "array" {
		t.Errorf("fields/followers = %+v", f)
	}
}

// normalize drops the "project" fields (v2 ref, v3 {"primary": ref}) and
// re-encodes a JSON body.
func normalize(t *testing.T, body string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("invalid JSON %.200s: %v", body, err)
	}
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			delete(x, "project")
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	b, _ := json.Marshal(v)
	return string(b)
}

// TestHandlerHost checks that self URLs follow the request's Host when the
// handler is mounted elsewhere.
func TestHandlerHost(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "http://tracker.local:8080/v3/statuses/1", nil)
	req.Header.Set("Authorization", "OAuth x")
	req.Header.Set("X-Org-ID", "1")
	s.Handler().ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `"self":"http://tracker.local:8080/v3/statuses/1"`) {
		t.Errorf("body %s lacks the request host in self", rec.Body.String())
	}
}

// TestConcurrentUse hammers one server from several goroutines while
// fixtures, touches and faults change (run with -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 600, Seed: 31})
	c := newClient(t, s)
	keys := s.IssueKeys()
	done := make(chan struct{})
	errs := make(chan string, 100)
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 30 {
				key := keys[(w*997+i*31)%len(keys)]
				var r resp
				switch i % 3 {
				case 0:
					r = c.do("GET", "/v2/issues/"+key+"/changelog?perPage=20", "")
				case 1:
					r = c.do("POST", "/v3/issues/_search?perPage=100&page=2", `{"query":"Queue: !TRASH \"Sort by\": Key DESC"}`)
				default:
					r = c.do("POST", "/v3/issues/_search?scrollType=unsorted&perScroll=500", `{}`)
					if id := r.header.Get("X-Scroll-Id"); id != "" && r.status == 200 {
						r = c.do("POST", "/v3/issues/_search?scrollId="+id+"&scrollTTLMillis=5000", `{}`)
					}
				}
				if r.status != 200 && r.status != 503 && r.status != 500 {
					errs <- "status " + strconv.Itoa(r.status) + ": " + string(r.body)
				}
			}
		}()
	}
	for i := range 20 {
		_ = s.Touch(keys[i*7], DefaultNow.Add(time.Duration(i)*time.Second))
		s.InjectFaults(Faults{Status5xxRate: 0.05})
		if i == 10 {
			f := Fixture73()
			f.Key = "CONC-1"
			if err := s.AddFixture(f); err != nil {
				t.Error(err)
			}
		}
	}
	for range 4 {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := s.IssueCount(); got != 601 {
		t.Errorf("IssueCount %d", got)
	}
}
