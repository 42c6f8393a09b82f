package state_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/jsonfile"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/redisstate"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/s3state"
)

const (
	secretKey = "S3-SECRET-do-not-print"
	redisPass = "REDIS-PASS-do-not-print"
)

func TestValidate(t *testing.T) {
	s3 := state.Default()
	s3.JSONFileStrategy = "s3"
	tests := []struct {
		name string
		cfg  state.Config
		want []string // substrings of the error; none means valid
		// problems is the number of lines (one per problem) in the error.
		problems int
	}{
		{name: "defaults", cfg: state.Default()},
		{name: "redis", cfg: with(func(c *state.Config) { c.Storage, c.RedisDSN = "redis", "redis://:"+redisPass+"@redis:6379/1" })},
		{name: "s3 with keys", cfg: with(func(c *state.Config) { *c = s3; c.S3Bucket, c.S3AccessKey, c.S3SecretKey = "b", "a", secretKey })},
		{name: "s3 with the default chain", cfg: with(func(c *state.Config) { *c = s3; c.S3Bucket = "b" })},
		{name: "custom is refused naming the alternatives", cfg: with(func(c *state.Config) { c.Storage = "custom" }),
			want: []string{`Storage="custom": the old tool's custom storage`, "use jsonfile", "or redis (RedisDSN)"}, problems: 1},
		{name: "unknown storage", cfg: with(func(c *state.Config) { c.Storage = "consul" }), want: []string{`Storage="consul": want jsonfile or redis`}, problems: 1},
		{name: "unknown strategy", cfg: with(func(c *state.Config) { c.JSONFileStrategy = "ftp" }), want: []string{`JSONFileStrategy="ftp": want local or s3`}, problems: 1},
		{name: "s3 problems are all reported", cfg: with(func(c *state.Config) {
			*c = s3
			c.S3Region, c.S3Endpoint, c.S3SecretKey = "", "storage.example", secretKey
		}),
			want: []string{"S3Bucket: must not be empty", "S3Region: must not be empty", `S3Endpoint="storage.example": want an http(s) URL`, "S3AccessKey: set both S3AccessKey"}, problems: 4},
		{name: "no path", cfg: with(func(c *state.Config) { c.JSONFilePath = "" }), want: []string{"JSONFilePath: must not be empty"}, problems: 1},
		{name: "bad redis DSN, password kept out", cfg: with(func(c *state.Config) { c.Storage, c.RedisDSN = "redis", "http://u:"+redisPass+"@h:6379" }),
			want: []string{"RedisDSN (value hidden): want redis://"}, problems: 1},
		{name: "redis DSN that is no URL", cfg: with(func(c *state.Config) { c.Storage, c.RedisDSN = "redis", "redis://h:"+redisPass }),
			want: []string{"RedisDSN (value hidden)"}, problems: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v, want nil", tt.cfg, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%+v) = nil, want %q", tt.cfg, tt.want)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("Validate error %q does not say %q", msg, w)
				}
			}
			if lines := strings.Count(msg, "\n") + 1; lines != tt.problems {
				t.Errorf("Validate error has %d lines, want one per problem (%d): %q", lines, tt.problems, msg)
			}
			if strings.Contains(msg, secretKey) || strings.Contains(msg, redisPass) {
				t.Errorf("Validate error reveals a secret: %q", msg)
			}
			if tt.name == "no path" {
				return // Open takes an empty path for the default
			}
			if _, oerr := state.Open(context.Background(), tt.cfg); oerr == nil {
				t.Errorf("Open accepted a config Validate refuses")
			}
		})
	}
}

// with returns Default changed by mod.
func with(mod func(*state.Config)) state.Config {
	c := state.Default()
	mod(&c)
	return c
}

// Without the store in use only the choice of backend is checked, and the
// old tool's custom storage is accepted.
func TestValidateChoice(t *testing.T) {
	c := state.Config{Storage: "custom", JSONFileStrategy: "local", JSONFilePath: ""}
	if err := c.ValidateChoice(); err != nil {
		t.Errorf("ValidateChoice(custom) = %v, want nil", err)
	}
	c.Storage, c.JSONFileStrategy = "consul", "ftp"
	err := c.ValidateChoice()
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("ValidateChoice(consul, ftp) = %v, want two problems", err)
	}
}

