package extractor

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// ledger is the account of one pass: every issue the search returned, once,
// in search order, with what became of it. It yields the watermark. Safe
// for concurrent use.
//
// It holds every issue of a pass, so it is kept small and free of
// pointers (the collector does not scan it): an issue's id and key are
// bytes of one text, its other fields a record of fixed size, and the
// index from id to position is keyed by a hash of the id, checked against
// the text. As wire.PassIssue values with a map of ids, 100 000 issues
// took some 18 MB, which pushed the extractor past its memory target.
type ledger struct {
	mu      sync.Mutex
	records []record
	text    []byte           // the ids and keys of the records, back to back
	byHash  map[uint64]int32 // hash of an id → position of the first issue with it
	clash   map[string]int32 // ids whose hash an earlier, different id has
	reasons map[int32]string // why the failed issues failed
	hash    func(string) uint64
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

// record is an issue of the ledger but its id, key and reason.
type record struct {
	at            int // offset of the id in text; the key follows it
	idLen, keyLen int32
	version       uint64
	updatedSec    int64 // Updated, UTC
	updatedNsec   int32
	changes       int32
	outcome       wire.Outcome
	loaded        bool // confirmed in ClickHouse (one-process form)
}

var ledgerSeed = maphash.MakeSeed()

func newLedger(since time.Time) *ledger {
	return &ledger{byHash: map[uint64]int32{}, clash: map[string]int32{}, reasons: map[int32]string{}, frontier: since,
		hash: func(id string) uint64 { return maphash.String(ledgerSeed, id) }}
}

// add records an issue the search returned; it reports false for an issue
// this pass has already seen (a restarted search returns some again).
func (l *ledger) add(is wire.PassIssue) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hash(is.ID)
	pos := int32(len(l.records))
	if i, taken := l.byHash[h]; !taken {
		l.byHash[h] = pos
	} else if r := &l.records[i]; string(l.text[r.at:r.at+int(r.idLen)]) == is.ID {
		return int(i), false
	} else if j, seen := l.clash[is.ID]; seen {
		return int(j), false
	} else {
		l.clash[is.ID] = pos
	}
	e := record{at: len(l.text), idLen: int32(len(is.ID)), keyLen: int32(len(is.Key)), version: is.Version, changes: int32(is.Changes), outcome: is.Outcome}
	e.updatedSec, e.updatedNsec = is.Updated.Unix(), int32(is.Updated.Nanosecond())
	l.text = append(append(l.text, is.ID...), is.Key...)
	l.records = append(l.records, e)
	if is.Reason != "" {
		l.reasons[pos] = is.Reason
	}
	return int(pos), true
}

// issue returns the issue at position i.
func (l *ledger) issue(i int) wire.PassIssue {
	e := &l.records[i]
	key := e.at + int(e.idLen)
	return wire.PassIssue{
		ID:      string(l.text[e.at:key]),
		Key:     string(l.text[key : key+int(e.keyLen)]),
		Version: e.version,
		Updated: l.updated(i),
		Changes: int(e.changes),
		Outcome: e.outcome,
		Reason:  l.reasons[int32(i)],
	}
}

// updated is the update time of the issue at position i.
func (l *ledger) updated(i int) time.Time {
	e := &l.records[i]
	return time.Unix(e.updatedSec, int64(e.updatedNsec)).UTC()
}

// count is the number of issues recorded.
func (l *ledger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.records)
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

// finish records the outcome of issue i: set may change its outcome,
// changes, version and reason.
func (l *ledger) finish(i int, set func(*wire.PassIssue)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	is := l.issue(i)
	set(&is)
	e := &l.records[i]
	e.outcome, e.changes, e.version = is.Outcome, int32(is.Changes), is.Version
	if is.Reason != "" {
		l.reasons[int32(i)] = is.Reason
	} else {
		delete(l.reasons, int32(i))
	}
}

// snapshot returns the issues.
func (l *ledger) snapshot() []wire.PassIssue {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]wire.PassIssue, len(l.records))
	for i := range l.records {
		out[i] = l.issue(i)
	}
	return out
}

// issuesAt returns the issues at positions pos.
func (l *ledger) issuesAt(pos []int) []wire.PassIssue {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]wire.PassIssue, len(pos))
	for k, i := range pos {
		out[k] = l.issue(i)
	}
	return out
}

// unconfirmed returns up to max positions of stored issues not yet
// confirmed loaded, in search order, stopping at the first issue that is
// not stored (the watermark cannot pass it anyway).
func (l *ledger) unconfirmed(max int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for i := range l.records {
		if !l.records[i].outcome.Stored() {
			break
		}
		if !l.records[i].loaded {
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
			l.records[i].loaded = true
		}
	}
}

// watermark returns the new watermark: never past an issue that is not
// done (by done), never past what the search has covered, never below
// since. With loaded, done means confirmed loaded; else stored.
func (l *ledger) watermark(since time.Time, loaded bool) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return watermarkOf(len(l.records), l.updated, func(i int) bool {
		if loaded {
			return l.records[i].loaded
		}
		return l.records[i].outcome.Stored()
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

// watermarkOf is the update time up to which every one of n issues is done: the
// earliest update time of an issue not done (the next search re-reads it,
// its condition is Updated >= watermark), else the latest of all; bounded
// by frontier (when set) and at least since.
func watermarkOf(n int, updated func(int) time.Time, done func(int) bool, frontier, since time.Time) time.Time {
	var last, firstOpen time.Time
	open := false
	for i := range n {
		u := updated(i)
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
