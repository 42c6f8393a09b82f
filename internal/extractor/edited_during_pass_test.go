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

// Same root as TestRestartSkipsIssueUpdatedDuringPass but with
// no failure at all: the scroll's membership is a snapshot but the issues
// of later pages are rendered as they are when served (the emulator's own
// reading of §2.5 "Scroll works on a snapshot"). An issue published from
// page 1 is edited at tx, one of page 3 at tx+1h: page 3 shows the latter
// at tx+1h, the watermark goes there, and the edit at tx is never
// exported.
func TestLiveRenderedScrollPassesEarlierEdit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, trackertest.Options{Issues: 30, Seed: 9, Zone: time.UTC})
		var order []string
		// search order = updatedAt order
		keys := h.em.IssueKeys()
		order = append(order, keys...)
		for i := range order {
			for j := i + 1; j < len(order); j++ {
				a, _ := h.em.Issue(order[i])
				b, _ := h.em.Issue(order[j])
				if b.UpdatedAt.Before(a.UpdatedAt) {
					order[i], order[j] = order[j], order[i]
				}
			}
		}
		first, late := order[0], order[25]
		tx := h.lastUpdate().Add(time.Hour)
		var conts atomic.Int32
		proxy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("scrollId") != "" && conts.Add(1) == 2 {
				_ = h.em.Touch(first, tx)
				_ = h.em.Touch(late, tx.Add(time.Hour))
			}
			h.em.Handler().ServeHTTP(w, r)
		})
		tc := newClient(t, proxy, tracker.Config{MaxRetries: 3, BackoffBase: time.Millisecond})
		ex, store := h.statefulExtractor(t, tc, func(c *Config) { c.Concurrency = 1; c.Query.Overlap = 5 * time.Minute })
		p, err := ex.RunOnce(context.Background())
		s, _, _ := store.Load(context.Background(), "test")
		p2, err2 := ex.RunOnce(context.Background())
		snap := h.snapshots(t)[first]
		t.Logf("pass1 err=%v restarts=%d published=%d watermark=%s; pass2 err=%v found=%d; %s edited at %s, stored snapshot updatedAt %s",
			err, p.Restarts, p.Published, s.Watermark, err2, p2.Found, first, tx, snap.UpdatedAt)
		if err == nil && s.Watermark.After(tx) && !snap.UpdatedAt.Equal(tx) {
			t.Errorf("LOSS: edit of %s at %s never exported; watermark %s", first, tx, s.Watermark)
		}
	})
}
