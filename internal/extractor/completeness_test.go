package extractor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/jsonfile"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream/streamtest"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// statefulExtractor is a stateful extractor over the harness, from a state
// file in its directory.
func (h *harness) statefulExtractor(t *testing.T, tc *tracker.Client, mod func(*Config)) (*Extractor, *jsonfile.Store) {
	t.Helper()
	store, err := jsonfile.New(filepath.Join(h.dir, "state.json"), jsonfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Config: extractorcfg.Config{
			Query:          QueryConfig{Stateful: true, InitialRange: 5 * 365 * 24 * time.Hour, Zone: time.UTC},
			Concurrency:    4,
			ScrollPageSize: 10,
			StateKey:       "test",
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	// The clock reads a minute after the emulator's last update (a fake
	// clock starts in 2000): a pass never sets the watermark past its own
	// start, and the tests' edits during a pass come after it.
	shift := h.lastUpdate().Add(time.Minute).Sub(time.Now())
	ex, err := New(cfg, Deps{Tracker: tc, JS: h.js, State: store, Now: func() time.Time { return time.Now().Add(shift) }})
	if err != nil {
		t.Fatal(err)
	}
	return ex, store
}

// keysByUpdate is the emulator's issue keys in the order a search sorted
// by Updated returns them.
func (h *harness) keysByUpdate() []string {
	keys := h.em.IssueKeys()
	at := func(k string) time.Time { is, _ := h.em.Issue(k); return is.UpdatedAt }
	slices.SortStableFunc(keys, func(a, b string) int { return at(a).Compare(at(b)) })
	return keys
}

func (h *harness) lastUpdate() time.Time {
	var last time.Time
	for _, k := range h.em.IssueKeys() {
		if is, _ := h.em.Issue(k); is.UpdatedAt.After(last) {
			last = is.UpdatedAt
		}
	}
	return last
}

// A server whose scroll id advances on every request and whose answers
// get lost: no issue may be skipped, the watermark reaches the last issue.
// (A client that re-sent the lost request got the next page instead.)
func TestLostScrollResponsesRestartTheSearch(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Six pages of 10.
		const issues = 60
		h := newHarnessWith(t, trackertest.Options{Issues: issues, Seed: 9, ScrollCursor: true})
		ex, store := h.statefulExtractor(t, h.tc, nil)
		h.em.InjectFaults(trackertest.Faults{LostEndpoint: trackertest.EpSearch, LostRate: 0.3})
		p, err := ex.RunOnce(context.Background())
		h.em.InjectFaults(trackertest.Faults{})
		if err != nil {
			t.Fatal(err)
		}
		if h.em.Lost() == 0 || p.Restarts == 0 {
			t.Fatalf("lost %d responses, %d restarts: the fault was not exercised", h.em.Lost(), p.Restarts)
		}
		if p.Found != issues || p.Published != issues || len(h.snapshots(t)) != issues {
			t.Fatalf("found %d published %d of %d after %d lost responses", p.Found, p.Published, issues, h.em.Lost())
		}
		s, _, err := store.Load(context.Background(), "test")
		if err != nil || !s.Watermark.Equal(h.lastUpdate()) {
			t.Errorf("watermark %s (%v), want %s", s.Watermark, err, h.lastUpdate())
		}
	})
}

// skippingProxy forwards to the emulator but, for the n-th scroll
// continuation, sends the request twice and answers with the second
// answer: a proxy that retried on its own. A page goes missing without an
// error; only X-Total-Count tells.
func skippingProxy(em *trackertest.Server, n int32) http.Handler {
	var seen atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("scrollId") != "" && seen.Add(1) == n {
			em.Handler().ServeHTTP(httptest.NewRecorder(), r.Clone(r.Context()))
		}
		em.Handler().ServeHTTP(w, r)
	})
}

