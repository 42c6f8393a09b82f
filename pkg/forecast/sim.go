package forecast

import (
	"math"
	"math/bits"
	"slices"
)

// rng is splitmix64: tiny, fast, and specified here so that a seed gives
// the same draws on every platform and Go version.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// sampler draws uniformly from a history with Lemire's multiply-and-reject
// method: exact (no modulo bias) and one multiplication per draw.
type sampler struct {
	r      *rng
	hist   []uint32
	n      uint64
	thresh uint64 // 2^64 mod n: lower products are rejected
}

func newSampler(r *rng, hist []uint32) *sampler {
	n := uint64(len(hist))
	return &sampler{r: r, hist: hist, n: n, thresh: -n % n}
}

// week returns the throughput of one random week of the history.
func (s *sampler) week() int {
	hi, lo := bits.Mul64(s.r.next(), s.n)
	for lo < s.thresh {
		hi, lo = bits.Mul64(s.r.next(), s.n)
	}
	return int(s.hist[hi])
}

// simulateHowMany returns, per trial, the issues done in weeks random weeks.
func simulateHowMany(r *rng, hist []uint32, weeks, trials int) []int {
	s := newSampler(r, hist)
	out := make([]int, trials)
	for t := range out {
		done := 0
		for range weeks {
			done += s.week()
		}
		out[t] = done
	}
	return out
}

// unfinished marks a trial that did not finish within the cap; it sorts
// after every day.
const unfinished = math.MaxInt

// simulateWhen returns, per trial, the day (0: the first) by the end of
// which the remaining issues were done, or unfinished.
func simulateWhen(r *rng, hist []uint32, remaining, maxWeeks, trials int) []int {
	s := newSampler(r, hist)
	out := make([]int, trials)
	for t := range out {
		out[t] = finishDay(s, remaining, maxWeeks)
	}
	return out
}

// finishDay runs one trial. In the week the work ends, its issues are
// taken as evenly spread over the seven days: the last of the remaining
// issues is done on day ceil(7 × needed / throughput) of that week.
func finishDay(s *sampler, remaining, maxWeeks int) int {
	done := 0
	for week := range maxWeeks {
		t := s.week()
		if done+t >= remaining {
			need := remaining - done
			return 7*week + (7*need+t-1)/t - 1
		}
		done += t
	}
	return unfinished
}

func sortInts(v []int) { slices.Sort(v) }

// atLeast returns the largest x such that at least p % of the values are
// ≥ x. sorted is ascending and not empty.
func atLeast(sorted []int, p int) int {
	k := (p*len(sorted) + 99) / 100 // ceil(p% of n), at least 1 for p > 0
	return sorted[len(sorted)-max(k, 1)]
}

// within returns the smallest x such that at least p % of the values are
// ≤ x. sorted is ascending and not empty.
func within(sorted []int, p int) int {
	k := (p*len(sorted) + 99) / 100
	return sorted[max(k, 1)-1]
}
