package redisbucket_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tracker-exporter/tracker-exporter/pkg/redisbucket"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
)

// redisAddr is TEST_REDIS_ADDR (skips, or fails under CI, when unset).
func redisAddr(t *testing.T) string {
	t.Helper()
	addr := testenv.Require(t, "TEST_REDIS_ADDR")
	return strings.TrimPrefix(strings.TrimSuffix(addr, "/0"), "redis://")
}

// testKey is a key no other run uses, deleted after the test.
func testKey(t *testing.T) string {
	t.Helper()
	key := fmt.Sprintf("redisbucket-test:%s:%d", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: redisAddr(t)})
		defer c.Close()
		c.Del(context.Background(), key)
	})
	return key
}

// bucket opens a bucket at key; its client is closed with the test (or
// by close, inside a synctest bubble).
func bucket(t *testing.T, key string) *redisbucket.Bucket {
	t.Helper()
	b, err := redisbucket.Open("redis://"+redisAddr(t)+"/0", key)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(context.Background()); err != nil {
		t.Fatalf("TEST_REDIS_ADDR server does not answer: %v", err)
	}
	return b
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// The bucket starts full, refills at its rate up to its burst, lends
// tokens it does not have (the caller waits for them), takes its time from
// the caller and never refills backwards.
func TestReserveRefillsAtTheRateFromTheCallersClock(t *testing.T) {
	b := bucket(t, testKey(t))
	defer b.Close()
	ctx := context.Background()
	p := tracker.BucketParams{Rate: 10, Ceiling: 100, Burst: 5}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	steps := []struct {
		at         time.Duration
		n          int
		wantBefore float64
	}{
		{0, 3, 5},                       // full
		{0, 4, 2},                       // 2 left; 2 owed after
		{100 * time.Millisecond, 1, -1}, // +1 token in 100 ms at 10/s
		{50 * time.Millisecond, 0, -2},  // a lagging clock refills nothing
		{2 * time.Second, 0, 5 - 0},     // +19 tokens, capped at the burst
		{2500 * time.Millisecond, 5, 5}, // still full
		{2600 * time.Millisecond, 0, 1}, // +1
	}
	for i, s := range steps {
		g, err := b.Reserve(ctx, t0.Add(s.at), s.n, p)
		if err != nil {
			t.Fatal(err)
		}
		if !near(g.Before, s.wantBefore) || g.N != s.n || g.State.Rate != 10 {
			t.Errorf("step %d (t0+%s take %d): before %g, n %d, rate %g; want before %g, n %d, rate 10",
				i, s.at, s.n, g.Before, g.N, g.State.Rate, s.wantBefore, s.n)
		}
	}
}

// The stored rate is shared: a client that starts at another rate takes
// the stored one, unless its rate is fixed; the ceiling caps it.
func TestStoredRateWinsUnlessFixed(t *testing.T) {
	b := bucket(t, testKey(t))
	defer b.Close()
	ctx := context.Background()
	now := time.Now()
	for _, c := range []struct {
		p    tracker.BucketParams
		want float64
	}{
		{tracker.BucketParams{Rate: 20, Ceiling: 100, Burst: 1}, 20},              // new bucket
		{tracker.BucketParams{Rate: 50, Ceiling: 100, Burst: 1}, 20},              // stored rate wins
		{tracker.BucketParams{Rate: 50, Ceiling: 15, Burst: 1}, 15},               // capped
		{tracker.BucketParams{Rate: 7, Ceiling: 7, Burst: 1, Fixed: true}, 7},     // fixed
		{tracker.BucketParams{Rate: 30, Ceiling: 100, Burst: 1, Fixed: true}, 30}, // fixed
	} {
		g, err := b.Reserve(ctx, now, 0, c.p)
		if err != nil {
			t.Fatal(err)
		}
		if g.State.Rate != c.want {
			t.Errorf("Reserve with %+v: rate %g, want %g", c.p, g.State.Rate, c.want)
		}
	}
}

// Update is a compare-and-swap on the version; a pause always extends.
func TestUpdateIsACompareAndSwap(t *testing.T) {
	b := bucket(t, testKey(t))
	defer b.Close()
	ctx := context.Background()
	p := tracker.BucketParams{Rate: 20, Ceiling: 100, Burst: 1}
	now := time.Now().Truncate(time.Microsecond)
	g, err := b.Reserve(ctx, now, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	st := g.State
	next := st
	next.Rate, next.Epoch, next.Peak, next.Raised, next.Sent = 8, st.Epoch+1, 12.5, 0, 0
	next.Since = now.Add(time.Second)
	if ok, err := b.Update(ctx, now, next, p); err != nil || !ok {
		t.Fatalf("Update at the stored version: %v, %v; want true", ok, err)
	}
	stale := st
	stale.Rate, stale.PausedUntil = 99, now.Add(3*time.Second)
	if ok, err := b.Update(ctx, now, stale, p); err != nil || ok {
		t.Fatalf("Update at a stale version: %v, %v; want false", ok, err)
	}
	g, err = b.Reserve(ctx, now, 1, p)
	if err != nil {
		t.Fatal(err)
	}
	want := next
	want.Version, want.PausedUntil = st.Version+1, now.Add(3*time.Second)
	got := g.State
	if got.Rate != want.Rate || got.Epoch != want.Epoch || got.Peak != want.Peak || got.Version != want.Version ||
		!got.Since.Equal(want.Since) || !got.PausedUntil.Equal(want.PausedUntil) {
		t.Errorf("state after a swap and a stale update:\n got %+v\nwant %+v", got, want)
	}
	if g.N != 0 {
		t.Errorf("Reserve during the pause took %d tokens, want 0", g.N)
	}
}

// recorder is an HTTP transport that answers 200 (or 429 when told) and
// records when each request went out.
type recorder struct {
	mu      sync.Mutex
	times   []time.Time
	refuse  int // answer the next refuse requests 429
	refused int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.times = append(r.times, time.Now())
	status, body := http.StatusOK, `[]`
	if r.refuse > 0 {
		r.refuse--
		r.refused++
		status, body = http.StatusTooManyRequests, `{"errorMessages":["Too many requests"]}`
	}
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// maxIn is the most requests in any window of length w.
func maxIn(times []time.Time, w time.Duration) int {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func newClient(t *testing.T, b tracker.SharedBucket, rt http.RoundTripper, adaptive bool, onRate func(float64)) *tracker.Client {
	t.Helper()
	c, err := tracker.New(tracker.Config{
		BaseURL: "http://tracker.test", Token: "t", OrgID: "1", RateLimit: 20, Adaptive: adaptive, RateCeiling: 100, MaxRetries: 0,
	}, tracker.Deps{Shared: b, HTTPClient: &http.Client{Transport: rt}, OnRate: onRate})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// busy runs 16 workers sending requests with c until ctx ends.
func busy(ctx context.Context, c *tracker.Client, wg *sync.WaitGroup) {
	for range 16 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = c.Statuses(ctx)
			}
		})
	}
}

// Three clients, each with sixteen workers, share a fixed 20 requests/s
// (burst 1): together they send 20 a second, never more than the burst
// plus one token over 20 in any second, and each gets a fair share. On a
// fake clock: Redis answers in no time.
func TestClientsSharingAFixedLimitNeverExceedIt(t *testing.T) {
	key := testKey(t)
	addr := redisAddr(t)
	synctest.Test(t, func(t *testing.T) {
		b, err := redisbucket.Open("redis://"+addr+"/0", key)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		rec := &recorder{}
		var per [3]*recorder
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for i := range per {
			per[i] = &recorder{}
			c := newClient(t, b, multi{rec, per[i]}, false, nil)
			busy(ctx, c, &wg)
		}
		wg.Wait()
		got := maxIn(rec.times, time.Second)
		total := len(rec.times)
		t.Logf("3 clients, 30 s at 20/s shared: %d requests, at most %d in a second; per client %d %d %d",
			total, got, len(per[0].times), len(per[1].times), len(per[2].times))
		if got > 20+1+1 {
			t.Errorf("%d requests in one second, want at most 22 (20/s, burst 1, one token late)", got)
		}
		if total < 30*20*95/100 || total > 30*20+2 {
			t.Errorf("%d requests in 30 s, want about 600 (at least 95 %%)", total)
		}
		for i, p := range per {
			if n := len(p.times); n < total/3*8/10 {
				t.Errorf("client %d sent %d of %d requests, want a fair share", i, n, total)
			}
		}
	})
}

// multi records each request in every recorder, answering as the first.
type multi []*recorder

func (m multi) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := m[0].RoundTrip(req)
	for _, r := range m[1:] {
		r.mu.Lock()
		r.times = append(r.times, time.Now())
		r.mu.Unlock()
	}
	return res, err
}

