package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

func newClient(t *testing.T, url string, mod func(*tracker.Config, *tracker.Deps)) *tracker.Client {
	t.Helper()
	cfg := tracker.Config{BaseURL: url, Token: "test-token", OrgID: "42", MaxRetries: 5,
		BackoffBase: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond, Timeout: 5 * time.Second}
	var deps tracker.Deps
	if mod != nil {
		mod(&cfg, &deps)
	}
	c, err := tracker.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startEmulator(t *testing.T, o trackertest.Options) *trackertest.Server {
	t.Helper()
	s := trackertest.New(o)
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func TestNewRefusesBadConfig(t *testing.T) {
	_, err := tracker.New(tracker.Config{BaseURL: "not a url", APIVersion: "v9", Token: "a", IAMToken: "b"}, tracker.Deps{})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{`BaseURL="not a url"`, `APIVersion="v9"`, "Token: Token and IAMToken are both set", "OrgID: not set"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\"a\"") || strings.Contains(err.Error(), "\"b\"") {
		t.Errorf("error shows a token: %q", err)
	}
}

// collect scrolls a query and returns the keys in order.
func collect(t *testing.T, c *tracker.Client, q string, per int) []string {
	t.Helper()
	var keys []string
	err := c.Search(context.Background(), tracker.SearchRequest{Query: q, PerScroll: per}, func(p tracker.SearchPage) error {
		for _, is := range p.Issues {
			keys = append(keys, is.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	return keys
}

func TestScrollPastTenThousand(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("scrolls through 12 000 issues: a scale test, skipped with -short")
	}
	// In memory: the 12 pages are decoded the same, without a socket.
	em, c := memClient(t, trackertest.Options{Issues: 12000, Seed: 3}, nil)
	keys := collect(t, c, `Updated: >= "2000-01-01 00:00:00" "Sort by": Updated ASC`, 1000)
	want := em.IssueKeys()
	if len(keys) != len(want) {
		t.Fatalf("got %d issues, want %d", len(keys), len(want))
	}
	seen := map[string]bool{}
	for i, k := range keys {
		if seen[k] {
			t.Fatalf("issue %s returned twice", k)
		}
		seen[k] = true
		if k != want[i] {
			t.Fatalf("position %d: %s, want %s (Updated ascending)", i, k, want[i])
		}
	}
	if got, min := em.Requests(trackertest.EpSearch), int64(12); got != min {
		t.Errorf("search requests %d, want %d (12000 issues / 1000 per scroll)", got, min)
	}
}

func TestSearchVersionsAndDecoding(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, trackertest.Options{Issues: 300, Seed: 5})
	for _, v := range []string{"v2", "v3"} {
		c := newClient(t, em.URL(), func(c *tracker.Config, _ *tracker.Deps) { c.APIVersion = v })
		var issues []tracker.Issue
		err := c.Search(context.Background(), tracker.SearchRequest{Query: `Queue: DEV "Sort by": Updated ASC`, PerScroll: 50}, func(p tracker.SearchPage) error {
			issues = append(issues, p.Issues...)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if len(issues) == 0 {
			t.Fatalf("%s: no DEV issues", v)
		}
		local := 0
		for _, is := range issues {
			if is.ID == "" || is.Key == "" || is.CreatedAt.IsZero() || is.UpdatedAt.IsZero() || is.Status == nil || is.Status.Key == "" {
				t.Fatalf("%s: issue decoded incompletely: %+v", v, is)
			}
			if !strings.HasPrefix(is.Key, "DEV-") && !contains(is.Aliases, "DEV-") {
				t.Errorf("%s: %s does not belong to DEV", v, is.Key)
			}
			if len(is.Raw) == 0 {
				t.Fatalf("%s: raw JSON not kept", v)
			}
			for k := range is.Extra {
				if strings.Contains(k, "--") {
					local++
				}
			}
		}
		if local == 0 {
			t.Errorf("%s: no local field kept in Extra", v)
		}
	}
}

func contains(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestChangelogEveryEntryOnce(t *testing.T) {
	t.Parallel()
	for _, realistic := range []bool{false, true} {
		em := startEmulator(t, trackertest.Options{Issues: 400, Seed: 11, Realistic: realistic})
		c := newClient(t, em.URL(), nil)
		long := 0
		for _, key := range em.IssueKeys() {
			n := em.ChangelogLen(key)
			if n <= 200 {
				continue
			}
			long++
			for _, per := range []int{50, 100, 1000} {
				entries, err := c.Changelog(context.Background(), key, per)
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) != n {
					t.Fatalf("realistic=%v %s perPage %d: %d entries, want %d", realistic, key, per, len(entries), n)
				}
				seen := map[tracker.ID]bool{}
				for i, e := range entries {
					if seen[e.ID] {
						t.Fatalf("%s: entry %s twice", key, e.ID)
					}
					seen[e.ID] = true
					if i > 0 && e.UpdatedAt.Before(entries[i-1].UpdatedAt.Time) {
						t.Fatalf("%s: entries out of order at %d", key, i)
					}
				}
			}
			if long >= 3 {
				break
			}
		}
		if long == 0 {
			t.Fatal("the emulator has no issue with more than 200 changelog entries")
		}
	}
}

func TestChangelogRequestsAreMinimal(t *testing.T) {
	t.Parallel()
	// Issues 17, 32 and 50 have two and three pages.
	em := startEmulator(t, trackertest.Options{Issues: 60, Seed: 2})
	c := newClient(t, em.URL(), nil)
	var want int64
	for _, key := range em.IssueKeys() {
		n := em.ChangelogLen(key)
		want += int64(n/100 + 1) // ⌈n/100⌉, plus one short or empty page when n is a multiple
		if _, err := c.Changelog(context.Background(), key, 100); err != nil {
			t.Fatal(err)
		}
	}
	if got := em.Requests(trackertest.EpChangelog); got > want {
		t.Errorf("changelog requests %d, want at most %d", got, want)
	}
}

// A server that caps changelog pages below perPage must not truncate a
// history, whether its links carry its own page size or echo the one asked
// and whether it links past its last page; requests stay at the least a
// client that knew the cap would need (plus one probe per reading).
func TestChangelogPageCapTruncatesNothing(t *testing.T) {
	t.Parallel()
	const pageCap = 20
	// Issues 11 and 71 have histories of 60 entries, whole pages, and
	// issues 10 and 50 of 134 and 303.
	for _, echo := range []bool{false, true} {
		for _, realistic := range []bool{false, true} {
			em, c := memClient(t, trackertest.Options{Issues: 80, Seed: 5, ChangelogPageCap: pageCap, ChangelogCapEchoesRequest: echo, Realistic: realistic}, nil)
			var least int64
			for _, key := range em.IssueKeys() {
				n := em.ChangelogLen(key)
				entries, err := c.Changelog(context.Background(), key, 100)
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) != n {
					t.Fatalf("echo=%v realistic=%v %s: %d entries of %d", echo, realistic, key, len(entries), n)
				}
				if realistic {
					least += int64(n/pageCap + 1) // the server links to an empty page after a full one
				} else {
					least += int64(max(1, (n+pageCap-1)/pageCap))
				}
			}
			got := em.Requests(trackertest.EpChangelog)
			t.Logf("echo=%v realistic=%v: %d requests, least %d", echo, realistic, got, least)
			if got > least+1 {
				t.Errorf("echo=%v realistic=%v: %d changelog requests, least possible %d", echo, realistic, got, least)
			}
		}
	}
}

// handlerTransport sends requests straight to an http.Handler, in memory:
// inside a synctest bubble the emulator then runs on the fake clock.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// memClient is a client of an emulator in memory: no sockets, and inside
// a synctest bubble both run on the bubble's clock.
func memClient(t *testing.T, o trackertest.Options, mod func(*tracker.Config, *tracker.Deps)) (*trackertest.Server, *tracker.Client) {
	em := trackertest.New(o)
	c := newClient(t, "http://tracker.test", func(c *tracker.Config, d *tracker.Deps) {
		d.HTTPClient = &http.Client{Transport: handlerTransport{em.Handler()}}
		if mod != nil {
			mod(c, d)
		}
	})
	return em, c
}

func TestRetriesAndRetryAfter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		em, c := memClient(t, trackertest.Options{Issues: 50, Seed: 1}, nil)
		key := em.IssueKeys()[0]

		em.InjectFaults(trackertest.Faults{Next5xx: 3})
		if _, err := c.Changelog(context.Background(), key, 100); err != nil {
			t.Fatalf("after three 503s: %v", err)
		}
		em.InjectFaults(trackertest.Faults{Next429: 1})
		start := time.Now()
		if _, err := c.Changelog(context.Background(), key, 100); err != nil {
			t.Fatalf("after a 429: %v", err)
		}
		if el := time.Since(start); el < time.Second || el > 1250*time.Millisecond {
			t.Errorf("retried after %s, want Retry-After: 1 (plus at most a quarter of jitter)", el)
		}
		em.InjectFaults(trackertest.Faults{NextMalformed: 2})
		if _, err := c.Changelog(context.Background(), key, 100); err != nil {
			t.Fatalf("after malformed pages: %v", err)
		}
		em.InjectFaults(trackertest.Faults{Next5xx: 100})
		start = time.Now()
		_, err := c.Changelog(context.Background(), key, 100)
		var ae *tracker.APIError
		if !errors.As(err, &ae) || ae.Status < 500 {
			t.Fatalf("after exhausted retries: %v, want an APIError 5xx", err)
		}
		// Five retries, backoff from 5 ms doubling, capped at 50 ms, half
		// of it jitter.
		if el := time.Since(start); el < 60*time.Millisecond || el > 200*time.Millisecond {
			t.Errorf("five retries took %s", el)
		}
		if got := em.Requests(trackertest.EpChangelog); got != 4+2+3+6 {
			t.Errorf("%d changelog requests, want 15 (each fault, then the retry that passed; 6 for the exhausted one)", got)
		}
	})
}

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, trackertest.Options{Issues: 5, Seed: 1, Token: "right", OrgID: "42"})
	c := newClient(t, em.URL(), func(c *tracker.Config, _ *tracker.Deps) { c.Token = "wrong-token-value" })
	_, err := c.Statuses(context.Background())
	if !errors.Is(err, tracker.ErrUnauthorized) {
		t.Fatalf("got %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), "wrong-token-value") {
		t.Errorf("the token appears in the error: %v", err)
	}
	if em.Requests(trackertest.EpStatuses) != 1 {
		t.Errorf("a 401 was retried")
	}
	cloud := newClient(t, em.URL(), func(c *tracker.Config, _ *tracker.Deps) { c.Token, c.OrgID, c.CloudOrgID = "right", "", "42" })
	if _, err := cloud.Statuses(context.Background()); err != nil {
		t.Fatalf("cloud org header: %v", err)
	}
}

func TestRateLimitSustainedWithoutThrottling(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		em, c := memClient(t, trackertest.Options{Issues: 100, Seed: 1, RateLimit: 50}, func(c *tracker.Config, _ *tracker.Deps) { c.RateLimit = 40 })
		key := em.IssueKeys()[0]
		start := time.Now()
		for range 300 {
			if _, err := c.Changelog(context.Background(), key, 1000); err != nil {
				t.Fatal(err)
			}
		}
		if n := em.Throttled(); n != 0 {
			t.Errorf("the emulator answered 429 %d times although the client stays under its limit", n)
		}
		// 300 requests at 40/s: the limiter spreads them evenly.
		if el := time.Since(start); el < 7400*time.Millisecond || el > 7600*time.Millisecond {
			t.Errorf("300 requests at 40/s took %s, want about 7.5 s", el)
		}
	})
}

