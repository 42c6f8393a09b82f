package config

import (
	"errors"
	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// comparable returns c with zones replaced by their names, so that two
// Configs can be compared with reflect.DeepEqual.
func comparable(c Config) (Config, [2]string) {
	zones := [2]string{zoneName(c.Extractor.Query.Zone), zoneName(c.Calendar.Zone)}
	c.Extractor.Query.Zone, c.Calendar.Zone = nil, nil
	c.Explicit = nil
	return c, zones
}

func mustLoad(t *testing.T, environ ...string) Config {
	t.Helper()
	c, err := Load(environ, "")
	if err != nil {
		t.Fatalf("Load(%q) = %v", environ, err)
	}
	return c
}

func TestDefaultsMatchSeedCompat(t *testing.T) {
	t.Chdir(t.TempDir())
	d := mustLoad(t) // no variables at all: Load must give Default()
	want := Default()
	gotC, gotZ := comparable(d)
	wantC, wantZ := comparable(want)
	gotC.Warnings, wantC.Warnings = nil, nil
	if !reflect.DeepEqual(gotC, wantC) || gotZ != wantZ {
		t.Fatalf("Load() with no variables differs from Default():\n got %+v %v\nwant %+v %v", gotC, gotZ, wantC, wantZ)
	}
	day := 24 * time.Hour
	checks := []struct {
		name      string
		got, want any
	}{
		{"EXPORTER_STATEFUL", d.Extractor.Query.Stateful, false},
		{"EXPORTER_STATEFUL_INITIAL_RANGE", d.Extractor.Query.InitialRange, 7 * day},
		{"EXPORTER_CHANGELOG_EXPORT_ENABLED", d.ChangelogExportEnabled, false},
		{"EXPORTER_LOGLEVEL", d.LogLevel, "info"},
		{"EXPORTER_LOG_ETL_STATS", d.LogETLStats, true},
		{"EXPORTER_LOG_ETL_STATS_EACH_N_ITER", d.LogETLStatsEachNIter, 100},
		{"EXPORTER_WORKDAYS", d.Calendar.Workdays, []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}},
		{"EXPORTER_BUSINESS_HOURS_START", d.Calendar.Start, 9 * time.Hour},
		{"EXPORTER_BUSINESS_HOURS_END", d.Calendar.End, 22 * time.Hour},
		{"EXPORTER_DATETIME_RESPONSE_FORMAT", d.DatetimeResponseFormat, "%Y-%m-%dT%H:%M:%S.%f%z"},
		{"EXPORTER_DATETIME_QUERY_FORMAT", d.DatetimeQueryFormat, "%Y-%m-%d %H:%M:%S"},
		{"EXPORTER_DATETIME_CLICKHOUSE_FORMAT", d.DatetimeClickhouseFormat, "%Y-%m-%dT%H:%M:%S.%f"},
		{"EXPORTER_ETL_INTERVAL_MINUTES", d.ETLInterval, 30 * time.Minute},
		{"EXPORTER_CLOSED_ISSUE_STATUSES", d.ClosedIssueStatuses, []string{"closed", "rejected", "resolved", "cancelled", "released"}},
		{"EXPORTER_NOT_NULLABLE_FIELDS", d.NotNullableFields, []string{"created_at", "resolved_at", "closed_at", "updated_at", "released_at",
			"deadline", "start_date", "end_date", "start_time", "end_time", "moved_at"}},
		{"EXPORTER_TRACKER__LOGLEVEL", d.Tracker.LogLevel, "warning"},
		{"EXPORTER_TRACKER__TOKEN", d.Tracker.Token, setting.Secret("")},
		{"EXPORTER_TRACKER__IAM_TOKEN", d.Tracker.IAMToken, setting.Secret("")},
		{"EXPORTER_TRACKER__ORG_ID", d.Tracker.OrgID, ""},
		{"EXPORTER_TRACKER__CLOUD_ORG_ID", d.Tracker.CloudOrgID, ""},
		{"EXPORTER_TRACKER__TIMEOUT", d.Tracker.Timeout, 10 * time.Second},
		{"EXPORTER_TRACKER__MAX_RETRIES", d.Tracker.MaxRetries, 10},
		{"EXPORTER_TRACKER__LANGUAGE", d.Tracker.Language, "en"},
		{"EXPORTER_TRACKER__TIMEZONE", d.Extractor.Query.Zone.String(), "Europe/Moscow"},
		{"EXPORTER_TRACKER__SEARCH__QUERY", d.Extractor.Query.Custom, ""},
		{"EXPORTER_TRACKER__SEARCH__RANGE", d.Extractor.Query.Range, 2 * time.Hour},
		{"EXPORTER_TRACKER__SEARCH__QUEUES", len(d.Extractor.Query.Queues), 0},
		{"EXPORTER_TRACKER__SEARCH__PER_PAGE_LIMIT", d.Tracker.SearchPerPageLimit, 100},
		{"EXPORTER_CLICKHOUSE__ENABLE_UPLOAD", d.ClickHouse.EnableUpload, true},
		{"EXPORTER_CLICKHOUSE__HOST", d.ClickHouse.Host, "localhost"},
		{"EXPORTER_CLICKHOUSE__PROTO", d.ClickHouse.Proto, "http"},
		{"EXPORTER_CLICKHOUSE__PORT", d.ClickHouse.Port, 8123},
		{"EXPORTER_CLICKHOUSE__CACERT_PATH", d.ClickHouse.CACertPath, ""},
		{"EXPORTER_CLICKHOUSE__SERVERLESS_PROXY_ID", d.ClickHouse.ServerlessProxyID, ""},
		{"EXPORTER_CLICKHOUSE__USERNAME", d.ClickHouse.Username, "default"},
		{"EXPORTER_CLICKHOUSE__PASSWORD", d.ClickHouse.Password, setting.Secret("")},
		{"EXPORTER_CLICKHOUSE__DATABASE", d.ClickHouse.Database, "agile"},
		{"EXPORTER_CLICKHOUSE__ISSUES_TABLE", d.ClickHouse.Tables.Issues, "issues"},
		{"EXPORTER_CLICKHOUSE__ISSUE_METRICS_TABLE", d.ClickHouse.Tables.IssueMetrics, "issue_metrics"},
		{"EXPORTER_CLICKHOUSE__ISSUES_CHANGELOG_TABLE", d.ClickHouse.Tables.IssuesChangelog, "issues_changelog"},
		{"EXPORTER_CLICKHOUSE__AUTO_DEDUPLICATE", d.Loader.AutoDeduplicate, true},
		{"EXPORTER_CLICKHOUSE__BACKOFF_BASE_DELAY", d.Loader.Backoff.BaseDelay, 500 * time.Millisecond},
		{"EXPORTER_CLICKHOUSE__BACKOFF_EXPO_FACTOR", d.Loader.Backoff.ExpoFactor, 2.5},
		{"EXPORTER_CLICKHOUSE__BACKOFF_MAX_TRIES", d.Loader.Backoff.MaxTries, 3},
		{"EXPORTER_CLICKHOUSE__BACKOFF_JITTER", d.Loader.Backoff.Jitter, true},
		{"EXPORTER_STATE__STORAGE", d.State.Storage, "jsonfile"},
		{"EXPORTER_STATE__REDIS_DSN", d.State.RedisDSN.Reveal(), "redis://localhost:6379"},
		{"EXPORTER_STATE__JSONFILE_STRATEGY", d.State.JSONFileStrategy, "local"},
		{"EXPORTER_STATE__JSONFILE_PATH", d.State.JSONFilePath, "state.json"},
		{"EXPORTER_STATE__JSONFILE_S3_BUCKET", d.State.S3Bucket, ""},
		{"EXPORTER_STATE__JSONFILE_S3_REGION", d.State.S3Region, "us-east-1"},
		{"EXPORTER_STATE__JSONFILE_S3_ENDPOINT", d.State.S3Endpoint, ""},
		{"EXPORTER_STATE__JSONFILE_S3_ACCESS_KEY", d.State.S3AccessKey, setting.Secret("")},
		{"EXPORTER_STATE__JSONFILE_S3_SECRET_KEY", d.State.S3SecretKey, setting.Secret("")},
		{"EXPORTER_STATE__KEY (old fixed key)", d.Extractor.StateKey, "tracker_etl_default"},
		{"EXPORTER_MONITORING__METRICS_ENABLED", d.Monitoring.Metrics.Enabled, false},
		{"EXPORTER_MONITORING__METRICS_HOST", d.Monitoring.Metrics.Host, "localhost"},
		{"EXPORTER_MONITORING__METRICS_PORT", d.Monitoring.Metrics.Port, 8125},
		{"EXPORTER_MONITORING__METRICS_BASE_PREFIX", d.Monitoring.Metrics.Prefix, "tracker_exporter"},
		{"EXPORTER_MONITORING__METRICS_BASE_LABELS", len(d.Monitoring.Metrics.Tags), 0},
		{"EXPORTER_MONITORING__SENTRY_ENABLED", d.Monitoring.Sentry.Enabled, false},
		{"EXPORTER_MONITORING__SENTRY_DSN", d.Monitoring.Sentry.DSN, setting.Secret("")},
		// New settings.
		{"EXPORTER_BUSINESS_TIMEZONE", d.Calendar.Zone.String(), "Europe/Moscow"},
		{"EXPORTER_HOLIDAYS", Holidays(d.Calendar), "default"},
		{"EXPORTER_TRACKER__API_URL", d.Tracker.BaseURL, "https://api.tracker.yandex.net"},
		{"EXPORTER_TRACKER__API_VERSION", d.Tracker.APIVersion, "v2"},
		{"EXPORTER_TRACKER__CONCURRENCY", d.Extractor.Concurrency, 16},
		{"EXPORTER_TRACKER__RATE_LIMIT", d.Tracker.RateLimit, 20.0},
		{"EXPORTER_TRACKER__RATE_LIMIT_ADAPTIVE", d.Tracker.Adaptive, true},
		{"EXPORTER_TRACKER__RATE_LIMIT_MAX", d.Tracker.RateCeiling, 100.0},
		{"EXPORTER_TRACKER__RATE_LIMIT_SHARED", d.Tracker.RateLimitShared, false},
		{"EXPORTER_TRACKER__RATE_LIMIT_SHARED_KEY", d.Tracker.RateLimitSharedKey, ""},
		{"EXPORTER_TRACKER__CHANGELOG_PAGE_SIZE", d.Extractor.ChangelogPageSize, 100},
		{"EXPORTER_TRACKER__SEARCH__SCROLL_PAGE_SIZE", d.Extractor.ScrollPageSize, 250},
		{"EXPORTER_CLICKHOUSE__OPTIMIZE_EVERY", d.Loader.OptimizeEvery, 30 * time.Minute},
		{"EXPORTER_CLICKHOUSE__MAX_DELIVERIES", d.Loader.MaxDeliveries, 5},
		{"EXPORTER_STATE__OVERLAP", d.Extractor.Query.Overlap, 5 * time.Minute},
		{"EXPORTER_NATS__DATA_DIR", d.NATS.DataDir, "./data/nats"},
		{"EXPORTER_NATS__MAX_PAYLOAD", d.NATS.MaxPayload, 8 << 20},
		{"EXPORTER_NATS__REPLICAS", d.NATS.Replicas, 1},
		{"EXPORTER_LOG_FORMAT", d.LogFormat, "text"},
		{"EXPORTER_HEALTH_ADDR", d.HealthAddr, ""},
		{"EXPORTER_START_TIMEOUT", d.StartTimeout, 5 * time.Minute},
		{"EXPORTER_COMMENTS_EXPORT_ENABLED", d.CommentsExportEnabled, false},
		{"EXPORTER_WORKLOGS_EXPORT_ENABLED", d.WorklogsExportEnabled, true},
		{"EXPORTER_LINKS_EXPORT_ENABLED", d.LinksExportEnabled, true},
		{"EXPORTER_SPRINTS_EXPORT_ENABLED", d.SprintsExportEnabled, true},
		{"EXPORTER_RECONCILE_INTERVAL", d.ReconcileInterval, 24 * time.Hour},
		{"EXPORTER_RUN_TIME_BUDGET", d.RunTimeBudget, time.Duration(0)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("default of %s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

// Every variable's documented default, written as a user would write it,
// must load to the same Config as no variable at all.
func TestDocumentedDefaultsLoadToDefault(t *testing.T) {
	t.Chdir(t.TempDir())
	base, baseZ := comparable(mustLoad(t))
	for _, v := range Variables() {
		if v.Default == "" {
			continue
		}
		c, err := Load([]string{v.Name + "=" + v.Default}, "")
		if err != nil {
			t.Errorf("%s=%s: %v", v.Name, v.Default, err)
			continue
		}
		got, z := comparable(c)
		if !reflect.DeepEqual(got, base) || z != baseZ {
			t.Errorf("%s=%s loads to a Config different from the default:\n got %+v %v\nwant %+v %v", v.Name, v.Default, got, z, base, baseZ)
		}
	}
}

func TestVariablesCoverEveryOldVariable(t *testing.T) {
	// The spec lives outside the repository in development; testdata keeps
	// a copy for CI.
	data, err := os.ReadFile("../../../shared/seed-compat.md")
	if err != nil {
		data, err = os.ReadFile("testdata/seed-compat.md")
	}
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, v := range Variables() {
		names[v.Name] = true
	}
	// Expand the "__X" shorthands of seed-compat.md with their section.
	section, found := "", 0
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "Tracker:"):
			section = "EXPORTER_TRACKER"
		case strings.HasPrefix(line, "ClickHouse:"):
			section = "EXPORTER_CLICKHOUSE"
		case strings.HasPrefix(line, "State:"):
			section = "EXPORTER_STATE"
		case strings.HasPrefix(line, "Monitoring:"):
			section = "EXPORTER_MONITORING"
		case strings.HasPrefix(line, "## Command line"):
			section = "stop"
		}
		if section == "stop" {
			break
		}
		for _, f := range strings.Split(line, "`") {
			name := ""
			switch {
			case strings.HasPrefix(f, "EXPORTER_") && !strings.Contains(f, " ") && !strings.HasSuffix(f, "_"):
				name = f
			case strings.HasPrefix(f, "__") && section != "":
				name = section + f
			case strings.HasPrefix(f, "_S3_") && section == "EXPORTER_STATE":
				name = "EXPORTER_STATE__JSONFILE" + f
			}
			if name == "" {
				continue
			}
			found++
			if !names[name] {
				t.Errorf("seed-compat.md names %s, which Load does not read", name)
			}
		}
	}
	if found < 60 {
		t.Errorf("found %d variable names in seed-compat.md, want 60 or more: the parser has drifted from the file", found)
	}
}

func TestLoadOldFormats(t *testing.T) {
	t.Chdir(t.TempDir())
	tests := []struct {
		env   string
		check func(c Config) any
		want  any
	}{
		{"EXPORTER_STATEFUL=yes", func(c Config) any { return c.Extractor.Query.Stateful }, true},
		{"EXPORTER_STATEFUL=1", func(c Config) any { return c.Extractor.Query.Stateful }, true},
		{"EXPORTER_STATEFUL_INITIAL_RANGE=7d", func(c Config) any { return c.Extractor.Query.InitialRange }, 168 * time.Hour},
		{"EXPORTER_STATEFUL_INITIAL_RANGE=2w 3d", func(c Config) any { return c.Extractor.Query.InitialRange }, 17 * 24 * time.Hour},
		{"EXPORTER_CHANGELOG_EXPORT_ENABLED=True", func(c Config) any { return c.ChangelogExportEnabled }, true},
		{"EXPORTER_LOGLEVEL=DEBUG", func(c Config) any { return c.LogLevel }, "debug"},
		{"EXPORTER_LOG_FORMAT=JSON", func(c Config) any { return c.LogFormat }, "json"},
		{"EXPORTER_LOG_ETL_STATS=false", func(c Config) any { return c.LogETLStats }, false},
		{"EXPORTER_LOG_ETL_STATS_EACH_N_ITER=50", func(c Config) any { return c.LogETLStatsEachNIter }, 50},
		{"EXPORTER_WORKDAYS=[0, 1, 2, 3, 4, 5]", func(c Config) any { return len(c.Calendar.Workdays) }, 6},
		{"EXPORTER_WORKDAYS=6", func(c Config) any { return c.Calendar.Workdays }, []time.Weekday{time.Sunday}},
		{"EXPORTER_BUSINESS_HOURS_START=10:30:00", func(c Config) any { return c.Calendar.Start }, 10*time.Hour + 30*time.Minute},
		{"EXPORTER_BUSINESS_HOURS_END=18:00", func(c Config) any { return c.Calendar.End }, 18 * time.Hour},
		{"EXPORTER_BUSINESS_TIMEZONE=Asia/Yekaterinburg", func(c Config) any { return c.Calendar.Zone.String() }, "Asia/Yekaterinburg"},
		{"EXPORTER_HOLIDAYS=None", func(c Config) any { return Holidays(c.Calendar) }, "none"},
		{"EXPORTER_HOLIDAYS_FILE=/etc/holidays.txt", func(c Config) any { return c.Calendar.HolidaysFile }, "/etc/holidays.txt"},
		{"EXPORTER_DATETIME_RESPONSE_FORMAT=%Y-%m-%dT%H:%M:%S%z", func(c Config) any { return c.DatetimeResponseFormat }, "%Y-%m-%dT%H:%M:%S%z"},
		{"EXPORTER_DATETIME_CLICKHOUSE_FORMAT=%Y-%m-%d %H:%M:%S", func(c Config) any { return c.DatetimeClickhouseFormat }, "%Y-%m-%d %H:%M:%S"},
		{"EXPORTER_DATETIME_QUERY_FORMAT=%Y-%m-%d", func(c Config) any { return c.DatetimeQueryFormat }, "%Y-%m-%d"},
		{"EXPORTER_ETL_INTERVAL_MINUTES=15", func(c Config) any { return c.ETLInterval }, 15 * time.Minute},
		{"EXPORTER_ETL_INTERVAL_MINUTES=15", func(c Config) any { return c.Loader.OptimizeEvery }, 15 * time.Minute},
		{"EXPORTER_CLOSED_ISSUE_STATUSES=closed, done ,released", func(c Config) any { return c.ClosedIssueStatuses }, []string{"closed", "done", "released"}},
		{"EXPORTER_CLOSED_ISSUE_STATUSES=", func(c Config) any { return c.ClosedIssueStatuses }, []string{}},
		{"EXPORTER_NOT_NULLABLE_FIELDS=created_at,deadline", func(c Config) any { return c.NotNullableFields }, []string{"created_at", "deadline"}},
		{"EXPORTER_STATUS_TYPES=readyForRelease:paused,needInfo:paused", func(c Config) any { return c.StatusTypes },
			map[string]string{"readyForRelease": "paused", "needInfo": "paused"}},
		{"EXPORTER_CUSTOM_FIELDS=6063181a59590573909db929--team:team:String", func(c Config) any { return c.CustomFields },
			[]CustomField{{Source: "6063181a59590573909db929--team", Column: "team", Type: "String"}}},
		{"EXPORTER_HEALTH_ADDR=:8080", func(c Config) any { return c.HealthAddr }, ":8080"},
		{"EXPORTER_START_TIMEOUT=0", func(c Config) any { return c.StartTimeout }, time.Duration(0)},
		{"EXPORTER_COMMENTS_EXPORT_ENABLED=true", func(c Config) any { return c.CommentsExportEnabled }, true},
		{"EXPORTER_WORKLOGS_EXPORT_ENABLED=false", func(c Config) any { return c.WorklogsExportEnabled }, false},
		{"EXPORTER_LINKS_EXPORT_ENABLED=0", func(c Config) any { return c.LinksExportEnabled }, false},
		{"EXPORTER_SPRINTS_EXPORT_ENABLED=false", func(c Config) any { return c.SprintsExportEnabled }, false},
		{"EXPORTER_RECONCILE_INTERVAL=6h", func(c Config) any { return c.ReconcileInterval }, 6 * time.Hour},
		{"EXPORTER_RUN_TIME_BUDGET=8m", func(c Config) any { return c.RunTimeBudget }, 8 * time.Minute},
		// The old search page size sizes the scroll pages that replaced it.
		{"EXPORTER_TRACKER__SEARCH__PER_PAGE_LIMIT=500", func(c Config) any { return c.Extractor.ScrollPageSize }, 500},
		{"EXPORTER_TRACKER__LOGLEVEL=error", func(c Config) any { return c.Tracker.LogLevel }, "error"},
		{"EXPORTER_TRACKER__TOKEN=y0_abc", func(c Config) any { return c.Tracker.Token.Reveal() }, "y0_abc"},
		{"EXPORTER_TRACKER__IAM_TOKEN=t1.abc", func(c Config) any { return c.Tracker.IAMToken.Reveal() }, "t1.abc"},
		{"EXPORTER_TRACKER__ORG_ID=123", func(c Config) any { return c.Tracker.OrgID }, "123"},
		{"EXPORTER_TRACKER__CLOUD_ORG_ID=bpf123", func(c Config) any { return c.Tracker.CloudOrgID }, "bpf123"},
		{"EXPORTER_TRACKER__API_URL=http://127.0.0.1:8080", func(c Config) any { return c.Tracker.BaseURL }, "http://127.0.0.1:8080"},
		{"EXPORTER_TRACKER__API_VERSION=3", func(c Config) any { return c.Tracker.APIVersion }, "v3"},
		{"EXPORTER_TRACKER__API_VERSION=V3", func(c Config) any { return c.Tracker.APIVersion }, "v3"},
		{"EXPORTER_TRACKER__TIMEOUT=30", func(c Config) any { return c.Tracker.Timeout }, 30 * time.Second},
		{"EXPORTER_TRACKER__TIMEOUT=2.5", func(c Config) any { return c.Tracker.Timeout }, 2500 * time.Millisecond},
		{"EXPORTER_TRACKER__TIMEOUT=1m", func(c Config) any { return c.Tracker.Timeout }, time.Minute},
		{"EXPORTER_TRACKER__MAX_RETRIES=3", func(c Config) any { return c.Tracker.MaxRetries }, 3},
		{"EXPORTER_TRACKER__LANGUAGE=ru", func(c Config) any { return c.Tracker.Language }, "ru"},
		{"EXPORTER_TRACKER__TIMEZONE=UTC", func(c Config) any { return c.Extractor.Query.Zone.String() }, "UTC"},
		{"EXPORTER_TRACKER__TIMEZONE=Asia/Tokyo", func(c Config) any { return c.Calendar.Zone.String() }, "Asia/Tokyo"},
		{"EXPORTER_TRACKER__CONCURRENCY=4", func(c Config) any { return c.Extractor.Concurrency }, 4},
		{"EXPORTER_TRACKER__RATE_LIMIT=0", func(c Config) any { return c.Tracker.RateLimit }, 0.0},
		{"EXPORTER_TRACKER__RATE_LIMIT=7.5", func(c Config) any { return c.Tracker.RateLimit }, 7.5},
		{"EXPORTER_TRACKER__RATE_LIMIT_ADAPTIVE=false", func(c Config) any { return c.Tracker.Adaptive }, false},
		{"EXPORTER_TRACKER__RATE_LIMIT_MAX=250", func(c Config) any { return c.Tracker.RateCeiling }, 250.0},
		{"EXPORTER_TRACKER__RATE_LIMIT_SHARED=true", func(c Config) any { return c.Tracker.RateLimitShared }, true},
		{"EXPORTER_TRACKER__RATE_LIMIT_SHARED_KEY=org:7", func(c Config) any { return c.Tracker.SharedRateKey() }, "org:7"},
		{"EXPORTER_TRACKER__CHANGELOG_PAGE_SIZE=500", func(c Config) any { return c.Extractor.ChangelogPageSize }, 500},
		{"EXPORTER_TRACKER__SEARCH__QUERY=Queue: DEV \"Sort by\": Updated ASC", func(c Config) any { return c.Extractor.Query.Custom }, `Queue: DEV "Sort by": Updated ASC`},
		{"EXPORTER_TRACKER__SEARCH__RANGE=1d", func(c Config) any { return c.Extractor.Query.Range }, 24 * time.Hour},
		{"EXPORTER_TRACKER__SEARCH__RANGE=", func(c Config) any { return c.Extractor.Query.Range }, time.Duration(0)},
		{"EXPORTER_TRACKER__SEARCH__QUEUES=DEV,sre, !TEST,!TRASH", func(c Config) any { return c.Extractor.Query.Queues }, []string{"DEV", "SRE", "!TEST", "!TRASH"}},
		{"EXPORTER_TRACKER__SEARCH__PER_PAGE_LIMIT=50", func(c Config) any { return c.Tracker.SearchPerPageLimit }, 50},
		{"EXPORTER_TRACKER__SEARCH__SCROLL_PAGE_SIZE=500", func(c Config) any { return c.Extractor.ScrollPageSize }, 500},
		{"EXPORTER_CLICKHOUSE__ENABLE_UPLOAD=false", func(c Config) any { return c.ClickHouse.EnableUpload }, false},
		{"EXPORTER_CLICKHOUSE__HOST=ch.local", func(c Config) any { return c.ClickHouse.Host }, "ch.local"},
		{"EXPORTER_CLICKHOUSE__PROTO=HTTPS", func(c Config) any { return c.ClickHouse.Proto }, "https"},
		{"EXPORTER_CLICKHOUSE__PROTO=native+tls", func(c Config) any { return c.ClickHouse.TLS() && c.ClickHouse.Native() }, true},
		{"EXPORTER_CLICKHOUSE__PORT=9000", func(c Config) any { return c.ClickHouse.Addr() }, "localhost:9000"},
		{"EXPORTER_CLICKHOUSE__CACERT_PATH=/etc/ssl/ca.pem", func(c Config) any { return c.ClickHouse.CACertPath }, "/etc/ssl/ca.pem"},
		{"EXPORTER_CLICKHOUSE__SERVERLESS_PROXY_ID=akfd3", func(c Config) any { return c.ClickHouse.ServerlessProxyID }, "akfd3"},
		{"EXPORTER_CLICKHOUSE__USERNAME=tracker", func(c Config) any { return c.ClickHouse.Username }, "tracker"},
		{"EXPORTER_CLICKHOUSE__PASSWORD=mypassword", func(c Config) any { return c.ClickHouse.Password.Reveal() }, "mypassword"},
		{"EXPORTER_CLICKHOUSE__DATABASE=tracker", func(c Config) any { return c.ClickHouse.Database }, "tracker"},
		{"EXPORTER_CLICKHOUSE__HOST_STRATEGY=ROUND_ROBIN", func(c Config) any { return c.ClickHouse.HostStrategy }, "round_robin"},
		{"EXPORTER_CLICKHOUSE__CLUSTER=tracker_cluster", func(c Config) any { return c.ClickHouse.Cluster }, "tracker_cluster"},
		{"EXPORTER_CLICKHOUSE__ZOOKEEPER_PATH=/ch/{shard}/{table}", func(c Config) any { return c.ClickHouse.ZooKeeperPath }, "/ch/{shard}/{table}"},
		{"EXPORTER_CLICKHOUSE__REPLICA_NAME={host}", func(c Config) any { return c.ClickHouse.ReplicaName }, "{host}"},
		{"EXPORTER_CLICKHOUSE__ISSUES_TABLE=i2", func(c Config) any { return c.ClickHouse.Tables.Issues }, "i2"},
		{"EXPORTER_CLICKHOUSE__ISSUE_METRICS_TABLE=m2", func(c Config) any { return c.ClickHouse.Tables.IssueMetrics }, "m2"},
		{"EXPORTER_CLICKHOUSE__ISSUES_CHANGELOG_TABLE=c2", func(c Config) any { return c.ClickHouse.Tables.IssuesChangelog }, "c2"},
		{"EXPORTER_CLICKHOUSE__STATUS_INTERVALS_TABLE=s2", func(c Config) any { return c.ClickHouse.Tables.StatusIntervals }, "s2"},
		{"EXPORTER_CLICKHOUSE__STATUSES_TABLE=st2", func(c Config) any { return c.ClickHouse.Tables.Statuses }, "st2"},
		{"EXPORTER_CLICKHOUSE__ISSUE_COMMENTS_TABLE=cm2", func(c Config) any { return c.ClickHouse.Tables.Comments }, "cm2"},
		{"EXPORTER_CLICKHOUSE__ISSUE_WORKLOGS_TABLE=w2", func(c Config) any { return c.ClickHouse.Tables.Worklogs }, "w2"},
		{"EXPORTER_CLICKHOUSE__ISSUE_LINKS_TABLE=l2", func(c Config) any { return c.ClickHouse.Tables.Links }, "l2"},
		{"EXPORTER_CLICKHOUSE__ISSUE_SPRINTS_TABLE=is2", func(c Config) any { return c.ClickHouse.Tables.IssueSprints }, "is2"},
		{"EXPORTER_CLICKHOUSE__BOARDS_TABLE=b2", func(c Config) any { return c.ClickHouse.Tables.Boards }, "b2"},
		{"EXPORTER_CLICKHOUSE__SPRINTS_TABLE=sp2", func(c Config) any { return c.ClickHouse.Tables.Sprints }, "sp2"},
		{"EXPORTER_CLICKHOUSE__AUTO_DEDUPLICATE=no", func(c Config) any { return c.Loader.AutoDeduplicate }, false},
		{"EXPORTER_CLICKHOUSE__OPTIMIZE_EVERY=6h", func(c Config) any { return c.Loader.OptimizeEvery }, 6 * time.Hour},
		{"EXPORTER_CLICKHOUSE__BACKOFF_BASE_DELAY=1.5", func(c Config) any { return c.Loader.Backoff.BaseDelay }, 1500 * time.Millisecond},
		{"EXPORTER_CLICKHOUSE__BACKOFF_BASE_DELAY=2", func(c Config) any { return c.Loader.Backoff.BaseDelay }, 2 * time.Second},
		{"EXPORTER_CLICKHOUSE__BACKOFF_EXPO_FACTOR=2", func(c Config) any { return c.Loader.Backoff.ExpoFactor }, 2.0},
		{"EXPORTER_CLICKHOUSE__BACKOFF_MAX_TRIES=5", func(c Config) any { return c.Loader.Backoff.MaxTries }, 5},
		{"EXPORTER_CLICKHOUSE__BACKOFF_JITTER=off", func(c Config) any { return c.Loader.Backoff.Jitter }, false},
		{"EXPORTER_CLICKHOUSE__BATCH_ROWS=500", func(c Config) any { return c.Loader.BatchRows }, 500},
		{"EXPORTER_CLICKHOUSE__BATCH_BYTES=4MiB", func(c Config) any { return c.Loader.BatchBytes }, 4 << 20},
		{"EXPORTER_CLICKHOUSE__BATCH_AGE=250ms", func(c Config) any { return c.Loader.BatchAge }, 250 * time.Millisecond},
		{"EXPORTER_CLICKHOUSE__MAX_DELIVERIES=9", func(c Config) any { return c.Loader.MaxDeliveries }, 9},
		{"EXPORTER_CLICKHOUSE__MIGRATE_ON_START=true", func(c Config) any { return c.ClickHouse.MigrateOnStart }, true},
		{"EXPORTER_STATE__STORAGE=Redis", func(c Config) any { return c.State.Storage }, "redis"},
		{"EXPORTER_STATE__REDIS_DSN=redis://r:6380/2", func(c Config) any { return c.State.RedisDSN.Reveal() }, "redis://r:6380/2"},
		{"EXPORTER_STATE__JSONFILE_STRATEGY=s3", func(c Config) any { return c.State.JSONFileStrategy }, "s3"},
		{"EXPORTER_STATE__JSONFILE_PATH=/var/lib/state.json", func(c Config) any { return c.State.JSONFilePath }, "/var/lib/state.json"},
		{"EXPORTER_STATE__JSONFILE_S3_BUCKET=b", func(c Config) any { return c.State.S3Bucket }, "b"},
		{"EXPORTER_STATE__JSONFILE_S3_REGION=ru-central1", func(c Config) any { return c.State.S3Region }, "ru-central1"},
		{"EXPORTER_STATE__JSONFILE_S3_ENDPOINT=https://storage.yandexcloud.net", func(c Config) any { return c.State.S3Endpoint }, "https://storage.yandexcloud.net"},
		{"EXPORTER_STATE__JSONFILE_S3_ACCESS_KEY=ak", func(c Config) any { return c.State.S3AccessKey.Reveal() }, "ak"},
		{"EXPORTER_STATE__JSONFILE_S3_SECRET_KEY=sk", func(c Config) any { return c.State.S3SecretKey.Reveal() }, "sk"},
		{"EXPORTER_STATE__CUSTOM_STORAGE_PARAMS={}", func(c Config) any { return c.State.CustomStorageParams.Reveal() }, "{}"},
		{"EXPORTER_STATE__KEY=dev_queue", func(c Config) any { return c.Extractor.StateKey }, "dev_queue"},
		{"EXPORTER_STATE__OVERLAP=90", func(c Config) any { return c.Extractor.Query.Overlap }, 90 * time.Second},
		{"EXPORTER_MONITORING__METRICS_ENABLED=true", func(c Config) any { return c.Monitoring.Metrics.Enabled }, true},
		{"EXPORTER_MONITORING__METRICS_HOST=statsd", func(c Config) any { return c.Monitoring.Metrics.Addr() }, "statsd:8125"},
		{"EXPORTER_MONITORING__METRICS_PORT=9125", func(c Config) any { return c.Monitoring.Metrics.Port }, 9125},
		{"EXPORTER_MONITORING__METRICS_BASE_PREFIX=te", func(c Config) any { return c.Monitoring.Metrics.Prefix }, "te"},
		{`EXPORTER_MONITORING__METRICS_BASE_LABELS=["project:internal",]`, func(c Config) any { return c.Monitoring.Metrics.Tags }, []string{"project:internal"}},
		{`EXPORTER_MONITORING__METRICS_BASE_LABELS=project:internal,env:prod`, func(c Config) any { return c.Monitoring.Metrics.Tags }, []string{"project:internal", "env:prod"}},
		{"EXPORTER_MONITORING__SENTRY_ENABLED=true", func(c Config) any { return c.Monitoring.Sentry.Enabled }, true},
		{"EXPORTER_MONITORING__SENTRY_DSN=https://k@sentry.io/1", func(c Config) any { return c.Monitoring.Sentry.DSN.Reveal() }, "https://k@sentry.io/1"},
		{"EXPORTER_NATS__URL=nats://n:4222", func(c Config) any { return c.NATS.URL }, "nats://n:4222"},
		{"EXPORTER_NATS__DATA_DIR=/data", func(c Config) any { return c.NATS.DataDir }, "/data"},
		{"EXPORTER_NATS__MAX_PAYLOAD=1048576", func(c Config) any { return c.NATS.MaxPayload }, 1 << 20},
		{"EXPORTER_NATS__REPLICAS=3", func(c Config) any { return c.NATS.Replicas }, 3},
		// Names are matched without regard to case, as pydantic-settings did.
		{"exporter_tracker__org_id=777", func(c Config) any { return c.Tracker.OrgID }, "777"},
		// Empty non-text values keep the default.
		{"EXPORTER_TRACKER__TIMEOUT=", func(c Config) any { return c.Tracker.Timeout }, 10 * time.Second},
		{"EXPORTER_STATEFUL=  ", func(c Config) any { return c.Extractor.Query.Stateful }, false},
		// Surrounding blanks are trimmed.
		{"EXPORTER_CLICKHOUSE__PORT= 8443 ", func(c Config) any { return c.ClickHouse.Port }, 8443},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		name, _, _ := strings.Cut(tt.env, "=")
		seen[strings.ToUpper(name)] = true
		c, err := Load([]string{tt.env}, "")
		if err != nil {
			t.Errorf("Load(%q) = %v", tt.env, err)
			continue
		}
		if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Load(%q): got %#v, want %#v", tt.env, got, tt.want)
		}
	}
	for _, v := range Variables() {
		if !seen[v.Name] {
			t.Errorf("variable %s has no parse test", v.Name)
		}
	}
}

