package tracker

import (
	"context"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// rates records OnRate calls.
type rates struct {
	mu  sync.Mutex
	got []float64
}

func (r *rates) add(rps float64) { r.mu.Lock(); r.got = append(r.got, rps); r.mu.Unlock() }

func (r *rates) all() []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]float64(nil), r.got...)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func mustWait(t *testing.T, a *adaptive) uint64 {
	t.Helper()
	epoch, err := a.wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return epoch
}

// All the requests in flight when the limit is exceeded come back 429: that
// is one decrease. A 429 to a request sent after it is another.
func TestAdaptiveOneDecreasePerEpoch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r rates
		a := newAdaptive(20, 100, 1, r.add)
		epochs := make([]uint64, 16)
		for i := range epochs {
			epochs[i] = mustWait(t, a)
		}
		for _, e := range epochs {
			a.refused(e, 0)
		}
		if got := r.all(); len(got) != 1 || !near(got[0], 14) {
			t.Fatalf("16 429s of one epoch: limits %v, want [14]", got)
		}
		a.refused(mustWait(t, a), 0)
		if got := r.all(); len(got) != 2 || !near(got[1], 9.8) || !near(a.Rate(), 9.8) {
			t.Fatalf("a 429 after the decrease: limits %v (Rate %g), want [14 9.8]", got, a.Rate())
		}
	})
}

// Retry-After holds every request, also one that already waited for its
// token when the 429 came.
func TestAdaptiveRetryAfterPausesEveryRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdaptive(1, 100, 1, nil)
		start := time.Now()
		e := mustWait(t, a) // the bucket's one token: at once
		sent := make(chan time.Duration, 2)
		for range 2 {
			go func() {
				mustWait(t, a)
				sent <- time.Since(start)
			}()
		}
		time.Sleep(500 * time.Millisecond) // one waits for the next token (1 s), one for its turn
		a.refused(e, 3*time.Second)
		for range 2 {
			if d := <-sent; d < 3500*time.Millisecond {
				t.Errorf("a request was sent %s after the start, before the end of the pause at 3.5 s", d)
			}
		}
	})
}

// The limit rises by 3 % for each second of sending at it, not above the
// ceiling, and not while the client sends less than it may.
func TestAdaptiveIncrease(t *testing.T) {
	for _, tc := range []struct {
		name              string
		start, ceiling    float64
		every             time.Duration // between requests; 0: as fast as allowed
		lowest, highest   float64       // the limit after 10 s
		wantReportsAtMost int
	}{
		{"busy", 10, 100, 0, 10 * math.Pow(1.03, 9), 10 * math.Pow(1.035, 10), 10},
		{"ceiling", 95, 100, 0, 100, 100, 2},
		{"idle", 20, 100, 200 * time.Millisecond, 20, 20, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var r rates
				a := newAdaptive(tc.start, tc.ceiling, 1, r.add)
				for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
					mustWait(t, a)
					time.Sleep(tc.every)
				}
				if got := a.Rate(); got < tc.lowest-1e-9 || got > tc.highest+1e-9 {
					t.Errorf("after 10 s the limit is %g, want %g..%g", got, tc.lowest, tc.highest)
				}
				if n := len(r.all()); n > tc.wantReportsAtMost {
					t.Errorf("%d reports, want at most %d", n, tc.wantReportsAtMost)
				}
			})
		})
	}
}

// The limit never falls below minRate, and climbs back from it.
func TestAdaptiveFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdaptive(20, 100, 1, nil)
		for range 30 {
			a.refused(mustWait(t, a), 0)
		}
		if got := a.Rate(); got != minRate {
			t.Fatalf("after 30 decreases the limit is %g, want the floor %g", got, minRate)
		}
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
			mustWait(t, a)
		}
		if got := a.Rate(); got < minRate+8*increaseMin {
			t.Errorf("10 s after the floor the limit is %g, want at least %g", got, minRate+8*increaseMin)
		}
	})
}

// A cancelled context ends a wait for the turn, the pause or a token.
func TestAdaptiveWaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAdaptive(1, 100, 1, nil)
		a.refused(mustWait(t, a), time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if _, err := a.wait(ctx); err == nil || time.Since(start) != time.Second {
			t.Errorf("wait during a pause with a 1 s context: %v after %s, want the context's error after 1 s", err, time.Since(start))
		}
	})
}
