// Package redisstate is the state backend that keeps each state key in its
// own Redis key, "<namespace>:<key>", as the old tool did (namespace
// "tracker_exporter_default").
//
// Save is a single SET of the JSON value, which Redis applies atomically;
// keys never share a Redis value, so writers of different keys cannot
// interfere. Load reads the old tool's values too: a bare time string such as
// "2024-03-05 14:07:33" in the tracker's time zone.
package redisstate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tracker-exporter/tracker-exporter/pkg/state/internal/statecore"
)

// DefaultNamespace is the old tool's key prefix.
const DefaultNamespace = "tracker_exporter_default"

// Options tunes a Store. The zero value is ready to use.
type Options struct {
	// Namespace prefixes every Redis key ("<namespace>:<key>");
	// DefaultNamespace when empty.
	Namespace string
	// LegacyLocation is the zone of the old tool's watermark strings;
	// nil means Europe/Moscow, its default.
	LegacyLocation *time.Location
	// LegacyLayout is the Go layout of the old tool's
	// EXPORTER_DATETIME_QUERY_FORMAT, in which it wrote its watermark
	// strings; tried before the fixed layouts. Empty: the fixed layouts
	// only, which read the default format.
	LegacyLayout string
}

// Store keeps state in Redis. It is safe for concurrent use.
type Store struct {
	client    redis.UniversalClient
	owned     bool
	namespace string
	legacy    statecore.Legacy
	closed    atomic.Bool
}

// Open parses dsn (redis://[user:password@]host:port/db, rediss:// for TLS,
// unix://) and returns a Store that owns its client. It does no network
// I/O: an unreachable server shows up on the first Load or Save. Errors
// never contain the password; see Redact.
func Open(dsn string, o Options) (*Store, error) {
	opts, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	s := New(redis.NewClient(opts), o)
	s.owned = true
	return s, nil
}

// ParseDSN parses a Redis DSN into client options. Its errors show the DSN
// with the password redacted and never the password itself.
func ParseDSN(dsn string) (*redis.Options, error) {
	if dsn == "" {
		return nil, errors.New("redis DSN is empty (want redis://host:port/db)")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// url.Parse errors quote the input; say nothing of it.
		return nil, errors.New("redis DSN is not a valid URL (want redis://[user:password@]host:port/db)")
	}
	opts, err := redis.ParseURL(dsn)
	if err != nil {
		return nil, errors.New(scrub(fmt.Sprintf("redis DSN %s: %v", u.Redacted(), err), u))
	}
	return opts, nil
}

// Redact returns dsn with its password replaced by "xxxxx" (wherever else
// it appears too), or "REDACTED" when dsn is not a URL, for logs and error
// messages.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "REDACTED"
	}
	return scrub(u.Redacted(), u)
}

// scrub replaces every occurrence of the password of u in s.
func scrub(s string, u *url.URL) string {
	if pw, ok := u.User.Password(); ok && pw != "" {
		s = strings.ReplaceAll(s, pw, "xxxxx")
	}
	return s
}

// New returns a Store over client, which the caller keeps owning: Close
// does not close it.
func New(client redis.UniversalClient, o Options) *Store {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	return &Store{
		client:    client,
		namespace: o.Namespace,
		legacy:    statecore.Legacy{Location: statecore.LegacyLocation(o.LegacyLocation), Layout: o.LegacyLayout},
	}
}

// RedisKey returns the Redis key that holds state key.
func (s *Store) RedisKey(key string) string { return s.namespace + ":" + key }

func (s *Store) check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return fmt.Errorf("redisstate: %w", fs.ErrClosed)
	}
	return statecore.CheckKey(key)
}

// Load returns the state saved under key. A missing Redis key returns
// ok=false; a value that cannot be read returns an error wrapping
// state.ErrCorrupt; connection and server errors are returned wrapped.
func (s *Store) Load(ctx context.Context, key string) (statecore.State, bool, error) {
	if err := s.check(ctx, key); err != nil {
		return statecore.State{}, false, fmt.Errorf("load state %q: %w", key, err)
	}
	rk := s.RedisKey(key)
	raw, err := s.client.Get(ctx, rk).Bytes()
	if errors.Is(err, redis.Nil) {
		return statecore.State{}, false, nil
	}
	if err != nil {
		return statecore.State{}, false, fmt.Errorf("load state: redis GET %s: %w", rk, err)
	}
	st, ok, err := statecore.DecodeValue(raw, s.legacy)
	if err != nil {
		return statecore.State{}, false, fmt.Errorf("load state: redis key %s: %w", rk, err)
	}
	return st, ok, nil
}

// Save stores st under key with one SET, without expiry.
func (s *Store) Save(ctx context.Context, key string, st statecore.State) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("save state %q: %w", key, err)
	}
	val, err := statecore.EncodeValue(st, time.Now())
	if err != nil {
		return fmt.Errorf("save state %q: %w", key, err)
	}
	rk := s.RedisKey(key)
	if err := s.client.Set(ctx, rk, val, 0).Err(); err != nil {
		return fmt.Errorf("save state: redis SET %s: %w", rk, err)
	}
	return nil
}

// Close marks the Store closed and closes the client if Open created it.
// Later calls fail with fs.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) || !s.owned {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close redis client: %w", err)
	}
	return nil
}
