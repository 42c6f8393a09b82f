// Package config reads, checks and summarizes the configuration of every
// tracker-exporter binary.
//
// # Sources
//
// Values come from, highest priority first: command-line flags that were set
// explicitly (FromCLI; one per variable, EXPORTER_TRACKER__SEARCH__QUERY is
// --tracker-search-query), the environment, the env file (--env-file, or
// ./.env when it exists), and Default. Variable names are matched without
// regard to case, as the old Python tool (pydantic-settings) did, and its
// JSON form of a nested group (EXPORTER_TRACKER='{"token": "...", "search":
// {"queues": "DEV"}}') is read too; single variables win over it.
//
// Every EXPORTER_ variable of the old tool keeps its meaning, format and
// default (shared/seed-compat.md); Variables lists them all with the new
// ones. Formats accepted:
//
//   - booleans: true/false, 1/0, yes/no, on/off, t/f, y/n;
//   - lists: "a,b,c" or a Python/JSON list such as ["project:internal",] or
//     [0,1,2,3,4]; "[]" is the empty list;
//   - durations: the old human form (1w, 7d, 2w 3d, 36h, 30m; y = 365 d,
//     mo = 30 d) and Go's (1h30m, 500ms). Where the old variable was a bare
//     number, the number keeps its unit: EXPORTER_TRACKER__TIMEOUT and
//     EXPORTER_CLICKHOUSE__BACKOFF_BASE_DELAY are seconds,
//     EXPORTER_ETL_INTERVAL_MINUTES minutes; new duration variables read a
//     bare number as seconds;
//   - times of day: HH:MM[:SS] (24:00:00 allowed as an end);
//   - sizes: bytes, or with KiB/MiB/GiB (KB/MB/GB are decimal).
//
// An empty value means "unset" (the default applies) for booleans, numbers,
// durations, enumerations and secrets. For text settings it is the empty
// text, as in the old tool: EXPORTER_TRACKER__SEARCH__RANGE= turns the
// time filter off, EXPORTER_CLOSED_ISSUE_STATUSES= empties the list.
//
// # Compatibility notes
//
//   - EXPORTER_DATETIME_QUERY_FORMAT still matters: it shapes the datetimes
//     written into query-language text (QueryTimeLayout converts the Python
//     strftime format to a Go layout; Validate refuses what cannot be
//     converted), and the old tool's watermark strings, written with it, are
//     read with that layout first (state.Config.LegacyLayout). EXPORTER_DATETIME_RESPONSE_FORMAT,
//     EXPORTER_DATETIME_CLICKHOUSE_FORMAT and EXPORTER_NOT_NULLABLE_FIELDS
//     are accepted and have no effect (a warning says so when they are set):
//     Tracker datetimes are parsed with a fixed layout, rows carry typed
//     times, and empty dates are always stored as zero dates.
//   - EXPORTER_STATE__STORAGE=custom (a Python class) is refused in stateful
//     mode with a line naming what replaces it: jsonfile (a local file, or an
//     S3 object with EXPORTER_STATE__JSONFILE_STRATEGY=s3) or redis.
//     EXPORTER_STATE__CUSTOM_STORAGE_PARAMS is accepted and ignored.
//   - EXPORTER_STATE__JSONFILE_PATH defaults to "state.json", the old
//     default, which is also the S3 object key of the s3 strategy.
//   - ClickHouse's protocol is EXPORTER_CLICKHOUSE__PROTO alone: http or
//     https (the old values), native or native+tls (new). The port never
//     selects it; Validate refuses ClickHouse's well-known ports used with the
//     wrong protocol (http on 9000, native on 8123, ...). https requires
//     EXPORTER_CLICKHOUSE__CACERT_PATH, as before, except through the
//     serverless proxy, whose certificate is public. Without TLS (http,
//     native) the CA file is not used: it is accepted with a warning (the
//     old .env.example sets it with http) and not checked.
//   - EXPORTER_TRACKER__IAM_TOKEN goes with either organization variable:
//     EXPORTER_TRACKER__CLOUD_ORG_ID, or EXPORTER_TRACKER__ORG_ID for an
//     organization linked to both Yandex 360 and Yandex Cloud (X-Org-ID with
//     the Bearer token, as Tracker's docs say for that case).
//   - S3 state needs a bucket; the endpoint and the key pair are optional
//     (AWS defaults), where the old tool demanded all four.
//
// # Errors
//
// Load and Validate return every problem at once (errors.Join of *Error).
// Each line names the variable, where the value came from if not the
// environment, the value (never a secret's) and what is wanted; FormatError
// renders them for main, which exits with code 2. Unknown EXPORTER_
// variables are warnings in Config.Warnings, with a suggestion for typos.
//
// In main:
//
//	cfg, err := config.FromCLI(c)
//	if err := config.Check(cfg, err, config.RoleLoader); err != nil {
//		fmt.Fprintln(os.Stderr, config.FormatError(err))
//		os.Exit(2)
//	}
//	logger.Info("starting", "config", cfg)
//	for _, w := range cfg.Warnings {
//		logger.Warn(w)
//	}
//
// Check also drops Validate's problems with variables that failed to parse,
// whose defaults would otherwise be reported as if the user had set them.
//
// # New settings and their defaults
//
// EXPORTER_TRACKER__RATE_LIMIT is 20 requests/s: Tracker documents no limit
// but answers 429 under sequential paging, and 20 rps is what a production
// importer settled on (tracker-api.md §6.3); with 16 requests in flight
// (EXPORTER_TRACKER__CONCURRENCY) that keeps latency, not the limiter, the
// bound at typical 100–300 ms responses. EXPORTER_CLICKHOUSE__MIGRATE_ON_START
// is false so that scaled-out loaders do not race on DDL (compose runs a
// migrate job; the one-process binary may turn it on). Batches flush at
// 10000 rows, 16 MiB or 5 s; a message is tried 5 times before it is
// dead-lettered; OPTIMIZE runs at most once per table per ETL interval.
//
// Secrets (setting.Secret) print as REDACTED in every fmt verb, in slog and in JSON;
// Summary and Config.LogValue give a safe start-up log line.
package config
