package extractor

import (
	"bytes"
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// TestIncrementalChangelog: on a second pass over issues whose long
// histories each got one new entry, each changelog costs one request, and
// the merged snapshot is byte for byte what a full fetch gives.
func TestIncrementalChangelog(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// The passes take the last 20 of 360 issues (the emulator's are
		// in the order of their updates), among them one 3-page history.
		h := newHarnessWith(t, trackertest.Options{Issues: 360, Seed: 9, Zone: time.UTC})
		keys := h.em.IssueKeys()[340:]
		from, _ := h.em.Issue(keys[0])
		query := `Updated: >= "` + from.UpdatedAt.UTC().Format(time.DateTime) + `"`
		ex, err := New(Config{Config: extractorcfg.Config{Query: QueryConfig{Custom: query}, Concurrency: 8, ChangelogPageSize: 100}},
			Deps{Tracker: h.tc, JS: h.js, Stored: &stream.RawSnapshots{JS: h.js}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if p, err := ex.RunOnce(ctx); err != nil || p.Found != len(keys) {
			t.Fatalf("first pass: %d issues found, want %d (%v)", p.Found, len(keys), err)
		}
		var long []string
		for _, k := range keys {
			if n := h.em.ChangelogLen(k); n > 200 && n < 300 {
				long = append(long, k)
			}
		}
		if len(long) == 0 {
			t.Fatal("no issue with 200-300 changelog entries in the emulator")
		}
		at := time.Now()
		for _, k := range long {
			if err := h.em.Touch(k, at); err != nil {
				t.Fatal(err)
			}
		}
		h.em.ResetCounters()
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		total := int64(len(keys))
		if got := h.em.Requests(trackertest.EpChangelog); got != total {
			t.Errorf("second pass: %d changelog requests for %d issues, want one each (%d issues with 3-page histories changed)", got, total, len(long))
		}
		// The merged histories equal full fetches (made after the count).
		snaps := issueSnapshots(t, h)
		for _, k := range long {
			full, err := h.tc.Changelog(ctx, k, 100)
			if err != nil {
				t.Fatal(err)
			}
			got := snaps[k].Changelog
			if len(got) != len(full) || len(full) != h.em.ChangelogLen(k) {
				t.Fatalf("%s: %d entries merged, %d fetched, emulator %d", k, len(got), len(full), h.em.ChangelogLen(k))
			}
			for i := range full {
				if !bytes.Equal(got[i], full[i].Raw) {
					t.Fatalf("%s entry %d differs from a full fetch:\n%s\n%s", k, i, got[i], full[i].Raw)
				}
			}
		}
	})
}

// A stored history that is not a prefix of the current one (its last
// entry differs) is fetched whole again.
func TestIncrementalChangelogFallsBack(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 30)
		raw := &stream.RawSnapshots{JS: h.js}
		ex, err := New(Config{Config: extractorcfg.Config{Query: QueryConfig{Custom: `Updated: >= "2000-01-01 00:00:00"`}, Concurrency: 4, ChangelogPageSize: 100}},
			Deps{Tracker: h.tc, JS: h.js, Stored: raw})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		key := h.withHistory(t, 3)
		snap := issueSnapshots(t, h)[key]
		// Corrupt the stored last entry, as if Tracker had rewritten it.
		last := len(snap.Changelog) - 1
		snap.Changelog[last] = bytes.Replace(snap.Changelog[last], []byte(`"updatedAt":"`), []byte(`"updatedAt" : "`), 1)
		if err := raw.Republish(ctx, snap, "test"); err != nil {
			t.Fatal(err)
		}
		if err := h.em.Touch(key, time.Now()); err != nil {
			t.Fatal(err)
		}
		h.em.ResetCounters()
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		requests := h.em.Requests(trackertest.EpChangelog)
		after := issueSnapshots(t, h)[key]
		full, err := h.tc.Changelog(ctx, key, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(after.Changelog) != len(full) || !bytes.Equal(after.Changelog[last], full[last].Raw) {
			t.Errorf("after the fallback: %d entries (want %d), entry %d %s", len(after.Changelog), len(full), last, after.Changelog[last])
		}
		pages := int64(max(1, (len(full)+99)/100))
		if got := requests; got != int64(len(h.em.IssueKeys()))+pages {
			t.Errorf("%d changelog requests, want one per issue plus the full fetch's %d pages (%s: %d entries; %d issues)", got, pages, key, len(full), len(h.em.IssueKeys()))
		}
	})
}

// withHistory is the first issue of the emulator with at least n
// changelog entries.
func (h *harness) withHistory(t *testing.T, n int) string {
	t.Helper()
	for _, k := range h.em.IssueKeys() {
		if h.em.ChangelogLen(k) >= n {
			return k
		}
	}
	t.Fatalf("no issue with a history of %d entries or more", n)
	return ""
}
