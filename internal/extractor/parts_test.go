package extractor

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// partEvents are the changelog entry types that announce each part (the
// issue's list, written out here rather than taken from partKinds).
var partEvents = map[string][]string{
	trackertest.EpComments: {"IssueCommentAdded", "IssueCommentUpdated", "IssueCommentRemoved"},
	trackertest.EpWorklog:  {"IssueWorklogAdded", "IssueWorklogUpdated", "IssueWorklogRemoved"},
	trackertest.EpLinks:    {"IssueLinked", "IssueLinkChanged", "IssueUnlinked"},
}

// announced reports whether a snapshot's changelog shows the part of ep:
// an entry of its types, or (comments) a transition carrying one.
func announced(t *testing.T, s *wire.IssueSnapshot, ep string) bool {
	t.Helper()
	for _, raw := range s.Changelog {
		var e struct {
			Type     string          `json:"type"`
			Comments json.RawMessage `json:"comments"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(partEvents[ep], e.Type) || ep == trackertest.EpComments && len(e.Comments) > 0 && string(e.Comments) != "null" {
			return true
		}
	}
	return false
}

// idsOf returns the "id" of each JSON item.
func idsOf(t *testing.T, items [][]byte) []string {
	t.Helper()
	var out []string
	for _, it := range items {
		var v struct {
			ID json.Number `json:"id"`
		}
		if err := json.Unmarshal(it, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.ID.String())
	}
	return out
}

func allParts(h *harness) (*Extractor, error) {
	return allPartsOf(h, `Updated: >= "2000-01-01 00:00:00"`)
}

// allPartsOf is allParts for the issues of a query.
func allPartsOf(h *harness, query string) (*Extractor, error) {
	return New(Config{
		Config: extractorcfg.Config{
			Query:             QueryConfig{Custom: query},
			Concurrency:       8,
			ChangelogPageSize: 100,
		},
		Parts:     wire.PartComments | wire.PartWorklogs | wire.PartLinks,
		Directory: true,
	},
		Deps{Tracker: h.tc, JS: h.js, Stored: &stream.RawSnapshots{JS: h.js}})
}

// TestPartsFetchedOnlyWhenAnnouncedAndChanged: every snapshot carries the
// emulator's comments, worklogs and links; each endpoint is asked once per
// issue whose changelog shows the part, and a second pass over unchanged
// issues asks nothing; a change asks for that issue's part only.
func TestPartsFetchedOnlyWhenAnnouncedAndChanged(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// The passes take issues 100-129: every part, and issue 125 has
		// more comments than a page.
		h := newHarnessWith(t, trackertest.Options{Issues: 130, Seed: 9, Zone: time.UTC})
		keys := h.em.IssueKeys()[100:]
		from, _ := h.em.Issue(keys[0])
		ex, err := allPartsOf(h, `Updated: >= "`+from.UpdatedAt.UTC().Format(time.DateTime)+`"`)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		snaps := issueSnapshots(t, h)
		want := map[string]int64{}
		multiPage := false
		for _, k := range keys {
			s := snaps[k]
			if s == nil {
				t.Fatalf("no snapshot of %s", k)
			}
			var comments, worklogs, links []string
			for _, c := range h.em.Comments(k) {
				comments = append(comments, itoa(c.ID))
			}
			for _, w := range h.em.Worklogs(k) {
				worklogs = append(worklogs, itoa(w.ID))
			}
			for _, l := range h.em.Links(k) {
				links = append(links, itoa(l.ID))
			}
			for _, c := range []struct {
				ep        string
				got, want []string
			}{{trackertest.EpComments, idsOf(t, s.Comments), comments}, {trackertest.EpWorklog, idsOf(t, s.Worklogs), worklogs}, {trackertest.EpLinks, idsOf(t, s.Links), links}} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s %s: snapshot has %v, emulator %v", k, c.ep, c.got, c.want)
				}
				if announced(t, s, c.ep) {
					pages := max(1, (len(c.want)+99)/100) // of 100
					want[c.ep] += int64(pages)
					multiPage = multiPage || pages > 1
				} else if len(c.want) > 0 {
					t.Errorf("%s has %s that its changelog never shows", k, c.ep)
				}
			}
		}
		for ep := range partEvents {
			n := want[ep]
			if got := h.em.Requests(ep); got != n {
				t.Errorf("%s: %d requests, want %d (the pages of the issues whose changelog shows the part)", ep, got, n)
			}
			if n == 0 {
				t.Errorf("no issue of the pass has %s: the test exercises nothing", ep)
			}
		}
		if !multiPage {
			t.Errorf("no issue of the pass has more than a page of a part")
		}
		if h.em.Requests(trackertest.EpBoards) != 1 || h.em.Requests(trackertest.EpSprints) != int64(len(h.em.Boards())) {
			t.Errorf("boards %d requests, sprints %d; want 1 and one per board (%d)", h.em.Requests(trackertest.EpBoards), h.em.Requests(trackertest.EpSprints), len(h.em.Boards()))
		}

		// Nothing changed: the parts are carried over.
		h.em.ResetCounters()
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		for ep := range partEvents {
			if n := h.em.Requests(ep); n != 0 {
				t.Errorf("second pass over unchanged issues: %d requests to %s", n, ep)
			}
		}

		// A comment edited on one issue: only its comments are fetched.
		var key string
		for _, k := range keys {
			if len(h.em.Comments(k)) > 0 {
				key = k
				break
			}
		}
		c := h.em.Comments(key)[0]
		if err := h.em.EditComment(key, c.ID, "edited text", time.Now()); err != nil {
			t.Fatal(err)
		}
		h.em.ResetCounters()
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if n, w := h.em.Requests(trackertest.EpComments), h.em.Requests(trackertest.EpWorklog)+h.em.Requests(trackertest.EpLinks); n != 1 || w != 0 {
			t.Errorf("after one comment edit: %d comment requests (want 1), %d worklog and link requests (want 0)", n, w)
		}
		s := issueSnapshots(t, h)[key]
		if !strings.Contains(string(s.Comments[0]), "edited text") {
			t.Errorf("the edited comment is not in the new snapshot: %s", s.Comments[0])
		}
	})
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// issueSnapshots reads the latest snapshot of every issue, by key.
func issueSnapshots(t *testing.T, h *harness) map[string]*wire.IssueSnapshot {
	t.Helper()
	raw := &stream.RawSnapshots{JS: h.js}
	ids, err := raw.Known(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*wire.IssueSnapshot{}
	for _, id := range ids {
		s, ok, err := raw.Snapshot(context.Background(), id)
		if err != nil || !ok {
			t.Fatalf("snapshot %s: %v %v", id, ok, err)
		}
		out[s.IssueKey] = s
	}
	return out
}

// TestReconcile: a deleted and a hidden issue get tombstones in the raw
// stream, a hidden one given back loses it, a moved one is no deletion,
// and the listing takes ⌈issues / 1000⌉ requests.
func TestReconcile(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// More than one listing page (1000), the least that shows the count.
		h := newHarness(t, 1100)
		ctx := context.Background()
		// The raw stream need not hold every listed issue (the others are
		// unexported): a pass over the first 40 issues and every moved
		// one stores the deleted, the hidden and the moved issues for a
		// tenth of the work of a pass over all 1100.
		keys := h.em.IssueKeys()
		stored := slices.Clone(keys[:40])
		moved := 0
		for _, k := range keys[40:] {
			if info, _ := h.em.Issue(k); len(info.Aliases) > 0 {
				stored = append(stored, k)
				moved++
			}
		}
		if moved == 0 {
			t.Fatal("no moved issue among 1100: the test does not show that a move is no deletion")
		}
		first, err := allPartsOf(h, "Key: "+strings.Join(stored, ", "))
		if err != nil {
			t.Fatal(err)
		}
		if p, err := first.RunOnce(ctx); err != nil || p.Published != len(stored) {
			t.Fatalf("first pass: %d of %d issues published, %v", p.Published, len(stored), err)
		}
		ex, err := allParts(h)
		if err != nil {
			t.Fatal(err)
		}
		del, hid := keys[10], keys[20]
		delInfo, _ := h.em.Issue(del)
		hidInfo, _ := h.em.Issue(hid)
		if err := h.em.DeleteIssue(del); err != nil {
			t.Fatal(err)
		}
		if err := h.em.HideIssue(hid); err != nil {
			t.Fatal(err)
		}
		h.em.ResetCounters()
		rec, err := ex.Reconcile(ctx, ReconcileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantGone := []string{delInfo.ID, hidInfo.ID}
		slices.Sort(wantGone)
		if !slices.Equal(rec.Gone, wantGone) || len(rec.Restored) != 0 {
			t.Errorf("gone %v restored %v, want gone %v", rec.Gone, rec.Restored, wantGone)
		}
		listed := len(keys) - 2
		if rec.Listed != listed || h.em.Requests(trackertest.EpSearch) > int64((listed+999)/1000)+1 || int64(rec.Requests) != h.em.Requests(trackertest.EpSearch) {
			t.Errorf("listed %d in %d requests (emulator saw %d); want %d in %d", rec.Listed, rec.Requests, h.em.Requests(trackertest.EpSearch), listed, (listed+999)/1000)
		}
		snaps := issueSnapshots(t, h)
		for _, k := range []string{del, hid} {
			if s := snaps[k]; !s.Deleted || s.DeletedAt.IsZero() {
				t.Errorf("%s: snapshot deleted=%v at %s, want a tombstone", k, s.Deleted, s.DeletedAt)
			}
		}
		if snaps[keys[30]].Deleted {
			t.Errorf("%s was tombstoned", keys[30])
		}
		// Again: nothing new (the tombstones stand), then the hidden issue
		// is back. The scope of the first pass holds every stored issue:
		// its listing decides the same as the whole one, in one request.
		if rec, err = first.Reconcile(ctx, ReconcileOptions{}); err != nil || len(rec.Gone) != 0 {
			t.Fatalf("second reconciliation: gone %v, err %v", rec.Gone, err)
		}
		if err := h.em.UnhideIssue(hid); err != nil {
			t.Fatal(err)
		}
		if rec, err = first.Reconcile(ctx, ReconcileOptions{}); err != nil || !slices.Equal(rec.Restored, []string{hidInfo.ID}) {
			t.Fatalf("after unhiding: restored %v, err %v", rec.Restored, err)
		}
		if s := issueSnapshots(t, h)[hid]; s.Deleted {
			t.Errorf("%s is back but its snapshot is still a tombstone", hid)
		}
	})
}

// TestReconcileRefusesMassDeletion: a token that lost access to most
// issues tombstones nothing unless forced.
func TestReconcileRefusesMassDeletion(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 40)
		ex, err := allParts(h)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		for _, k := range h.em.IssueKeys()[:30] {
			if err := h.em.HideIssue(k); err != nil {
				t.Fatal(err)
			}
		}
		rec, err := ex.Reconcile(ctx, ReconcileOptions{})
		if err == nil || len(rec.Gone) != 0 {
			t.Fatalf("gone %d, err %v; want a refusal", len(rec.Gone), err)
		}
		if rec, err = ex.Reconcile(ctx, ReconcileOptions{Force: true}); err != nil || len(rec.Gone) < 30 {
			t.Fatalf("forced: gone %d, err %v", len(rec.Gone), err)
		}
	})
}
