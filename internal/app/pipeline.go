// Package app wires the stages from the configuration: it is shared by the
// stage binaries and the one-process tracker-exporter, so both forms run
// the same code and differ only in where the NATS server lives.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tracker-exporter/tracker-exporter/internal/extractor"
	"github.com/tracker-exporter/tracker-exporter/internal/loader"
	"github.com/tracker-exporter/tracker-exporter/internal/transformer"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// NATS connects to the configured server, or starts the embedded one (file
// store under the data directory) when no URL is configured and embedded
// is allowed, and declares the streams. A server that is down is waited
// for (EXPORTER_START_TIMEOUT). The returned close function drains and
// stops both.
func NATS(ctx context.Context, env *Env, name string, allowEmbedded bool) (*stream.Conn, func(), error) {
	if env.Config.NATS.URL != "" || !allowEmbedded {
		return remoteNATS(ctx, env, name)
	}
	return embeddedNATS(ctx, env, name)
}

// remoteNATS connects to EXPORTER_NATS__URL (default the local server; a
// comma-separated list for a cluster), waiting for it, and declares the
// streams with EXPORTER_NATS__REPLICAS replicas. Once connected the
// connection follows the cluster across the loss of a server; the
// disconnections and reconnections are logged.
func remoteNATS(ctx context.Context, env *Env, name string) (*stream.Conn, func(), error) {
	url := env.Config.NATS.URL
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	log := env.Log
	events := []nats.Option{
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS connection lost, reconnecting", "server", nc.ConnectedUrlRedacted(), "err", err)
			}
			env.Health.Lost("NATS")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS reconnected", "server", nc.ConnectedUrlRedacted(), "server_name", nc.ConnectedServerName())
			env.Health.Back("NATS")
		}),
	}
	var conn *stream.Conn
	err := waitFor(ctx, env.Log, "NATS at "+stream.RedactURL(url), env.Config.StartTimeout, func(ctx context.Context) error {
		c, err := stream.Connect(ctx, url, name, events...)
		if err != nil {
			if stream.IsPermanent(err) {
				return permanent(err)
			}
			return err
		}
		if err := stream.Setup(ctx, c.JS, stream.Streams{Replicas: env.Config.NATS.Replicas}); err != nil {
			c.Close()
			if stream.IsPermanent(err) {
				return permanent(err)
			}
			return err
		}
		conn = c
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return conn, conn.Close, nil
}

// embeddedNATS starts the in-process server on EXPORTER_NATS__DATA_DIR,
// connects to it and declares the streams, with one replica (one server;
// the configuration refuses more).
func embeddedNATS(ctx context.Context, env *Env, name string) (*stream.Conn, func(), error) {
	cfg := env.Config
	dir, err := filepath.Abs(cfg.NATS.DataDir)
	if err == nil {
		err = writableDir(dir)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("EXPORTER_NATS__DATA_DIR=%s: the embedded NATS server keeps its store there: %w", cfg.NATS.DataDir, err)
	}
	srv, err := stream.StartEmbedded(stream.EmbeddedConfig{DataDir: dir, MaxPayload: int32(cfg.NATS.MaxPayload)})
	if err != nil {
		return nil, nil, err
	}
	conn, err := stream.ConnectInProcess(srv, name)
	if err == nil {
		if err = stream.Setup(ctx, conn.JS, stream.Streams{}); err != nil {
			conn.Close()
		}
	}
	if err != nil {
		srv.Shutdown()
		return nil, nil, err
	}
	return conn, func() {
		conn.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
	}, nil
}

// writableDir creates dir when missing and checks that files can be
// written in it, so that a read-only folder is named at once rather than
// as a server that never became ready.
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// Stages holds the three stages built from one configuration.
type Stages struct {
	Extractor   *extractor.Extractor
	Transformer *transformer.Transformer
	Loader      *loader.Loader
	// settler reconciles passes with ClickHouse (nil when rows are printed).
	settler *settler
	// lastPass is the latest extraction pass.
	lastPass *extractor.Pass
	closers  []func()
}

// Close releases what the stages hold (state store, ClickHouse, ...).
func (s *Stages) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// RunOptions selects the one-process behaviour.
type RunOptions struct {
	// Metrics receives the per-run metrics of the old tool.
	Metrics *telemetry.Metrics
	// RunOnce extracts once, drains transform and load, and returns.
	RunOnce bool
	// Interval between extraction passes when not RunOnce.
	Interval time.Duration
}

// RunAll runs the three stages in one process over conn. With RunOnce it
// returns after one extraction whose every snapshot was transformed and
// loaded (the error reports failed issues); otherwise it extracts every
// interval until ctx ends and returns nil on a clean shutdown.
func RunAll(ctx context.Context, conn *stream.Conn, st *Stages, opts RunOptions, log *slog.Logger) error {
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errs := newStageWatch()
	for name, run := range map[string]func(context.Context) error{
		"transformer": st.Transformer.Run,
		"loader":      st.Loader.Run,
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(bg); err != nil {
				errs.fail(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}
	shutdown := func() {
		stop()
		wg.Wait()
	}
	if st.settler != nil {
		st.settler.stageErr = errs
	}

	if opts.RunOnce {
		var exErr error
		start := time.Now()
		st.lastPass, exErr = st.Extractor.RunOnce(ctx)
		dctx, cancel := ctx, context.CancelFunc(func() {})
		if ctx.Err() != nil {
			// Shutting down: what is in flight gets a deadline of its own.
			dctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), shutdownDrain)
		}
		err := Drain(dctx, conn, log, errs)
		cancel()
		shutdown()
		err = errors.Join(exErr, err)
		afterPass(ctx, opts.Metrics, st, err, time.Since(start))
		return err
	}

	interval := opts.Interval
	if interval <= 0 {
		interval = 30 * time.Minute
	}
	for {
		start := time.Now()
		var err error
		st.lastPass, err = st.Extractor.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("extraction pass failed", "err", err)
		}
		afterPass(ctx, opts.Metrics, st, err, time.Since(start))
		// Open issues age between passes: recompute their figures from the
		// stored snapshots, without Tracker.
		if n, err := st.Transformer.RefreshOpen(ctx); err != nil && ctx.Err() == nil {
			log.Error("refreshing open issues failed", "err", err)
		} else if n > 0 {
			log.Info("open issues refreshed from stored snapshots", "issues", n)
		}
		select {
		case <-ctx.Done():
			// Stop intake, let in-flight work finish under a deadline.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownDrain)
			_ = Drain(dctx, conn, log, errs)
			cancel()
			shutdown()
			return nil
		case <-errs.done:
			shutdown()
			return errs.err
		case <-time.After(interval):
		}
	}
}

