package config

import (
	"fmt"
	"github.com/tracker-exporter/tracker-exporter/pkg/calendar"
	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/loadercfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"log/slog"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zones resolve even on images without /usr/share/zoneinfo
)

// Config is the whole configuration of every binary. Build it with Default
// and change fields, or with Load / FromCLI from the environment; check it
// with Validate. A Config is a plain value: copies are independent except for
// the slices and maps, which callers must not modify concurrently.
type Config struct {
	// ChangelogExportEnabled loads the issues_changelog table
	// (EXPORTER_CHANGELOG_EXPORT_ENABLED). The changelog is always fetched:
	// the metrics need it.
	ChangelogExportEnabled bool
	// CommentsExportEnabled, WorklogsExportEnabled and LinksExportEnabled
	// fetch and load an issue's comments (with their texts), worklog
	// records and links, when its changelog shows it has or had some
	// (EXPORTER_COMMENTS_EXPORT_ENABLED false, _WORKLOGS_ and _LINKS_ true).
	CommentsExportEnabled bool
	WorklogsExportEnabled bool
	LinksExportEnabled    bool
	// SprintsExportEnabled loads boards, sprints (fetched once per pass) and
	// each issue's stays in sprints (EXPORTER_SPRINTS_EXPORT_ENABLED, true).
	SprintsExportEnabled bool
	// ReconcileInterval is how often the issues in ClickHouse are checked
	// against those Tracker still returns, marking the ones gone
	// (EXPORTER_RECONCILE_INTERVAL, "24h"; 0 turns it off).
	ReconcileInterval time.Duration
	// LogLevel is debug, info, warning, error or critical (EXPORTER_LOGLEVEL);
	// Level maps it to slog.
	LogLevel string
	// LogFormat is text or json (EXPORTER_LOG_FORMAT).
	LogFormat string
	// LogETLStats enables periodic progress lines (EXPORTER_LOG_ETL_STATS).
	LogETLStats bool
	// LogETLStatsEachNIter is the number of issues between two progress
	// lines (EXPORTER_LOG_ETL_STATS_EACH_N_ITER).
	LogETLStatsEachNIter int
	// ETLInterval is the time between two runs
	// (EXPORTER_ETL_INTERVAL_MINUTES).
	ETLInterval time.Duration
	// ClosedIssueStatuses names statuses that are final whatever their type
	// (EXPORTER_CLOSED_ISSUE_STATUSES); see METRICS.md §2.
	ClosedIssueStatuses []string
	// NotNullableFields is accepted for compatibility and has no effect:
	// empty dates are always stored as the zero date, as the old tool did
	// for these fields (EXPORTER_NOT_NULLABLE_FIELDS).
	NotNullableFields []string
	// DatetimeResponseFormat is accepted for compatibility and has no effect:
	// Tracker datetimes are parsed with a fixed layout
	// (EXPORTER_DATETIME_RESPONSE_FORMAT).
	DatetimeResponseFormat string
	// DatetimeQueryFormat is the Python strftime format of datetimes written
	// into query-language text (EXPORTER_DATETIME_QUERY_FORMAT), and of the
	// old tool's watermark strings, which the state store reads with it. It
	// still matters; QueryTimeLayout converts it to a Go layout.
	DatetimeQueryFormat string
	// DatetimeClickhouseFormat is accepted for compatibility and has no
	// effect: rows carry typed times (EXPORTER_DATETIME_CLICKHOUSE_FORMAT).
	DatetimeClickhouseFormat string
	// Calendar is the business-time calendar (METRICS.md §6); Load falls
	// back to the Tracker zone for it when EXPORTER_BUSINESS_TIMEZONE is
	// unset.
	Calendar calendar.Config
	// StatusTypes overrides the directory's type of some statuses, by status
	// key (EXPORTER_STATUS_TYPES "needInfo:paused,readyForRelease:paused").
	StatusTypes map[string]string
	// CustomFields maps Tracker fields to typed columns of the issues table
	// (EXPORTER_CUSTOM_FIELDS).
	CustomFields []CustomField

	Tracker TrackerConfig
	// Extractor configures the extract stage: the search
	// (EXPORTER_TRACKER__SEARCH__*, EXPORTER_STATEFUL*), its zone
	// (EXPORTER_TRACKER__TIMEZONE), concurrency, page sizes, the watermark's
	// key and overlap (EXPORTER_STATE__KEY, _OVERLAP).
	Extractor  extractorcfg.Config
	ClickHouse ClickHouseConfig
	// Loader configures the load stage (EXPORTER_CLICKHOUSE__BATCH_*,
	// _BACKOFF_*, _AUTO_DEDUPLICATE, _OPTIMIZE_EVERY, _MAX_DELIVERIES).
	Loader loadercfg.Config
	State  StateConfig
	// Monitoring configures DogStatsD metrics and Sentry
	// (EXPORTER_MONITORING__*).
	Monitoring telemetry.Config
	// NATS configures the message bus (EXPORTER_NATS__*).
	NATS stream.Config

	// HealthAddr is the listen address of the health/readiness endpoints,
	// for example ":8080"; empty turns them off (EXPORTER_HEALTH_ADDR).
	HealthAddr string
	// RunTimeBudget bounds how long a pass takes new issues: past it the
	// search stops, the issues in hand finish and load, and the watermark
	// stops at the first issue left, so the next run continues from there
	// (serverless functions with a time limit); 0 means no bound
	// (EXPORTER_RUN_TIME_BUDGET).
	RunTimeBudget time.Duration
	// StartTimeout is how long a stage waits at start for NATS and
	// ClickHouse, retrying with backoff, before it gives up; 0 waits
	// forever (EXPORTER_START_TIMEOUT, "5m").
	StartTimeout time.Duration

	// Warnings lists what Load noticed but did not refuse: unknown EXPORTER_
	// variables, variables accepted for compatibility that have no effect.
	// Validate ignores it; main logs it.
	Warnings []string
	// Explicit holds the variables that were given a value (environment,
	// env file or flag), by name; a default stands for the others.
	Explicit map[string]bool
}

