package config

import (
	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// validConfig returns a Config that passes Validate(RoleAll).
func validConfig(t *testing.T) Config {
	t.Helper()
	c := Default()
	c.Tracker.Token = "y0_token-value-123"
	c.Tracker.OrgID = "42"
	if err := c.Validate(RoleAll); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	return c
}

func TestValidateDefaultsNeedOnlyCredentials(t *testing.T) {
	err := Default().Validate(RoleAll)
	lines := Problems(err)
	want := []string{
		"EXPORTER_TRACKER__TOKEN: not set; set it (OAuth) or EXPORTER_TRACKER__IAM_TOKEN",
		"EXPORTER_TRACKER__ORG_ID: not set; set it (Yandex 360) or EXPORTER_TRACKER__CLOUD_ORG_ID (Yandex Cloud)",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("Default().Validate = %q, want %q", lines, want)
	}
	for _, role := range []Role{RoleTransformer, RoleLoader} {
		if err := Default().Validate(role); err != nil {
			t.Errorf("Default().Validate(%v) = %v, want nil (no Tracker access)", role, err)
		}
	}
}

func TestValidateEachProblemOneLine(t *testing.T) {
	dir := t.TempDir()
	const secret = "super-secret-value-XYZ"
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string // the variable and a piece of the reason
	}{
		{"log level", func(c *Config) { c.LogLevel = "verbose" }, `EXPORTER_LOGLEVEL="verbose": want debug`},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, `EXPORTER_LOG_FORMAT="xml": want text or json`},
		{"stats each", func(c *Config) { c.LogETLStatsEachNIter = 0 }, `EXPORTER_LOG_ETL_STATS_EACH_N_ITER="0"`},
		{"health addr", func(c *Config) { c.HealthAddr = "8080" }, `EXPORTER_HEALTH_ADDR="8080": want host:port`},
		{"both tokens", func(c *Config) { c.Tracker.IAMToken = secret }, "EXPORTER_TRACKER__TOKEN: EXPORTER_TRACKER__TOKEN and EXPORTER_TRACKER__IAM_TOKEN are both set"},
		{"no token", func(c *Config) { c.Tracker.Token = "" }, "EXPORTER_TRACKER__TOKEN: not set"},
		{"both orgs", func(c *Config) { c.Tracker.CloudOrgID = "bpf" }, "EXPORTER_TRACKER__ORG_ID: EXPORTER_TRACKER__ORG_ID and EXPORTER_TRACKER__CLOUD_ORG_ID are both set"},
		{"no org", func(c *Config) { c.Tracker.OrgID = "" }, "EXPORTER_TRACKER__ORG_ID: not set"},
		{"api url", func(c *Config) { c.Tracker.BaseURL = "api.tracker" }, `EXPORTER_TRACKER__API_URL="api.tracker"`},
		{"api version", func(c *Config) { c.Tracker.APIVersion = "v4" }, `EXPORTER_TRACKER__API_VERSION="v4": want v2 or v3`},
		{"tracker log level", func(c *Config) { c.Tracker.LogLevel = "loud" }, `EXPORTER_TRACKER__LOGLEVEL="loud"`},
		{"timeout", func(c *Config) { c.Tracker.Timeout = 0 }, `EXPORTER_TRACKER__TIMEOUT="0s": want a positive duration`},
		{"retries", func(c *Config) { c.Tracker.MaxRetries = -1 }, `EXPORTER_TRACKER__MAX_RETRIES="-1": want 0..100`},
		{"language", func(c *Config) { c.Tracker.Language = "de" }, `EXPORTER_TRACKER__LANGUAGE="de": want en or ru`},
		{"timezone", func(c *Config) { c.Extractor.Query.Zone = nil }, "EXPORTER_TRACKER__TIMEZONE: not set"},
		{"concurrency", func(c *Config) { c.Extractor.Concurrency = 0 }, `EXPORTER_TRACKER__CONCURRENCY="0": want 1..256`},
		{"rate limit", func(c *Config) { c.Tracker.RateLimit = -1 }, `EXPORTER_TRACKER__RATE_LIMIT="-1"`},
		{"rate limit max", func(c *Config) { c.Tracker.RateCeiling = 0 }, `EXPORTER_TRACKER__RATE_LIMIT_MAX="0": want more than 0`},
		{"rate limit max below start", func(c *Config) { c.Tracker.RateLimit = 150 }, `EXPORTER_TRACKER__RATE_LIMIT_MAX="100": want at least EXPORTER_TRACKER__RATE_LIMIT (150)`},
		{"shared limit without a rate", func(c *Config) { c.Tracker.RateLimitShared, c.Tracker.RateLimit = true, min(c.Tracker.RateLimit, 0) }, `EXPORTER_TRACKER__RATE_LIMIT_SHARED="true": a shared limit needs EXPORTER_TRACKER__RATE_LIMIT above 0`},
		{"shared limit without redis", func(c *Config) { c.Tracker.RateLimitShared, c.State.RedisDSN = true, "s3://bucket" }, `EXPORTER_STATE__REDIS_DSN (value hidden): the shared rate limit (EXPORTER_TRACKER__RATE_LIMIT_SHARED) lives in this Redis`},
		{"changelog page", func(c *Config) { c.Extractor.ChangelogPageSize = 1001 }, `EXPORTER_TRACKER__CHANGELOG_PAGE_SIZE="1001": want 1..1000`},
		{"scroll page", func(c *Config) { c.Extractor.ScrollPageSize = 0 }, `EXPORTER_TRACKER__SEARCH__SCROLL_PAGE_SIZE="0"`},
		{"per page", func(c *Config) { c.Tracker.SearchPerPageLimit = 5000 }, `EXPORTER_TRACKER__SEARCH__PER_PAGE_LIMIT="5000"`},
		{"range", func(c *Config) { c.Extractor.Query.Range = -time.Hour }, `EXPORTER_TRACKER__SEARCH__RANGE="-1h0m0s"`},
		{"queue", func(c *Config) { c.Extractor.Query.Queues = []string{"DEV", "BAD QUEUE"} }, `EXPORTER_TRACKER__SEARCH__QUEUES: queue "BAD QUEUE"`},
		{"nothing to search", func(c *Config) { c.Extractor.Query.Range = 0 }, "EXPORTER_TRACKER__SEARCH__QUERY: nothing to search"},
		{"initial range", func(c *Config) { c.Extractor.Query.Stateful, c.Extractor.Query.InitialRange = true, 0 }, `EXPORTER_STATEFUL_INITIAL_RANGE="0s"`},
		{"etl interval", func(c *Config) { c.ETLInterval = 0 }, `EXPORTER_ETL_INTERVAL_MINUTES="0s"`},
		{"query format", func(c *Config) { c.DatetimeQueryFormat = "%H:%M" }, "EXPORTER_DATETIME_QUERY_FORMAT: format \"%H:%M\": want a full date"},
		{"storage", func(c *Config) { c.State.Storage = "consul" }, `EXPORTER_STATE__STORAGE="consul": want jsonfile or redis`},
		{"custom storage", func(c *Config) { c.Extractor.Query.Stateful, c.State.Storage = true, "custom" },
			`EXPORTER_STATE__STORAGE="custom": the old tool's custom storage (a Python class) is not supported: use jsonfile (a local file, or an S3 object with EXPORTER_STATE__JSONFILE_STRATEGY=s3) or redis`},
		{"strategy", func(c *Config) { c.State.JSONFileStrategy = "gcs" }, `EXPORTER_STATE__JSONFILE_STRATEGY="gcs": want local or s3`},
		{"state key", func(c *Config) { c.Extractor.StateKey = "" }, "EXPORTER_STATE__KEY: must not be empty"},
		{"overlap", func(c *Config) { c.Extractor.Query.Overlap = 48 * time.Hour }, `EXPORTER_STATE__OVERLAP="48h0m0s": want 0..24h`},
		{"redis dsn", func(c *Config) {
			c.Extractor.Query.Stateful, c.State.Storage, c.State.RedisDSN = true, "redis", setting.Secret("http://"+secret)
		},
			"EXPORTER_STATE__REDIS_DSN (value hidden): want redis://"},
		{"json path", func(c *Config) { c.Extractor.Query.Stateful, c.State.JSONFilePath = true, "" }, "EXPORTER_STATE__JSONFILE_PATH: must not be empty"},
		{"s3 bucket", func(c *Config) { c.Extractor.Query.Stateful, c.State.JSONFileStrategy = true, "s3" }, "EXPORTER_STATE__JSONFILE_S3_BUCKET: must not be empty"},
		{"s3 region", func(c *Config) {
			c.Extractor.Query.Stateful, c.State.JSONFileStrategy, c.State.S3Bucket, c.State.S3Region = true, "s3", "b", ""
		},
			"EXPORTER_STATE__JSONFILE_S3_REGION: must not be empty"},
		{"s3 endpoint", func(c *Config) {
			c.Extractor.Query.Stateful, c.State.JSONFileStrategy, c.State.S3Bucket, c.State.S3Endpoint = true, "s3", "b", "storage.yandexcloud.net"
		}, `EXPORTER_STATE__JSONFILE_S3_ENDPOINT="storage.yandexcloud.net"`},
		{"s3 key pair", func(c *Config) {
			c.Extractor.Query.Stateful, c.State.JSONFileStrategy, c.State.S3Bucket, c.State.S3AccessKey = true, "s3", "b", secret
		}, "EXPORTER_STATE__JSONFILE_S3_ACCESS_KEY: set both"},
		{"no workdays", func(c *Config) { c.Calendar.Workdays = nil }, "EXPORTER_WORKDAYS: no working days"},
		{"bad weekday", func(c *Config) { c.Calendar.Workdays = []time.Weekday{time.Monday, 9} }, "EXPORTER_WORKDAYS: weekday 9"},
		{"start after end", func(c *Config) { c.Calendar.Start = 23 * time.Hour }, `EXPORTER_BUSINESS_HOURS_END="22:00:00": must be after EXPORTER_BUSINESS_HOURS_START (23:00:00)`},
		{"start range", func(c *Config) { c.Calendar.Start = -time.Hour }, `EXPORTER_BUSINESS_HOURS_START="-01:00:00"`},
		{"end range", func(c *Config) { c.Calendar.End = 25 * time.Hour }, `EXPORTER_BUSINESS_HOURS_END="25:00:00"`},
		{"zone", func(c *Config) { c.Calendar.Zone = nil }, "EXPORTER_BUSINESS_TIMEZONE: not set"},
		{"holidays file", func(c *Config) { c.Calendar.HolidaysFile = filepath.Join(dir, "nope.txt") }, "EXPORTER_HOLIDAYS_FILE=\"" + filepath.Join(dir, "nope.txt") + "\": no such file"},
		{"holidays dir", func(c *Config) { c.Calendar.HolidaysFile = dir }, "not a regular file"},
		{"status type", func(c *Config) { c.StatusTypes = map[string]string{"needInfo": "waiting"} }, `EXPORTER_STATUS_TYPES: status "needInfo": type "waiting": want new, inProgress, paused, done or cancelled`},
		{"custom column clash", func(c *Config) { c.CustomFields = []CustomField{{"storyPoints", "story_points", "Float64"}} }, `EXPORTER_CUSTOM_FIELDS: column "story_points": the issues table already has it`},
		{"custom column name", func(c *Config) { c.CustomFields = []CustomField{{"x", "1abc", "String"}} }, `EXPORTER_CUSTOM_FIELDS: column "1abc": want a name`},
		{"custom column twice", func(c *Config) { c.CustomFields = []CustomField{{"x", "team", "String"}, {"y", "Team", "String"}} }, `EXPORTER_CUSTOM_FIELDS: column "Team" is given twice`},
		{"custom type", func(c *Config) { c.CustomFields = []CustomField{{"x", "team", "Decimal"}} }, `EXPORTER_CUSTOM_FIELDS: column "team": type "Decimal"`},
		{"custom source", func(c *Config) { c.CustomFields = []CustomField{{"", "team", "String"}} }, `EXPORTER_CUSTOM_FIELDS: column "team": empty source field`},
		{"ch host", func(c *Config) { c.ClickHouse.Host = "" }, "EXPORTER_CLICKHOUSE__HOST: must not be empty"},
		{"ch proto", func(c *Config) { c.ClickHouse.Proto = "grpc" }, `EXPORTER_CLICKHOUSE__PROTO="grpc": want http, https, native or native+tls`},
		{"ch port", func(c *Config) { c.ClickHouse.Port = 70000 }, `EXPORTER_CLICKHOUSE__PORT="70000": want 1..65535`},
		{"ch http on native port", func(c *Config) { c.ClickHouse.Port = 9000 }, `EXPORTER_CLICKHOUSE__PORT="9000": is ClickHouse's native port but EXPORTER_CLICKHOUSE__PROTO is http`},
		{"ch native on http port", func(c *Config) { c.ClickHouse.Proto = "native" }, `EXPORTER_CLICKHOUSE__PORT="8123": is ClickHouse's http port`},
		{"ch https needs ca", func(c *Config) { c.ClickHouse.Proto, c.ClickHouse.Port = "https", 8443 }, "EXPORTER_CLICKHOUSE__CACERT_PATH: must be set when EXPORTER_CLICKHOUSE__PROTO is https"},
		{"ch serverless needs https", func(c *Config) { c.ClickHouse.ServerlessProxyID = "akf" }, "EXPORTER_CLICKHOUSE__SERVERLESS_PROXY_ID: needs EXPORTER_CLICKHOUSE__PROTO=https"},
		{"ch ca missing", func(c *Config) {
			c.ClickHouse.Proto, c.ClickHouse.Port, c.ClickHouse.CACertPath = "https", 8443, filepath.Join(dir, "none.pem")
		}, "EXPORTER_CLICKHOUSE__CACERT_PATH=\"" + filepath.Join(dir, "none.pem") + "\": no such file"},
		{"ch user", func(c *Config) { c.ClickHouse.Username = "" }, "EXPORTER_CLICKHOUSE__USERNAME: must not be empty"},
		{"ch database", func(c *Config) { c.ClickHouse.Database = "my-db" }, `EXPORTER_CLICKHOUSE__DATABASE="my-db": want a name`},
		{"ch table", func(c *Config) { c.ClickHouse.Tables.Issues = "issues; DROP" }, `EXPORTER_CLICKHOUSE__ISSUES_TABLE="issues; DROP"`},
		{"ch same table", func(c *Config) { c.ClickHouse.Tables.Statuses = "issues" }, `EXPORTER_CLICKHOUSE__STATUSES_TABLE="issues": same table as EXPORTER_CLICKHOUSE__ISSUES_TABLE`},
		{"ch optimize", func(c *Config) { c.Loader.OptimizeEvery = 0 }, `EXPORTER_CLICKHOUSE__OPTIMIZE_EVERY="0s"`},
		{"ch base delay", func(c *Config) { c.Loader.Backoff.BaseDelay = 0 }, `EXPORTER_CLICKHOUSE__BACKOFF_BASE_DELAY="0s"`},
		{"ch factor", func(c *Config) { c.Loader.Backoff.ExpoFactor = 0.5 }, `EXPORTER_CLICKHOUSE__BACKOFF_EXPO_FACTOR="0.5": want 1..100`},
		{"ch tries", func(c *Config) { c.Loader.Backoff.MaxTries = 0 }, `EXPORTER_CLICKHOUSE__BACKOFF_MAX_TRIES="0"`},
		{"ch batch rows", func(c *Config) { c.Loader.BatchRows = 0 }, `EXPORTER_CLICKHOUSE__BATCH_ROWS="0"`},
		{"ch batch bytes", func(c *Config) { c.Loader.BatchBytes = 10 }, `EXPORTER_CLICKHOUSE__BATCH_BYTES="10": want 1KiB or more`},
		{"ch batch age", func(c *Config) { c.Loader.BatchAge = 0 }, `EXPORTER_CLICKHOUSE__BATCH_AGE="0s"`},
		{"ch deliveries", func(c *Config) { c.Loader.MaxDeliveries = 0 }, `EXPORTER_CLICKHOUSE__MAX_DELIVERIES="0"`},
		{"metrics host", func(c *Config) { c.Monitoring.Metrics.Enabled, c.Monitoring.Metrics.Host = true, "" }, "EXPORTER_MONITORING__METRICS_HOST: must not be empty"},
		{"metrics port", func(c *Config) { c.Monitoring.Metrics.Enabled, c.Monitoring.Metrics.Port = true, 0 }, `EXPORTER_MONITORING__METRICS_PORT="0"`},
		{"sentry dsn missing", func(c *Config) { c.Monitoring.Sentry.Enabled = true }, "EXPORTER_MONITORING__SENTRY_DSN: must be set when EXPORTER_MONITORING__SENTRY_ENABLED is true"},
		{"sentry dsn bad", func(c *Config) { c.Monitoring.Sentry.DSN = secret }, "EXPORTER_MONITORING__SENTRY_DSN (value hidden): want a Sentry DSN"},
		{"nats url", func(c *Config) { c.NATS.URL = "nats://a:4222, ftp://user:" + secret + "@b" }, "EXPORTER_NATS__URL (value hidden): server 2"},
		{"nats data dir", func(c *Config) { c.NATS.DataDir = "" }, "EXPORTER_NATS__DATA_DIR: must not be empty"},
		{"nats payload", func(c *Config) { c.NATS.MaxPayload = 100 << 20 }, `EXPORTER_NATS__MAX_PAYLOAD="104857600": want 1KiB..64MiB`},
		{"nats replicas", func(c *Config) { c.NATS.Replicas = 2 }, `EXPORTER_NATS__REPLICAS="2": want 1 or 3`},
		{"nats replicas embedded", func(c *Config) { c.NATS.URL, c.NATS.Replicas = "", 3 }, `EXPORTER_NATS__REPLICAS="3": the embedded NATS server (EXPORTER_NATS__URL empty) is a single node`},
	}
	base := validConfig(t)
	for _, tt := range tests {
		c := base
		c.Extractor.Query.Queues = nil
		c.Calendar.Workdays = append([]time.Weekday(nil), base.Calendar.Workdays...)
		tt.mutate(&c)
		lines := Problems(c.Validate(RoleAll))
		if len(lines) != 1 || !strings.HasPrefix(lines[0], tt.want) && !strings.Contains(lines[0], tt.want) {
			t.Errorf("%s: got %q, want one line with %q", tt.name, lines, tt.want)
		}
		if strings.Contains(strings.Join(lines, "\n"), secret) {
			t.Errorf("%s: the error reveals the secret: %q", tt.name, lines)
		}
	}

	// Everything at once: one line per problem, none lost. Skipped are the
	// mutations that undo or mask another one (a second custom-field list, an
	// invalid protocol hiding the port check, ...).
	skip := map[string]bool{
		"both tokens": true, "no token": true, "no org": true, "iam needs cloud org": true, "custom storage": true,
		"redis dsn": true, "s3 key pair": true, "s3 endpoint": true, "s3 region": true, "start after end": true,
		"no workdays": true, "holidays dir": true, "custom column twice": true, "custom type": true, "custom source": true,
		"custom column clash": true, "ch native on http port": true, "ch http on native port": true, "ch https needs ca": true,
		"ch port": true, "ch ca missing": true, "ch ca without tls": true, "ch same table": true, "nothing to search": true, "range": true, "storage": true,
		"strategy": true, "json path": true, "metrics port": true, "sentry dsn missing": true, "nats data dir": true,
		"nats replicas embedded":     true,
		"rate limit max below start": true,
	}
	c := base
	want := 0
	for _, tt := range tests {
		if !skip[tt.name] {
			tt.mutate(&c)
			want++
		}
	}
	lines := Problems(c.Validate(RoleAll))
	all := strings.Join(lines, "\n")
	for _, tt := range tests {
		if !skip[tt.name] && strings.Count(all, tt.want) != 1 {
			t.Errorf("all at once: %q appears %d times, want once", tt.want, strings.Count(all, tt.want))
		}
	}
	if len(lines) != want {
		t.Errorf("all at once: %d lines, want %d:\n%s", len(lines), want, all)
	}
}