// afterPass sends the old tool's per-run metrics after each pass of the
// one-process form, run-once or interval: etl_upload_status (1 when the
// pass loaded everything it found, 2 otherwise, a pass stopped by a signal
// included), etl_duration_seconds and issues_without_metrics; then it
// computes the forecasts.
func afterPass(ctx context.Context, metrics *telemetry.Metrics, st *Stages, err error, took time.Duration) {
	status := 1.0
	if err != nil || ctx.Err() != nil || st.lastPass != nil && st.lastPass.BudgetReached {
		status = 2
	}
	metrics.Gauge("etl_upload_status", status)
	metrics.Timing("etl_duration_seconds", took)
	st.Transformer.EndPass()
	// The rows of the pass are loaded: forecasts from the new throughput.
	st.ForecastAfterPass(ctx)
}

// shutdownDrain bounds the wait for in-flight work after a shutdown began.
const shutdownDrain = 30 * time.Second

// consumer names a durable consumer of a stream.
type consumer struct{ stream, name string }

// Both durable consumers of the pipeline: transform, then load.
var (
	transformConsumer = consumer{wire.RawStream, stream.TransformerConsumer}
	loadConsumer      = consumer{wire.RowsStream, stream.LoaderConsumer}
)

// stageWatch records the first error of the stages running in this
// process; done closes then. Every waiter sees it, not only the first.
type stageWatch struct {
	once sync.Once
	done chan struct{}
	err  error
}

func newStageWatch() *stageWatch { return &stageWatch{done: make(chan struct{})} }

func (w *stageWatch) fail(err error) {
	w.once.Do(func() { w.err = err; close(w.done) })
}

// Drain waits until the transformer and the loader consumers have nothing
// pending (checked twice in a row), or ctx ends, or a stage fails.
func Drain(ctx context.Context, conn *stream.Conn, log *slog.Logger, stages *stageWatch) error {
	return drain(ctx, conn, log, stages, transformConsumer, loadConsumer)
}

// drain waits until every given consumer has nothing pending, twice in a
// row, or ctx ends, or a stage fails.
func drain(ctx context.Context, conn *stream.Conn, log *slog.Logger, stages *stageWatch, consumers ...consumer) error {
	quiet := 0
	last := time.Now()
	for {
		idle := true
		pending := make([]any, 0, 2*len(consumers))
		for _, c := range consumers {
			n, err := stream.Pending(ctx, conn.JS, c.stream, c.name)
			if err != nil || n > 0 {
				idle = false
			}
			pending = append(pending, c.name, n)
		}
		if idle {
			quiet++
			if quiet >= 2 {
				return nil
			}
		} else {
			quiet = 0
			if time.Since(last) > 10*time.Second {
				log.Info("draining", pending...)
				last = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain: %w", ctx.Err())
		case <-stages.done:
			return stages.err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
