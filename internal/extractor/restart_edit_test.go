package extractor

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// an issue already processed in this pass is updated while the
// pass runs; then a scroll continuation fails (503) and the scroller
// restarts from the last issue seen. The restarted search returns the
// updated issue again (new updatedAt) but the ledger skips it as "already
// seen", while another issue updated even later is published: the
// watermark moves past the updated issue's new updatedAt although that
// state was never published. The next pass does not find it either.
func TestRestartSkipsIssueUpdatedDuringPass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const issues = 30 // three pages of 10
		h := newHarnessWith(t, trackertest.Options{Issues: issues, Seed: 9, Zone: time.UTC})
		keys := h.em.IssueKeys()
		// keys are not necessarily in updatedAt order: find the earliest.
		first := keys[0]
		for _, k := range keys {
			a, _ := h.em.Issue(k)
			b, _ := h.em.Issue(first)
			if a.UpdatedAt.Before(b.UpdatedAt) {
				first = k
			}
		}
		// The latest-updated issue: not returned before the break.
		last := keys[0]
		for _, k := range keys {
			a, _ := h.em.Issue(k)
			b, _ := h.em.Issue(last)
			if a.UpdatedAt.After(b.UpdatedAt) {
				last = k
			}
		}
		tx := h.lastUpdate().Add(time.Hour)
		var conts atomic.Int32
		proxy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("scrollId") != "" && conts.Add(1) == 2 {
				// While the pass runs: the first issue (published already)
				// is edited at tx, one not yet seen at tx+1h; then the
				// continuation fails.
				if err := h.em.Touch(first, tx); err != nil {
					t.Error(err)
				}
				if err := h.em.Touch(last, tx.Add(time.Hour)); err != nil {
					t.Error(err)
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"errorMessages":["unavailable"]}`))
				return
			}
			h.em.Handler().ServeHTTP(w, r)
		})
		tc := newClient(t, proxy, tracker.Config{MaxRetries: 3, BackoffBase: time.Millisecond})
		ex, store := h.statefulExtractor(t, tc, func(c *Config) {
			c.Concurrency = 1
			c.Query.Overlap = time.Minute
		})
		p, err := ex.RunOnce(context.Background())
		t.Logf("pass 1: err=%v found=%d published=%d restarts=%d", err, p.Found, p.Published, p.Restarts)
		if p.Restarts == 0 {
			t.Fatal("no restart: scenario not exercised")
		}
		s, _, _ := store.Load(context.Background(), "test")
		snap := h.snapshots(t)[first]
		lost1 := err == nil && s.Watermark.After(tx) && !snap.UpdatedAt.Equal(tx)
		t.Logf("watermark %s; %s updated at %s; its published snapshot has updatedAt %s", s.Watermark, first, tx, snap.UpdatedAt)
		// Next pass: the watermark minus overlap is past tx.
		p2, err2 := ex.RunOnce(context.Background())
		snap = h.snapshots(t)[first]
		t.Logf("pass 2: err=%v found=%d; %s snapshot updatedAt %s", err2, p2.Found, first, snap.UpdatedAt)
		if lost1 && !snap.UpdatedAt.Equal(tx) {
			t.Errorf("LOSS: pass reported success, watermark %s moved past %s's update at %s, which was never published (stored snapshot updatedAt %s)",
				s.Watermark, first, tx, snap.UpdatedAt)
		}
	})
}