func TestLoadReportsEveryParseErrorOnce(t *testing.T) {
	t.Chdir(t.TempDir())
	environ := []string{
		"EXPORTER_STATEFUL=maybe",
		"EXPORTER_STATEFUL_INITIAL_RANGE=10",
		"EXPORTER_WORKDAYS=[0,9]",
		"EXPORTER_BUSINESS_HOURS_START=9am",
		"EXPORTER_BUSINESS_TIMEZONE=Mars/Olympus",
		"EXPORTER_HOLIDAYS=ru",
		"EXPORTER_ETL_INTERVAL_MINUTES=half an hour",
		"EXPORTER_TRACKER__TIMEOUT=ten",
		"EXPORTER_TRACKER__MAX_RETRIES=3.5",
		"EXPORTER_TRACKER__TIMEZONE=Nowhere/City",
		"EXPORTER_TRACKER__RATE_LIMIT=fast",
		"EXPORTER_CLICKHOUSE__PORT=http",
		"EXPORTER_CLICKHOUSE__BATCH_BYTES=lots",
		"EXPORTER_STATUS_TYPES=a:paused,a:done",
		`EXPORTER_MONITORING__METRICS_BASE_LABELS=["x"`,
		"EXPORTER_TRACKER__PASSWORD=unused-unknown-var",
		`EXPORTER_TRACKER={"token": "json-secret-token"`,
	}
	c, err := Load(environ, "")
	lines := Problems(err)
	if len(lines) != len(environ)-1 { // the unknown variable is a warning
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(environ)-1, strings.Join(lines, "\n"))
	}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if name == "EXPORTER_TRACKER__PASSWORD" {
			continue
		}
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, name+"=") || strings.HasPrefix(l, name+" ") || strings.HasPrefix(l, name+":") {
				n++
				if name != "EXPORTER_TRACKER" && name != "EXPORTER_STATUS_TYPES" && name != "EXPORTER_WORKDAYS" && !strings.Contains(l, strconv.Quote(value)) {
					t.Errorf("line %q does not show the value %q", l, value)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s: %d lines, want 1:\n%s", name, n, strings.Join(lines, "\n"))
		}
	}
	if strings.Contains(err.Error(), "json-secret-token") {
		t.Errorf("error reveals a secret: %v", err)
	}
	// What parsed is kept; what did not keeps its default.
	if c.Tracker.Timeout != 10*time.Second || c.ClickHouse.Port != 8123 {
		t.Errorf("bad values changed the config: timeout %v port %d", c.Tracker.Timeout, c.ClickHouse.Port)
	}
	if !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.HasPrefix(w, "EXPORTER_TRACKER__PASSWORD: unknown variable") }) {
		t.Errorf("warnings %q lack the unknown variable", c.Warnings)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Errorf("errors.As(*Error) failed on %v", err)
	}
	formatted := FormatError(err)
	for _, l := range strings.Split(formatted, "\n") {
		if !strings.HasPrefix(l, "config: EXPORTER_") {
			t.Errorf("formatted line %q lacks the config: prefix", l)
		}
	}
}

