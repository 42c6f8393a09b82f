package extractor

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// maxFruitlessRestarts bounds the restarts of a search that return
// nothing new.
const maxFruitlessRestarts = 3

// scroller is the search of one pass as a sequence of the issues it
// finds, each once, whatever the scrolls do.
//
// A scroll that breaks off restarts from the last issue seen (in Updated
// order; from the start, skipping what was seen, for a custom query). The
// attempts since the last full start form a chain: the issues the broken
// ones returned plus the total of the one that finished must reach the
// total the first counted, or issues went missing on the way (a proxy that
// re-sent a request, a server that skipped a page). Then, as when a single
// scroll ends short of its total, the search runs again from the chain's
// start, and the watermark stays there. It gives up after
// maxFruitlessRestarts attempts in a row that found nothing new.
type scroller struct {
	e      *Extractor
	p      *Pass
	led    *ledger
	log    *slog.Logger
	sorted bool // by Updated: restarts can go on from the last issue seen

	query string
	since time.Time
	// The chain of attempts since the last full start.
	chainStart            time.Time
	chainTotal, chainSeen int
	lastSeen              time.Time

	err error
}

// attempt is what one scroll of the chain returned.
type attempt struct {
	n                      int
	total, returned, fresh int
}

func (e *Extractor) newScroller(p *Pass, led *ledger, log *slog.Logger) *scroller {
	return &scroller{e: e, p: p, led: led, log: log, sorted: e.cfg.Query.Mode() != ModeCustom,
		query: p.Query, since: p.Since, chainStart: p.Since, chainTotal: -1}
}

// errStopped ends a scroll whose consumer stopped ranging.
var errStopped = errors.New("stopped")

// Issues yields every issue the search finds, once, with its position in
// the ledger. After the loop, Err says why the search could not return
// everything (nil when it did, or the consumer stopped).
func (s *scroller) Issues(ctx context.Context) iter.Seq2[int, tracker.Issue] {
	return func(yield func(int, tracker.Issue) bool) {
		fruitless := 0
		for n := 1; ; n++ {
			a := attempt{n: n, total: -1}
			err := s.e.deps.Tracker.Search(ctx, s.request(), func(pg tracker.SearchPage) error { return s.page(pg, &a, yield) })
			if errors.Is(err, errStopped) {
				return
			}
			err = s.checkChain(err, a)
			if err == nil || ctx.Err() != nil || !s.restart(err, a) {
				s.err = err
				if err == nil {
					s.led.complete()
				}
				return
			}
			if fruitless = next(fruitless, a.fresh); fruitless >= maxFruitlessRestarts {
				s.err = fmt.Errorf("gave up after %d restarts that found nothing new: %w", fruitless, err)
				return
			}
			s.p.Restarts++
			s.e.deps.Metrics.Count("search_restarts_count", 1)
			s.log.Warn("search restarted", "attempt", n+1, "from", s.since, "found_so_far", s.led.count(), "err", err)
		}
	}
}

// Err is why the search stopped short, if it did.
func (s *scroller) Err() error { return s.err }

// next counts the attempts in a row that found nothing new.
func next(fruitless, fresh int) int {
	if fresh == 0 {
		return fruitless + 1
	}
	return 0
}

func (s *scroller) request() tracker.SearchRequest {
	return tracker.SearchRequest{Query: s.query, PerScroll: s.e.cfg.ScrollPageSize, TTLMillis: int(s.e.cfg.ScrollTTL / time.Millisecond)}
}

// page records one scroll page in the ledger and yields its new issues.
func (s *scroller) page(pg tracker.SearchPage, a *attempt, yield func(int, tracker.Issue) bool) error {
	if a.returned == 0 && a.total < 0 {
		s.firstPage(pg.Total, a)
	}
	a.returned += len(pg.Issues)
	for k := range pg.Issues {
		is := &pg.Issues[k]
		i, isNew := s.led.add(wire.PassIssue{ID: is.ID.String(), Key: is.Key, Updated: is.UpdatedAt.Time, Version: wire.VersionOf(is.UpdatedAt.Time)})
		if s.sorted {
			s.led.seen(is.UpdatedAt.Time)
			s.lastSeen = is.UpdatedAt.Time
		}
		if !isNew {
			continue
		}
		a.fresh++
		if !yield(i, *is) {
			return errStopped
		}
	}
	return nil
}

// firstPage takes note of what the server counted.
func (s *scroller) firstPage(total int, a *attempt) {
	a.total = total
	s.p.SearchTotals = append(s.p.SearchTotals, total)
	if s.chainTotal < 0 && s.chainSeen == 0 {
		s.chainTotal = total
	}
	if s.e.deps.Progress != nil && a.n == 1 {
		s.e.deps.Progress.Start(total)
	}
}

// checkChain turns a scroll that finished short of the chain's total into
// ErrSearchIncomplete.
func (s *scroller) checkChain(err error, a attempt) error {
	if err == nil && s.chainTotal >= 0 && a.total >= 0 && s.chainSeen+a.total < s.chainTotal {
		return fmt.Errorf("%w: the searches since %s returned %d issues where %d were counted",
			tracker.ErrSearchIncomplete, s.chainStart.Format(time.RFC3339), s.chainSeen+a.total, s.chainTotal)
	}
	return err
}

// restart sets up the next attempt after err and reports whether there is
// one.
func (s *scroller) restart(err error, a attempt) bool {
	switch {
	case errors.Is(err, tracker.ErrSearchIncomplete):
		// Issues went missing without an error: search the chain's range
		// again; the watermark stays at its start.
		s.led.freeze(s.chainStart)
		s.query, s.since = s.p.Query, s.chainStart
		if s.sorted {
			s.query, _ = QueryFrom(s.e.cfg.Query, s.chainStart)
		}
		s.chainTotal, s.chainSeen = -1, 0
	case errors.Is(err, tracker.ErrScrollInterrupted) && s.sorted && !s.lastSeen.IsZero():
		s.chainSeen += a.returned
		s.query, s.since = QueryFrom(s.e.cfg.Query, s.lastSeen)
	case errors.Is(err, tracker.ErrScrollInterrupted):
		s.chainTotal, s.chainSeen = -1, 0 // a custom query starts over
	default:
		return false
	}
	return true
}
