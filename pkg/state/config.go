package state

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"

	"github.com/tracker-exporter/tracker-exporter/pkg/state/jsonfile"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/redisstate"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/s3state"
)

// Values of Config.Storage.
const (
	StorageJSONFile = "jsonfile"
	StorageRedis    = "redis"
	// StorageCustom is the old tool's Python-class storage; Open refuses it.
	StorageCustom = "custom"
)

// Values of Config.JSONFileStrategy.
const (
	StrategyLocal = "local"
	StrategyS3    = "s3"
)

// Defaults of Config, those of the old tool.
const (
	DefaultStorage  = StorageJSONFile
	DefaultStrategy = StrategyLocal
	DefaultPath     = jsonfile.DefaultPath
	DefaultS3Region = s3state.DefaultRegion
	DefaultRedisDSN = "redis://localhost:6379"
)

// Config selects and configures a backend: a plain value, built with
// Default and checked with Validate. The env tag of a field names the old
// tool's variable that sets it (pkg/config maps it; Validate's problems
// name fields, which pkg/config turns into these names). Open takes empty
// fields for the defaults of Default.
type Config struct {
	// Storage is jsonfile or redis. The old tool's custom storage is
	// refused.
	Storage string `env:"EXPORTER_STATE__STORAGE"`
	// JSONFileStrategy is local or s3: where the jsonfile storage keeps
	// its document.
	JSONFileStrategy string `env:"EXPORTER_STATE__JSONFILE_STRATEGY"`
	// JSONFilePath is the file path, or the object key with the s3
	// strategy. As in the old tool, ".json" is appended when it does not
	// end with it.
	JSONFilePath string `env:"EXPORTER_STATE__JSONFILE_PATH"`
	// S3Bucket, S3Region, S3Endpoint, S3AccessKey and S3SecretKey configure
	// the s3 strategy. Without keys the AWS default credentials apply.
	S3Bucket    string         `env:"EXPORTER_STATE__JSONFILE_S3_BUCKET"`
	S3Region    string         `env:"EXPORTER_STATE__JSONFILE_S3_REGION"`
	S3Endpoint  string         `env:"EXPORTER_STATE__JSONFILE_S3_ENDPOINT"`
	S3AccessKey setting.Secret `env:"EXPORTER_STATE__JSONFILE_S3_ACCESS_KEY"`
	S3SecretKey setting.Secret `env:"EXPORTER_STATE__JSONFILE_S3_SECRET_KEY"`
	// RedisDSN is the Redis URL; it may hold a password.
	RedisDSN setting.Secret `env:"EXPORTER_STATE__REDIS_DSN"`
	// LegacyLocation is the zone in which the old tool wrote its watermark
	// strings, its EXPORTER_TRACKER__TIMEZONE; nil means Europe/Moscow, its
	// default.
	LegacyLocation *time.Location
	// LegacyLayout is the Go layout of the old tool's
	// EXPORTER_DATETIME_QUERY_FORMAT, in which it wrote those strings; they
	// are read with it first, then with fixed layouts. Empty: the fixed
	// layouts only, which read the default format.
	LegacyLayout string
}

// Default returns the old tool's defaults: a local state.json.
func Default() Config {
	return Config{
		Storage:          DefaultStorage,
		JSONFileStrategy: DefaultStrategy,
		JSONFilePath:     DefaultPath,
		S3Region:         DefaultS3Region,
		RedisDSN:         DefaultRedisDSN,
	}
}

// withDefaults fills the empty fields from Default and applies the old
// tool's ".json" suffix rule.
func (c Config) withDefaults() Config {
	d := Default()
	for _, f := range []struct{ v, def *string }{
		{&c.Storage, &d.Storage}, {&c.JSONFileStrategy, &d.JSONFileStrategy},
		{&c.JSONFilePath, &d.JSONFilePath}, {&c.S3Region, &d.S3Region},
	} {
		if *f.v == "" {
			*f.v = *f.def
		}
	}
	if !c.RedisDSN.IsSet() {
		c.RedisDSN = d.RedisDSN
	}
	if !strings.HasSuffix(c.JSONFilePath, ".json") {
		c.JSONFilePath += ".json"
	}
	return c
}

