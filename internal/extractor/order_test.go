package extractor

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// The changelog order is only [INF] "oldest first" (§4.2). Under a server
// that answers newest first, a new comment must still be fetched: the
// carry-over of a part compares every event of the part, not the last
// array element that mentions it (the oldest one then, which never
// changes).
func TestNewestFirstChangelogFetchesNewComments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, trackertest.Options{Issues: 40, Seed: 9, Zone: time.UTC})
		tc := newClient(t, newestFirstServer(h.em), tracker.Config{MaxRetries: 3, BackoffBase: time.Millisecond})
		ex, err := New(Config{
			Config: extractorcfg.Config{Query: QueryConfig{Custom: `Updated: >= "2000-01-01 00:00:00"`}, Concurrency: 4, ChangelogPageSize: 1000},
			Parts:  wire.PartComments,
		}, Deps{Tracker: tc, JS: h.js, Stored: &stream.RawSnapshots{JS: h.js}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		var key string
		for _, k := range h.em.IssueKeys() {
			if len(h.em.Comments(k)) > 0 {
				key = k
				break
			}
		}
		if key == "" {
			t.Fatal("no issue with comments")
		}
		id, err := h.em.AddComment(key, "new comment", h.lastUpdate().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ex.RunOnce(ctx)
		s := issueSnapshots(t, h)[key]
		got := idsOf(t, s.Comments)
		t.Logf("pass 2 err=%v published=%d; %s comments in snapshot %v, emulator has %d", err, p.Published, key, got, len(h.em.Comments(key)))
		if err != nil {
			t.Fatalf("pass 2: %v", err)
		}
		if !slices.Contains(got, itoa(id)) {
			t.Errorf("LOSS: comment %d added to %s is not in its new snapshot (comments carried over), pass reported success", id, key)
		}
	})
}

// newestFirstServer answers changelogs newest first, with a cursor that
// goes on from the entry named (to older ones): the reading of §4 the
// incremental fetch must not lose entries under. Other requests go to
// the emulator as they are.
func newestFirstServer(em *trackertest.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/changelog") {
			em.Handler().ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		after := q.Get("id")
		q.Del("id")
		q.Set("perPage", "1000")
		full := r.Clone(r.Context())
		full.URL.RawQuery = q.Encode()
		rec := httptest.NewRecorder()
		em.Handler().ServeHTTP(rec, full)
		var arr []json.RawMessage
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &arr) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		slices.Reverse(arr)
		if after != "" {
			for i, raw := range arr {
				var e struct{ ID json.RawMessage }
				if json.Unmarshal(raw, &e) == nil && strings.Trim(string(e.ID), `"`) == after {
					arr = arr[i+1:]
					break
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(arr)
		_, _ = w.Write(b)
	})
}

// On a server that lists changelogs newest first, the entries after the
// stored ones are the older ones: the fetch of only what is new would
// drop a new entry, so the whole history is fetched instead.
func TestNewestFirstChangelogIsFetchedWhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, trackertest.Options{Issues: 40, Seed: 9, Zone: time.UTC})
		tc := newClient(t, newestFirstServer(h.em), tracker.Config{MaxRetries: 3, BackoffBase: time.Millisecond})
		ex, err := New(Config{
			Config: extractorcfg.Config{Query: QueryConfig{Custom: `Updated: >= "2000-01-01 00:00:00"`}, Concurrency: 4, ChangelogPageSize: 1000},
		}, Deps{Tracker: tc, JS: h.js, Stored: &stream.RawSnapshots{JS: h.js}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		key := h.withHistory(t, 3)
		if _, err := h.em.AddComment(key, "new comment", h.lastUpdate().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatalf("pass 2: %v", err)
		}
		if got, want := len(issueSnapshots(t, h)[key].Changelog), h.em.ChangelogLen(key); got != want {
			t.Errorf("%s: the snapshot after the second pass holds %d changelog entries, the emulator %d", key, got, want)
		}
	})
}