func TestSilentlySkippedPageIsFoundAgain(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Four pages of 10: the third continuation goes missing.
		const issues = 40
		h := newHarnessWith(t, trackertest.Options{Issues: issues, Seed: 9, ScrollCursor: true})
		tc := newClient(t, skippingProxy(h.em, 3), tracker.Config{MaxRetries: 3, BackoffBase: time.Millisecond})
		ex, store := h.statefulExtractor(t, tc, nil)
		p, err := ex.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if p.Restarts == 0 || len(p.SearchTotals) < 2 {
			t.Fatalf("no restart after a skipped page (totals %v)", p.SearchTotals)
		}
		if p.Found != issues || len(h.snapshots(t)) != issues {
			t.Fatalf("found %d of %d after a silently skipped page", p.Found, issues)
		}
		s, _, _ := store.Load(context.Background(), "test")
		if !s.Watermark.Equal(h.lastUpdate()) {
			t.Errorf("watermark %s, want %s", s.Watermark, h.lastUpdate())
		}
	})
}

// When every search keeps losing issues, the pass fails and the watermark
// stays where the search began.
func TestSearchThatKeepsLosingIssuesHoldsTheWatermark(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Six pages of 10: with fewer, a restart narrows the search until
		// nothing is lost.
		h := newHarnessWith(t, trackertest.Options{Issues: 60, Seed: 9, ScrollCursor: true})
		var calls atomic.Int32
		proxy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Every second continuation is answered with the page after.
			if r.URL.Query().Get("scrollId") != "" && calls.Add(1)%2 == 0 {
				h.em.Handler().ServeHTTP(httptest.NewRecorder(), r.Clone(r.Context()))
			}
			h.em.Handler().ServeHTTP(w, r)
		})
		tc := newClient(t, proxy, tracker.Config{MaxRetries: 3, BackoffBase: time.Millisecond})
		now := time.Now()
		ex, store := h.statefulExtractor(t, tc, func(c *Config) { c.CheckpointEvery = time.Millisecond })
		ex.deps.Now = func() time.Time { return now }
		_, err := ex.RunOnce(context.Background())
		if !errors.Is(err, tracker.ErrSearchIncomplete) {
			t.Fatalf("want ErrSearchIncomplete, got %v", err)
		}
		s, ok, _ := store.Load(context.Background(), "test")
		if since := now.Add(-5 * 365 * 24 * time.Hour).Truncate(time.Second); ok && s.Watermark.After(since) {
			t.Errorf("watermark moved to %s past the search's start %s", s.Watermark, since)
		}
	})
}

// Every pass publishes its manifest: the issues in search order with
// their versions and changed-field counts, then the summary.
func TestPassManifest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const n = 60
		h := newHarness(t, n)
		ex, err := New(Config{Config: extractorcfg.Config{Query: QueryConfig{Custom: `Updated: >= "2000-01-01 00:00:00"`}, StateKey: "manifest"}}, Deps{Tracker: h.tc, JS: h.js})
		if err != nil {
			t.Fatal(err)
		}
		p, err := ex.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		sum, issues, err := stream.LoadPass(context.Background(), h.js, "manifest", "")
		if err != nil {
			t.Fatal(err)
		}
		if sum.PassID != p.ID || sum.Found != n || len(issues) != n || sum.Published != n {
			t.Fatalf("manifest %+v with %d issues, pass %s", sum, len(issues), p.ID)
		}
		for _, is := range issues {
			info, ok := h.em.Issue(is.Key)
			if !ok || is.ID != info.ID || is.Version != wire.VersionOf(info.UpdatedAt) || is.Outcome != wire.OutcomePublished ||
				is.Changes != h.em.ChangelogFieldChanges(is.Key) {
				t.Fatalf("manifest entry %+v disagrees with the emulator", is)
			}
		}
		// A second pass over unchanged issues: every publish is a duplicate.
		if _, err := ex.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		sum, issues, _ = stream.LoadPass(context.Background(), h.js, "manifest", "")
		if sum.Duplicates != n || issues[0].Outcome != wire.OutcomeDuplicate {
			t.Errorf("second pass: %d duplicates, outcome %s", sum.Duplicates, issues[0].Outcome)
		}
		if _, _, err := stream.LoadPass(context.Background(), h.js, "manifest", p.ID); err != nil {
			t.Errorf("first pass by id: %v", err)
		}
		if _, _, err := stream.LoadPass(context.Background(), h.js, "other key", ""); !errors.Is(err, stream.ErrNoPass) {
			t.Errorf("unknown key: %v", err)
		}
	})
}