func TestOpenPicksTheBackend(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		cfg      state.Config
		check    func(t *testing.T, s state.Store)
		wantPath string
	}{
		{name: "local file, .json appended as the old tool did",
			cfg: state.Config{JSONFilePath: filepath.Join(dir, "mystate")},
			check: func(t *testing.T, s state.Store) {
				f, ok := s.(*jsonfile.Store)
				if !ok || f.Path() != filepath.Join(dir, "mystate.json") {
					t.Errorf("Open = %T %v, want *jsonfile.Store at mystate.json", s, s)
				}
			}},
		{name: "default local file",
			cfg: state.Config{},
			check: func(t *testing.T, s state.Store) {
				if f, ok := s.(*jsonfile.Store); !ok || f.Path() != "state.json" {
					t.Errorf("Open = %T %v, want *jsonfile.Store at state.json", s, s)
				}
			}},
		{name: "s3",
			cfg: state.Config{JSONFileStrategy: "s3", S3Bucket: "b", S3Endpoint: "http://127.0.0.1:1", S3AccessKey: "a", S3SecretKey: secretKey},
			check: func(t *testing.T, s state.Store) {
				if _, ok := s.(*s3state.Store); !ok {
					t.Errorf("Open = %T, want *s3state.Store", s)
				}
			}},
		{name: "redis, DSN with a password",
			cfg: state.Config{Storage: "redis", RedisDSN: "redis://:" + redisPass + "@127.0.0.1:1/0"},
			check: func(t *testing.T, s state.Store) {
				if _, ok := s.(*redisstate.Store); !ok {
					t.Errorf("Open = %T, want *redisstate.Store", s)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := state.Open(context.Background(), tt.cfg)
			if err != nil {
				t.Fatalf("Open(%+v): %v", tt.cfg, err)
			}
			defer s.Close()
			tt.check(t, s)
		})
	}
}

func TestOpenLocalRoundTripWithLegacyZone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(`{"tracker_etl_default": "2024-03-05 14:07:33"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := state.Open(ctx, state.Config{JSONFilePath: path, LegacyLocation: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, ok, err := s.Load(ctx, state.DefaultKey)
	want := time.Date(2024, 3, 5, 14, 7, 33, 0, time.UTC)
	if err != nil || !ok || !got.Watermark.Equal(want) {
		t.Fatalf("Load = %v, ok=%v, err=%v; want %v (zone UTC from the config)", got.Watermark, ok, err, want)
	}
	next := state.State{Watermark: want.Add(time.Hour), FailedKeys: []string{"A-1"}}
	if err := s.Save(ctx, "other", next); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Load(ctx, "other"); !got.Watermark.Equal(next.Watermark) {
		t.Fatalf("Load(other) = %v, want %v", got.Watermark, next.Watermark)
	}
	if _, _, err := s.Load(ctx, state.DefaultKey); err != nil {
		t.Fatalf("old key after saving another: %v", err)
	}
}

// TestOpenReadsOldQueryFormat opens the old tool's file whose watermark was
// written with a custom EXPORTER_DATETIME_QUERY_FORMAT (%d.%m.%Y %H:%M:%S,
// converted to a Go layout by pkg/config): it reads as the same instant as
// the default format's "2024-01-30 10:00:00" in the old default zone.
func TestOpenReadsOldQueryFormat(t *testing.T) {
	ctx := context.Background()
	want := time.Date(2024, 1, 30, 7, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ stored, layout string }{
		{"30.01.2024 10:00:00", "02.01.2006 15:04:05"},
		{"2024-01-30 10:00:00", ""},
		{"2024-01-30 10:00:00", "02.01.2006 15:04:05"},
	} {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, []byte(`{"tracker_etl_default": "`+tt.stored+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := state.Open(ctx, state.Config{JSONFilePath: path, LegacyLayout: tt.layout})
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Load(ctx, state.DefaultKey)
		_ = s.Close()
		if err != nil || !ok || !got.Watermark.Equal(want) {
			t.Errorf("Load of %q with layout %q = %v, ok=%v, err=%v; want %v", tt.stored, tt.layout, got.Watermark, ok, err, want)
		}
	}
}

func TestLogValueRedactsSecrets(t *testing.T) {
	cfg := state.Config{
		Storage:     "redis",
		RedisDSN:    "redis://user:" + redisPass + "@redis:6379/0",
		S3AccessKey: "AKIA-visible",
		S3SecretKey: secretKey,
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("state", "config", cfg)
	out := buf.String()
	for _, secret := range []string{secretKey, redisPass} {
		if strings.Contains(out, secret) {
			t.Errorf("log line reveals %q: %s", secret, out)
		}
	}
	for _, want := range []string{"config.redis_dsn=redis://user:xxxxx@redis:6379/0", "config.s3_secret_key=REDACTED", "config.storage=redis"} {
		if !strings.Contains(out, want) {
			t.Errorf("log line %s lacks %s", out, want)
		}
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	if errors.Is(state.ErrCorrupt, state.ErrConflict) || errors.Is(state.ErrConflict, state.ErrCorrupt) {
		t.Fatal("ErrCorrupt and ErrConflict match each other")
	}
}
