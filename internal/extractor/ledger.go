package extractor

import (
	"sync"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// ledger is the account of one pass: every issue the search returned, once,
// in search order, with what became of it. It yields the watermark. Safe
// for concurrent use.
type ledger struct {
	mu     sync.Mutex
	issues []wire.PassIssue
	loaded []bool         // confirmed in ClickHouse (one-process form)
	index  map[string]int // issue id → position
	// frontier bounds the watermark by what the search has covered: the
	// issues it has not returned yet were updated at or after it. Zero
	// means the search covered everything it was asked for.
	frontier time.Time
	frozen   bool // a scroll lost issues somewhere: frontier stays put
	// ceiling, when set, is when the pass began: an issue edited after it
	// may have come back from the search as it was before (a scroll's
	// pages may be rendered when served or when it opened, and a
	// restarted search drops issues it has seen), so the watermark stays
	// at or before it and the next pass searches those edits again.
	ceiling time.Time
}

func newLedger(since time.Time) *ledger {
	return &ledger{index: map[string]int{}, frontier: since}
}

// add records an issue the search returned; it reports false for an issue
// this pass has already seen (a restarted search returns some again).
func (l *ledger) add(is wire.PassIssue) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i, ok := l.index[is.ID]; ok {
		return i, false
	}
	l.issues = append(l.issues, is)
	l.loaded = append(l.loaded, false)
	l.index[is.ID] = len(l.issues) - 1
	return len(l.issues) - 1, true
}

// count is the number of issues recorded.
func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.issues)
}

// seen moves the frontier to the update time of the last issue returned
// by a search sorted by Updated.
func (l *ledger) seen(updated time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.frozen && updated.After(l.frontier) {
		l.frontier = updated
	}
}

// freeze holds the frontier at t for the rest of the pass: the search
// lost issues and it is not known where.
func (l *ledger) freeze(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.frozen || t.Before(l.frontier) {
		l.frontier = t
	}
	l.frozen = true
}

// complete records that the search returned everything it matched.
func (l *ledger) complete() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.frontier, l.frozen = time.Time{}, false
}

// finish records the outcome of issue i.
func (l *ledger) finish(i int, set func(*wire.PassIssue)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	set(&l.issues[i])
}

// snapshot returns a copy of the issues.
func (l *ledger) snapshot() []wire.PassIssue {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]wire.PassIssue(nil), l.issues...)
}

// unconfirmed returns up to max positions of stored issues not yet
// confirmed loaded, in search order, stopping at the first issue that is
// not stored (the watermark cannot pass it anyway).
func (l *ledger) unconfirmed(max int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for i := range l.issues {
		if !l.issues[i].Outcome.Stored() {
			break
		}
		if !l.loaded[i] {
			out = append(out, i)
			if len(out) == max {
				break
			}
		}
	}
	return out
}

// confirm marks positions as loaded.
func (l *ledger) confirm(pos []int, ok []bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, i := range pos {
		if ok[k] {
			l.loaded[i] = true
		}
	}
}

// watermark returns the new watermark: never past an issue that is not
// done (by done), never past what the search has covered, never below
// since. With loaded, done means confirmed loaded; else stored.
func (l *ledger) watermark(since time.Time, loaded bool) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return watermarkOf(l.issues, func(i int) bool {
		if loaded {
			return l.loaded[i]
		}
		return l.issues[i].Outcome.Stored()
	}, l.bound(), since)
}

// bound is the later limit on the watermark: the frontier or the ceiling,
// whichever is earlier (zero: none).
func (l *ledger) bound() time.Time {
	if l.ceiling.IsZero() || (!l.frontier.IsZero() && l.frontier.Before(l.ceiling)) {
		return l.frontier
	}
	return l.ceiling
}

// watermarkOf is the update time up to which every issue is done: the
// earliest update time of an issue not done (the next search re-reads it,
// its condition is Updated >= watermark), else the latest of all; bounded
// by frontier (when set) and at least since.
func watermarkOf(issues []wire.PassIssue, done func(int) bool, frontier, since time.Time) time.Time {
	var last, firstOpen time.Time
	open := false
	for i := range issues {
		u := issues[i].Updated
		switch {
		case !done(i) && (!open || u.Before(firstOpen)):
			firstOpen, open = u, true
		case done(i) && u.After(last):
			last = u
		}
	}
	wm := last
	if open {
		wm = firstOpen
	}
	if !frontier.IsZero() && frontier.Before(wm) {
		wm = frontier
	}
	if wm.Before(since) {
		return since
	}
	return wm
}