// CustomField maps one Tracker issue field to a typed column.
type CustomField struct {
	// Source is the Tracker field key, e.g. "storyPoints" or a local field
	// id "6063181a59590573909db929--team".
	Source string
	// Column is the column name in the issues table.
	Column string
	// Type is the ClickHouse type: one of CustomFieldTypes.
	Type string
}

// CustomFieldTypes returns the column types a custom field may have.
func CustomFieldTypes() []string {
	return []string{"String", "Int64", "UInt64", "Float64", "Date", "DateTime", "Array(String)"}
}

// TrackerConfig configures the Tracker client (tracker.Config, with its
// defaults and validation) and what the other parts of the program need to
// know about Tracker: the log level of its requests, the shared rate
// limit, the old search page size. The extractor's settings are
// Config.Extractor.
type TrackerConfig struct {
	tracker.Config
	// LogLevel is the level of the Tracker client's request logs
	// (EXPORTER_TRACKER__LOGLEVEL, warning).
	LogLevel string
	// RateLimitShared keeps the limit (fixed or adaptive) in a token
	// bucket in the Redis of EXPORTER_STATE__REDIS_DSN, shared by every
	// extractor that names the same key, so that extractors sharded by
	// queue send together at most RateLimit (or the adaptive rate)
	// (EXPORTER_TRACKER__RATE_LIMIT_SHARED, false).
	RateLimitShared bool
	// RateLimitSharedKey is the Redis key of the shared limit
	// (EXPORTER_TRACKER__RATE_LIMIT_SHARED_KEY); empty derives it from
	// the organization: SharedRateKey.
	RateLimitSharedKey string
	// SearchPerPageLimit is the old tool's search page size
	// (EXPORTER_TRACKER__SEARCH__PER_PAGE_LIMIT); set alone, Load makes it
	// the extractor's ScrollPageSize.
	SearchPerPageLimit int
}

// SharedRateKey is the Redis key of the shared rate limit: the configured
// one, or tracker_exporter:rate_limit:<org id> (cloud:<cloud org id>), one
// per organization, since Tracker's limit is the organization's.
func (t TrackerConfig) SharedRateKey() string {
	if t.RateLimitSharedKey != "" {
		return t.RateLimitSharedKey
	}
	if t.OrgID != "" {
		return "tracker_exporter:rate_limit:" + t.OrgID
	}
	return "tracker_exporter:rate_limit:cloud:" + t.CloudOrgID
}

// ClickHouseConfig configures the ClickHouse client (clickhouse.Config,
// with its defaults and validation) and the program's use of it: whether
// rows are loaded at all, migrations at start. The loader's settings
// (batches, retries, deduplication) are Config.Loader.
type ClickHouseConfig struct {
	clickhouse.Config
	// EnableUpload loads ClickHouse; false prints rows instead
	// (EXPORTER_CLICKHOUSE__ENABLE_UPLOAD).
	EnableUpload bool

	// MigrateOnStart applies the embedded migrations when the loader starts.
	MigrateOnStart bool
}

