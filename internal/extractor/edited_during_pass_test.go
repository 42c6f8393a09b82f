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

// An issue published from the first page is edited at tx while the pass
// runs, and a later one at tx+1h. Either the scroll's later pages are
// rendered as they are when served (the emulator's reading of §2.5 "scroll
// works on a snapshot": membership fixed, content not), or the next
// continuation fails and the restarted search returns the first issue's
// new state, which the ledger drops as already seen. Both ways the pass
// sees the later edit and not the first: the watermark must not pass the
// first edit, so that the next pass exports it.
func TestEditDuringPassIsExportedNextPass(t *testing.T) {
	for _, c := range []struct {
		name string
		fail bool // the continuation after the edits fails (503)
	}{
		{"pages rendered when served", false},
		{"restarted search", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarnessWith(t, trackertest.Options{Issues: 30, Seed: 9, Zone: time.UTC})
				order := h.keysByUpdate()
				first, late := order[0], order[len(order)-1]
				tx := h.lastUpdate().Add(time.Hour)
				var conts atomic.Int32
				proxy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Query().Get("scrollId") != "" && conts.Add(1) == 2 {
						if err := h.em.Touch(first, tx); err != nil {
							t.Error(err)
						}
						if err := h.em.Touch(late, tx.Add(time.Hour)); err != nil {
							t.Error(err)
						}
						if c.fail {
							w.WriteHeader(http.StatusServiceUnavailable)
							_, _ = w.Write([]byte(`{"errorMessages":["unavailable"]}`))
							return
						}
					}
					h.em.Handler().ServeHTTP(w, r)
				})
				tc := newClient(t, proxy, tracker.Config{MaxRetries: 3, BackoffBase: time.Millisecond})
				ex, store := h.statefulExtractor(t, tc, func(c *Config) { c.Concurrency = 1; c.Query.Overlap = time.Minute })
				p, err := ex.RunOnce(context.Background())
				if err != nil {
					t.Fatalf("pass 1: %v", err)
				}
				if c.fail && p.Restarts == 0 {
					t.Fatal("no restart: scenario not exercised")
				}
				s, _, _ := store.Load(context.Background(), "test")
				if _, err := ex.RunOnce(context.Background()); err != nil {
					t.Fatalf("pass 2: %v", err)
				}
				if snap := h.snapshots(t)[first]; !snap.UpdatedAt.Equal(tx) {
					t.Errorf("%s edited at %s during pass 1 (watermark then %s): after pass 2 its snapshot is still of %s",
						first, tx, s.Watermark, snap.UpdatedAt)
				}
			})
		})
	}
}
