package tracker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// SharedBucket is a token bucket, with the adaptive limit's state, kept
// where several Clients (usually several extractor processes, one per
// queue) draw from it, so that together they send no more than one
// organisation-wide rate (Config.Shared). redisbucket.Bucket keeps it in
// Redis. Implementations must be safe for concurrent use and apply each
// call atomically; they take the time from the caller (now), never from a
// clock of their own, so that every call of one bucket counts time alike.
type SharedBucket interface {
	// Reserve refills the bucket (capacity p.Burst) at its stored rate up to
	// now and takes n tokens from it, which may leave it owing tokens
	// (Grant.Before < n). A new bucket starts full at p.Rate; with p.Fixed
	// the stored rate is p.Rate whatever it was; it never exceeds
	// p.Ceiling. While the stored pause lasts it takes nothing (Grant.N is
	// 0). n may be 0, to read the state. Errors are the store's.
	Reserve(ctx context.Context, now time.Time, n int, p BucketParams) (Grant, error)
	// Update stores st's rate and law (refilling the bucket at the old
	// rate up to now first) if the stored version is still st.Version,
	// then bumps the version, and says whether it did. Whatever the
	// version, the stored pause becomes the later of its own and
	// st.PausedUntil. Errors are the store's.
	Update(ctx context.Context, now time.Time, st SharedState, p BucketParams) (bool, error)
}

// BucketParams are a client's settings of a shared bucket.
type BucketParams struct {
	// Rate is the rate of a new bucket (or of every call with Fixed), in
	// requests per second.
	Rate float64
	// Ceiling caps the stored rate.
	Ceiling float64
	// Burst is the bucket's capacity in tokens.
	Burst int
	// Fixed keeps the rate at Rate: the limit does not adapt.
	Fixed bool
}

// Grant is the answer to a reservation.
type Grant struct {
	// N is the number of tokens taken: those asked, or 0 during a pause.
	N int
	// Before is how many tokens the bucket held, after the refill and
	// before taking N; negative when reservations are owed. Token i
	// (1..N) may be used from now + max(0, i-Before)/Rate.
	Before float64
	// State is the shared state after the reservation.
	State SharedState
}

// SharedState is what a shared bucket holds besides its tokens: the rate
// and the adaptive limit's law (see Config.Adaptive), shared by every
// client of the bucket, and a version bumped by every Update.
type SharedState struct {
	Rate float64 // requests per second
	// Epoch is bumped by every decrease.
	Epoch uint64
	// Peak is the rate at which the last 429 came (0: none remembered).
	Peak float64
	// Raised counts the steps up since the last decrease.
	Raised int
	// Since starts the interval counted for an increase, and Sent counts
	// the tokens reserved (by every client) since.
	Since time.Time
	Sent  int
	// PausedUntil holds every client (Retry-After).
	PausedUntil time.Time
	Version     uint64
}

// ErrLimitUnavailable marks a request that was not sent because the shared
// rate limit could not be reached (Config.Shared). Such a request may be
// sent again, even a scroll continuation: the server never saw it.
var ErrLimitUnavailable = errors.New("shared rate limit unavailable")

// sharedUpdateTimeout bounds the store calls that a 429 makes (lowering
// the shared rate): they are not under any request's context.
const sharedUpdateTimeout = 5 * time.Second

// shared is the limit of a client that draws from a SharedBucket. It
// reserves a few tokens at a time (chunk) and spends them locally, each no
// earlier than the time the bucket gave it and no later than one interval
// (1/rate) after: a token held longer is dropped, so that the requests of
// every client together are the bucket's schedule delayed by at most one
// interval, at most one token over the bucket's own bound in any window.
// With adapt, it applies the law to the shared state: a 429 seen by any
// client cuts the rate for all (once per epoch, whoever saw it), and the
// rate steps up once per increaseEvery for all, when every client together
// used the rate. It is safe for concurrent use.
type shared struct {
	b       SharedBucket
	p       BucketParams
	adapt   bool
	onRate  func(float64)
	current atomic.Uint64 // math.Float64bits of the rate last seen
	turn    chan struct{} // one waiter at a time, as adaptive

	mu        sync.Mutex
	st        SharedState // as last seen
	seen      bool        // st came from the bucket
	slots     []time.Time // tokens reserved and not yet spent, in order
	slotEpoch uint64      // the epoch in which slots were reserved
}

func newShared(b SharedBucket, p BucketParams, adapt bool, onRate func(float64)) *shared {
	s := &shared{b: b, p: p, adapt: adapt, onRate: onRate, turn: make(chan struct{}, 1)}
	s.st.Rate = p.Rate
	s.current.Store(math.Float64bits(p.Rate))
	return s
}

// Rate is the shared rate as this client last saw it.
func (s *shared) Rate() float64 { return math.Float64frombits(s.current.Load()) }

// chunk is how many tokens one reservation takes: a tenth of a second's
// worth (2 at 20 requests/s), at least 1, at most 8, so that the store
// sees at most about ten calls a second per client.
func chunk(r float64) int { return max(1, min(8, int(r/10))) }

// grace is how late a reserved token may still be spent: one interval.
func grace(r float64) time.Duration {
	return max(time.Millisecond, time.Duration(float64(time.Second)/max(r, minRate)))
}

