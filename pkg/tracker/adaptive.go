package tracker

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the adaptive rate limit (Config.Adaptive).
const (
	// DefaultRateLimit is the start rate of the adaptive limit, in requests
	// per second, when Config.RateLimit is 0: what a production importer
	// settled on (tracker-api.md §6.3).
	DefaultRateLimit = 20.0
	// DefaultRateCeiling is the adaptive limit's ceiling, in requests per
	// second, when Config.RateCeiling is 0 (or the start rate if higher).
	DefaultRateCeiling = 100.0
)

// The adaptive limit's law: additive increase, multiplicative decrease.
// TestAdaptiveRateFindsTheServerLimit (fake clock) and BenchmarkAdaptiveRate
// (bench/) measure the choices against the emulator's limits of 5, 20 and
// 50 requests/s, starting from 20.
const (
	// increaseEvery is how long the client sends without a 429, at the
	// limit it is allowed, before the limit steps up.
	increaseEvery = time.Second
	// increaseFraction of the limit is added for each increaseEvery: 3 %
	// a second, a step proportional to the limit so that the time between
	// two 429s, and so the share of 429s, does not depend on the server's
	// limit. Measured (fake clock, 200 ms answers, 2 000 calls): 3 % gets
	// 1.9 % of 429s at 5/s and reaches 50/s in 21 s; 5 % reaches it in
	// 13 s but gets 2.6 % of 429s at 5/s, too near the 3 % target; 2 %
	// gets 1.4 % but takes 33 s.
	increaseFraction = 0.03
	// increaseMin is the least step, in requests per second, so that a
	// limit pushed down to minRate climbs back within a minute or two.
	increaseMin = 0.05
	// decreaseFactor multiplies the limit on a 429. Measured as above:
	// 0.7 sustains 95–97 % of the server's limit; halving 80–89 % (the
	// limit spends most of its time well below the server's); 0.8 gets
	// 2.7 % of 429s at 5/s.
	decreaseFactor = 0.7
	// minRate is the floor of the limit, in requests per second.
	minRate = 0.5
	// busyShare is the share of the allowed requests the client must
	// have sent in an interval for the limit to step up: a client that
	// does not use its limit learns nothing about the server's.
	busyShare = 0.75
)

// adaptive is a token bucket (burst 1 unless Config.Burst) whose rate
// follows the server: it starts at the configured rate, rises by
// increaseFraction for every increaseEvery of sending at the limit without a
// 429 and falls by decreaseFactor on a 429, never above the ceiling. A 429
// lowers the limit only if its request was sent after the last decrease:
// the requests in flight when a limit is exceeded all come back 429, and
// that is one signal, not one per request. Retry-After pauses the whole
// client. It is safe for concurrent use.
type adaptive struct {
	lim *rate.Limiter
	// turn lets one request at a time wait for a token, so that a change
	// of the limit applies from the next request: rate.Limiter.Wait
	// reserves at once and keeps its time when the limit changes, and
	// sixteen waiters would hold the old rate for sixteen intervals.
	turn    chan struct{}
	ceiling float64
	onRate  func(float64)
	current atomic.Uint64 // math.Float64bits of rate, for Rate without the lock

	mu          sync.Mutex
	rate        float64
	epoch       uint64    // bumped by every decrease
	since       time.Time // start of the interval counted for an increase
	sent        int       // requests admitted since since
	pausedUntil time.Time // no request is admitted before (Retry-After)
}

func newAdaptive(start, ceiling float64, burst int, onRate func(float64)) *adaptive {
	a := &adaptive{
		lim:     rate.NewLimiter(rate.Limit(start), burst),
		turn:    make(chan struct{}, 1),
		ceiling: ceiling,
		onRate:  onRate,
		rate:    start,
		since:   time.Now(),
	}
	a.current.Store(math.Float64bits(start))
	return a
}

// Rate is the current limit in requests per second.
func (a *adaptive) Rate() float64 { return math.Float64frombits(a.current.Load()) }

// wait blocks until a request may be sent: after any pause and a token. It
// returns the epoch to hand to refused if the request is answered 429, and
// ctx's error if ctx ends first.
func (a *adaptive) wait(ctx context.Context) (uint64, error) {
	select {
	case a.turn <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-a.turn }()
	for {
		epoch, err := a.sleepPause(ctx)
		if err != nil {
			return 0, err
		}
		if err := a.lim.Wait(ctx); err != nil {
			return 0, err
		}
		// A 429 may have lowered the limit or paused the client while
		// this request waited for its token at the old rate: then it
		// waits for the pause and a token at the new rate.
		if a.admit(time.Now(), epoch) {
			return epoch, nil
		}
	}
}

// sleepPause waits for the end of a pause and returns the epoch then.
func (a *adaptive) sleepPause(ctx context.Context) (uint64, error) {
	for {
		a.mu.Lock()
		d, epoch := time.Until(a.pausedUntil), a.epoch
		a.mu.Unlock()
		if d <= 0 {
			return epoch, nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// admit counts a request about to be sent, stepping the limit up when due;
// false if the client is paused or the limit fell since epoch.
func (a *adaptive) admit(now time.Time, epoch uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Before(a.pausedUntil) || epoch != a.epoch {
		return false
	}
	a.maybeIncrease(now)
	a.sent++
	return true
}

// maybeIncrease steps the limit up after increaseEvery without a 429 if the
// client sent at least busyShare of what it was allowed meanwhile.
func (a *adaptive) maybeIncrease(now time.Time) {
	el := now.Sub(a.since)
	if el < increaseEvery {
		return
	}
	busy := float64(a.sent) >= busyShare*a.rate*el.Seconds()
	a.since, a.sent = now, 0
	if busy && a.rate < a.ceiling {
		step := max(a.rate*increaseFraction, increaseMin) * el.Seconds() / increaseEvery.Seconds()
		a.setRate(min(a.ceiling, a.rate+step))
	}
}

// refused takes a 429 to a request admitted in epoch: it lowers the limit,
// once per epoch, and pauses the client for retryAfter (if positive).
func (a *adaptive) refused(epoch uint64, retryAfter time.Duration) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if retryAfter > 0 {
		a.pause(now.Add(retryAfter))
	}
	if epoch != a.epoch {
		return // sent before the last decrease, which accounted for it
	}
	a.epoch++
	a.since, a.sent = later(now, a.pausedUntil), 0
	a.setRate(max(minRate, a.rate*decreaseFactor))
}

// pause holds every request until until; the interval counted for an
// increase starts when the pause ends.
func (a *adaptive) pause(until time.Time) {
	if !until.After(a.pausedUntil) {
		return
	}
	a.pausedUntil = until
	if a.since.Before(until) {
		a.since, a.sent = until, 0
	}
}

// setRate sets the limit and reports it; a.mu is held, so reports come one
// at a time and in order.
func (a *adaptive) setRate(r float64) {
	if r == a.rate {
		return
	}
	a.rate = r
	a.current.Store(math.Float64bits(r))
	a.lim.SetLimit(rate.Limit(r))
	if a.onRate != nil {
		a.onRate(r)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
