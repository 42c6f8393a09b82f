package config

import (
	"errors"
	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
	"strconv"
	"strings"
	"time"
)

// variable is one EXPORTER_ variable: its name, the default as it would be
// written, a help line, and how it sets the Config.
type variable struct {
	name string
	def  string
	help string
	// secret values never appear in errors.
	secret bool
	// keepEmpty: an empty value is a value (text settings, as in the old
	// tool); otherwise an empty value means "unset" and the default stays.
	keepEmpty bool
	// isBool makes the mirrored command-line flag a boolean flag.
	isBool bool
	set    func(c *Config, v string) error
}

// Variable describes one EXPORTER_ variable, for help texts and docs.
type Variable struct {
	// Name is the environment variable, e.g. EXPORTER_TRACKER__TIMEOUT.
	Name string
	// Flag is the mirrored command-line flag without dashes, e.g.
	// tracker-timeout.
	Flag string
	// Default is the default as the variable would be written; empty for
	// none.
	Default string
	// Help says what the variable does.
	Help string
	// Secret variables are never printed.
	Secret bool
}

// Variables lists every variable Load reads, in a stable order.
func Variables() []Variable {
	vars := table()
	out := make([]Variable, len(vars))
	for i, v := range vars {
		out[i] = Variable{Name: v.name, Flag: flagName(v.name), Default: v.def, Help: v.help, Secret: v.secret}
	}
	return out
}

// flagName derives a flag from a variable: EXPORTER_TRACKER__SEARCH__QUERY
// becomes tracker-search-query.
func flagName(env string) string {
	s := strings.TrimPrefix(env, envPrefix)
	s = strings.ReplaceAll(s, "__", "-")
	s = strings.ReplaceAll(s, "_", "-")
	return strings.ToLower(s)
}

const envPrefix = "EXPORTER_"

// into returns a set function that stores what parse makes of the value in
// the field p points to, or returns parse's error.
func into[T any](parse func(string) (T, error), p func(*Config) *T) func(*Config, string) error {
	return func(c *Config, v string) error {
		x, err := parse(v)
		if err == nil {
			*p(c) = x
		}
		return err
	}
}

func boolVar(name, def, help string, p func(*Config) *bool) variable {
	return variable{name: name, def: def, help: help, isBool: true, set: into(parseBool, p)}
}

func intVar(name, def, help string, p func(*Config) *int) variable {
	return variable{name: name, def: def, help: help, set: into(parseInt, p)}
}

func sizeVar(name, def, help string, p func(*Config) *int) variable {
	return variable{name: name, def: def, help: help, set: into(parseSize, p)}
}

func floatVar(name, def, help string, p func(*Config) *float64) variable {
	return variable{name: name, def: def, help: help, set: into(parseFloat, p)}
}

// durVar reads a duration; bare is the unit of a plain number (0: a unit is
// required).
func durVar(name, def, help string, bare time.Duration, p func(*Config) *time.Duration) variable {
	parse := func(v string) (time.Duration, error) { return parseDuration(v, bare) }
	return variable{name: name, def: def, help: help, set: into(parse, p)}
}

// textVar keeps the value as written; an empty value is the empty text.
func textVar(name, def, help string, p func(*Config) *string) variable {
	return variable{name: name, def: def, help: help, keepEmpty: true, set: func(c *Config, v string) error {
		*p(c) = v
		return nil
	}}
}

// enumVar keeps the value lower-cased; Validate checks it.
func enumVar(name, def, help string, p func(*Config) *string) variable {
	return variable{name: name, def: def, help: help, set: func(c *Config, v string) error {
		*p(c) = strings.ToLower(v)
		return nil
	}}
}

func secretVar(name, def, help string, p func(*Config) *setting.Secret) variable {
	return variable{name: name, def: def, help: help, secret: true, set: func(c *Config, v string) error {
		*p(c) = setting.Secret(v)
		return nil
	}}
}

// listVar reads a comma list or a Python/JSON list; an empty value is the
// empty list (the old tool split "" into nothing useful either).
func listVar(name, def, help string, p func(*Config) *[]string) variable {
	return variable{name: name, def: def, help: help, keepEmpty: true, set: into(parseList, p)}
}