func TestUnknownVariablesAreWarnings(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load([]string{"EXPORTER_TRACKER__TOKNE=x", "EXPORTER_TOTALLY_NEW=1", "PATH=/bin", "OTHER_TOKEN=y"}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"EXPORTER_TOTALLY_NEW: unknown variable, ignored",
		"EXPORTER_TRACKER__TOKNE: unknown variable, ignored (did you mean EXPORTER_TRACKER__TOKEN?)",
	}
	if !reflect.DeepEqual(c.Warnings, want) {
		t.Errorf("warnings = %q, want %q", c.Warnings, want)
	}
	c = mustLoad(t, "EXPORTER_NOT_NULLABLE_FIELDS=created_at", "EXPORTER_DATETIME_RESPONSE_FORMAT=%Y", "EXPORTER_STATE__CUSTOM_STORAGE_PARAMS={\"a\":1}")
	if len(c.Warnings) != 3 {
		t.Errorf("compat warnings = %q, want 3", c.Warnings)
	}
	for _, w := range c.Warnings {
		if strings.Contains(w, `"a":1`) {
			t.Errorf("warning %q shows secret params", w)
		}
	}
}

func TestEnvFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	file := filepath.Join(dir, "custom.env")
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(file, "# comment\nEXPORTER_CLICKHOUSE__HOST=from-file\nexport EXPORTER_CLICKHOUSE__PORT=9000\nEXPORTER_TRACKER__ORG_ID=\"file org\"\n")

	c, err := Load([]string{"EXPORTER_CLICKHOUSE__PORT=9440"}, file)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClickHouse.Host != "from-file" || c.ClickHouse.Port != 9440 || c.Tracker.OrgID != "file org" {
		t.Errorf("got host %q port %d org %q; want from-file (file), 9440 (environment wins), file org",
			c.ClickHouse.Host, c.ClickHouse.Port, c.Tracker.OrgID)
	}

	// Without a named file, ./.env is read when it exists.
	c = mustLoad(t)
	if c.ClickHouse.Host != "localhost" {
		t.Errorf("no .env: host %q, want localhost", c.ClickHouse.Host)
	}
	write(filepath.Join(dir, ".env"), "EXPORTER_CLICKHOUSE__HOST=dotenv\n")
	if c = mustLoad(t); c.ClickHouse.Host != "dotenv" {
		t.Errorf("./.env: host %q, want dotenv", c.ClickHouse.Host)
	}

	// A named file must exist.
	_, err = Load(nil, filepath.Join(dir, "missing.env"))
	if lines := Problems(err); len(lines) != 1 || !strings.Contains(lines[0], "--env-file") || !strings.Contains(lines[0], "missing.env") {
		t.Errorf("missing file: %q, want one --env-file line naming it", lines)
	}

	// A file that does not parse is reported with a line, not its content.
	bad := filepath.Join(dir, "bad.env")
	write(bad, "EXPORTER_CLICKHOUSE__HOST=ok\nEXPORTER_TRACKER__TOKEN=\"s3cr3t-value\nEXPORTER_X=1\n")
	_, err = Load(nil, bad)
	lines := Problems(err)
	if len(lines) != 1 || !strings.Contains(lines[0], "line 2") || strings.Contains(lines[0], "s3cr3t") {
		t.Errorf("bad file: %q, want one line naming line 2 without the secret", lines)
	}

	// Errors name the file a bad value came from.
	write(file, "EXPORTER_CLICKHOUSE__PORT=abc\n")
	_, err = Load(nil, file)
	if lines := Problems(err); len(lines) != 1 || !strings.Contains(lines[0], "from .env file "+file) {
		t.Errorf("bad value in file: %q, want its origin", lines)
	}
}

