// Package redisbucket keeps a tracker.SharedBucket in Redis: one hash per
// bucket holding the tokens, the time of the last refill, the shared rate
// and the adaptive limit's law, changed only by Lua scripts, which Redis
// runs atomically. Several extractor processes (one per queue) that name
// the same key send together at most one organisation-wide rate.
//
// Times are the callers' (passed in, as microseconds since the Unix epoch),
// not Redis's TIME: the same code then runs on a test's fake clock, and
// callers on machines whose clocks agree (NTP keeps them within
// milliseconds) share the bucket as if one clock kept it. A caller whose
// clock lags does not refill the bucket (time never runs backwards in it);
// one whose clock leads by d refills it d early, at most rate·d tokens.
package redisbucket

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tracker-exporter/tracker-exporter/pkg/state/redisstate"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
)

// DefaultTTL is how long a bucket nobody uses stays in Redis: the learned
// rate outlives restarts shorter than this.
const DefaultTTL = time.Hour

// Bucket is a shared token bucket in Redis. It is safe for concurrent use.
type Bucket struct {
	client redis.UniversalClient
	owned  bool
	key    string
	ttl    time.Duration
}

// Open parses dsn (as redisstate.ParseDSN: errors never show the password)
// and returns a Bucket at key that owns its client. It does no I/O.
func Open(dsn, key string) (*Bucket, error) {
	opts, err := redisstate.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	b, err := New(redis.NewClient(opts), key)
	if err != nil {
		return nil, err
	}
	b.owned = true
	return b, nil
}

// New returns a Bucket at key over client, which the caller keeps owning.
func New(client redis.UniversalClient, key string) (*Bucket, error) {
	if key == "" {
		return nil, errors.New("redisbucket: empty key")
	}
	return &Bucket{client: client, key: key, ttl: DefaultTTL}, nil
}

// Key returns the Redis key of the bucket.
func (b *Bucket) Key() string { return b.key }

// Ping checks that Redis answers.
func (b *Bucket) Ping(ctx context.Context) error {
	if err := b.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisbucket: %w", err)
	}
	return nil
}

// Close closes the client if the Bucket owns it.
func (b *Bucket) Close() error {
	if b.owned {
		return b.client.Close()
	}
	return nil
}

// The hash's fields: tokens, ts (last refill, µs), rate (requests/s),
// epoch, peak, raised, since (µs), sent, pause (µs), ver. Numbers go
// through string.format('%.17g') so that doubles survive both ways.
const scriptHead = `
local function f(x) return string.format('%.17g', x) end
local k = KEYS[1]
local h = redis.call('HMGET', k, 'tokens', 'ts', 'rate', 'epoch', 'peak', 'raised', 'since', 'sent', 'pause', 'ver')
local now = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local tokens, ts, rate = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
local epoch, peak, raised = tonumber(h[4]) or 0, tonumber(h[5]) or 0, tonumber(h[6]) or 0
local since, sent, pause, ver = tonumber(h[7]) or now, tonumber(h[8]) or 0, tonumber(h[9]) or 0, tonumber(h[10]) or 0
`

// reserve: ARGV[4..8] = n, rate, ceiling, fixed (0/1).
var reserveScript = redis.NewScript(scriptHead + `
local n, rate0, ceiling, fixed = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
if rate == nil then
  tokens, ts, since, rate = burst, now, now, rate0
elseif fixed then
  rate = rate0
end
if rate > ceiling then rate = ceiling end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1e6)
  ts = now
end
local before = tokens
if now < pause then n = 0 end
tokens = tokens - n
sent = sent + n
redis.call('HSET', k, 'tokens', f(tokens), 'ts', f(ts), 'rate', f(rate), 'epoch', f(epoch), 'peak', f(peak),
  'raised', f(raised), 'since', f(since), 'sent', f(sent), 'pause', f(pause), 'ver', f(ver))
redis.call('PEXPIRE', k, ttl)
return {n, f(before), f(rate), f(epoch), f(peak), f(raised), f(since), f(sent), f(pause), f(ver)}
`)

// update: ARGV[4..11] = ver, rate, epoch, peak, raised, since, sent, pause.
var updateScript = redis.NewScript(scriptHead + `
local newpause = math.max(pause, tonumber(ARGV[11]))
if rate == nil or ver ~= tonumber(ARGV[4]) then
  if rate ~= nil then
    redis.call('HSET', k, 'pause', f(newpause))
  end
  return 0
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1e6)
  ts = now
end
redis.call('HSET', k, 'tokens', f(tokens), 'ts', f(ts), 'rate', ARGV[5], 'epoch', ARGV[6], 'peak', ARGV[7],
  'raised', ARGV[8], 'since', ARGV[9], 'sent', ARGV[10], 'pause', f(newpause), 'ver', f(ver + 1))
redis.call('PEXPIRE', k, ttl)
return 1
`)

func micros(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 17, 64) }

// Reserve implements tracker.SharedBucket. It is one script call.
func (b *Bucket) Reserve(ctx context.Context, now time.Time, n int, p tracker.BucketParams) (tracker.Grant, error) {
	fixed := "0"
	if p.Fixed {
		fixed = "1"
	}
	res, err := reserveScript.Run(ctx, b.client, []string{b.key},
		micros(now), max(p.Burst, 1), b.ttl.Milliseconds(), n, num(p.Rate), num(p.Ceiling), fixed).Slice()
	if err != nil {
		return tracker.Grant{}, fmt.Errorf("redisbucket reserve: %w", err)
	}
	if len(res) != 10 {
		return tracker.Grant{}, fmt.Errorf("redisbucket reserve: %d values in the answer, want 10", len(res))
	}
	var v [9]float64
	for i := range v {
		s, _ := res[i+1].(string)
		if v[i], err = strconv.ParseFloat(s, 64); err != nil {
			return tracker.Grant{}, fmt.Errorf("redisbucket reserve: value %d: %w", i+1, err)
		}
	}
	taken, _ := res[0].(int64)
	return tracker.Grant{N: int(taken), Before: v[0], State: tracker.SharedState{
		Rate: v[1], Epoch: uint64(v[2]), Peak: v[3], Raised: int(v[4]),
		Since: fromMicros(v[5]), Sent: int(v[6]), PausedUntil: fromMicros(v[7]), Version: uint64(v[8]),
	}}, nil
}

// Update implements tracker.SharedBucket. It is one script call.
func (b *Bucket) Update(ctx context.Context, now time.Time, st tracker.SharedState, p tracker.BucketParams) (bool, error) {
	n, err := updateScript.Run(ctx, b.client, []string{b.key},
		micros(now), max(p.Burst, 1), b.ttl.Milliseconds(),
		st.Version, num(st.Rate), st.Epoch, num(st.Peak), st.Raised, micros(st.Since), st.Sent, micros(st.PausedUntil)).Int()
	if err != nil {
		return false, fmt.Errorf("redisbucket update: %w", err)
	}
	return n == 1, nil
}

func fromMicros(us float64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(int64(us))
}

var _ tracker.SharedBucket = (*Bucket)(nil)
