package extractor

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/jsonfile"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream/streamtest"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

func TestBuildQuery(t *testing.T) {
	msk, _ := time.LoadLocation("Europe/Moscow")
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	wm := time.Date(2024, 4, 30, 21, 30, 15, 500e6, time.UTC)
	cases := []struct {
		name string
		q    QueryConfig
		wm   time.Time
		want string
	}{
		{"custom gets a sort", QueryConfig{Custom: "Queue: DEV", Stateful: true}, wm, `Queue: DEV "Sort by": Updated ASC`},
		{"custom keeps its sort", QueryConfig{Custom: `Queue: DEV "Sort By": Key`}, wm, `Queue: DEV "Sort By": Key`},
		{"range with queues and exclusions", QueryConfig{Range: 2 * time.Hour, Queues: []string{"DEV", "SRE", "!TEST"}, Zone: msk}, time.Time{},
			`Queue: DEV, SRE and Queue: !TEST and Updated: >= "2024-05-01 11:00:00" "Sort by": Updated ASC`},
		{"stateful first run", QueryConfig{Stateful: true, InitialRange: 7 * 24 * time.Hour, Zone: time.UTC}, time.Time{},
			`Updated: >= "2024-04-24 10:00:00" "Sort by": Updated ASC`},
		// A zero or empty range means no time filter (the old tool's
		// meaning), not "updated since now".
		{"zero range with queues", QueryConfig{Queues: []string{"DEV", "!TEST"}, Zone: msk}, time.Time{},
			`Queue: DEV and Queue: !TEST "Sort by": Updated ASC`},
		{"stateful with overlap", QueryConfig{Stateful: true, Overlap: 5 * time.Minute, Queues: []string{"DEV"}, Zone: msk}, wm,
			`Queue: DEV and Updated: >= "2024-05-01 00:25:15" "Sort by": Updated ASC`},
	}
	for _, c := range cases {
		got, _ := BuildQuery(c.q, c.wm, now)
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestWatermarkStopsAtFirstIssueNotDone(t *testing.T) {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	type step struct {
		id      int
		outcome wire.Outcome
	}
	cases := []struct {
		name     string
		issues   int
		done     []step
		frontier func(*ledger)
		since    time.Time
		want     time.Time
	}{
		{"all stored", 5, []step{{2, wire.OutcomePublished}, {5, wire.OutcomeDuplicate}, {3, wire.OutcomePublished}, {1, wire.OutcomePublished}, {4, wire.OutcomePublished}}, (*ledger).complete, base, at(5)},
		{"issue 3 failed", 5, []step{{2, wire.OutcomePublished}, {5, wire.OutcomePublished}, {3, wire.OutcomeFailed}, {1, wire.OutcomePublished}, {4, wire.OutcomePublished}}, (*ledger).complete, base, at(3)},
		{"issue 2 never finished", 3, []step{{1, wire.OutcomePublished}, {3, wire.OutcomePublished}}, (*ledger).complete, base, at(2)},
		{"never below the search bound", 3, []step{{1, wire.OutcomePublished}}, (*ledger).complete, at(3), at(3)},
		{"search interrupted after issue 3", 3, []step{{1, wire.OutcomePublished}, {2, wire.OutcomePublished}, {3, wire.OutcomePublished}}, func(l *ledger) {}, base, at(3)},
		{"a scroll lost issues somewhere", 3, []step{{1, wire.OutcomePublished}, {2, wire.OutcomePublished}, {3, wire.OutcomePublished}}, func(l *ledger) { l.freeze(at(1)) }, base, at(1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newLedger(c.since)
			for i := 1; i <= c.issues; i++ {
				l.add(wire.PassIssue{ID: fmt.Sprint(i), Updated: at(i)})
				l.seen(at(i))
			}
			if _, isNew := l.add(wire.PassIssue{ID: "1", Updated: at(1)}); isNew {
				t.Fatal("an issue seen twice was added twice")
			}
			for _, d := range c.done {
				l.finish(d.id-1, func(pi *wire.PassIssue) { pi.Outcome = d.outcome })
			}
			c.frontier(l)
			if got := l.watermark(c.since, false); !got.Equal(c.want) {
				t.Errorf("watermark %s, want %s", got, c.want)
			}
			// Following loads instead: nothing confirmed, nothing moves.
			if got := l.watermark(c.since, true); !got.Equal(c.since) && !got.Equal(at(1)) {
				t.Errorf("watermark by loads %s with nothing loaded", got)
			}
		})
	}
}

type harness struct {
	em  *trackertest.Server
	js  jetstream.JetStream
	tc  *tracker.Client
	dir string
}

// emulatorURL is the base URL of clients of the in-memory emulator.
const emulatorURL = "http://tracker.test"

// handlerTransport sends requests straight to an http.Handler, in memory:
// the real client and the emulator's real handler without loopback
// sockets. A request whose context ended while the handler ran fails with
// the context's error, as over a socket.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// newClient is a Tracker client of h, in memory, with cfg's settings and
// emulatorURL, token and organization.
func newClient(t *testing.T, h http.Handler, cfg tracker.Config) *tracker.Client {
	t.Helper()
	cfg.BaseURL, cfg.Token, cfg.OrgID = emulatorURL, "t", "1"
	tc, err := tracker.New(cfg, tracker.Deps{HTTPClient: &http.Client{Transport: handlerTransport{h}}})
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

func newHarness(t *testing.T, issues int) *harness {
	return newHarnessWith(t, trackertest.Options{Issues: issues, Seed: 9})
}

// newHarnessWith is the emulator of o, a JetStream server and a client,
// for a test inside a synctest bubble: the emulator's latency and hangs,
// the client's timeouts, backoff and rate limit, Retry-After and scroll
// lifetimes all run on the bubble's fake clock.
func newHarnessWith(t *testing.T, o trackertest.Options) *harness {
	t.Helper()
	em := trackertest.New(o)
	conn := streamtest.StartInBubble(t, "test")
	tc := newClient(t, em.Handler(), tracker.Config{MaxRetries: 3, BackoffBase: time.Millisecond})
	return &harness{em: em, js: conn.JS, tc: tc, dir: t.TempDir()}
}

// snapshots reads every snapshot in the raw stream, by issue key.
func (h *harness) snapshots(t *testing.T) map[string]*wire.IssueSnapshot {
	t.Helper()
	ctx := context.Background()
	cons, err := h.js.OrderedConsumer(ctx, wire.RawStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*wire.IssueSnapshot{}
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var s wire.IssueSnapshot
			if err := wire.Unmarshal(m.Data(), m.Headers().Get(wire.EncodingHeader), &s); err != nil {
				t.Fatal(err)
			}
			out[s.IssueKey] = &s
		}
		if n == 0 {
			return out
		}
	}
}

func TestRunOncePublishesEveryIssueWithMinimalRequests(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Issues 50 and 150 have four pages of history each; 200 issues are
		// over three times the 55 users, whom per-issue lookups would
		// outnumber.
		h := newHarness(t, 200)
		ex, err := New(Config{Config: extractorcfg.Config{Query: QueryConfig{Custom: `Updated: >= "2000-01-01 00:00:00"`}, Concurrency: 8, ChangelogPageSize: 100}},
			Deps{Tracker: h.tc, JS: h.js})
		if err != nil {
			t.Fatal(err)
		}
		st, err := ex.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		keys := h.em.IssueKeys()
		if st.Found != len(keys) || st.Published != len(keys) {
			t.Fatalf("found %d published %d, want %d", st.Found, st.Published, len(keys))
		}
		snaps := h.snapshots(t)
		var minimum int64
		for _, k := range keys {
			s, ok := snaps[k]
			if !ok {
				t.Fatalf("no snapshot of %s", k)
			}
			if len(s.Changelog) != h.em.ChangelogLen(k) {
				t.Errorf("%s: %d changelog entries, want %d", k, len(s.Changelog), h.em.ChangelogLen(k))
			}
			if len(s.Statuses) == 0 {
				t.Errorf("%s: no status facts in the snapshot", k)
			}
			minimum += int64(h.em.ChangelogLen(k)/100 + 1)
		}
		if got := h.em.Requests(trackertest.EpChangelog); got > minimum {
			t.Errorf("changelog requests %d > minimum %d", got, minimum)
		}
		perIssue := map[string]bool{trackertest.EpIssue: true, trackertest.EpUser: true, trackertest.EpStatus: true}
		for ep := range perIssue {
			// Deleted users are looked up once each, never per issue.
			if n := h.em.Requests(ep); n > int64(len(h.em.Users())) {
				t.Errorf("%d requests to %s: per-reference lookups", n, ep)
			}
		}
		deleted := 0
		for _, u := range h.em.Users() {
			if u.Deleted {
				deleted++
			}
		}
		if n := h.em.Requests(trackertest.EpUser); n > int64(deleted) {
			t.Errorf("%d single-user lookups, want at most one per deleted user (%d)", n, deleted)
		}
		if n := h.em.Requests(trackertest.EpStatuses); n != 1 {
			t.Errorf("statuses fetched %d times, want 1", n)
		}
	})
}