// Validate reports every problem of c at once: errors.Join of one
// *setting.Problem per problem, naming the field. Messages never contain
// secrets.
func (c Config) Validate() error {
	var p setting.Problems
	c.validateChoice(&p, false)
	switch c.Storage {
	case StorageRedis:
		if !ValidRedisDSN(c.RedisDSN.Reveal()) {
			p.AddSecret("RedisDSN", "want redis://[user:password@]host:port[/db], rediss://... or unix://path")
		}
	case StorageJSONFile:
		p.NonEmpty("JSONFilePath", c.JSONFilePath)
		if c.JSONFileStrategy != StrategyS3 {
			break
		}
		p.NonEmpty("S3Bucket", c.S3Bucket)
		p.NonEmpty("S3Region", c.S3Region)
		if c.S3Endpoint != "" {
			if u, err := url.Parse(c.S3Endpoint); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
				p.Add("S3Endpoint", c.S3Endpoint, "want an http(s) URL like https://storage.yandexcloud.net")
			}
		}
		if c.S3AccessKey.IsSet() != c.S3SecretKey.IsSet() {
			p.Add("S3AccessKey", nil, "set both %s and _SECRET_KEY, or neither (AWS default credentials)", setting.Ref("S3AccessKey"))
		}
	}
	return p.Err()
}

// ValidateChoice reports the problems of the choice of backend alone
// (Storage and JSONFileStrategy), accepting the old tool's custom storage:
// for a configuration whose store is not opened.
func (c Config) ValidateChoice() error {
	var p setting.Problems
	c.validateChoice(&p, true)
	return p.Err()
}

func (c Config) validateChoice(p *setting.Problems, customOK bool) {
	switch c.Storage {
	case StorageJSONFile, StorageRedis:
	case StorageCustom:
		if !customOK {
			p.Add("Storage", c.Storage, "the old tool's custom storage (a Python class) is not supported: use jsonfile "+
				"(a local file, or an S3 object with %s=s3) or redis (%s)", setting.Ref("JSONFileStrategy"), setting.Ref("RedisDSN"))
		}
	default:
		p.Add("Storage", c.Storage, "want jsonfile or redis")
	}
	p.OneOf("JSONFileStrategy", c.JSONFileStrategy, StrategyLocal, StrategyS3)
}

// ValidRedisDSN reports whether dsn is a Redis URL the client accepts:
// redis://, rediss:// with a host, or unix://.
func ValidRedisDSN(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil || !slices.Contains([]string{"redis", "rediss", "unix"}, u.Scheme) || (u.Scheme != "unix" && u.Host == "") {
		return false
	}
	_, err = redisstate.ParseDSN(dsn)
	return err == nil
}

// LogValue logs c with the secret key and the Redis password redacted.
func (c Config) LogValue() slog.Value {
	dsn := ""
	if c.RedisDSN.IsSet() {
		dsn = redisstate.Redact(c.RedisDSN.Reveal())
	}
	zone := ""
	if c.LegacyLocation != nil {
		zone = c.LegacyLocation.String()
	}
	return slog.GroupValue(
		slog.String("storage", c.Storage),
		slog.String("jsonfile_strategy", c.JSONFileStrategy),
		slog.String("jsonfile_path", c.JSONFilePath),
		slog.String("s3_bucket", c.S3Bucket),
		slog.String("s3_region", c.S3Region),
		slog.String("s3_endpoint", c.S3Endpoint),
		slog.String("s3_access_key", c.S3AccessKey.Reveal()),
		slog.Any("s3_secret_key", c.S3SecretKey),
		slog.String("redis_dsn", dsn),
		slog.String("legacy_zone", zone),
		slog.String("legacy_layout", c.LegacyLayout),
	)
}

// Open validates c and returns the Store it describes: a jsonfile.Store, an
// s3state.Store or a redisstate.Store. It does no network I/O; an
// unreachable server shows up on the first Load or Save. The caller must
// Close the Store.
func Open(ctx context.Context, c Config) (Store, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("state config: %w", err)
	}
	switch {
	case c.Storage == StorageRedis:
		s, err := redisstate.Open(c.RedisDSN.Reveal(), redisstate.Options{LegacyLocation: c.LegacyLocation, LegacyLayout: c.LegacyLayout})
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		return s, nil
	case c.JSONFileStrategy == StrategyS3:
		s, err := s3state.Open(ctx, s3state.Options{
			Bucket:         c.S3Bucket,
			ObjectKey:      c.JSONFilePath,
			Region:         c.S3Region,
			Endpoint:       c.S3Endpoint,
			AccessKey:      c.S3AccessKey.Reveal(),
			SecretKey:      c.S3SecretKey.Reveal(),
			LegacyLocation: c.LegacyLocation,
			LegacyLayout:   c.LegacyLayout,
		})
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		return s, nil
	default:
		s, err := jsonfile.New(c.JSONFilePath, jsonfile.Options{LegacyLocation: c.LegacyLocation, LegacyLayout: c.LegacyLayout})
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		return s, nil
	}
}
