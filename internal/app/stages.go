package app

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tracker-exporter/tracker-exporter/internal/extractor"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
)

// RunExtractor runs the extractor binary: passes every interval, or one.
func RunExtractor(ctx context.Context, cfg config.Config, runOnce bool) error {
	return runStage(ctx, cfg, "extractor", natsExternal, func(env *Env, conn *stream.Conn) error {
		ex, closeEx, err := distributedExtractor(ctx, env, conn)
		if err != nil {
			return err
		}
		defer closeEx()
		env.Health.SetReady(true)
		for {
			_, err := ex.RunOnce(ctx)
			if runOnce {
				return err
			}
			if err != nil && ctx.Err() == nil {
				env.Log.Error("extraction pass failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(cfg.ETLInterval):
			}
		}
	})
}

// distributedExtractor is the extractor over a new Tracker client whose
// watermark follows publishes (no settler: nothing loads here).
func distributedExtractor(ctx context.Context, env *Env, conn *stream.Conn) (*extractor.Extractor, func(), error) {
	tc, closeTC, err := TrackerClient(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	ex, closeEx, err := NewExtractor(ctx, env, tc, conn.JS, nil)
	if err != nil {
		closeTC()
		return nil, nil, err
	}
	return ex, func() { closeEx(); closeTC() }, nil
}

// RunTransformer runs the transformer binary until ctx ends.
func RunTransformer(ctx context.Context, cfg config.Config) error {
	return runStage(ctx, cfg, "transformer", natsExternal, func(env *Env, conn *stream.Conn) error {
		tr, err := NewTransformer(env, conn.JS)
		if err != nil {
			return err
		}
		// Open issues age between extraction passes: every interval,
		// recompute their figures from the stored snapshots (each replica
		// does; the loaders' dedup keeps one row per key).
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(cfg.ETLInterval):
				}
				if n, err := tr.RefreshOpen(ctx); err != nil && ctx.Err() == nil {
					env.Log.Error("refreshing open issues failed", "err", err)
				} else if n > 0 {
					env.Log.Info("open issues refreshed from stored snapshots", "issues", n)
				}
				tr.EndPass()
			}
		}()
		env.Health.SetReady(true)
		return tr.Run(ctx)
	})
}

// ReplayTransformer replays the raw stream once and exits.
func ReplayTransformer(ctx context.Context, cfg config.Config) error {
	return runStage(ctx, cfg, "transformer-replay", natsExternal, func(env *Env, conn *stream.Conn) error {
		tr, err := NewTransformer(env, conn.JS)
		if err != nil {
			return err
		}
		n, err := tr.Replay(ctx)
		env.Log.Info("replayed snapshots", "count", n)
		return err
	})
}

// RunLoader runs the loader binary until ctx ends.
func RunLoader(ctx context.Context, cfg config.Config) error {
	return runStage(ctx, cfg, "loader", natsExternal, func(env *Env, conn *stream.Conn) error {
		ld, closeLd, err := NewLoader(ctx, env, conn.JS)
		if err != nil {
			return err
		}
		defer closeLd()
		env.Health.SetReady(true)
		return ld.Run(ctx)
	})
}

// natsMode says what NATS connection a stage needs.
type natsMode int

const (
	// natsNone: no NATS (migrate).
	natsNone natsMode = iota
	// natsExternal: EXPORTER_NATS__URL (default nats://127.0.0.1:4222).
	natsExternal
	// natsEmbedded: EXPORTER_NATS__URL, or the embedded server when unset.
	natsEmbedded
)

// runStage is the frame of every binary and subcommand: it builds the
// environment (logs, metrics, Sentry), the health endpoints and the NATS
// connection the mode asks for, runs body, and releases everything in
// reverse. An error that ends the stage is logged once, at error level, in
// the configured log format, so it also reaches Sentry; main then exits 1
// without printing it again.
func runStage(ctx context.Context, cfg config.Config, name string, mode natsMode, body func(*Env, *stream.Conn) error) error {
	env, err := NewEnv(cfg, os.Stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	err = func() error {
		env.LogStart(name)
		stopHealth, err := ServeHealth(ctx, env)
		if err != nil {
			return err
		}
		defer stopHealth()
		var conn *stream.Conn
		if mode != natsNone {
			c, closeNATS, err := NATS(ctx, env, name, mode == natsEmbedded)
			if err != nil {
				return err
			}
			defer closeNATS()
			conn = c
		}
		return body(env, conn)
	}()
	return env.fatal(err)
}

// reported is an error already logged (and sent to Sentry) by the stage
// that ended with it.
type reported struct{ error }

func (r reported) Unwrap() error { return r.error }

// fatal logs the error a stage ends with, once, and marks it reported. A
// configuration exit (already printed) passes as is.
func (e *Env) fatal(err error) error {
	var exit cli.ExitCoder
	var done reported
	if err == nil || errors.As(err, &exit) || errors.As(err, &done) {
		return err
	}
	e.Log.Error("fatal error, exiting", "err", err)
	return reported{err}
}
