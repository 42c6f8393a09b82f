package extractor

import (
	"sync"
	"time"
)

// watermark tracks issues in search order (Updated ascending) and yields
// the point up to which every issue has been acknowledged: the update time
// of the first issue that failed, else of the last issue of the longest
// fully acknowledged prefix. Memory is bounded by the issues in flight.
type watermark struct {
	mu       sync.Mutex
	pending  map[int]time.Time // seq → updatedAt, not yet released
	finished map[int]bool      // seq → ok, finished but not yet released
	next     int               // lowest seq not yet released
	last     time.Time         // updatedAt of the last released issue
	stopped  bool              // a failed issue was released: no further advance
	stopAt   time.Time         // updatedAt of that issue
}

func newWatermark() *watermark {
	return &watermark{pending: map[int]time.Time{}, finished: map[int]bool{}, next: 1}
}

func (w *watermark) add(seq int, updated time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending[seq] = updated
}

// done marks seq finished; ok=false records a failure.
func (w *watermark) done(seq int, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.finished[seq] = ok
	for {
		okNext, fin := w.finished[w.next]
		if !fin {
			return
		}
		if !w.stopped {
			if okNext {
				w.last = w.pending[w.next]
			} else {
				w.stopped, w.stopAt = true, w.pending[w.next]
			}
		}
		delete(w.finished, w.next)
		delete(w.pending, w.next)
		w.next++
	}
}

// value returns the new watermark. since is the lower bound the search
// used; the watermark never goes below it.
func (w *watermark) value(since time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	wm := w.last
	if w.stopped {
		wm = w.stopAt
	}
	if wm.Before(since) {
		return since
	}
	return wm
}
