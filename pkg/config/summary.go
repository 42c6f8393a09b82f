package config

import (
	"github.com/tracker-exporter/tracker-exporter/pkg/calendar"
	"github.com/tracker-exporter/tracker-exporter/pkg/loadercfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Summary returns the configuration as slog attributes for the start-up log
// line: secrets show as "REDACTED" (or "" when unset), credentials in the
// NATS URL are stripped, and Warnings are left out (log them one by one).
func (c Config) Summary() []slog.Attr {
	weekdays := make([]string, len(c.Calendar.Workdays))
	for i, d := range c.Calendar.Workdays {
		weekdays[i] = d.String()[:3]
	}
	statusTypes := make([]string, 0, len(c.StatusTypes))
	for _, k := range sortedKeys(c.StatusTypes) {
		statusTypes = append(statusTypes, k+":"+c.StatusTypes[k])
	}
	fields := make([]string, len(c.CustomFields))
	for i, f := range c.CustomFields {
		fields[i] = f.Source + ":" + f.Column + ":" + f.Type
	}
	t, ch, st, m := c.Tracker, c.ClickHouse, c.State, c.Monitoring
	return []slog.Attr{
		slog.Bool("stateful", c.Extractor.Query.Stateful),
		slog.String("stateful_initial_range", c.Extractor.Query.InitialRange.String()),
		slog.Bool("changelog_export_enabled", c.ChangelogExportEnabled),
		slog.Bool("comments_export_enabled", c.CommentsExportEnabled),
		slog.Bool("worklogs_export_enabled", c.WorklogsExportEnabled),
		slog.Bool("links_export_enabled", c.LinksExportEnabled),
		slog.Bool("sprints_export_enabled", c.SprintsExportEnabled),
		slog.String("reconcile_interval", c.ReconcileInterval.String()),
		slog.String("loglevel", c.LogLevel),
		slog.String("log_format", c.LogFormat),
		slog.Bool("log_etl_stats", c.LogETLStats),
		slog.Int("log_etl_stats_each_n_iter", c.LogETLStatsEachNIter),
		slog.String("etl_interval", c.ETLInterval.String()),
		slog.Any("closed_issue_statuses", c.ClosedIssueStatuses),
		slog.String("datetime_query_format", c.DatetimeQueryFormat),
		slog.Group("calendar",
			slog.Any("workdays", weekdays),
			slog.String("start", calendar.Clock(c.Calendar.Start)),
			slog.String("end", calendar.Clock(c.Calendar.End)),
			slog.String("zone", zoneName(c.Calendar.Zone)),
			slog.String("holidays", Holidays(c.Calendar)),
			slog.String("holidays_file", c.Calendar.HolidaysFile),
		),
		slog.Any("status_types", statusTypes),
		slog.Any("custom_fields", fields),
		slog.String("health_addr", c.HealthAddr),
		slog.String("start_timeout", c.StartTimeout.String()),
		slog.String("run_time_budget", c.RunTimeBudget.String()),
		slog.Group("tracker",
			slog.String("api_url", t.BaseURL),
			slog.String("api_version", t.APIVersion),
			slog.Any("token", t.Token),
			slog.Any("iam_token", t.IAMToken),
			slog.String("org_id", t.OrgID),
			slog.String("cloud_org_id", t.CloudOrgID),
			slog.String("timeout", t.Timeout.String()),
			slog.Int("max_retries", t.MaxRetries),
			slog.String("language", t.Language),
			slog.String("timezone", zoneName(c.Extractor.Query.Zone)),
			slog.Int("concurrency", c.Extractor.Concurrency),
			slog.Float64("rate_limit", t.RateLimit),
			slog.Bool("rate_limit_adaptive", t.Adaptive),
			slog.Float64("rate_limit_max", t.RateCeiling),
			slog.Bool("rate_limit_shared", t.RateLimitShared),
			slog.String("rate_limit_shared_key", t.SharedRateKey()),
			slog.Int("changelog_page_size", c.Extractor.ChangelogPageSize),
			slog.Int("scroll_page_size", c.Extractor.ScrollPageSize),
			slog.Group("search",
				slog.String("query", c.Extractor.Query.Custom),
				slog.String("range", c.Extractor.Query.Range.String()),
				slog.Any("queues", c.Extractor.Query.Queues),
				slog.Int("per_page_limit", t.SearchPerPageLimit),
			),
		),
		slog.Group("clickhouse",
			slog.Bool("enable_upload", ch.EnableUpload),
			slog.String("proto", ch.Proto),
			slog.String("addr", ch.Addr()),
			slog.String("host_strategy", ch.HostStrategy),
			slog.String("cluster", ch.Cluster),
			slog.String("cacert_path", ch.CACertPath),
			slog.String("serverless_proxy_id", ch.ServerlessProxyID),
			slog.String("username", ch.Username),
			slog.Any("password", ch.Password),
			slog.String("database", ch.Database),
			slog.Any("tables", wire.Tables(ch.Tables).Names()),
			slog.Bool("auto_deduplicate", c.Loader.AutoDeduplicate),
			slog.String("optimize_every", c.Loader.OptimizeEvery.String()),
			slog.String("backoff", backoffText(c.Loader.Backoff)),
			slog.Int("batch_rows", c.Loader.BatchRows),
			slog.Int("batch_bytes", c.Loader.BatchBytes),
			slog.String("batch_age", c.Loader.BatchAge.String()),
			slog.Int("max_deliveries", c.Loader.MaxDeliveries),
			slog.Bool("migrate_on_start", ch.MigrateOnStart),
		),
		slog.Group("state",
			slog.String("storage", st.Storage),
			slog.Any("redis_dsn", st.RedisDSN),
			slog.String("jsonfile_strategy", st.JSONFileStrategy),
			slog.String("jsonfile_path", st.JSONFilePath),
			slog.String("s3_bucket", st.S3Bucket),
			slog.String("s3_region", st.S3Region),
			slog.String("s3_endpoint", st.S3Endpoint),
			slog.Any("s3_access_key", st.S3AccessKey),
			slog.Any("s3_secret_key", st.S3SecretKey),
			slog.String("key", c.Extractor.StateKey),
			slog.String("overlap", c.Extractor.Query.Overlap.String()),
		),
		slog.Group("monitoring",
			slog.Bool("metrics_enabled", m.Metrics.Enabled),
			slog.String("metrics_addr", m.Metrics.Addr()),
			slog.String("metrics_base_prefix", m.Metrics.Prefix),
			slog.Any("metrics_base_labels", m.Metrics.Tags),
			slog.Bool("sentry_enabled", m.Sentry.Enabled),
			slog.Any("sentry_dsn", m.Sentry.DSN),
		),
		slog.Group("nats",
			slog.String("url", stripCredentials(c.NATS.URL)),
			slog.String("data_dir", c.NATS.DataDir),
			slog.Int("max_payload", c.NATS.MaxPayload),
			slog.Int("replicas", c.NATS.Replicas),
		),
	}
}

// LogValue implements slog.LogValuer with Summary, so that logging a Config
// never prints a secret.
func (c Config) LogValue() slog.Value { return slog.GroupValue(c.Summary()...) }

func zoneName(l *time.Location) string {
	if l == nil {
		return ""
	}
	return l.String()
}

func backoffText(b loadercfg.Backoff) string {
	s := "base=" + b.BaseDelay.String() + " factor=" + trimFloat(b.ExpoFactor) + " tries=" + itoa(b.MaxTries)
	if b.Jitter {
		s += " jitter"
	}
	return s
}

// stripCredentials removes user:password@ from each URL of a comma list;
// a URL that does not parse is replaced whole, as it may hold them.
func stripCredentials(list string) string {
	if list == "" {
		return ""
	}
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		s := p
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		switch {
		case err != nil:
			parts[i] = setting.Redacted
		case u.User != nil:
			u.User = url.User(setting.Redacted)
			parts[i] = u.String()
		default:
			parts[i] = p
		}
	}
	return strings.Join(parts, ",")
}