func TestJSONGroups(t *testing.T) {
	t.Chdir(t.TempDir())
	c := mustLoad(t,
		`EXPORTER_TRACKER={"token": "json-tok", "org_id": 42, "timeout": 5, "search": {"queues": "DEV,!TEST", "range": "1d"}}`,
		`EXPORTER_TRACKER__SEARCH__RANGE=3h`,
		`EXPORTER_MONITORING={"metrics_enabled": true, "metrics_base_labels": ["a:b", "c:d"], "sentry_dsn": null}`,
	)
	if c.Tracker.Token.Reveal() != "json-tok" || c.Tracker.OrgID != "42" || c.Tracker.Timeout != 5*time.Second {
		t.Errorf("tracker from JSON: token %q org %q timeout %v", c.Tracker.Token.Reveal(), c.Tracker.OrgID, c.Tracker.Timeout)
	}
	if !reflect.DeepEqual(c.Extractor.Query.Queues, []string{"DEV", "!TEST"}) || c.Extractor.Query.Range != 3*time.Hour {
		t.Errorf("search from JSON: queues %q range %v; want DEV,!TEST and 3h (the single variable wins)", c.Extractor.Query.Queues, c.Extractor.Query.Range)
	}
	if !c.Monitoring.Metrics.Enabled || !reflect.DeepEqual(c.Monitoring.Metrics.Tags, []string{"a:b", "c:d"}) {
		t.Errorf("monitoring from JSON: %+v", c.Monitoring)
	}
	_, err := Load([]string{`EXPORTER_TRACKER={"timeout": "soon", "token": "tok-zzz"}`}, "")
	lines := Problems(err)
	if len(lines) != 1 || !strings.Contains(lines[0], "EXPORTER_TRACKER__TIMEOUT (from EXPORTER_TRACKER (JSON))") || strings.Contains(lines[0], "tok-zzz") {
		t.Errorf("bad JSON value: %q", lines)
	}
}

// A start rate above the default ceiling raises the ceiling when it was
// not set; set explicitly below the start rate, it is refused.
func TestRateLimitMaxFollowsRateLimit(t *testing.T) {
	cfg, err := Load([]string{"EXPORTER_TRACKER__RATE_LIMIT=150"}, "")
	if err != nil || cfg.Tracker.RateCeiling != 150 {
		t.Errorf("RATE_LIMIT=150: max %g, err %v; want 150", cfg.Tracker.RateCeiling, err)
	}
	cfg, err = Load([]string{"EXPORTER_TRACKER__RATE_LIMIT=150", "EXPORTER_TRACKER__RATE_LIMIT_MAX=120"}, "")
	err = Check(cfg, err, RoleExtractor)
	if err == nil || !strings.Contains(err.Error(), "EXPORTER_TRACKER__RATE_LIMIT_MAX") {
		t.Errorf("RATE_LIMIT=150 with MAX=120: %v, want a refusal", err)
	}
}
