package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

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

// Config selects and configures a backend; each field mirrors one of the
// old tool's EXPORTER_STATE__* variables (named in the comments). Empty
// fields take the defaults of Default.
type Config struct {
	// Storage is jsonfile or redis (EXPORTER_STATE__STORAGE). The old
	// tool's custom storage is refused.
	Storage string
	// JSONFileStrategy is local or s3 (EXPORTER_STATE__JSONFILE_STRATEGY):
	// where the jsonfile storage keeps its document.
	JSONFileStrategy string
	// JSONFilePath is the file path, or the object key with the s3
	// strategy (EXPORTER_STATE__JSONFILE_PATH). As in the old tool, ".json"
	// is appended when it does not end with it.
	JSONFilePath string
	// S3Bucket, S3Region, S3Endpoint, S3AccessKey and S3SecretKey configure
	// the s3 strategy (EXPORTER_STATE__JSONFILE_S3_BUCKET, _S3_REGION,
	// _S3_ENDPOINT, _S3_ACCESS_KEY, _S3_SECRET_KEY). Without keys the AWS
	// default credentials apply.
	S3Bucket    string
	S3Region    string
	S3Endpoint  string
	S3AccessKey string
	S3SecretKey string
	// RedisDSN is the Redis URL (EXPORTER_STATE__REDIS_DSN).
	RedisDSN string
	// LegacyLocation is the zone in which the old tool wrote its watermark
	// strings, its EXPORTER_TRACKER__TIMEZONE; nil means Europe/Moscow, its
	// default.
	LegacyLocation *time.Location
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
	set := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	set(&c.Storage, d.Storage)
	set(&c.JSONFileStrategy, d.JSONFileStrategy)
	set(&c.JSONFilePath, d.JSONFilePath)
	set(&c.S3Region, d.S3Region)
	set(&c.RedisDSN, d.RedisDSN)
	if !strings.HasSuffix(c.JSONFilePath, ".json") {
		c.JSONFilePath += ".json"
	}
	return c
}

// Validate reports every problem of c (after defaults) at once, one
// error per problem joined with errors.Join. Messages never contain
// secrets.
func (c Config) Validate() error {
	c = c.withDefaults()
	var problems []error
	switch c.Storage {
	case StorageJSONFile:
		switch c.JSONFileStrategy {
		case StrategyLocal:
		case StrategyS3:
			if c.S3Bucket == "" {
				problems = append(problems, errors.New("state: the s3 strategy needs a bucket (EXPORTER_STATE__JSONFILE_S3_BUCKET)"))
			}
			if (c.S3AccessKey == "") != (c.S3SecretKey == "") {
				problems = append(problems, errors.New("state: set both EXPORTER_STATE__JSONFILE_S3_ACCESS_KEY and _S3_SECRET_KEY, or neither to use the AWS default credentials"))
			}
		default:
			problems = append(problems, fmt.Errorf("state: unknown jsonfile strategy %q (EXPORTER_STATE__JSONFILE_STRATEGY): use %q or %q",
				c.JSONFileStrategy, StrategyLocal, StrategyS3))
		}
	case StorageRedis:
		if _, err := redisstate.ParseDSN(c.RedisDSN); err != nil {
			problems = append(problems, fmt.Errorf("state: EXPORTER_STATE__REDIS_DSN: %w", err))
		}
	case StorageCustom:
		problems = append(problems, fmt.Errorf("state: storage %q (a Python class in the old tool) is not supported: use %q (a local file, or an S3 object with EXPORTER_STATE__JSONFILE_STRATEGY=s3) or %q",
			StorageCustom, StorageJSONFile, StorageRedis))
	default:
		problems = append(problems, fmt.Errorf("state: unknown storage %q (EXPORTER_STATE__STORAGE): use %q or %q",
			c.Storage, StorageJSONFile, StorageRedis))
	}
	return errors.Join(problems...)
}

// LogValue logs c with the secret key and the Redis password redacted.
func (c Config) LogValue() slog.Value {
	secret := ""
	if c.S3SecretKey != "" {
		secret = "REDACTED"
	}
	dsn := ""
	if c.RedisDSN != "" {
		dsn = redisstate.Redact(c.RedisDSN)
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
		slog.String("s3_access_key", c.S3AccessKey),
		slog.String("s3_secret_key", secret),
		slog.String("redis_dsn", dsn),
		slog.String("legacy_zone", zone),
	)
}

// Open validates c and returns the Store it describes: a jsonfile.Store, an
// s3state.Store or a redisstate.Store. It does no network I/O; an
// unreachable server shows up on the first Load or Save. The caller must
// Close the Store.
func Open(ctx context.Context, c Config) (Store, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	switch {
	case c.Storage == StorageRedis:
		s, err := redisstate.Open(c.RedisDSN, redisstate.Options{LegacyLocation: c.LegacyLocation})
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
			AccessKey:      c.S3AccessKey,
			SecretKey:      c.S3SecretKey,
			LegacyLocation: c.LegacyLocation,
		})
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		return s, nil
	default:
		s, err := jsonfile.New(c.JSONFilePath, jsonfile.Options{LegacyLocation: c.LegacyLocation})
		if err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		return s, nil
	}
}