// A dry run (rows printed, not loaded) never saves the watermark.
func TestDryRunSavesNoWatermark(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 20)
		ex, store := h.statefulExtractor(t, h.tc, func(c *Config) { c.DryRun = true; c.CheckpointEvery = time.Millisecond })
		if _, err := ex.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if s, ok, err := store.Load(context.Background(), "test"); err != nil || ok {
			t.Errorf("a dry run saved %+v (%v)", s, err)
		}
	})
}

// TestRunOnceCappedScrollTotal: a scroll of 10 500 issues whose
// X-Total-Count is capped at 10 000, and whose continuation past 10 000
// fails (an expired scroll's 404). Having found the 10 000 counted is not
// the end: the search restarts a bounded number of times, then the pass
// fails.
func TestRunOnceCappedScrollTotal(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const issues, per = 10500, 1000
		var mu sync.Mutex
		pos := map[string]int{} // scroll id → the issue its page starts at
		mux := http.NewServeMux()
		mux.HandleFunc("GET /v2/statuses", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`[]`)) })
		mux.HandleFunc("GET /v2/users", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`[]`)) })
		mux.HandleFunc("GET /v2/issues/{key}/changelog", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`[]`)) })
		mux.HandleFunc("POST /v2/system/search/scroll/_clear", func(w http.ResponseWriter, r *http.Request) {})
		mux.HandleFunc("POST /v2/issues/_search", func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			start := 0
			if sid := r.URL.Query().Get("scrollId"); sid != "" {
				if start = pos[sid]; start >= 10000 {
					w.WriteHeader(http.StatusNotFound)
					_, _ = w.Write([]byte(`{"errors":{},"errorMessages":["scroll expired"]}`))
					return
				}
			}
			end := min(start+per, issues)
			var b strings.Builder
			b.WriteString("[")
			for i := start; i < end; i++ {
				if i > start {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"id":"%024x","key":"A-%d","updatedAt":"2024-01-01T00:00:00.000+0000"}`, i+1, i+1)
			}
			b.WriteString("]")
			w.Header().Set("X-Total-Count", "10000")
			if end < issues {
				sid := "s" + strconv.Itoa(len(pos)+1)
				pos[sid] = end
				w.Header().Set("X-Scroll-Id", sid)
			}
			_, _ = w.Write([]byte(b.String()))
		})
		conn := streamtest.StartInBubble(t, "test")
		tc := newClient(t, mux, tracker.Config{MaxRetries: 3, BackoffBase: time.Millisecond})
		ex, err := New(Config{Config: extractorcfg.Config{Query: QueryConfig{Custom: `Queue: A`}, Concurrency: 16}}, Deps{Tracker: tc, JS: conn.JS})
		if err != nil {
			t.Fatal(err)
		}
		st, err := ex.RunOnce(context.Background())
		if err == nil || !errors.Is(st.SearchErr, tracker.ErrScrollInterrupted) {
			t.Errorf("%d issues counted as 10000, scroll failing past 10000: found %d, search error %v, RunOnce error %v; want ErrScrollInterrupted",
				issues, st.Found, st.SearchErr, err)
		}
		// The first search finds 10 000 issues, each restart none.
		if st.Found != 10000 || st.Restarts != maxFruitlessRestarts || len(st.SearchTotals) != maxFruitlessRestarts+1 {
			t.Errorf("%d issues counted as 10000, scroll failing past 10000: found %d, %d restarts, %d searches; want 10000, %d, %d",
				issues, st.Found, st.Restarts, len(st.SearchTotals), maxFruitlessRestarts, maxFruitlessRestarts+1)
		}
	})
}
