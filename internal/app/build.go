package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/internal/extractor"
	"github.com/tracker-exporter/tracker-exporter/internal/loader"
	"github.com/tracker-exporter/tracker-exporter/internal/transformer"
	"github.com/tracker-exporter/tracker-exporter/pkg/calendar"
	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/flow"
	"github.com/tracker-exporter/tracker-exporter/pkg/redisbucket"
	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/redisstate"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Env is what every stage shares: configuration, logger, metrics.
type Env struct {
	Config  config.Config
	Log     *slog.Logger
	Metrics *telemetry.Metrics
	// Out receives rows when uploading is disabled (default stdout).
	Out io.Writer
	// Health answers /healthz and /readyz (ServeHealth); stages mark it
	// ready once they run.
	Health *telemetry.Health
	// TrackerLog logs the Tracker requests at EXPORTER_TRACKER__LOGLEVEL.
	TrackerLog *slog.Logger

	flushSentry func()
}

// NewEnv builds the logger (forwarding errors to Sentry when it is on),
// the metrics client and the health state from the configuration. Call
// Close when done.
func NewEnv(cfg config.Config, logOut io.Writer) (*Env, error) {
	handler := telemetry.NewLogger(logOut, cfg.LogLevel, cfg.LogFormat).Handler()
	trackerHandler := telemetry.NewLogger(logOut, cfg.Tracker.LogLevel, cfg.LogFormat).Handler()
	flush := func() {}
	if cfg.Monitoring.Sentry.Enabled {
		// The environment name comes from SENTRY_ENVIRONMENT when set.
		f, err := telemetry.InitSentry(cfg.Monitoring.Sentry.DSN.Reveal(), Release(), "")
		if err != nil {
			// No Sentry to tell; the line in the chosen format.
			slog.New(handler).Error("fatal error, exiting", "err", fmt.Errorf("Sentry (EXPORTER_MONITORING__SENTRY_DSN): %w", err))
			return nil, reported{err}
		}
		flush = f
		handler = telemetry.SentryHandler(handler)
		trackerHandler = telemetry.SentryHandler(trackerHandler)
	}
	env := &Env{Config: cfg, Log: slog.New(handler), Out: os.Stdout, Health: &telemetry.Health{}, flushSentry: flush,
		TrackerLog: slog.New(trackerHandler).With("component", "tracker")}
	if cfg.Monitoring.Metrics.Enabled {
		m, err := telemetry.NewMetrics(cfg.Monitoring.Metrics)
		if err != nil {
			// Logged here, in the chosen format and to Sentry when it
			// is on, like every other fatal error.
			env.Log.Error("fatal error, exiting", "err", fmt.Errorf("DogStatsD (EXPORTER_MONITORING__METRICS_HOST): %w", err))
			env.Close()
			return nil, reported{err}
		}
		env.Metrics = m
	}
	return env, nil
}

// newQuietEnv is NewEnv logging nowhere: its error is returned, not
// logged.
func newQuietEnv(cfg config.Config) (*Env, error) {
	env, err := NewEnv(cfg, io.Discard)
	var r reported
	if errors.As(err, &r) {
		return nil, r.error
	}
	return env, err
}

// TrackerClient builds the Tracker client and returns it with the function
// that closes what it holds. Every request is logged at
// debug level (a 429, a 5xx or a lost connection at warning level) by a
// logger of the
// level EXPORTER_TRACKER__LOGLEVEL (as the old tool's Tracker library
// logger): EXPORTER_TRACKER__LOGLEVEL=debug shows each request.
//
// With EXPORTER_TRACKER__RATE_LIMIT_SHARED the limit lives in Redis
// (EXPORTER_STATE__REDIS_DSN), which is waited for like the other
// services (EXPORTER_START_TIMEOUT): the client never sends unlimited.
func TrackerClient(ctx context.Context, env *Env) (*tracker.Client, func(), error) {
	t := env.Config.Tracker
	closeFn := func() {}
	var shared tracker.SharedBucket
	if t.RateLimitShared {
		b, err := redisbucket.Open(env.Config.State.RedisDSN.Reveal(), t.SharedRateKey())
		if err != nil {
			return nil, nil, err
		}
		what := "the Redis of the shared rate limit (" + redisstate.Redact(env.Config.State.RedisDSN.Reveal()) + ")"
		if err := waitFor(ctx, env.Log, what, env.Config.StartTimeout, b.Ping); err != nil {
			_ = b.Close()
			return nil, nil, err
		}
		env.Log.Info("tracker rate limit shared", "key", b.Key(), "requests_per_second", t.RateLimit, "adaptive", t.Adaptive)
		shared, closeFn = b, func() { _ = b.Close() }
	}
	c, err := trackerClient(env, shared)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return c, closeFn, nil
}