// A 429 that one client sees lowers the rate of every client, once for
// the requests in flight together; increases are shared too: the other
// client, which saw no 429, follows both ways.
func TestAdaptiveRateIsShared(t *testing.T) {
	key := testKey(t)
	addr := redisAddr(t)
	synctest.Test(t, func(t *testing.T) {
		b, err := redisbucket.Open("redis://"+addr+"/0", key)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		var mu sync.Mutex
		var seenByB []float64
		recA, recB := &recorder{}, &recorder{}
		a := newClient(t, b, recA, true, nil)
		bc := newClient(t, b, recB, true, func(r float64) { mu.Lock(); seenByB = append(seenByB, r); mu.Unlock() })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var wg sync.WaitGroup
		busy(ctx, a, &wg)
		busy(ctx, bc, &wg)
		wg.Wait()
		cancel()
		if r := bc.Rate(); r <= 20 {
			t.Fatalf("after 10 s of two busy clients without a 429, B's rate is %g, want above 20", r)
		}
		up := bc.Rate()
		// Both sent, together, at the shared rate (not twice it).
		if n := len(recA.times) + len(recB.times); n > int(10*up)+2 {
			t.Errorf("%d requests in 10 s with a shared rate of at most %g/s", n, up)
		}
		recA.mu.Lock()
		recA.refuse = 1
		recA.mu.Unlock()
		ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
		busy(ctx, a, &wg)
		busy(ctx, bc, &wg)
		wg.Wait()
		cancel()
		if recA.refused == 0 {
			t.Fatal("no 429 was answered")
		}
		mu.Lock()
		defer mu.Unlock()
		t.Logf("rates B saw: %v", seenByB)
		// A 429 after several steps up cuts by decreaseFactor (0.7).
		i := slices.Index(seenByB, up)
		if i < 0 || i+1 >= len(seenByB) || !near(seenByB[i+1], up*0.7) {
			t.Errorf("B's rates %v: want %g then %g (A's 429 cutting the shared rate)", seenByB, up, up*0.7)
		}
		for _, r := range seenByB[i+1:] {
			if r < up*0.7-1e-9 {
				t.Errorf("B's rates %v: one 429 cut more than once", seenByB)
				break
			}
		}
		if a.Rate() != bc.Rate() {
			t.Errorf("A's rate %g, B's %g: want the same shared rate", a.Rate(), bc.Rate())
		}
	})
}

// A Redis that cannot be reached fails the request without sending it,
// with ErrLimitUnavailable: clearly, and never over the limit.
func TestUnreachableRedisFailsTheRequestUnsent(t *testing.T) {
	// On a fake clock: the Redis client's dial retries and their backoff
	// would take some 2 s of real time; port 1 refuses at once.
	synctest.Test(t, func(t *testing.T) {
		b, err := redisbucket.Open("redis://127.0.0.1:1/0", "unreachable")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		rec := &recorder{}
		c := newClient(t, b, rec, true, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = c.Statuses(ctx)
		if !errors.Is(err, tracker.ErrLimitUnavailable) {
			t.Fatalf("error %v, want ErrLimitUnavailable", err)
		}
		if len(rec.times) != 0 {
			t.Errorf("%d requests sent without the shared limit, want 0", len(rec.times))
		}
	})
}