func TestStatefulWatermarkAndRetryOfFailedIssue(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const issues = 50
		h := newHarness(t, issues)
		store, err := jsonfile.New(filepath.Join(h.dir, "state.json"), jsonfile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		cfg := Config{
			Config: extractorcfg.Config{
				Query:       QueryConfig{Stateful: true, InitialRange: 3 * 365 * 24 * time.Hour, Overlap: time.Minute, Zone: time.UTC},
				Concurrency: 4,
				StateKey:    "test",
			},
		}
		ex, err := New(cfg, Deps{Tracker: h.tc, JS: h.js, State: store, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		// Every request fails for a while: the pass fails and saves nothing
		// beyond what was acknowledged.
		h.em.InjectFaults(trackertest.Faults{Next5xx: 10000})
		if _, err := ex.RunOnce(context.Background()); err == nil {
			t.Fatal("want an error while Tracker fails")
		}
		s, ok, err := store.Load(context.Background(), "test")
		if err != nil {
			t.Fatal(err)
		}
		if ok && !s.Watermark.IsZero() && s.Watermark.After(now.Add(-3*365*24*time.Hour)) {
			t.Fatalf("watermark moved to %s although nothing was exported", s.Watermark)
		}
		h.em.InjectFaults(trackertest.Faults{})
		st, err := ex.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Published != issues {
			t.Fatalf("published %d, want %d", st.Published, issues)
		}
		s, _, _ = store.Load(context.Background(), "test")
		keys := h.em.IssueKeys()
		last, _ := h.em.Issue(keys[len(keys)-1])
		if !s.Watermark.Equal(last.UpdatedAt) {
			t.Errorf("watermark %s, want the last issue's update %s", s.Watermark, last.UpdatedAt)
		}
		// An update after the watermark is picked up by the next pass, with the
		// overlap re-reading only the last minute.
		at := last.UpdatedAt.Add(time.Hour)
		if err := h.em.Touch(keys[10], at); err != nil {
			t.Fatal(err)
		}
		st, err = ex.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Published < 1 || st.Published > 3 {
			t.Errorf("second pass published %d, want the touched issue (and overlap only)", st.Published)
		}
		if !strings.Contains(st.Query, "Updated: >=") {
			t.Errorf("query %q", st.Query)
		}
		snaps := h.snapshots(t)
		if got := snaps[keys[10]]; got == nil || !got.UpdatedAt.Equal(at) {
			t.Errorf("touched issue not republished with its new update time")
		}
	})
}

func TestRunOnceSurvivesFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		faults     trackertest.Faults
		rateLimit  float64
		burst      int
		retryAfter time.Duration
	}{
		{"5xx bursts", trackertest.Faults{Status5xxRate: 0.15}, 0, 0, 50 * time.Millisecond},
		{"malformed pages", trackertest.Faults{MalformedRate: 0.1}, 0, 0, 50 * time.Millisecond},
		{"429 burst", trackertest.Faults{Next429: 5}, 0, 0, 50 * time.Millisecond},
		// The server limits at 100 requests/s while 16 workers ask as fast
		// as they can: a storm of 429s with Retry-After, even on a busy
		// machine. Each Retry-After lets in 20 requests plus the burst,
		// more than the 16 workers, so the retries get through.
		{"429 storm", trackertest.Faults{}, 100, 10, 200 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				// Retry-After in tens of milliseconds (on the fake clock): the
				// 429s are the same as with Tracker's whole seconds. The size
				// is not what is tested: 100 issues take 120 to 200 requests,
				// 10 to 90 of them failed.
				h := newHarnessWith(t, trackertest.Options{Issues: 100, Seed: 9, RateLimit: c.rateLimit, Burst: c.burst, RetryAfter: c.retryAfter})
				tc := newClient(t, h.em.Handler(), tracker.Config{MaxRetries: 10, BackoffBase: time.Millisecond, BackoffMax: 20 * time.Millisecond})
				ex, err := New(Config{Config: extractorcfg.Config{Query: QueryConfig{Custom: `Updated: >= "2000-01-01 00:00:00"`}, Concurrency: 16}},
					Deps{Tracker: tc, JS: h.js})
				if err != nil {
					t.Fatal(err)
				}
				h.em.InjectFaults(c.faults)
				st, err := ex.RunOnce(context.Background())
				h.em.InjectFaults(trackertest.Faults{})
				if err != nil {
					t.Fatalf("run failed: %v", err)
				}
				if st.Published != h.em.IssueCount() {
					t.Fatalf("published %d of %d", st.Published, h.em.IssueCount())
				}
				snaps := h.snapshots(t)
				for _, k := range h.em.IssueKeys() {
					if s := snaps[k]; s == nil || len(s.Changelog) != h.em.ChangelogLen(k) {
						t.Fatalf("%s missing or incomplete after %s", k, c.name)
					}
				}
				if c.rateLimit > 0 && h.em.Throttled() == 0 {
					t.Errorf("the server never throttled")
				}
				if tc.Retries() == 0 {
					t.Errorf("no retry happened: the faults were not exercised")
				}
			})
		})
	}
}

func TestRunOnceTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 50)
		tc := newClient(t, h.em.Handler(), tracker.Config{MaxRetries: 2, Timeout: 50 * time.Millisecond, BackoffBase: time.Millisecond})
		ex, err := New(Config{Config: extractorcfg.Config{Query: QueryConfig{Custom: `Updated: >= "2000-01-01 00:00:00"`}}}, Deps{Tracker: tc, JS: h.js})
		if err != nil {
			t.Fatal(err)
		}
		h.em.InjectFaults(trackertest.Faults{Hang: 200 * time.Millisecond})
		_, err = ex.RunOnce(context.Background())
		if err == nil || !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("want a timeout error, got %v", err)
		}
		h.em.InjectFaults(trackertest.Faults{})
		st, err := ex.RunOnce(context.Background())
		if err != nil || st.Published != 50 {
			t.Fatalf("after the hang: %d published, %v", st.Published, err)
		}
	})
}

func TestScrollExpiryRestartsFromLastSeen(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Three pages of 10, each taking 250 ms of latency (on the fake
		// clock): over twice the scroll lifetime.
		const issues = 30
		h := newHarnessWith(t, trackertest.Options{Issues: issues, Seed: 9, Latency: 25 * time.Millisecond})
		ex, err := New(Config{
			Config: extractorcfg.Config{
				Query:          QueryConfig{Range: 5 * 365 * 24 * time.Hour, Zone: time.UTC},
				Concurrency:    1,
				ScrollPageSize: 10,
			},
			ScrollTTL: 100 * time.Millisecond,
		}, Deps{Tracker: h.tc, JS: h.js})
		if err != nil {
			t.Fatal(err)
		}
		st, err := ex.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Restarts == 0 {
			t.Fatalf("the scroll never expired: the test does not exercise restarts")
		}
		if st.Found != issues || st.Published != issues {
			t.Errorf("found %d published %d after %d restarts, want %d each (no issue lost or counted twice)", st.Found, st.Published, st.Restarts, issues)
		}
		if n := len(h.snapshots(t)); n != issues {
			t.Errorf("%d snapshots in the stream", n)
		}
	})
}

