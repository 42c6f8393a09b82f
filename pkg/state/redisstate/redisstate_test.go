package redisstate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/redisstate"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/statetest"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
)

// redisDSN returns a DSN for the server named by TEST_REDIS_ADDR (host:port
// or a redis:// URL), or skips (fails under CI).
func redisDSN(t *testing.T) string {
	t.Helper()
	addr := testenv.Require(t, "TEST_REDIS_ADDR")
	if strings.Contains(addr, "://") {
		return addr
	}
	return "redis://" + addr + "/0"
}

// testClient returns a client for direct checks, closed with the test.
func testClient(t *testing.T, dsn string) *redis.Client {
	t.Helper()
	opts, err := redisstate.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// runNamespace is a namespace no other run uses; its keys are deleted at
// the end of the test.
func runNamespace(t *testing.T, c *redis.Client) string {
	t.Helper()
	ns := fmt.Sprintf("statetest-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, ns+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return ns
}

func TestConformance(t *testing.T) {
	dsn := redisDSN(t)
	c := testClient(t, dsn)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("TEST_REDIS_ADDR server does not answer: %v", err)
	}
	base := runNamespace(t, c)
	namespaceFor := func(t *testing.T) string { return base + ":" + t.Name() }
	statetest.Run(t,
		func(t *testing.T) state.Store {
			s, err := redisstate.Open(dsn, redisstate.Options{Namespace: namespaceFor(t)})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return s
		},
		statetest.WithCorrupt(func(t *testing.T, key string) {
			if err := c.Set(context.Background(), namespaceFor(t)+":"+key, `{"version":1,"waterm`, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}),
		statetest.WithOldValues(func(t *testing.T, loc *time.Location, layout string) state.Store {
			s, err := redisstate.Open(dsn, redisstate.Options{Namespace: namespaceFor(t), LegacyLocation: loc, LegacyLayout: layout})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return s
		}, func(t *testing.T, key, value string) {
			// The old tool's Redis storage left the bare string.
			if err := c.Set(context.Background(), namespaceFor(t)+":"+key, value, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}),
	)
}

// TestOldToolValues reads the values the old tool's Redis storage left: a
// bare local time string under "<namespace>:<key>".
func TestOldToolValues(t *testing.T) {
	dsn := redisDSN(t)
	c := testClient(t, dsn)
	ns := runNamespace(t, c)
	ctx := context.Background()
	tests := []struct {
		name    string
		stored  string
		zone    *time.Location
		want    time.Time
		corrupt bool
	}{
		{name: "default zone", stored: "2024-03-05 14:07:33", want: time.Date(2024, 3, 5, 11, 7, 33, 0, time.UTC)},
		{name: "UTC", stored: "2024-03-05 14:07:33", zone: time.UTC, want: time.Date(2024, 3, 5, 14, 7, 33, 0, time.UTC)},
		{name: "JSON-quoted", stored: `"2024-03-05 14:07:33"`, zone: time.UTC, want: time.Date(2024, 3, 5, 14, 7, 33, 0, time.UTC)},
		{name: "garbage", stored: "last tuesday", corrupt: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := redisstate.Open(dsn, redisstate.Options{Namespace: ns, LegacyLocation: tt.zone})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			key := fmt.Sprintf("old-%d", i)
			if err := c.Set(ctx, ns+":"+key, tt.stored, 0).Err(); err != nil {
				t.Fatal(err)
			}
			got, ok, err := s.Load(ctx, key)
			if tt.corrupt {
				if !errors.Is(err, state.ErrCorrupt) || ok {
					t.Fatalf("Load of %q: ok=%v, err=%v; want ErrCorrupt", tt.stored, ok, err)
				}
				return
			}
			if err != nil || !ok || !got.Watermark.Equal(tt.want) {
				t.Fatalf("Load of %q in zone %v = %v, ok=%v, err=%v; want %v", tt.stored, tt.zone, got.Watermark, ok, err, tt.want)
			}
			if err := s.Save(ctx, key, state.State{Watermark: tt.want.Add(time.Hour), RunID: "new"}); err != nil {
				t.Fatal(err)
			}
			raw, err := c.Get(ctx, ns+":"+key).Result()
			if err != nil || !strings.HasPrefix(raw, `{"version":1,`) {
				t.Fatalf("value after Save = %q, %v; want the JSON object", raw, err)
			}
			if ttl := c.TTL(ctx, ns+":"+key).Val(); ttl != -1 {
				t.Errorf("TTL after Save = %v, want none (-1)", ttl)
			}
		})
	}
}

func TestUnreachableServerIsAnError(t *testing.T) {
	// On a fake clock: the Redis client's dial retries and their backoff
	// would take most of a second of real time; port 1 refuses at once.
	synctest.Test(t, func(t *testing.T) {
		// Port 1 on localhost refuses connections.
		s, err := redisstate.Open("redis://:pa55word@127.0.0.1:1/0?dial_timeout=200ms&max_retries=-1", redisstate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		_, ok, err := s.Load(ctx, "k")
		if err == nil || ok || errors.Is(err, state.ErrCorrupt) {
			t.Errorf("Load from an unreachable server: ok=%v, err=%v; want a plain error", ok, err)
		}
		if err != nil && strings.Contains(err.Error(), "pa55word") {
			t.Errorf("Load error reveals the password: %v", err)
		}
		if err := s.Save(ctx, "k", state.State{Watermark: time.Now()}); err == nil {
			t.Error("Save to an unreachable server: nil error")
		}
	})
}

func TestParseDSNNeverRevealsThePassword(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	tests := []struct {
		name    string
		dsn     string
		wantErr string
	}{
		{name: "valid", dsn: "redis://user:" + pw + "@localhost:6379/2"},
		{name: "valid TLS", dsn: "rediss://:" + pw + "@localhost:6380"},
		{name: "wrong scheme", dsn: "http://user:" + pw + "@localhost:6379", wantErr: "invalid URL scheme"},
		{name: "bad db number", dsn: "redis://user:" + pw + "@localhost:6379/x" + pw, wantErr: "invalid database number"},
		{name: "unknown option", dsn: "redis://:" + pw + "@localhost:6379/0?" + pw + "=1", wantErr: "unexpected option"},
		{name: "not a URL", dsn: "redis://user:" + pw + "%zz@localhost", wantErr: "not a valid URL"},
		{name: "password where the port goes", dsn: "redis://localhost:" + pw, wantErr: "not a valid URL"},
		{name: "empty", dsn: "", wantErr: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := redisstate.ParseDSN(tt.dsn)
			if tt.wantErr == "" {
				if err != nil || opts.Password != pw {
					t.Fatalf("ParseDSN: %v (password parsed: %v)", err, opts != nil && opts.Password == pw)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseDSN error = %v, want one saying %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), pw) {
				t.Fatalf("ParseDSN error reveals the password: %q", err)
			}
			if _, err := redisstate.Open(tt.dsn, redisstate.Options{}); err == nil || strings.Contains(err.Error(), pw) {
				t.Fatalf("Open error = %v; want an error without the password", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://user:secret@host:6379/0", "redis://user:xxxxx@host:6379/0"},
		{"redis://host:6379", "redis://host:6379"},
		{"redis://:secret@host", "redis://:xxxxx@host"},
		{"redis://user:sec%zzret@host", "REDACTED"},
	}
	for _, tt := range tests {
		if got := redisstate.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedisKey(t *testing.T) {
	tests := []struct {
		ns, key, want string
	}{
		{"", state.DefaultKey, "tracker_exporter_default:tracker_etl_default"},
		{"team-a", "queue-dev", "team-a:queue-dev"},
	}
	for _, tt := range tests {
		s := redisstate.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), redisstate.Options{Namespace: tt.ns})
		if got := s.RedisKey(tt.key); got != tt.want {
			t.Errorf("RedisKey(%q) with namespace %q = %q, want %q", tt.key, tt.ns, got, tt.want)
		}
	}
}
