package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// Two extractor shards, one per set of queues, each with its own
// watermark, share one organisation-wide limit of 20 requests/s through
// Redis. The emulator enforces the same 20/s (burst 20) and would answer
// 429 to anything above: none comes, its counter of arrivals never sees
// more than 20 + 2 in any second, and each shard exports exactly the
// issues of its queues. (Each alone at 20/s, the two send up to 41 in a
// second and get 429s: measured with EXPORTER_TRACKER__RATE_LIMIT_SHARED
// false, 88 of 261 requests.)
func TestShardedExtractorsShareOneRateLimit(t *testing.T) {
	const limit = 20
	redisAddr := testenv.Require(t, "TEST_REDIS_ADDR")
	f := newFixtureWith(t, trackertest.Options{Issues: 200, Seed: 7, RateLimit: limit, Burst: limit,
		Latency: 20 * time.Millisecond, RecordArrivals: true})
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(redisAddr, "redis://")})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("TEST_REDIS_ADDR does not answer: %v", err)
	}
	run := fmt.Sprintf("e2e-shard-%d", rand.Uint32())
	rateKey := run + ":rate"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, "*"+run+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	if code, out := f.run("loader", "migrate"); code != 0 {
		t.Fatalf("loader migrate exit %d:\n%s", code, out)
	}
	stopT := f.start("transformer")
	stopL := f.start("loader")
	f.setenv("EXPORTER_TRACKER__SEARCH__QUERY", nil)
	f.set("EXPORTER_STATEFUL", "true")
	f.set("EXPORTER_STATEFUL_INITIAL_RANGE", "200w")
	f.set("EXPORTER_STATE__STORAGE", "redis")
	f.set("EXPORTER_STATE__REDIS_DSN", "redis://"+strings.TrimPrefix(redisAddr, "redis://")+"/0")
	f.set("EXPORTER_TRACKER__RATE_LIMIT", fmt.Sprint(limit))
	f.set("EXPORTER_TRACKER__RATE_LIMIT_ADAPTIVE", "false")
	f.set("EXPORTER_TRACKER__RATE_LIMIT_SHARED", "true")
	f.set("EXPORTER_TRACKER__RATE_LIMIT_SHARED_KEY", rateKey)
	shards := []struct {
		name   string
		queues []string
	}{{"dev", []string{"DEV"}}, {"ops", []string{"SRE", "OPS"}}}
	type result struct {
		code       int
		out        string
		start, end time.Time
	}
	results := make([]result, len(shards))
	var wg sync.WaitGroup
	for i, sh := range shards {
		cmd := f.command("extractor", "--run-once")
		cmd.Env = append(append([]string(nil), f.env...),
			"EXPORTER_TRACKER__SEARCH__QUEUES="+strings.Join(sh.queues, ","),
			"EXPORTER_STATE__KEY="+run+"-"+sh.name)
		wg.Go(func() {
			r := &results[i]
			r.start = time.Now()
			out, err := cmd.CombinedOutput()
			r.end, r.out = time.Now(), string(out)
			if ee, ok := err.(*exec.ExitError); ok {
				r.code = ee.ExitCode()
			} else if err != nil {
				r.code, r.out = -1, err.Error()
			}
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("shard %s exit %d:\n%s", shards[i].name, r.code, lastLines(r.out, 30))
		}
	}
	first, last := results[0].start, results[0].end
	for _, r := range results[1:] {
		first, last = minTime(first, r.start), maxTime(last, r.end)
	}
	peak, at := f.em.MaxInWindow(time.Second)
	total, throttled := f.em.TotalRequests(), f.em.Throttled()
	span := f.em.Arrivals()
	spanSecs := span[len(span)-1].Sub(span[0]).Seconds()
	t.Logf("2 shards, shared limit %d/s: %d requests in %.1f s (%.1f/s on average), at most %d in a second (from %s), %d answered 429; shards ran %s and %s",
		limit, total, spanSecs, float64(total)/spanSecs, peak, at.Format("15:04:05.000"), throttled,
		results[0].end.Sub(results[0].start).Round(time.Millisecond), results[1].end.Sub(results[1].start).Round(time.Millisecond))
	if throttled != 0 {
		t.Errorf("the emulator answered %d requests 429: the shards together exceeded %d/s with burst %d", throttled, limit, limit)
	}
	// The shared bucket allows burst 1 + 20·(1 s + one interval late) =
	// 22 requests sent in a second; one more for the jitter of arrival.
	if peak > limit+3 {
		t.Errorf("%d requests arrived within one second, want at most %d (the limit, burst 1, one token late, one of jitter)", peak, limit+3)
	}
	if avg := float64(total) / spanSecs; avg > limit*1.05 {
		t.Errorf("%.1f requests/s on average, want at most %d", avg, limit)
	}
	// The shards ran together: each for most of the other's run.
	for i, r := range results {
		if r.end.Sub(r.start) < (last.Sub(first))/3 {
			t.Errorf("shard %s ran %s of the %s both took: the test did not exercise sharing", shards[i].name, r.end.Sub(r.start), last.Sub(first))
		}
	}
	// Each shard exported exactly its queues, and kept its own watermark.
	want := map[string]bool{}
	for _, k := range f.em.IssueKeys() {
		q, _, _ := strings.Cut(k, "-")
		for _, sh := range shards {
			for _, sq := range sh.queues {
				if q == sq {
					want[k] = true
				}
			}
		}
	}
	got := map[string]bool{}
	waitUntil(t, "the shards' issues loaded", 2*time.Minute, func() bool {
		return f.viewCount("issues_view") >= uint64(len(want))
	})
	rows, err := f.ch.Conn().Query(context.Background(), "SELECT issue_key FROM `"+f.db+"`.issues_view")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		got[k] = true
	}
	rows.Close()
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("issues_view: %d issues, want the %d of DEV, SRE and OPS; missing %v, not of those queues %v", len(got), len(want), missing, extra)
	}
	for _, sh := range shards {
		key := "tracker_exporter_default:" + run + "-" + sh.name
		if n, err := rdb.Exists(context.Background(), key).Result(); err != nil || n != 1 {
			t.Errorf("shard %s: no watermark at %s (%v)", sh.name, key, err)
		}
	}
	if n, err := rdb.Exists(context.Background(), rateKey).Result(); err != nil || n != 1 {
		t.Errorf("no shared bucket at %s (%v)", rateKey, err)
	}
	for name, stop := range map[string]func() (int, string){"transformer": stopT, "loader": stopL} {
		if code, out := stop(); code != 0 {
			t.Errorf("%s exit %d after SIGTERM:\n%s", name, code, lastLines(out, 20))
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// A shared limit whose Redis cannot be reached stops the extractor at
// start, after EXPORTER_START_TIMEOUT, naming what it waited for: it never
// runs unlimited.
func TestShardWithoutRedisExitsAtStart(t *testing.T) {
	f := newFixture(t, 10)
	f.set("EXPORTER_TRACKER__RATE_LIMIT_SHARED", "true")
	f.set("EXPORTER_STATE__REDIS_DSN", "redis://:hunter2-secret@127.0.0.1:1/0")
	f.set("EXPORTER_TRACKER__RATE_LIMIT", "20")
	f.set("EXPORTER_START_TIMEOUT", "1s")
	code, out := f.run("extractor", "--run-once")
	if code != 1 || !strings.Contains(out, "shared rate limit") {
		t.Fatalf("exit %d, want 1 naming the shared rate limit:\n%s", code, lastLines(out, 20))
	}
	if strings.Contains(out, "hunter2-secret") {
		t.Errorf("the Redis password appears in the output:\n%s", out)
	}
	if n := f.em.TotalRequests(); n != 0 {
		t.Errorf("%d Tracker requests sent without the shared limit, want 0", n)
	}
}