func TestOversizedSnapshotIsReportedNotDropped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Issue 37 has a description over 10 000 characters, issue 50 a
		// long history.
		h := newHarness(t, 60)
		ex, err := New(Config{Config: extractorcfg.Config{Query: QueryConfig{Custom: `Updated: >= "2000-01-01 00:00:00"`}}, MaxPayload: 12 << 10}, Deps{Tracker: h.tc, JS: h.js})
		if err != nil {
			t.Fatal(err)
		}
		st, err := ex.RunOnce(context.Background())
		if err == nil || st.Failed == 0 {
			t.Fatalf("no snapshot exceeded 12 KiB (failed %d, err %v): the test does not exercise the limit", st.Failed, err)
		}
		if !strings.Contains(err.Error(), "issues failed") || st.Published+st.Failed != st.Found {
			t.Errorf("stats %+v, err %v", st, err)
		}
	})
}

// userLookupServer is a Tracker with one issue, A-1, created by user 1
// (in the directory) and assigned to user 2 (not in it, so looked up one
// by one), whose single-user look-ups answer status.
type userLookupServer struct {
	http.ServeMux
	status  atomic.Int32
	lookups atomic.Int32
}

func newUserLookupServer(status int) *userLookupServer {
	s := &userLookupServer{}
	s.status.Store(int32(status))
	s.HandleFunc("GET /v2/statuses", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"id":1,"key":"open","name":"Open","type":"new"}]`))
	})
	s.HandleFunc("GET /v2/users", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Total-Pages", "1")
		_, _ = w.Write([]byte(`[{"uid":1,"login":"alice","email":"alice@x","display":"Alice"}]`))
	})
	s.HandleFunc("GET /v2/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.lookups.Add(1)
		if st := int(s.status.Load()); st != http.StatusOK {
			w.WriteHeader(st)
			_, _ = w.Write([]byte(`{"errors":{},"errorMessages":["try later"]}`))
			return
		}
		_, _ = w.Write([]byte(`{"uid":2,"login":"bob","email":"bob@x","display":"Bob"}`))
	})
	s.HandleFunc("POST /v2/issues/_search", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Total-Count", "1")
		_, _ = w.Write([]byte(`[{"id":"5f0000000000000000000001","key":"A-1","updatedAt":"2024-01-01T00:00:00.000+0000",
			"status":{"self":"x/v2/statuses/1","id":"1","key":"open","display":"Open"},
			"createdBy":{"self":"x/v2/users/1","id":"1","display":"Alice"},
			"assignee":{"self":"x/v2/users/2","id":"2","display":"Bob"}}]`))
	})
	s.HandleFunc("GET /v2/issues/{key}/changelog", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`[]`)) })
	s.HandleFunc("POST /v2/system/search/scroll/_clear", func(w http.ResponseWriter, r *http.Request) {})
	return s
}

// TestUserLookupFailureFailsTheIssue: only a 404 says a user the directory
// lacks was deleted. Any other failure of the look-up fails the issues
// that refer to the user, as a failed changelog does: counted, tried again
// in the pass when transient, reported by RunOnce, and exported by the
// next pass once the look-up works.
func TestUserLookupFailureFailsTheIssue(t *testing.T) {
	t.Parallel()
	// requests: a transient failure is re-sent by the client (MaxRetries
	// 3: 4 requests), and the issue is tried again in the pass (3 retry
	// rounds: 4 tries); a permanent one is asked once.
	for _, tc := range []struct {
		status   int
		requests int32
	}{
		{http.StatusNotFound, 1},
		{http.StatusServiceUnavailable, 16},
		{http.StatusTooManyRequests, 16},
		{http.StatusUnauthorized, 1},
		{http.StatusForbidden, 1},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				srv := newUserLookupServer(tc.status)
				conn := streamtest.StartInBubble(t, "test")
				h := &harness{js: conn.JS}
				tc2 := newClient(t, srv, tracker.Config{MaxRetries: 3, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond})
				ex, err := New(Config{Config: extractorcfg.Config{Query: QueryConfig{Custom: `Queue: A`}}}, Deps{Tracker: tc2, JS: conn.JS})
				if err != nil {
					t.Fatal(err)
				}
				st, err := ex.RunOnce(context.Background())
				snap := h.snapshots(t)["A-1"]
				if n := srv.lookups.Load(); n != tc.requests {
					t.Errorf("look-up of user 2 answered %d: %d requests, want %d", tc.status, n, tc.requests)
				}
				if tc.status == http.StatusNotFound {
					// A deleted user: the snapshot goes without them.
					if err != nil || st.Published != 1 || st.UnknownUsers != 1 || snap == nil {
						t.Fatalf("look-up of user 2 answered %d: err %v, published %d, unknown users %d, snapshot %v; want success without user 2",
							tc.status, err, st.Published, st.UnknownUsers, snap != nil)
					}
					return
				}
				if err == nil || st.Failed != 1 || st.Published != 0 || snap != nil || !strings.Contains(err.Error(), "A-1") {
					t.Fatalf("look-up of user 2 answered %d: err %v, failed %d, published %d, snapshot published %v; want A-1 failed, nothing published",
						tc.status, err, st.Failed, st.Published, snap != nil)
				}
				srv.status.Store(http.StatusOK)
				st, err = ex.RunOnce(context.Background())
				snap = h.snapshots(t)["A-1"]
				if err != nil || st.Published != 1 || snap == nil || snap.Users["2"].Login != "bob" {
					t.Errorf("next pass, look-up working: err %v, published %d, snapshot %v; want A-1 published with user 2", err, st.Published, snap)
				}
			})
		})
	}
}