func TestValidateRoles(t *testing.T) {
	c := Default() // no Tracker credentials
	c.ClickHouse.Proto = "grpc"
	c.Calendar.Start = 23 * time.Hour
	tests := []struct {
		role Role
		want []string
	}{
		{RoleExtractor, []string{"EXPORTER_TRACKER__TOKEN", "EXPORTER_TRACKER__ORG_ID"}},
		{RoleTransformer, []string{"EXPORTER_BUSINESS_HOURS_END"}},
		{RoleLoader, []string{"EXPORTER_CLICKHOUSE__PROTO"}},
		{RoleAll, []string{"EXPORTER_TRACKER__TOKEN", "EXPORTER_TRACKER__ORG_ID", "EXPORTER_BUSINESS_HOURS_END", "EXPORTER_CLICKHOUSE__PROTO"}},
	}
	for _, tt := range tests {
		var got []string
		for _, l := range Problems(c.Validate(tt.role)) {
			name, _, _ := strings.Cut(l, ":")
			name, _, _ = strings.Cut(name, "=")
			got = append(got, name)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Validate(%v) names %q, want %q", tt.role, got, tt.want)
		}
	}
	// Upload disabled: ClickHouse is not checked.
	c.ClickHouse.EnableUpload = false
	if err := c.Validate(RoleLoader); err != nil {
		t.Errorf("upload disabled: Validate(loader) = %v, want nil", err)
	}
}