func zoneVar(name, def, help string, p func(*Config) (**time.Location, *string)) variable {
	return variable{name: name, def: def, help: help, set: func(c *Config, v string) error {
		loc, err := time.LoadLocation(v)
		if err != nil || v == "Local" {
			return errors.New("want an IANA time zone like Europe/Moscow or UTC")
		}
		zone, zoneName := p(c)
		*zone = loc
		if zoneName != nil {
			*zoneName = v
		}
		return nil
	}}
}

// Names of variables that Load treats specially.
const (
	varBusinessTimezone = "EXPORTER_BUSINESS_TIMEZONE"
	varOptimizeEvery    = "EXPORTER_CLICKHOUSE__OPTIMIZE_EVERY"
	varPerPageLimit     = "EXPORTER_TRACKER__SEARCH__PER_PAGE_LIMIT"
	varScrollPageSize   = "EXPORTER_TRACKER__SEARCH__SCROLL_PAGE_SIZE"
	varRateLimitMax     = "EXPORTER_TRACKER__RATE_LIMIT_MAX"
)

// table is every variable, in documentation order.
func table() []variable {
	vars := []variable{
		// General.
		boolVar("EXPORTER_STATEFUL", "false", "keep a watermark between runs and search from it",
			func(c *Config) *bool { return &c.Extractor.Query.Stateful }),
		durVar("EXPORTER_STATEFUL_INITIAL_RANGE", "1w", "search window when no watermark exists yet (1w, 7d, 2w 3d, 36h)", 0,
			func(c *Config) *time.Duration { return &c.Extractor.Query.InitialRange }),
		boolVar("EXPORTER_CHANGELOG_EXPORT_ENABLED", "false", "also load the issues_changelog table (the changelog is always fetched for metrics)",
			func(c *Config) *bool { return &c.ChangelogExportEnabled }),
		boolVar("EXPORTER_COMMENTS_EXPORT_ENABLED", "false", "fetch and load issue comments with their texts (issue_comments), for issues whose changelog shows comments",
			func(c *Config) *bool { return &c.CommentsExportEnabled }),
		boolVar("EXPORTER_WORKLOGS_EXPORT_ENABLED", "true", "fetch and load time spent records (issue_worklogs), for issues whose changelog shows some",
			func(c *Config) *bool { return &c.WorklogsExportEnabled }),
		boolVar("EXPORTER_LINKS_EXPORT_ENABLED", "true", "fetch and load issue links (issue_links), for issues whose changelog shows some",
			func(c *Config) *bool { return &c.LinksExportEnabled }),
		boolVar("EXPORTER_SPRINTS_EXPORT_ENABLED", "true", "load boards and sprints (fetched once per pass) and each issue's stays in sprints (issue_sprints)",
			func(c *Config) *bool { return &c.SprintsExportEnabled }),
		durVar("EXPORTER_RECONCILE_INTERVAL", "24h", "how often the issues in ClickHouse are checked against those Tracker still returns, gone ones marked deleted; 0 turns it off", time.Second,
			func(c *Config) *time.Duration { return &c.ReconcileInterval }),
		enumVar("EXPORTER_LOGLEVEL", "info", "log level: debug, info, warning, error, critical",
			func(c *Config) *string { return &c.LogLevel }),
		enumVar("EXPORTER_LOG_FORMAT", "text", "log format: text or json",
			func(c *Config) *string { return &c.LogFormat }),
		boolVar("EXPORTER_LOG_ETL_STATS", "true", "log progress lines during a run",
			func(c *Config) *bool { return &c.LogETLStats }),
		intVar("EXPORTER_LOG_ETL_STATS_EACH_N_ITER", "100", "issues between two progress lines",
			func(c *Config) *int { return &c.LogETLStatsEachNIter }),
		{name: "EXPORTER_WORKDAYS", def: "[0,1,2,3,4]", help: "working weekdays, 0 is Monday, 6 is Sunday",
			set: into(parseWorkdays, func(c *Config) *[]time.Weekday { return &c.Calendar.Workdays })},
		{name: "EXPORTER_BUSINESS_HOURS_START", def: "09:00:00", help: "start of working hours, local time of the calendar's zone",
			set: into(parseTimeOfDay, func(c *Config) *time.Duration { return &c.Calendar.Start })},
		{name: "EXPORTER_BUSINESS_HOURS_END", def: "22:00:00", help: "end of working hours (24:00:00 allowed)",
			set: into(parseTimeOfDay, func(c *Config) *time.Duration { return &c.Calendar.End })},
		zoneVar(varBusinessTimezone, "", "zone of working hours; default EXPORTER_TRACKER__TIMEZONE",
			func(c *Config) (**time.Location, *string) { return &c.Calendar.Zone, nil }),
		{name: "EXPORTER_HOLIDAYS", def: "default", help: "built-in holidays: default (Russia's fixed public holidays) or none",
			set: into(parseHolidays, func(c *Config) *bool { return &c.Calendar.DefaultHolidays })},
		textVar("EXPORTER_HOLIDAYS_FILE", "", "file of holidays and transferred working days (YYYY-MM-DD holiday|workday, or the data.gov.ru production-calendar CSV)",
			func(c *Config) *string { return &c.Calendar.HolidaysFile }),
		textVar("EXPORTER_DATETIME_RESPONSE_FORMAT", "%Y-%m-%dT%H:%M:%S.%f%z", "accepted for compatibility; no effect (Tracker datetimes are parsed with a fixed layout)",
			func(c *Config) *string { return &c.DatetimeResponseFormat }),
		textVar("EXPORTER_DATETIME_QUERY_FORMAT", "%Y-%m-%d %H:%M:%S", "Python strftime format of datetimes in search queries and in the old tool's watermark",
			func(c *Config) *string { return &c.DatetimeQueryFormat }),
		textVar("EXPORTER_DATETIME_CLICKHOUSE_FORMAT", "%Y-%m-%dT%H:%M:%S.%f", "accepted for compatibility; no effect (rows carry typed times)",
			func(c *Config) *string { return &c.DatetimeClickhouseFormat }),
		durVar("EXPORTER_ETL_INTERVAL_MINUTES", "30", "minutes between two runs (or a duration like 1h)", time.Minute,
			func(c *Config) *time.Duration { return &c.ETLInterval }),
		listVar("EXPORTER_CLOSED_ISSUE_STATUSES", "closed,rejected,resolved,cancelled,released", "statuses that are final whatever their type (key, name or snake_case name)",
			func(c *Config) *[]string { return &c.ClosedIssueStatuses }),
		listVar("EXPORTER_NOT_NULLABLE_FIELDS", strings.Join(defaultNotNullable(), ","), "accepted for compatibility; no effect (empty dates are always stored as zero dates)",
			func(c *Config) *[]string { return &c.NotNullableFields }),
		{name: "EXPORTER_STATUS_TYPES", def: "", help: "status type overrides: statusKey:type,... with type new, inProgress, paused, done or cancelled",
			keepEmpty: true, set: func(c *Config, v string) error {
				m, err := parseStatusTypes(v)
				if m != nil {
					c.StatusTypes = m
				}
				return err
			}},
		{name: "EXPORTER_CUSTOM_FIELDS", def: "", help: "extra issue columns: source:column:Type,... (String, Int64, UInt64, Float64, Date, DateTime, Array(String))",
			keepEmpty: true, set: func(c *Config, v string) error {
				f, err := parseCustomFields(v)
				if f != nil {
					c.CustomFields = f
				}
				return err
			}},
		textVar("EXPORTER_HEALTH_ADDR", "", "listen address of /healthz and /readyz, e.g. :8080; empty turns them off",
			func(c *Config) *string { return &c.HealthAddr }),
		durVar("EXPORTER_RUN_TIME_BUDGET", "0", "how long a pass takes new issues (e.g. 8m under a 10-minute function timeout): then it finishes and loads those in hand and the next run continues; 0: no bound", time.Second,
			func(c *Config) *time.Duration { return &c.RunTimeBudget }),
		durVar("EXPORTER_START_TIMEOUT", "5m", "how long a stage waits at start for NATS and ClickHouse (retrying, not ready meanwhile) before it exits 1; 0 waits forever", time.Second,
			func(c *Config) *time.Duration { return &c.StartTimeout }),

		// Tracker.
		enumVar("EXPORTER_TRACKER__LOGLEVEL", "warning", "log level of Tracker requests",
			func(c *Config) *string { return &c.Tracker.LogLevel }),
		secretVar("EXPORTER_TRACKER__TOKEN", "", "OAuth token (or EXPORTER_TRACKER__IAM_TOKEN)",
			func(c *Config) *setting.Secret { return &c.Tracker.Token }),
		secretVar("EXPORTER_TRACKER__IAM_TOKEN", "", "Yandex Cloud IAM token (or EXPORTER_TRACKER__TOKEN)",
			func(c *Config) *setting.Secret { return &c.Tracker.IAMToken }),
		textVar("EXPORTER_TRACKER__ORG_ID", "", "Yandex 360 organization id (or EXPORTER_TRACKER__CLOUD_ORG_ID)",
			func(c *Config) *string { return &c.Tracker.OrgID }),
		textVar("EXPORTER_TRACKER__CLOUD_ORG_ID", "", "Yandex Cloud organization id (or EXPORTER_TRACKER__ORG_ID)",
			func(c *Config) *string { return &c.Tracker.CloudOrgID }),
		textVar("EXPORTER_TRACKER__API_URL", tracker.DefaultBaseURL, "Tracker API root, without the version",
			func(c *Config) *string { return &c.Tracker.BaseURL }),
		{name: "EXPORTER_TRACKER__API_VERSION", def: "v2", help: "API version: v2 or v3",
			set: func(c *Config, v string) error {
				v = strings.ToLower(v)
				if v == "2" || v == "3" {
					v = "v" + v
				}
				c.Tracker.APIVersion = v
				return nil
			}},
		durVar("EXPORTER_TRACKER__TIMEOUT", "10", "seconds per request (or a duration like 10s)", time.Second,
			func(c *Config) *time.Duration { return &c.Tracker.Timeout }),
		intVar("EXPORTER_TRACKER__MAX_RETRIES", "10", "retries of a failed request (5xx, 429, network)",
			func(c *Config) *int { return &c.Tracker.MaxRetries }),
		enumVar("EXPORTER_TRACKER__LANGUAGE", "en", "Accept-Language: en or ru",
			func(c *Config) *string { return &c.Tracker.Language }),
		zoneVar("EXPORTER_TRACKER__TIMEZONE", extractorcfg.DefaultZone, "zone of datetimes in search queries",
			func(c *Config) (**time.Location, *string) { return &c.Extractor.Query.Zone, nil }),
		intVar("EXPORTER_TRACKER__CONCURRENCY", "16", "Tracker requests in flight at most",
			func(c *Config) *int { return &c.Extractor.Concurrency }),
		floatVar("EXPORTER_TRACKER__RATE_LIMIT", trimFloat(tracker.DefaultRateLimit), "Tracker requests per second at most; 0 for no limit (then nothing adapts). With EXPORTER_TRACKER__RATE_LIMIT_ADAPTIVE, the rate to start from",
			func(c *Config) *float64 { return &c.Tracker.RateLimit }),
		boolVar("EXPORTER_TRACKER__RATE_LIMIT_ADAPTIVE", "true", "find Tracker's undocumented limit: from EXPORTER_TRACKER__RATE_LIMIT, rise while no 429 comes (3 % a second, 0.5 % near the rate of the last 429), fall to 40–80 % on a 429 and pause for its Retry-After, never above EXPORTER_TRACKER__RATE_LIMIT_MAX",
			func(c *Config) *bool { return &c.Tracker.Adaptive }),
		floatVar(varRateLimitMax, trimFloat(tracker.DefaultRateCeiling), "Tracker requests per second the adaptive rate never exceeds; not below EXPORTER_TRACKER__RATE_LIMIT (unset: raised to it)",
			func(c *Config) *float64 { return &c.Tracker.RateCeiling }),
		boolVar("EXPORTER_TRACKER__RATE_LIMIT_SHARED", "false", "share EXPORTER_TRACKER__RATE_LIMIT (fixed or adaptive) with every extractor of the organization, e.g. shards by queue: a token bucket in the Redis of EXPORTER_STATE__REDIS_DSN (whatever EXPORTER_STATE__STORAGE is); together they send at most the rate, a 429 seen by one lowers it for all; Redis unreachable at start: exit 1 after EXPORTER_START_TIMEOUT, later: the request fails and is retried, never sent unlimited",
			func(c *Config) *bool { return &c.Tracker.RateLimitShared }),
		textVar("EXPORTER_TRACKER__RATE_LIMIT_SHARED_KEY", "", "Redis key of the shared limit; empty: tracker_exporter:rate_limit:<org id> (one limit per organization)",
			func(c *Config) *string { return &c.Tracker.RateLimitSharedKey }),
		intVar("EXPORTER_TRACKER__CHANGELOG_PAGE_SIZE", "100", "changelog entries per page, 1..1000",
			func(c *Config) *int { return &c.Extractor.ChangelogPageSize }),
		textVar("EXPORTER_TRACKER__SEARCH__QUERY", "", "query-language text; overrides stateful mode, range and queues",
			func(c *Config) *string { return &c.Extractor.Query.Custom }),
		{name: "EXPORTER_TRACKER__SEARCH__RANGE", def: "2h", help: "search issues updated within this range (2h, 1d, 1w); empty or 0 for no time filter; no effect in stateful mode",
			keepEmpty: true, set: func(c *Config, v string) error {
				if v == "" {
					c.Extractor.Query.Range = 0
					return nil
				}
				d, err := parseDuration(v, 0)
				if err == nil {
					c.Extractor.Query.Range = d
				}
				return err
			}},
		{name: "EXPORTER_TRACKER__SEARCH__QUEUES", def: "", help: "queue keys, !KEY excludes: DEV,SRE,!TEST",
			keepEmpty: true, set: func(c *Config, v string) error {
				l, err := parseList(v)
				if err != nil {
					return err
				}
				for i := range l {
					l[i] = strings.ToUpper(l[i])
				}
				c.Extractor.Query.Queues = l
				return nil
			}},
		intVar(varPerPageLimit, "100", "issues per search page, 1..1000 (the old page-mode size): set to another value than 100, and "+varScrollPageSize+" not set, it is the size of the scroll pages",
			func(c *Config) *int { return &c.Tracker.SearchPerPageLimit }),
		intVar(varScrollPageSize, "250", "issues per page of a scroll search, 1..1000 (250 keeps the extractor's memory low at ~0.3 % more requests)",
			func(c *Config) *int { return &c.Extractor.ScrollPageSize }),

		// ClickHouse.
		boolVar("EXPORTER_CLICKHOUSE__ENABLE_UPLOAD", "true", "load ClickHouse; false prints rows instead",
			func(c *Config) *bool { return &c.ClickHouse.EnableUpload }),
		textVar("EXPORTER_CLICKHOUSE__HOST", "localhost", "ClickHouse host, or a comma-separated list of hosts (host or host:port) to fail over between",
			func(c *Config) *string { return &c.ClickHouse.Host }),
		enumVar("EXPORTER_CLICKHOUSE__HOST_STRATEGY", "in_order", "in_order (the first host that answers, the others on failure) or round_robin",
			func(c *Config) *string { return &c.ClickHouse.HostStrategy }),
		textVar("EXPORTER_CLICKHOUSE__CLUSTER", "", "ClickHouse cluster (remote_servers) to migrate ON CLUSTER with replicated tables; empty: one server",
			func(c *Config) *string { return &c.ClickHouse.Cluster }),
		textVar("EXPORTER_CLICKHOUSE__ZOOKEEPER_PATH", "/clickhouse/tables/{shard}/{database}/{table}", "ZooKeeper path of the replicated tables (with EXPORTER_CLICKHOUSE__CLUSTER)",
			func(c *Config) *string { return &c.ClickHouse.ZooKeeperPath }),
		textVar("EXPORTER_CLICKHOUSE__REPLICA_NAME", "{replica}", "replica name of the replicated tables (with EXPORTER_CLICKHOUSE__CLUSTER)",
			func(c *Config) *string { return &c.ClickHouse.ReplicaName }),
		enumVar("EXPORTER_CLICKHOUSE__PROTO", clickhouse.ProtoHTTP, "http or https (ports 8123/8443), native or native+tls (ports 9000/9440)",
			func(c *Config) *string { return &c.ClickHouse.Proto }),
		intVar("EXPORTER_CLICKHOUSE__PORT", "8123", "ClickHouse port",
			func(c *Config) *int { return &c.ClickHouse.Port }),
		textVar("EXPORTER_CLICKHOUSE__CACERT_PATH", "", "CA certificates (PEM) for TLS; required for https, ignored (with a warning) without TLS",
			func(c *Config) *string { return &c.ClickHouse.CACertPath }),
		textVar("EXPORTER_CLICKHOUSE__SERVERLESS_PROXY_ID", "", "Yandex Cloud Functions proxy id (https only)",
			func(c *Config) *string { return &c.ClickHouse.ServerlessProxyID }),
		textVar("EXPORTER_CLICKHOUSE__USERNAME", "default", "ClickHouse user",
			func(c *Config) *string { return &c.ClickHouse.Username }),
		secretVar("EXPORTER_CLICKHOUSE__PASSWORD", "", "ClickHouse password",
			func(c *Config) *setting.Secret { return &c.ClickHouse.Password }),
		textVar("EXPORTER_CLICKHOUSE__DATABASE", "agile", "ClickHouse database",
			func(c *Config) *string { return &c.ClickHouse.Database }),
	}
	vars = append(vars, tableNameVars()...)
	return append(vars, []variable{
		boolVar("EXPORTER_CLICKHOUSE__AUTO_DEDUPLICATE", "true", "run OPTIMIZE ... FINAL, at most once per table per EXPORTER_CLICKHOUSE__OPTIMIZE_EVERY",
			func(c *Config) *bool { return &c.Loader.AutoDeduplicate }),
		durVar(varOptimizeEvery, "", "least time between two OPTIMIZE of a table; default the ETL interval (once per run)", time.Second,
			func(c *Config) *time.Duration { return &c.Loader.OptimizeEvery }),
		durVar("EXPORTER_CLICKHOUSE__BACKOFF_BASE_DELAY", "0.5", "first retry delay, seconds (or 500ms)", time.Second,
			func(c *Config) *time.Duration { return &c.Loader.Backoff.BaseDelay }),
		floatVar("EXPORTER_CLICKHOUSE__BACKOFF_EXPO_FACTOR", "2.5", "retry delay multiplier",
			func(c *Config) *float64 { return &c.Loader.Backoff.ExpoFactor }),
		intVar("EXPORTER_CLICKHOUSE__BACKOFF_MAX_TRIES", "3", "tries of an insert, the first included",
			func(c *Config) *int { return &c.Loader.Backoff.MaxTries }),
		boolVar("EXPORTER_CLICKHOUSE__BACKOFF_JITTER", "true", "randomize retry delays",
			func(c *Config) *bool { return &c.Loader.Backoff.Jitter }),
		intVar("EXPORTER_CLICKHOUSE__BATCH_ROWS", "10000", "rows per insert batch at most (over the native protocol one INSERT streams up to 32 batches, across fetches while a backlog waits)",
			func(c *Config) *int { return &c.Loader.BatchRows }),
		sizeVar("EXPORTER_CLICKHOUSE__BATCH_BYTES", "16MiB", "message bytes (as received) per insert batch at most (16MiB, 1000000)",
			func(c *Config) *int { return &c.Loader.BatchBytes }),
		durVar("EXPORTER_CLICKHOUSE__BATCH_AGE", "5s", "flush a batch at this age", time.Second,
			func(c *Config) *time.Duration { return &c.Loader.BatchAge }),
		intVar("EXPORTER_CLICKHOUSE__MAX_DELIVERIES", "5", "tries of a message before it is dead-lettered",
			func(c *Config) *int { return &c.Loader.MaxDeliveries }),
		boolVar("EXPORTER_CLICKHOUSE__MIGRATE_ON_START", "false", "apply the embedded migrations when the loader starts",
			func(c *Config) *bool { return &c.ClickHouse.MigrateOnStart }),

		// State.
		enumVar("EXPORTER_STATE__STORAGE", state.DefaultStorage, "watermark store: jsonfile or redis",
			func(c *Config) *string { return &c.State.Storage }),
		secretVar("EXPORTER_STATE__REDIS_DSN", state.DefaultRedisDSN, "Redis URL",
			func(c *Config) *setting.Secret { return &c.State.RedisDSN }),
		enumVar("EXPORTER_STATE__JSONFILE_STRATEGY", state.DefaultStrategy, "where the JSON file lives: local or s3",
			func(c *Config) *string { return &c.State.JSONFileStrategy }),
		textVar("EXPORTER_STATE__JSONFILE_PATH", state.DefaultPath, "local file, or object key with the s3 strategy",
			func(c *Config) *string { return &c.State.JSONFilePath }),
		textVar("EXPORTER_STATE__JSONFILE_S3_BUCKET", "", "S3 bucket",
			func(c *Config) *string { return &c.State.S3Bucket }),
		textVar("EXPORTER_STATE__JSONFILE_S3_REGION", state.DefaultS3Region, "S3 region",
			func(c *Config) *string { return &c.State.S3Region }),
		textVar("EXPORTER_STATE__JSONFILE_S3_ENDPOINT", "", "S3 endpoint URL (Yandex Object Storage, MinIO, ...); empty for AWS",
			func(c *Config) *string { return &c.State.S3Endpoint }),
		secretVar("EXPORTER_STATE__JSONFILE_S3_ACCESS_KEY", "", "S3 access key; empty for the AWS default credentials",
			func(c *Config) *setting.Secret { return &c.State.S3AccessKey }),
		secretVar("EXPORTER_STATE__JSONFILE_S3_SECRET_KEY", "", "S3 secret key",
			func(c *Config) *setting.Secret { return &c.State.S3SecretKey }),
		secretVar("EXPORTER_STATE__CUSTOM_STORAGE_PARAMS", "", "accepted for compatibility; no effect (the custom storage is not supported)",
			func(c *Config) *setting.Secret { return &c.State.CustomStorageParams }),
		textVar("EXPORTER_STATE__KEY", extractorcfg.DefaultStateKey, "watermark name, distinct per extractor sharing a store",
			func(c *Config) *string { return &c.Extractor.StateKey }),
		durVar("EXPORTER_STATE__OVERLAP", "5m", "search this far before the watermark, against clock skew", time.Second,
			func(c *Config) *time.Duration { return &c.Extractor.Query.Overlap }),

		// Monitoring.
		boolVar("EXPORTER_MONITORING__METRICS_ENABLED", "false", "send DogStatsD metrics",
			func(c *Config) *bool { return &c.Monitoring.Metrics.Enabled }),
		textVar("EXPORTER_MONITORING__METRICS_HOST", "localhost", "DogStatsD host",
			func(c *Config) *string { return &c.Monitoring.Metrics.Host }),
		intVar("EXPORTER_MONITORING__METRICS_PORT", "8125", "DogStatsD port",
			func(c *Config) *int { return &c.Monitoring.Metrics.Port }),
		textVar("EXPORTER_MONITORING__METRICS_BASE_PREFIX", "tracker_exporter", "metric name prefix",
			func(c *Config) *string { return &c.Monitoring.Metrics.Prefix }),
		listVar("EXPORTER_MONITORING__METRICS_BASE_LABELS", "[]", `tags on every metric: ["project:internal",] or project:internal,env:prod`,
			func(c *Config) *[]string { return &c.Monitoring.Metrics.Tags }),
		boolVar("EXPORTER_MONITORING__SENTRY_ENABLED", "false", "send errors to Sentry",
			func(c *Config) *bool { return &c.Monitoring.Sentry.Enabled }),
		secretVar("EXPORTER_MONITORING__SENTRY_DSN", "", "Sentry DSN",
			func(c *Config) *setting.Secret { return &c.Monitoring.Sentry.DSN }),

		// NATS.
		textVar("EXPORTER_NATS__URL", "", "NATS server URL, or the comma-separated URLs of a cluster's servers (any one that answers will do); empty runs the embedded server (one-process binary)",
			func(c *Config) *string { return &c.NATS.URL }),
		textVar("EXPORTER_NATS__DATA_DIR", "./data/nats", "JetStream store of the embedded server",
			func(c *Config) *string { return &c.NATS.DataDir }),
		sizeVar("EXPORTER_NATS__MAX_PAYLOAD", "8MiB", "largest message of the embedded server",
			func(c *Config) *int { return &c.NATS.MaxPayload }),
		intVar("EXPORTER_NATS__REPLICAS", "1", "copies of every stream: 1, or 3 on a NATS cluster (survives the loss of a server); a change updates existing streams at the next start; the embedded server takes 1 only",
			func(c *Config) *int { return &c.NATS.Replicas }),
	}...)
}

