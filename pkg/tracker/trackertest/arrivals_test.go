package trackertest

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// MaxInWindow counts a sliding window: 3 requests, 400 ms apart, then 2
// more 900 ms later, have at most 3 in a second (0.0–0.8 s, or 0.8 s and
// the two at 1.7 s), not 5.
func TestMaxInWindowSlides(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{RecordArrivals: true})
		h := s.Handler()
		send := func() {
			r, _ := http.NewRequest(http.MethodGet, "/v2/statuses", nil)
			r.Header.Set("Authorization", "OAuth x")
			r.Header.Set("X-Org-ID", "1")
			h.ServeHTTP(discard{}, r)
		}
		for _, gap := range []time.Duration{0, 400 * time.Millisecond, 400 * time.Millisecond, 900 * time.Millisecond, 0} {
			time.Sleep(gap)
			send()
		}
		if n, _ := s.MaxInWindow(time.Second); n != 3 {
			t.Errorf("MaxInWindow(1s) = %d, want 3", n)
		}
		if n, _ := s.MaxInWindow(2 * time.Second); n != 5 {
			t.Errorf("MaxInWindow(2s) = %d, want 5", n)
		}
		s.ResetCounters()
		if n, _ := s.MaxInWindow(time.Second); n != 0 {
			t.Errorf("after ResetCounters, MaxInWindow = %d, want 0", n)
		}
	})
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}