func TestValidateAcceptsGoodVariants(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	hol := filepath.Join(dir, "holidays.txt")
	for _, f := range []string{ca, hol} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := map[string]func(c *Config){
		"iam + cloud org": func(c *Config) {
			c.Tracker.Token, c.Tracker.IAMToken, c.Tracker.OrgID, c.Tracker.CloudOrgID = "", "t1.x", "", "bpf"
		},
		// The old tool's config took it; Tracker's docs want X-Org-ID for an
		// organization linked to both Yandex 360 and Yandex Cloud.
		"iam + 360 org": func(c *Config) { c.Tracker.Token, c.Tracker.IAMToken = "", "t1.x" },
		"https with ca": func(c *Config) { c.ClickHouse.Proto, c.ClickHouse.Port, c.ClickHouse.CACertPath = "https", 8443, ca },
		// Without TLS the CA file is not used, so not checked either.
		"ca with http":   func(c *Config) { c.ClickHouse.CACertPath = filepath.Join(dir, "none.pem") },
		"ca with native": func(c *Config) { c.ClickHouse.Proto, c.ClickHouse.Port, c.ClickHouse.CACertPath = "native", 9000, ca },
		"serverless without ca": func(c *Config) {
			c.ClickHouse.Proto, c.ClickHouse.Port, c.ClickHouse.ServerlessProxyID = "https", 443, "akf"
		},
		"native":              func(c *Config) { c.ClickHouse.Proto, c.ClickHouse.Port = "native", 9000 },
		"native tls no ca":    func(c *Config) { c.ClickHouse.Proto, c.ClickHouse.Port = "native+tls", 9440 },
		"native on odd port":  func(c *Config) { c.ClickHouse.Proto, c.ClickHouse.Port = "native", 19000 },
		"query only":          func(c *Config) { c.Extractor.Query.Range, c.Extractor.Query.Custom = 0, "Queue: DEV" },
		"stateful only":       func(c *Config) { c.Extractor.Query.Range, c.Extractor.Query.Stateful = 0, true },
		"queues only":         func(c *Config) { c.Extractor.Query.Range, c.Extractor.Query.Queues = 0, []string{"DEV", "!TEST"} },
		"custom not stateful": func(c *Config) { c.State.Storage = "custom" },
		"redis stateful":      func(c *Config) { c.Extractor.Query.Stateful, c.State.Storage = true, "redis" },
		"s3 stateful": func(c *Config) {
			c.Extractor.Query.Stateful, c.State.JSONFileStrategy, c.State.S3Bucket = true, "s3", "b"
		},
		"holidays file":   func(c *Config) { c.Calendar.HolidaysFile, c.Calendar.DefaultHolidays = hol, false },
		"end at midnight": func(c *Config) { c.Calendar.Start, c.Calendar.End = 0, 24*time.Hour },
		"custom fields": func(c *Config) {
			c.CustomFields = []CustomField{{"storyPoints", "sp", "Float64"}, {"x--team", "team", "Array(String)"}}
		},
		"status types": func(c *Config) { c.StatusTypes = map[string]string{"needInfo": "paused", "rfr": "inProgress"} },
		"sentry": func(c *Config) {
			c.Monitoring.Sentry.Enabled, c.Monitoring.Sentry.DSN = true, "https://k@o1.ingest.sentry.io/2"
		},
		"nats list":      func(c *Config) { c.NATS.URL = "nats://u:p@a:4222, b:4223,tls://c" },
		"nats cluster":   func(c *Config) { c.NATS.URL, c.NATS.Replicas = "nats://a:4222,nats://b:4222,nats://c:4222", 3 },
		"health":         func(c *Config) { c.HealthAddr = "127.0.0.1:0" },
		"rate unlimited": func(c *Config) { c.Tracker.RateLimit = 0 },
		"rate fixed": func(c *Config) {
			c.Tracker.Adaptive, c.Tracker.RateLimit, c.Tracker.RateCeiling = false, 150, 0
		},
	}
	for name, mutate := range tests {
		c := validConfig(t)
		mutate(&c)
		if err := c.Validate(RoleAll); err != nil {
			t.Errorf("%s: Validate = %v, want nil", name, err)
		}
	}
}