// tableVars names the variable of each table name (its default and
// place: wire.Tables).
var tableVars = []struct {
	name, help string
	get        func(*wire.Tables) *string
}{
	{"EXPORTER_CLICKHOUSE__ISSUES_TABLE", "issues table", func(t *wire.Tables) *string { return &t.Issues }},
	{"EXPORTER_CLICKHOUSE__ISSUE_METRICS_TABLE", "per-status metrics table", func(t *wire.Tables) *string { return &t.IssueMetrics }},
	{"EXPORTER_CLICKHOUSE__ISSUES_CHANGELOG_TABLE", "changelog table", func(t *wire.Tables) *string { return &t.IssuesChangelog }},
	{"EXPORTER_CLICKHOUSE__STATUS_INTERVALS_TABLE", "per-visit status intervals table", func(t *wire.Tables) *string { return &t.StatusIntervals }},
	{"EXPORTER_CLICKHOUSE__STATUSES_TABLE", "status directory table", func(t *wire.Tables) *string { return &t.Statuses }},
	{"EXPORTER_CLICKHOUSE__ISSUE_COMMENTS_TABLE", "comments table", func(t *wire.Tables) *string { return &t.Comments }},
	{"EXPORTER_CLICKHOUSE__ISSUE_WORKLOGS_TABLE", "worklog records table", func(t *wire.Tables) *string { return &t.Worklogs }},
	{"EXPORTER_CLICKHOUSE__ISSUE_LINKS_TABLE", "issue links table", func(t *wire.Tables) *string { return &t.Links }},
	{"EXPORTER_CLICKHOUSE__ISSUE_SPRINTS_TABLE", "issue stays in sprints table", func(t *wire.Tables) *string { return &t.IssueSprints }},
	{"EXPORTER_CLICKHOUSE__BOARDS_TABLE", "boards table", func(t *wire.Tables) *string { return &t.Boards }},
	{"EXPORTER_CLICKHOUSE__SPRINTS_TABLE", "sprints table", func(t *wire.Tables) *string { return &t.Sprints }},
}

func tableNameVars() []variable {
	defaults := wire.DefaultTables()
	out := make([]variable, 0, len(tableVars))
	for _, tv := range tableVars {
		get := tv.get
		out = append(out, textVar(tv.name, *get(&defaults), tv.help,
			func(c *Config) *string { return get((*wire.Tables)(&c.ClickHouse.Tables)) }))
	}
	return out
}

// jsonGroups are the parents of nested variables: pydantic-settings also
// read them as one JSON object (EXPORTER_TRACKER='{"token": "..."}').
var jsonGroups = []string{"EXPORTER_TRACKER__SEARCH", "EXPORTER_TRACKER", "EXPORTER_CLICKHOUSE", "EXPORTER_STATE", "EXPORTER_MONITORING", "EXPORTER_NATS"}

// parseSize reads a byte count: 1048576, 16MiB, 512KiB, 1GB.
func parseSize(s string) (int, error) {
	bad := errors.New("want a size in bytes like 1048576, 512KiB or 16MiB")
	units := []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}}
	l := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(l, u.suffix) {
			l, mult = strings.TrimSpace(strings.TrimSuffix(l, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(l, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, bad
	}
	return int(n * mult), nil
}