// wait blocks until a request may be sent and returns the epoch to hand to
// refused; errors are ctx's, or ErrLimitUnavailable with the store's.
func (s *shared) wait(ctx context.Context) (uint64, error) {
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-s.turn }()
	for {
		now := time.Now()
		s.mu.Lock()
		s.dropStale(now)
		if len(s.slots) > 0 {
			at, epoch := s.slots[0], s.slotEpoch
			s.mu.Unlock()
			ok, err := s.spend(ctx, now, at, epoch)
			if err != nil {
				return 0, err
			}
			if ok {
				return epoch, nil
			}
			continue
		}
		paused := s.st.PausedUntil
		s.mu.Unlock()
		if err := s.refill(ctx, now, paused); err != nil {
			return 0, err
		}
	}
}

// spend sleeps from now until at, the time of the first token held, then
// takes that token if it is still the first, still of epoch, no pause
// holds and it is at most one grace late; false means wait must look
// again.
func (s *shared) spend(ctx context.Context, now, at time.Time, epoch uint64) (bool, error) {
	if err := sleep(ctx, at.Sub(now)); err != nil {
		return false, err
	}
	s.mu.Lock()
	now = time.Now()
	ok := len(s.slots) > 0 && s.slots[0].Equal(at) && s.slotEpoch == epoch && !now.Before(s.st.PausedUntil) &&
		!now.After(at.Add(grace(s.st.Rate)))
	if ok {
		s.slots = s.slots[1:]
	}
	s.mu.Unlock()
	return ok, nil
}

// refill waits out a pause that lasts past now, or else reserves tokens
// from the bucket.
func (s *shared) refill(ctx context.Context, now, paused time.Time) error {
	if now.Before(paused) {
		return sleep(ctx, paused.Sub(now))
	}
	return s.reserve(ctx, now)
}

// dropStale drops the tokens of an old epoch and those too late to spend;
// s.mu is held.
func (s *shared) dropStale(now time.Time) {
	if s.slotEpoch != s.st.Epoch {
		s.slots = s.slots[:0]
		return
	}
	g := grace(s.st.Rate)
	i := 0
	for i < len(s.slots) && now.After(s.slots[i].Add(g)) {
		i++
	}
	s.slots = s.slots[i:]
}

// reserve takes a chunk of tokens from the bucket and, with adapt, steps
// the shared rate up when due.
func (s *shared) reserve(ctx context.Context, now time.Time) error {
	g, err := s.b.Reserve(ctx, now, chunk(s.Rate()), s.p)
	if err != nil {
		return fmt.Errorf("tracker: %w: %w", ErrLimitUnavailable, err)
	}
	s.mu.Lock()
	s.see(g.State)
	if g.N > 0 && g.State.Epoch == s.st.Epoch {
		s.slots, s.slotEpoch = s.slots[:0], g.State.Epoch
		for i := 1; i <= g.N; i++ {
			owed := max(0, float64(i)-g.Before)
			s.slots = append(s.slots, now.Add(time.Duration(owed/g.State.Rate*float64(time.Second))))
		}
	}
	st := s.st
	s.mu.Unlock()
	if s.adapt && now.Sub(st.Since) >= increaseEvery {
		l := s.lawOf(st)
		l.increase(now)
		next := stateOf(l, st)
		// Another client may have stepped up first: then this one's
		// update is refused and the next reservation shows the new rate.
		if ok, err := s.b.Update(ctx, now, next, s.p); err == nil && ok {
			next.Version++
			s.mu.Lock()
			s.see(next)
			s.mu.Unlock()
		}
	}
	return nil
}

// refused takes a 429 to a request admitted in epoch: with adapt, it lowers
// the shared rate (once per epoch, across every client) and pauses every
// client for retryAfter (at most MaxRetryAfter). A store that cannot be
// reached loses the signal: the requests' own backoff still honours
// Retry-After, and the next 429 tries again.
func (s *shared) refused(epoch uint64, retryAfter time.Duration) {
	if !s.adapt {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedUpdateTimeout)
	defer cancel()
	for range 8 {
		now := time.Now()
		g, err := s.b.Reserve(ctx, now, 0, s.p)
		if err != nil {
			return
		}
		l := s.lawOf(g.State)
		l.decrease(now, epoch, retryAfter)
		next := stateOf(l, g.State)
		if next == g.State {
			s.mu.Lock()
			s.see(g.State)
			s.mu.Unlock()
			return
		}
		ok, err := s.b.Update(ctx, now, next, s.p)
		if err != nil {
			return
		}
		if ok {
			next.Version++
			s.mu.Lock()
			s.see(next)
			s.mu.Unlock()
			return
		}
	}
}

// see takes a state from the bucket unless a newer one was seen, and
// reports a change of the rate; s.mu is held.
func (s *shared) see(st SharedState) {
	if s.seen && st.Version < s.st.Version {
		return
	}
	old := s.st.Rate
	s.st, s.seen = st, true
	if st.Rate != old {
		s.current.Store(math.Float64bits(st.Rate))
		if s.onRate != nil {
			s.onRate(st.Rate)
		}
	}
}

func (s *shared) lawOf(st SharedState) law {
	return law{rate: st.Rate, ceiling: s.p.Ceiling, epoch: st.Epoch, peak: st.Peak, raised: st.Raised,
		since: st.Since, sent: st.Sent, pausedUntil: st.PausedUntil}
}

func stateOf(l law, st SharedState) SharedState {
	return SharedState{Rate: l.rate, Epoch: l.epoch, Peak: l.peak, Raised: l.raised, Since: l.since, Sent: l.sent,
		PausedUntil: l.pausedUntil, Version: st.Version}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