func TestQueryTimeLayout(t *testing.T) {
	c := Default()
	layout, err := c.QueryTimeLayout()
	if err != nil || layout != "2006-01-02 15:04:05" {
		t.Errorf("QueryTimeLayout = %q, %v; want 2006-01-02 15:04:05", layout, err)
	}
	if got := c.Level(); got.String() != "INFO" {
		t.Errorf("Level = %v, want INFO", got)
	}
	if got := c.Tracker.Level(); got.String() != "WARN" {
		t.Errorf("Tracker.Level = %v, want WARN", got)
	}
	if l, err := ParseLevel("CRITICAL"); err != nil || l.String() != "ERROR+4" {
		t.Errorf("ParseLevel(CRITICAL) = %v, %v; want ERROR+4", l, err)
	}
}

func TestClickHouseHostsAndCluster(t *testing.T) {
	for _, tc := range []struct {
		host, cluster, zk string
		wantAddrs         string
		wantErr           []string
	}{
		{host: "ch1,ch2:9001, ch3", wantAddrs: "ch1:9000,ch2:9001,ch3:9000"},
		{host: "ch1,,ch2", wantErr: []string{"EXPORTER_CLICKHOUSE__HOST", "empty host"}},
		{host: "ch1:99999", wantErr: []string{"EXPORTER_CLICKHOUSE__HOST", "invalid port"}},
		{host: "ch1", cluster: "bad-name", wantErr: []string{"EXPORTER_CLICKHOUSE__CLUSTER"}},
		{host: "ch1", cluster: "c1", zk: "/clickhouse/{shard}", wantErr: []string{"EXPORTER_CLICKHOUSE__ZOOKEEPER_PATH", "{table}"}},
		{host: "ch1", cluster: "c1", wantAddrs: "ch1:9000"},
	} {
		c := validConfig(t)
		c.ClickHouse.Proto = clickhouse.ProtoNative
		c.ClickHouse.Port = 9000
		c.ClickHouse.Host = tc.host
		c.ClickHouse.Cluster = tc.cluster
		if tc.zk != "" {
			c.ClickHouse.ZooKeeperPath = tc.zk
		}
		err := c.Validate(RoleLoader)
		if len(tc.wantErr) == 0 {
			if err != nil {
				t.Errorf("host %q cluster %q: Validate = %v, want nil", tc.host, tc.cluster, err)
			}
			if got := c.ClickHouse.Addr(); got != tc.wantAddrs {
				t.Errorf("host %q: Addr() = %q, want %q", tc.host, got, tc.wantAddrs)
			}
			continue
		}
		if err == nil {
			t.Errorf("host %q cluster %q zk %q: Validate = nil, want an error with %q", tc.host, tc.cluster, tc.zk, tc.wantErr)
			continue
		}
		for _, w := range tc.wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("host %q cluster %q zk %q: Validate = %v, want it to mention %q", tc.host, tc.cluster, tc.zk, err, w)
			}
		}
	}
}