func TestDirectories(t *testing.T) {
	t.Parallel()
	em := startEmulator(t, trackertest.Options{Issues: 10, Seed: 1})
	c := newClient(t, em.URL(), nil)
	st, err := c.Statuses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, s := range st {
		types[s.Key] = s.Type
	}
	for k, want := range map[string]string{"open": "new", "inProgress": "inProgress", "readyForRelease": "paused", "closed": "done"} {
		if types[k] != want {
			t.Errorf("status %s type %q, want %q", k, types[k], want)
		}
	}
	users, err := c.Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, u := range em.Users() {
		if !u.Deleted {
			listed++
		}
	}
	if len(users) != listed {
		t.Errorf("users %d, emulator lists %d", len(users), listed)
	}
	dismissed := 0
	for _, u := range users {
		if u.Email == "" || u.Login == "" {
			t.Errorf("user without email or login: %+v", u)
		}
		if u.Dismissed {
			dismissed++
		}
	}
	if dismissed == 0 {
		t.Errorf("no dismissed user in the directory")
	}
}

// TestUsersStopsAtTenThousand: /users returns at most 10 000 users and
// refuses a page past them (400, as page-mode search and worklog do),
// while its X-Total-Count and X-Total-Pages count them all. Users returns
// the first 10 000 without asking for page 11; the others are for single
// look-ups.
func TestUsersStopsAtTenThousand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n, want int
		asked   string
	}{
		{n: 10500, want: 10000, asked: "[1 2 3 4 5 6 7 8 9 10]"},
		{n: 10000, want: 10000, asked: "[1 2 3 4 5 6 7 8 9 10]"},
		{n: 2500, want: 2500, asked: "[1 2 3]"},
	} {
		t.Run(strconv.Itoa(tc.n), func(t *testing.T) {
			t.Parallel()
			list := &pagedList{n: tc.n, per: 1000}
			capped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if page, _ := strconv.Atoi(r.URL.Query().Get("page")); page*list.per > 10000 {
					list.asked = append(list.asked, page)
					w.WriteHeader(http.StatusBadRequest)
					_, _ = w.Write([]byte(`{"errors":{},"errorMessages":["Request exceeds 10000 items limit"],"errorsData":{}}`))
					return
				}
				list.ServeHTTP(w, r)
			})
			c := newClient(t, "http://tracker.test", func(_ *tracker.Config, d *tracker.Deps) {
				d.HTTPClient = &http.Client{Transport: handlerTransport{capped}}
			})
			users, err := c.Users(context.Background())
			if err != nil || len(users) != tc.want {
				t.Errorf("directory of %d users: Users returned %d, error %v; want %d, no error", tc.n, len(users), err, tc.want)
			}
			if got := fmt.Sprint(list.asked); got != tc.asked {
				t.Errorf("directory of %d users: pages asked %s, want %s", tc.n, got, tc.asked)
			}
		})
	}
}
