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

// The adaptive limit's law: a multiplicative decrease on a 429 and an
// increase that is fast while the limit is well below the rate at which the
// last 429 came and slow near it (as TCP's CUBIC approaches the window of its
// last loss). TestAdaptiveRateFindsTheServerLimit,
// TestAdaptiveRateBenchScenario (fake clock) and BenchmarkAdaptiveRate
// (bench/) measure the choices against the emulator's limits of 5, 20 and
// 50 requests/s, starting from 20; the figures below are the fake clock's
// 60-s run at 5/s (BenchmarkAdaptiveRate's), where the 429s of the descent
// from 20 are not diluted, unless said otherwise. The whole law at 5, 20
// and 50/s: 1.7–2.1 %, 0.5 % and 0.2 % of 429s, 94–98 % of the limit
// sustained, 50/s reached in 21 s.
const (
	// increaseEvery is how long the client sends without a 429, at the
	// limit it is allowed, before the limit steps up.
	increaseEvery = time.Second
	// increaseFraction of the limit is added for each increaseEvery while
	// no 429 is remembered or the limit is below probeFrom of the peak: 3 %
	// a second, a step proportional to the limit so that the share of
	// 429s does not depend on the server's limit. 3 % reaches 50/s from 20
	// in 21 s; 5 % in 13 s but gets 2.0–2.4 % of 429s at 5/s instead of
	// 1.7–2.1 % (too little margin under 3 % on a loaded machine); 2 %
	// takes 33 s.
	increaseFraction = 0.03
	// increaseMin is the least step, in requests per second, so that a
	// limit pushed down to minRate climbs back within a minute or two.
	increaseMin = 0.05
	// probeFrom is the share of the peak, the limit at which the last 429
	// came, above which the limit rises by probeFraction instead: a cut to
	// 70 % climbs back fast for 8 s, then slowly. A server that allows
	// bursts (the emulator's bucket holds a second's worth) answers 429
	// only when the burst is spent, 10–25 % above its limit, so the peak
	// overstates the limit and 0.9 of it is about the limit itself.
	probeFrom = 0.9
	// probeFraction of the limit is added for each increaseEvery near the
	// peak: 0.5 % a second, a sixth of increaseFraction. A limit that
	// creeps past the server's spends the burst slowly: at 5/s, one 429
	// in the 41 s after the descent instead of one every 13.5 s, and
	// 1.7–2.1 % of 429s instead of 3.7–4.0 % with 3 % all the way;
	// 0.3 % a second gets about as many 429s, 0.75 % more (2.2 %).
	probeFraction = 0.005
	// forgetAbove: once the limit exceeds forgetAbove times the peak
	// without a 429 (about 10 s of probing above it), the server allows
	// more than it did and the peak is forgotten: the limit climbs by
	// increaseFraction again to find the new limit.
	forgetAbove = 1.05
	// decreaseFactor multiplies the limit on a 429 that came neither
	// quickly nor near the peak: at the first 429 of a climb from far
	// below, which overshoots the most (62 against 50/s from 20). 0.7
	// lands at 44 there; halving at 31, below the settle band, and takes
	// 48 s to settle instead of 21; 0.8 gets as many 429s at 5, 20 and
	// 50/s and a few more at 3–7/s.
	decreaseFactor = 0.7
	// probeDecreaseFactor multiplies the limit on a 429 that came while
	// probing near the peak: the overshoot is small, and 0.8 keeps the
	// limit within a quarter of the server's (70 % of a limit 5 % above
	// the server's would be 74 % of it) and sustains 96 % instead of 94 %
	// at 5/s, for the same share of 429s.
	probeDecreaseFactor = 0.8
	// quickSteps and quickDecreaseFactor: a 429 that comes before the
	// limit has stepped up more than quickSteps times since the last
	// decrease (or the start) means the limit is still well above the
	// server's, and cuts deeper, to 40 %, with the peak remembered at the
	// geometric middle of the limit refused and the limit cut to (63 %
	// of the limit refused). From 20 against 5/s: 20 → 8 → 3.3 with five
	// 429s, then a climb that slows down at 4.7, instead of 20 → 14 → 9.8
	// → 7 → 5 with eight and a saw-tooth up to 6.3; halving (0.5) lands at
	// 5 after the second cut and climbs fast past it (2.7 % of 429s
	// instead of 1.9 %).
	quickSteps          = 1
	quickDecreaseFactor = 0.4
	// minRate is the floor of the limit, in requests per second.
	minRate = 0.5
	// busyShare is the share of the allowed requests the client must
	// have sent in an interval for the limit to step up: a client that
	// does not use its limit learns nothing about the server's.
	busyShare = 0.75
)