func trackerClient(env *Env, shared tracker.SharedBucket) (*tracker.Client, error) {
	t := env.Config.Tracker
	log := env.TrackerLog
	logged := t.RateLimit // the rate last logged
	cfg := t.Config
	cfg.UserAgent = "tracker-exporter/" + Version()
	// 0 is no limit, as it always was: nothing to adapt.
	cfg.Adaptive = cfg.Adaptive && cfg.RateLimit > 0
	return tracker.New(cfg, tracker.Deps{
		Shared: shared,
		OnRate: func(rps float64) {
			// Called in order, one at a time: a change of a fifth is news.
			env.Metrics.Gauge("tracker_rate_limit", rps)
			if logged <= 0 || math.Abs(rps-logged) > logged/5 {
				env.Log.Info("tracker request rate adapted", "requests_per_second", math.Round(rps*10)/10)
				logged = rps
			}
		},
		Observe: func(a tracker.Attempt) {
			if a.Status == http.StatusTooManyRequests {
				env.Metrics.Count("tracker_throttled_count", 1)
			}
			// A refusal the caller handles (a deleted user's 404) is not
			// a warning; throttling, server errors and lost connections are.
			level := slog.LevelDebug
			if a.Err != nil && (a.Status == 0 || a.Status == http.StatusTooManyRequests || a.Status >= 500) {
				level = slog.LevelWarn
			}
			if !log.Enabled(context.Background(), level) {
				return
			}
			args := []any{"method", a.Method, "path", a.Path, "status", a.Status, "duration", a.Duration.Round(time.Millisecond), "retry", a.Retry}
			if a.Err != nil {
				args = append(args, "err", a.Err)
			}
			log.Log(context.Background(), level, "tracker request", args...)
		},
	})
}

// OpenState opens the configured watermark store.
func OpenState(ctx context.Context, cfg config.Config) (state.Store, error) {
	s := cfg.State.Config
	// The old tool wrote its watermark as local time in this zone, with
	// its EXPORTER_DATETIME_QUERY_FORMAT.
	s.LegacyLocation = cfg.Extractor.Query.Zone
	layout, err := cfg.QueryTimeLayout()
	if err != nil {
		return nil, fmt.Errorf("state: EXPORTER_DATETIME_QUERY_FORMAT: %w", err)
	}
	s.LegacyLayout = layout
	return state.Open(ctx, s)
}