// StateConfig configures the watermark store (state.Config, with its
// defaults and validation); the watermark's key and overlap are the
// extractor's (Config.Extractor).
type StateConfig struct {
	state.Config
	// CustomStorageParams belonged to the old tool's custom (Python class)
	// storage; it is kept only to be reported as having no effect. It is a
	// Secret because such parameters usually hold credentials.
	CustomStorageParams setting.Secret
}

// Role says which binary validates a Config, so that an extractor need not
// configure ClickHouse nor a loader Tracker.
type Role int

// Roles. RoleAll, the zero value, is the one-process binary.
const (
	RoleAll Role = iota
	RoleExtractor
	RoleTransformer
	RoleLoader
)

// String returns the role's name.
func (r Role) String() string {
	switch r {
	case RoleAll:
		return "all"
	case RoleExtractor:
		return "extractor"
	case RoleTransformer:
		return "transformer"
	case RoleLoader:
		return "loader"
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

func (r Role) extracts() bool   { return r == RoleAll || r == RoleExtractor }
func (r Role) transforms() bool { return r == RoleAll || r == RoleTransformer }
func (r Role) loads() bool      { return r == RoleAll || r == RoleLoader }

// Default returns the configuration with every default of the old tool
// (shared/seed-compat.md) and of the new settings.
func Default() Config {
	return Config{
		ChangelogExportEnabled:   false,
		WorklogsExportEnabled:    true,
		LinksExportEnabled:       true,
		SprintsExportEnabled:     true,
		ReconcileInterval:        24 * time.Hour,
		LogLevel:                 "info",
		LogFormat:                "text",
		LogETLStats:              true,
		LogETLStatsEachNIter:     100,
		ETLInterval:              30 * time.Minute,
		StartTimeout:             5 * time.Minute,
		ClosedIssueStatuses:      []string{"closed", "rejected", "resolved", "cancelled", "released"},
		NotNullableFields:        defaultNotNullable(),
		DatetimeResponseFormat:   "%Y-%m-%dT%H:%M:%S.%f%z",
		DatetimeQueryFormat:      "%Y-%m-%d %H:%M:%S",
		DatetimeClickhouseFormat: "%Y-%m-%dT%H:%M:%S.%f",
		Calendar:                 calendar.Default(),
		StatusTypes:              map[string]string{},
		Tracker: TrackerConfig{
			Config:             tracker.Default(),
			LogLevel:           "warning",
			SearchPerPageLimit: 100,
		},
		Extractor: extractorcfg.Default(),
		ClickHouse: ClickHouseConfig{
			Config:       clickhouse.Default(),
			EnableUpload: true,
		},
		Loader: loadercfg.Default(),
		State: StateConfig{
			// The old tool's defaults; with the s3 strategy JSONFilePath is
			// the object key, so "./state.json" would miss the old watermark.
			Config: state.Default(),
		},
		Monitoring: telemetry.Default(),
		NATS:       stream.Default(),
	}
}

func defaultNotNullable() []string {
	return []string{"created_at", "resolved_at", "closed_at", "updated_at", "released_at", "deadline",
		"start_date", "end_date", "start_time", "end_time", "moved_at"}
}

// ParseLevel maps the old tool's level names (debug, info, warning, error,
// critical; case-insensitive; "warn" too) to slog levels. Critical is
// slog.LevelError+4.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warning", "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "critical":
		return slog.LevelError + 4, nil
	}
	return 0, fmt.Errorf("level %q: want debug, info, warning, error or critical", s)
}

// Level returns LogLevel as a slog level (info when invalid; Validate
// reports that).
func (c Config) Level() slog.Level {
	l, err := ParseLevel(c.LogLevel)
	if err != nil {
		return slog.LevelInfo
	}
	return l
}

// Level returns the Tracker client's log level (warning when invalid).
func (c TrackerConfig) Level() slog.Level {
	l, err := ParseLevel(c.LogLevel)
	if err != nil {
		return slog.LevelWarn
	}
	return l
}

// QueryTimeLayout returns DatetimeQueryFormat as a Go time layout, for the
// datetimes written into query-language text.
func (c Config) QueryTimeLayout() (string, error) {
	return StrftimeLayout(c.DatetimeQueryFormat)
}

// IsSet reports whether the variable name (EXPORTER_...) was given a
// value rather than left at its default.
func (c Config) IsSet(name string) bool { return c.Explicit[name] }