// adaptive is a token bucket (burst 1 unless Config.Burst) whose rate
// follows the server: it starts at the configured rate and, while sending at
// the limit without a 429, rises by increaseFraction for every increaseEvery,
// or by probeFraction near the rate at which the last 429 came; a 429 cuts it
// by decreaseFactor (probeDecreaseFactor near that rate, quickDecreaseFactor
// soon after the last cut), never above the ceiling nor below minRate. A 429
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
	onRate  func(float64)
	current atomic.Uint64 // math.Float64bits of rate, for Rate without the lock

	mu sync.Mutex
	law
}

// law is the state of the adaptive limit and the rules that change it,
// apart from any token bucket: adaptive applies it to a local bucket, the
// shared limit (shared.go) to a bucket and a law state kept in a store that
// several processes use. Its methods are not safe for concurrent use.
type law struct {
	rate    float64
	ceiling float64
	epoch   uint64 // bumped by every decrease
	// peak is the limit at which the last 429 came (less after a quick
	// one: quickDecreaseFactor); 0 if none came or it was forgotten.
	peak        float64
	raised      int       // steps up since the last decrease (or the start)
	since       time.Time // start of the interval counted for an increase
	sent        int       // requests admitted since since
	pausedUntil time.Time // no request is admitted before (Retry-After)
}

func newAdaptive(start, ceiling float64, burst int, onRate func(float64)) *adaptive {
	a := &adaptive{
		lim:    rate.NewLimiter(rate.Limit(start), burst),
		turn:   make(chan struct{}, 1),
		onRate: onRate,
		law:    law{rate: start, ceiling: ceiling, since: time.Now()},
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
	old := a.rate
	a.increase(now)
	a.sent++
	a.rateChanged(old)
	return true
}

// increase steps the limit up after increaseEvery without a 429 if the
// client sent at least busyShare of what it was allowed meanwhile: slowly
// near the peak, which it forgets once the limit is well above it.
func (l *law) increase(now time.Time) {
	el := now.Sub(l.since)
	if el < increaseEvery {
		return
	}
	busy := float64(l.sent) >= busyShare*l.rate*el.Seconds()
	l.since, l.sent = now, 0
	if busy && l.rate < l.ceiling {
		step := max(l.rate*increaseFraction, increaseMin) * el.Seconds() / increaseEvery.Seconds()
		if l.probing() {
			step *= probeFraction / increaseFraction
		}
		l.rate = min(l.ceiling, l.rate+step)
		l.raised++
		if l.rate > forgetAbove*l.peak {
			l.peak = 0
		}
	}
}

// probing tells whether the limit is near the peak, where it rises slowly.
func (l *law) probing() bool { return l.peak > 0 && l.rate >= probeFrom*l.peak }

// refused takes a 429 to a request admitted in epoch: it lowers the limit,
// once per epoch, remembers the limit refused, and pauses the client for
// retryAfter (if positive), at most MaxRetryAfter.
func (a *adaptive) refused(epoch uint64, retryAfter time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.rate
	a.decrease(time.Now(), epoch, retryAfter)
	a.rateChanged(old)
}

// decrease is the law of refused, at now.
func (l *law) decrease(now time.Time, epoch uint64, retryAfter time.Duration) {
	if retryAfter > 0 {
		l.pause(now.Add(min(retryAfter, MaxRetryAfter)))
	}
	if epoch != l.epoch {
		return // sent before the last decrease, which accounted for it
	}
	l.epoch++
	l.since, l.sent = later(now, l.pausedUntil), 0
	f, peak := decreaseFactor, l.rate
	switch {
	case l.raised <= quickSteps:
		f, peak = quickDecreaseFactor, l.rate*math.Sqrt(quickDecreaseFactor)
	case l.probing():
		f = probeDecreaseFactor
	}
	l.rate = max(minRate, l.rate*f)
	l.peak, l.raised = peak, 0
	if peak <= l.rate {
		l.peak = 0 // at the floor: it climbs as fast as from the start
	}
}

// pause holds every request until until; the interval counted for an
// increase starts when the pause ends.
func (l *law) pause(until time.Time) {
	if !until.After(l.pausedUntil) {
		return
	}
	l.pausedUntil = until
	if l.since.Before(until) {
		l.since, l.sent = until, 0
	}
}

// rateChanged applies and reports the limit if the law moved it from old;
// a.mu is held, so reports come one at a time and in order.
func (a *adaptive) rateChanged(old float64) {
	if a.rate == old {
		return
	}
	a.current.Store(math.Float64bits(a.rate))
	a.lim.SetLimit(rate.Limit(a.rate))
	if a.onRate != nil {
		a.onRate(a.rate)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
