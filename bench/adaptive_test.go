package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// adaptiveCase is one run of the Tracker client against an emulator limit
// it is not told.
type adaptiveCase struct {
	Limit    float64       // the emulator's requests/s (burst: one second's worth)
	Duration time.Duration // how long 16 goroutines fetch changelogs
	Fixed    bool          // the fixed limit of 20/s instead of the adaptive one
}

// adaptiveLatency is the emulator's response time: Tracker's typical
// 100–300 ms, so that several requests are in flight when the limit is
// exceeded.
const adaptiveLatency = 200 * time.Millisecond

// BenchmarkAdaptiveRate runs the Tracker client (start 20 requests/s,
// ceiling 100/s, 16 goroutines fetching changelogs, as the extractor) on
// the real clock against the emulator served over loopback, which answers
// in 200 ms and 429 with Retry-After above 5, 20 or 50 requests/s. fixed5
// is the client before the adaptive limit: 20/s against 5/s.
func BenchmarkAdaptiveRate(b *testing.B) {
	for _, c := range []adaptiveCase{
		{Limit: 5, Duration: 60 * time.Second},
		{Limit: 20, Duration: 30 * time.Second},
		{Limit: 50, Duration: 80 * time.Second},
		{Limit: 5, Duration: 15 * time.Second, Fixed: true},
	} {
		name := fmt.Sprintf("limit%g", c.Limit)
		if c.Fixed {
			name = fmt.Sprintf("fixed%g", c.Limit)
		}
		b.Run(name, func(b *testing.B) { runAdaptive(b, c) })
	}
}

// adaptiveResult is what one run measured.
type adaptiveResult struct {
	Requests, Throttled int64
	Took                time.Duration
	Settle              time.Duration // when the limit entered the settle band for good
	Settled             bool
	Answers             []answer // every attempt's answer, in order
	Decreases           int
	Final               float64 // the client's limit at the end
}

// The settle band is the range of the client's limit, as a share of the
// server's, that counts as settled (as in pkg/tracker's TestAdaptiveRate*).
const settleLow, settleHigh = 0.75, 1.5

// answer is one attempt's outcome.
type answer struct {
	At        time.Duration // since the start
	Throttled bool          // 429
	OK        bool          // 2xx
}

// tally counts the attempts answered after from: all of them, the 2xx and
// the 429s.
func tally(answers []answer, from time.Duration) (all, ok, throttled int) {
	for _, a := range answers {
		if a.At <= from {
			continue
		}
		all++
		if a.OK {
			ok++
		}
		if a.Throttled {
			throttled++
		}
	}
	return all, ok, throttled
}

func runAdaptive(b *testing.B, c adaptiveCase) {
	var res adaptiveResult
	for b.Loop() {
		res = adaptiveOnce(b, c)
	}
	_, served, _ := tally(res.Answers, 0)
	b.ReportMetric(100*float64(res.Throttled)/float64(res.Requests), "429-%")
	b.ReportMetric(float64(res.Requests)/res.Took.Seconds(), "req/s")
	b.ReportMetric(100*float64(served)/res.Took.Seconds()/c.Limit, "run-limit-%")
	if res.Settled {
		all, ok, throttled := tally(res.Answers, res.Settle)
		b.ReportMetric(res.Settle.Seconds(), "settle-s")
		b.ReportMetric(100*float64(ok)/(res.Took-res.Settle).Seconds()/c.Limit, "limit-%")
		b.ReportMetric(100*float64(throttled)/float64(all), "settled-429-%")
	}
	b.ReportMetric(float64(res.Decreases), "decreases")
	b.ReportMetric(res.Final, "final-rps")
}

// adaptiveOnce runs 16 goroutines fetching changelogs for c.Duration.
func adaptiveOnce(b *testing.B, c adaptiveCase) adaptiveResult {
	b.Helper()
	em := startEmulator(b, trackertest.Options{Issues: 2_000, Seed: 1, Latency: adaptiveLatency, RateLimit: c.Limit})
	var mu sync.Mutex
	var res adaptiveResult
	start := time.Now()
	in := !c.Fixed && inBand(20, c.Limit)
	last := 20.0
	tc, err := tracker.New(tracker.Config{
		BaseURL: em.url, Token: "bench-token", OrgID: "42", MaxRetries: 10,
		RateLimit: 20, Adaptive: !c.Fixed, RateCeiling: 100,
	}, tracker.Deps{
		OnRate: func(rps float64) {
			mu.Lock()
			defer mu.Unlock()
			if rps < last {
				res.Decreases++
			}
			if inBand(rps, c.Limit) && !in {
				res.Settle = time.Since(start)
			}
			in, last = inBand(rps, c.Limit), rps
		},
		Observe: func(a tracker.Attempt) {
			mu.Lock()
			res.Answers = append(res.Answers, answer{time.Since(start), a.Status == http.StatusTooManyRequests, a.Err == nil})
			mu.Unlock()
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	fetchChangelogs(b, tc, em.IssueKeys(), c.Duration)
	mu.Lock()
	defer mu.Unlock()
	res.Took = time.Since(start)
	res.Requests, res.Throttled = em.TotalRequests(), em.Throttled()
	res.Settled, res.Final = in, tc.Rate()
	return res
}

func inBand(rps, limit float64) bool { return rps >= settleLow*limit && rps <= settleHigh*limit }

// fetchChangelogs fetches the changelogs of keys in turn from 16 goroutines
// until d has passed.
func fetchChangelogs(b *testing.B, tc *tracker.Client, keys []string, d time.Duration) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for ctx.Err() == nil {
				key := keys[int(next.Add(1))%len(keys)]
				if _, err := tc.Changelog(ctx, key, 100); err != nil && ctx.Err() == nil {
					b.Errorf("changelog %s: %v", key, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