// NewExtractor builds the extractor over a Tracker client and JetStream.
// loads is nil in the distributed form (the watermark follows publishes);
// the one-process form passes its settler (it follows loads).
func NewExtractor(ctx context.Context, env *Env, tc extractor.Tracker, js jetstream.JetStream, loads extractor.Loads) (*extractor.Extractor, func(), error) {
	cfg := env.Config
	var store state.Store
	closeFn := func() {}
	if cfg.Extractor.Query.Stateful && strings.TrimSpace(cfg.Extractor.Query.Custom) == "" {
		s, err := OpenState(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		// A state store that is not up yet (Redis, S3) is waited for like
		// NATS and ClickHouse; state that cannot be read is refused.
		err = waitFor(ctx, env.Log, "the state store ("+cfg.State.Storage+")", cfg.StartTimeout, func(ctx context.Context) error {
			_, _, err := s.Load(ctx, cfg.Extractor.StateKey)
			if errors.Is(err, state.ErrCorrupt) {
				return permanent(err)
			}
			return err
		})
		if err != nil {
			_ = s.Close()
			return nil, nil, err
		}
		store = s
		closeFn = func() { _ = s.Close() }
	}
	every := 0
	if cfg.LogETLStats {
		every = cfg.LogETLStatsEachNIter
	}
	layout, err := cfg.QueryTimeLayout()
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	deps := extractor.Deps{Tracker: tc, JS: js, Log: env.Log.With("stage", "extractor"), Metrics: env.Metrics, Loads: loads,
		Stored: &stream.RawSnapshots{JS: js}}
	if bar := telemetry.TerminalBar(os.Stderr); bar != nil {
		deps.Progress = bar // off a terminal the progress log lines report instead
	}
	if store != nil {
		deps.State = store
	}
	settings := cfg.Extractor
	settings.Query.Layout = layout // EXPORTER_DATETIME_QUERY_FORMAT, converted
	ex, err := extractor.New(extractor.Config{
		Config:        settings,
		ProgressEvery: every,
		MaxPayload:    int(js.Conn().MaxPayload()),
		// Rows printed instead of loaded: the next real run must still
		// load these issues, so the watermark stays (as the old tool did).
		DryRun:         !cfg.ClickHouse.EnableUpload,
		TimeBudget:     cfg.RunTimeBudget,
		Parts:          Parts(cfg),
		Directory:      cfg.SprintsExportEnabled,
		ReconcileEvery: cfg.ReconcileInterval,
	}, deps)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return ex, closeFn, nil
}

// Parts are the optional parts of snapshots the configuration exports.
func Parts(cfg config.Config) wire.Part {
	var p wire.Part
	for _, on := range []struct {
		enabled bool
		part    wire.Part
	}{{cfg.CommentsExportEnabled, wire.PartComments}, {cfg.WorklogsExportEnabled, wire.PartWorklogs}, {cfg.LinksExportEnabled, wire.PartLinks}} {
		if on.enabled {
			p |= on.part
		}
	}
	return p
}

// Calendar builds the business calendar, reading its holidays file.
func Calendar(cfg config.Config) (*calendar.Calendar, error) {
	return calendar.Open(cfg.Calendar)
}

// TransformRules builds the transform configuration and its fingerprint.
func TransformRules(cfg config.Config) (*transformer.Rules, error) {
	cal, err := Calendar(cfg)
	if err != nil {
		return nil, err
	}
	start, end := cal.Hours()
	parts := []string{
		"zone=" + cal.Zone().String(),
		"hours=" + start.String() + "-" + end.String(),
		"closed=" + strings.Join(cfg.ClosedIssueStatuses, ","),
		"changelog=" + strconv.FormatBool(cfg.ChangelogExportEnabled),
		"sprints=" + strconv.FormatBool(cfg.SprintsExportEnabled),
		"holidays=" + config.Holidays(cfg.Calendar) + ":" + cfg.Calendar.HolidaysFile,
		fmt.Sprint("workdays=", cfg.Calendar.Workdays),
	}
	keys := make([]string, 0, len(cfg.StatusTypes))
	for k, v := range cfg.StatusTypes {
		keys = append(keys, k+":"+v)
	}
	slices.Sort(keys)
	parts = append(parts, "types="+strings.Join(keys, ","))
	var custom []transformer.CustomField
	for _, f := range cfg.CustomFields {
		custom = append(custom, transformer.CustomField{Source: f.Source, Column: f.Column, Type: f.Type})
		parts = append(parts, "custom="+f.Source+":"+f.Column+":"+f.Type)
	}
	return &transformer.Rules{
		Flow: flow.Rules{
			TypeOverrides: cfg.StatusTypes,
			Closed:        cfg.ClosedIssueStatuses,
			Calendar:      cal,
		},
		ChangelogEnabled: cfg.ChangelogExportEnabled,
		Sprints:          cfg.SprintsExportEnabled,
		CustomFields:     custom,
		Generation:       transformer.Fingerprint(parts...),
	}, nil
}

// NewTransformer builds the transform stage.
func NewTransformer(env *Env, js jetstream.JetStream) (*transformer.Transformer, error) {
	rules, err := TransformRules(env.Config)
	if err != nil {
		return nil, err
	}
	return transformer.New(transformer.Config{MaxDeliveries: env.Config.Loader.MaxDeliveries}, transformer.Deps{
		JS: js, Rules: rules, Log: env.Log.With("stage", "transformer"), Metrics: env.Metrics,
	})
}

// ClickHouseConfig returns the ClickHouse client's configuration with the
// custom columns and the logger.
func ClickHouseConfig(cfg config.Config, log *slog.Logger) clickhouse.Config {
	out := cfg.ClickHouse.Config
	out.CustomColumns = nil
	for _, f := range cfg.CustomFields {
		out.CustomColumns = append(out.CustomColumns, clickhouse.CustomColumn{Name: f.Column, Type: f.Type})
	}
	out.Logger = log
	return out
}

// OpenClickHouse connects (and optionally migrates), waiting for a server
// that is down (EXPORTER_START_TIMEOUT); an error retrying cannot fix (bad
// credentials, an invalid setting, a failed migration) returns at once.
func OpenClickHouse(ctx context.Context, env *Env, migrate bool) (*clickhouse.Client, error) {
	cfg := ClickHouseConfig(env.Config, env.Log)
	db := env.Config.ClickHouse.Database
	cfg.OnInsert = func(table string, rows int, took time.Duration) {
		// As the old tool sent them, per insert into one table.
		env.Metrics.Timing("clickhouse_insert_time_seconds", took, "database:"+db, "table:"+table)
		env.Metrics.Gauge("clickhouse_inserted_rows", float64(rows), "database:"+db, "table:"+table)
		env.Log.Debug("rows inserted", "table", table, "rows", rows, "took", took.Round(time.Microsecond))
	}
	var ch *clickhouse.Client
	err := waitFor(ctx, env.Log, "ClickHouse at "+env.Config.ClickHouse.Addr(), env.Config.StartTimeout, func(ctx context.Context) error {
		c, err := clickhouse.Open(ctx, cfg)
		if err == nil && migrate {
			var applied []string
			if applied, err = c.Migrate(ctx); err != nil {
				_ = c.Close()
			} else if len(applied) > 0 {
				env.Log.Info("migrations applied", "count", len(applied), "names", applied)
			}
		}
		if err != nil {
			if hinted := clickhouseHint(err); hinted != err || clickhouse.IsPermanent(err) {
				return permanent(hinted)
			}
			return err
		}
		ch = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// clickhouseHint replaces errors whose cause is known to be a setting by
// what to do; other errors are returned as they are.
func clickhouseHint(err error) error {
	if strings.Contains(err.Error(), "client_protocol_version") {
		return errors.New("this ClickHouse server is too old for the HTTP protocol (it refuses the setting client_protocol_version, as 18.x does): use EXPORTER_CLICKHOUSE__PROTO=native and EXPORTER_CLICKHOUSE__PORT=9000 (9440 with TLS)")
	}
	return err
}

// NewLoader builds the load stage; with uploading disabled it prints rows.
func NewLoader(ctx context.Context, env *Env, js jetstream.JetStream) (*loader.Loader, func(), error) {
	c := env.Config.ClickHouse
	var sink loader.Sink
	var optimizer loader.Optimizer // stays nil when printing
	closeFn := func() {}
	if c.EnableUpload {
		ch, err := OpenClickHouse(ctx, env, c.MigrateOnStart)
		if err != nil {
			return nil, nil, err
		}
		if err := ch.CheckSchema(ctx); err != nil {
			_ = ch.Close()
			if errors.Is(err, clickhouse.ErrSchemaMissing) || errors.Is(err, clickhouse.ErrChecksumMismatch) {
				// Refuse rather than dead-letter every row.
				return nil, nil, ConfigExitAs(env.Config.LogFormat, fmt.Errorf("EXPORTER_CLICKHOUSE__DATABASE=%s: %w: run `tracker-exporter migrate` (or `loader migrate`) first, or set EXPORTER_CLICKHOUSE__MIGRATE_ON_START=true",
					c.Database, err))
			}
			return nil, nil, err
		}
		sink, optimizer = streamSink{ch}, ch
		closeFn = func() { _ = ch.Close() }
		if len(env.Config.CustomFields) > 0 {
			added, err := ch.EnsureCustomColumns(ctx)
			if err != nil {
				closeFn()
				return nil, nil, err
			}
			if len(added) > 0 {
				env.Log.Info("custom columns added", "changes", added)
			}
		}
	} else {
		chc := ClickHouseConfig(env.Config, env.Log)
		sink = &loader.PrintSink{W: env.Out, Custom: chc.CustomColumns, Tables: wire.Tables(c.Tables)}
	}
	l, err := loader.New(loader.Config{Config: env.Config.Loader, Tables: wire.Tables(c.Tables)}, loader.Deps{
		JS: js, Sink: sink, Optimizer: optimizer, IsPermanent: clickhouse.IsPermanent, AffectsAll: clickhouse.IsSchemaMismatch,
		Log: env.Log.With("stage", "loader"), Metrics: env.Metrics, Database: c.Database,
	})
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return l, closeFn, nil
}

// BuildAll builds the three stages for the one-process form. When rows are
// loaded, the extractor reconciles every pass with ClickHouse (a settler)
// and its watermark follows loads.
func BuildAll(ctx context.Context, env *Env, tc extractor.Tracker, conn *stream.Conn) (*Stages, error) {
	st := &Stages{}
	js := conn.JS
	var loads extractor.Loads
	if env.Config.ClickHouse.EnableUpload {
		ld, closeLd, err := NewLoader(ctx, env, js)
		if err != nil {
			return nil, err
		}
		st.Loader = ld
		st.closers = append(st.closers, closeLd)
		ch, err := OpenClickHouse(ctx, env, false)
		if err != nil {
			st.Close()
			return nil, err
		}
		st.closers = append(st.closers, func() { _ = ch.Close() })
		st.settler = &settler{conn: conn, ch: ch, changelog: env.Config.ChangelogExportEnabled,
			log: env.Log.With("stage", "reconcile"), metrics: env.Metrics}
		loads = st.settler
	}
	ex, c1, err := NewExtractor(ctx, env, tc, js, loads)
	if err != nil {
		st.Close()
		return nil, err
	}
	st.Extractor = ex
	st.closers = append(st.closers, c1)
	tr, err := NewTransformer(env, js)
	if err != nil {
		st.Close()
		return nil, err
	}
	st.Transformer = tr
	if st.Loader == nil {
		ld, c3, err := NewLoader(ctx, env, js)
		if err != nil {
			st.Close()
			return nil, err
		}
		st.Loader = ld
		st.closers = append(st.closers, c3)
	}
	return st, nil
}

// streamSink is the ClickHouse client as the loader's StreamSink.
type streamSink struct{ *clickhouse.Client }

func (s streamSink) BeginInsert() loader.InsertStream { return s.Client.BeginInsert() }
