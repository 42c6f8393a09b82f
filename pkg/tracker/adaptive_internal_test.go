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
// is one decrease. A 429 to a request sent after it is another. (Both come
// before any step up, so both cut to 40 %: TestAdaptiveDecrease.)
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
		if got := r.all(); len(got) != 1 || !near(got[0], 8) {
			t.Fatalf("16 429s of one epoch: limits %v, want [8]", got)
		}
		a.refused(mustWait(t, a), 0)
		if got := r.all(); len(got) != 2 || !near(got[1], 3.2) || !near(a.Rate(), 3.2) {
			t.Fatalf("a 429 after the decrease: limits %v (Rate %g), want [8 3.2]", got, a.Rate())
		}
	})
}

// busyFor sends as fast as a allows for d.
func busyFor(t *testing.T, a *adaptive, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		mustWait(t, a)
	}
}

// A 429 cuts the limit to 70 % and remembers the limit refused; to 40 %
// if it comes before the limit stepped up twice since the last decrease or
// the start (the limit is still far above the server's), remembering 63 %;
// to 80 % if it comes while probing near the last 429's limit.
func TestAdaptiveDecrease(t *testing.T) {
	for _, tc := range []struct {
		name       string
		prepare    func(*testing.T, *adaptive)
		cut, peak  float64 // the limit after the 429 and the peak, as shares of the limit before it
		quickAfter bool    // a 429 right after the cut is quick
	}{
		{"at the start", func(*testing.T, *adaptive) {}, 0.4, math.Sqrt(0.4), true},
		{"after one step", func(t *testing.T, a *adaptive) { busyFor(t, a, 1500*time.Millisecond) }, 0.4, math.Sqrt(0.4), true},
		{"after steps", func(t *testing.T, a *adaptive) { busyFor(t, a, 5*time.Second) }, 0.7, 1, true},
		{"probing", func(t *testing.T, a *adaptive) {
			busyFor(t, a, 5*time.Second)
			a.refused(mustWait(t, a), 0)
			busyFor(t, a, 20*time.Second) // 70 % back to 90 % of the peak in 9 s, then probing
			if !a.probing() {
				t.Fatalf("20 s after a cut to 70 %%, the limit %g is not probing near the peak %g", a.Rate(), a.peak)
			}
		}, 0.8, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := newAdaptive(20, 100, 1, nil)
				tc.prepare(t, a)
				e := mustWait(t, a) // which may step the limit up
				before := a.Rate()
				a.refused(e, 0)
				if got := a.Rate(); !near(got, before*tc.cut) {
					t.Errorf("a 429 at %g: the limit is %g, want %g × %g", before, got, before, tc.cut)
				}
				if !near(a.peak, before*tc.peak) {
					t.Errorf("a 429 at %g: the peak is %g, want %g × %g", before, a.peak, before, tc.peak)
				}
				after := a.Rate()
				a.refused(mustWait(t, a), 0)
				if got := a.Rate(); !near(got, after*quickDecreaseFactor) {
					t.Errorf("a 429 right after the cut: the limit is %g, want %g × 0.4", got, after)
				}
			})
		})
	}
}

// After a 429 the limit climbs back by 3 % a second to 90 % of the limit
// refused, then by 0.5 % a second; 5 % above the limit refused, it forgets
// it and climbs by 3 % a second again. The old law (3 % all the way) would
// be back at the limit refused within 13 s and 60 % above it after 30.
func TestAdaptiveIncreaseSlowsNearTheLast429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r rates
		a := newAdaptive(20, 1000, 1, r.add)
		busyFor(t, a, 5*time.Second)
		e := mustWait(t, a)
		peak := a.Rate()
		a.refused(e, 0)
		n := len(r.all())
		busyFor(t, a, 60*time.Second)
		prev := peak * decreaseFactor
		slow := 0
		for _, rps := range r.all()[n:] {
			phase, lo, hi := "below 90 % of the peak", 0.029, 0.032 // 3 %, a little more when a step comes late
			switch {
			case prev > forgetAbove*peak:
				phase = "peak forgotten"
			case prev >= probeFrom*peak:
				phase, lo, hi = "near the peak", 0.0048, 0.0054
				slow++
			}
			if step := rps/prev - 1; step < lo || step > hi {
				t.Errorf("%s: %g → %g, a step of %.2f %%, want %.2f..%.2f %%", phase, prev, rps, 100*step, 100*lo, 100*hi)
			}
			prev = rps
		}
		// From 0.9 (or the first step above it) to 1.05 × the peak by
		// 0.5 % a second: 25 to 31 steps.
		if slow < 24 || slow > 32 {
			t.Errorf("%d slow steps near the peak, want 25..31", slow)
		}
		if got := a.Rate(); a.peak != 0 || got < 1.3*peak {
			t.Errorf("60 s after a 429 at %g the limit is %g and the peak %g, want above 1.3 × %g, the peak forgotten", peak, got, a.peak, peak)
		}
	})
}
