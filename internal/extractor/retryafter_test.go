package extractor

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// Retry-After is [UNK] (§6.3). A 429 whose Retry-After is one day, on one
// issue's changelog, must not hold the pass (nor, through the adaptive
// limit's pause, every request of the client) for that day: the wait is
// capped by tracker.MaxRetryAfter, the issue fails for this pass, is
// reported, holds the watermark and is exported by the next pass.
func TestHugeRetryAfterDoesNotStallThePass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarnessWith(t, trackertest.Options{Issues: 20, Seed: 9, Zone: time.UTC})
		victim := h.em.IssueKeys()[3]
		var refuse atomic.Bool
		refuse.Store(true)
		proxy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if refuse.Load() && strings.Contains(r.URL.Path, "/issues/"+victim+"/changelog") {
				w.Header().Set("Retry-After", "86400")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"errorMessages":["Too many requests"]}`))
				return
			}
			h.em.Handler().ServeHTTP(w, r)
		})
		tc := newClient(t, proxy, tracker.Default()) // BackoffMax 30s, 10 retries, adaptive
		ex, store := h.statefulExtractor(t, tc, func(c *Config) { c.TimeBudget = time.Minute })
		ctx := context.Background()
		start := time.Now()
		p, err := ex.RunOnce(ctx)
		took := time.Since(start)
		t.Logf("pass took %s (fake clock), err=%v, published=%d failed=%d %v", took, err, p.Published, p.Failed, p.FailedKeys)
		if took > tracker.MaxRetryAfter+2*time.Minute {
			t.Errorf("STALL: one Retry-After of 1 day held the pass %s, want at most about %s", took, tracker.MaxRetryAfter)
		}
		if err == nil || !slices.Contains(p.FailedKeys, victim) {
			t.Errorf("pass err=%v, failed %v: want an error naming %s", err, p.FailedKeys, victim)
		}
		is, _ := h.em.Issue(victim)
		if s, ok, _ := store.Load(ctx, "test"); ok && s.Watermark.After(is.UpdatedAt) {
			t.Errorf("watermark %s moved past the failed %s (updated %s)", s.Watermark, victim, is.UpdatedAt)
		}
		if _, ok := issueSnapshots(t, h)[victim]; ok {
			t.Errorf("%s published although its changelog was refused", victim)
		}

		refuse.Store(false)
		if _, err := ex.RunOnce(ctx); err != nil {
			t.Fatalf("next pass, no refusals: %v", err)
		}
		if _, ok := issueSnapshots(t, h)[victim]; !ok {
			t.Errorf("%s not exported by the next pass", victim)
		}
	})
}
