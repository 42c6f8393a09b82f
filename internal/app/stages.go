package app

import (
	"context"
	"os"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
)

// RunExtractor runs the extractor binary: passes every interval, or one.
func RunExtractor(ctx context.Context, cfg config.Config, runOnce bool) error {
	env, conn, stop, err := startStage(ctx, cfg, "extractor", false)
	if err != nil {
		return err
	}
	defer stop()
	tc, err := TrackerClient(cfg)
	if err != nil {
		return err
	}
	ex, closeEx, err := NewExtractor(ctx, env, tc, conn.JS, nil)
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
}

// RunTransformer runs the transformer binary until ctx ends.
func RunTransformer(ctx context.Context, cfg config.Config) error {
	env, conn, stop, err := startStage(ctx, cfg, "transformer", false)
	if err != nil {
		return err
	}
	defer stop()
	tr, err := NewTransformer(env, conn.JS)
	if err != nil {
		return err
	}
	// Open issues age between extraction passes: every interval, recompute
	// their figures from the stored snapshots (each replica does; the
	// loaders' dedup keeps one row per key).
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
		}
	}()
	env.Health.SetReady(true)
	return tr.Run(ctx)
}

// ReplayTransformer replays the raw stream once and exits.
func ReplayTransformer(ctx context.Context, cfg config.Config) error {
	env, conn, stop, err := startStage(ctx, cfg, "transformer-replay", false)
	if err != nil {
		return err
	}
	defer stop()
	tr, err := NewTransformer(env, conn.JS)
	if err != nil {
		return err
	}
	n, err := tr.Replay(ctx)
	env.Log.Info("replayed snapshots", "count", n)
	return err
}

// RunLoader runs the loader binary until ctx ends.
func RunLoader(ctx context.Context, cfg config.Config) error {
	env, conn, stop, err := startStage(ctx, cfg, "loader", false)
	if err != nil {
		return err
	}
	defer stop()
	ld, closeLd, err := NewLoader(ctx, env, conn.JS)
	if err != nil {
		return err
	}
	defer closeLd()
	env.Health.SetReady(true)
	return ld.Run(ctx)
}

// startStage is the common start of every binary: environment (logs,
// metrics, Sentry), health endpoints and the NATS connection (embedded
// when allowed and no URL is configured). stop releases them in reverse.
func startStage(ctx context.Context, cfg config.Config, name string, embedded bool) (*Env, *stream.Conn, func(), error) {
	env, err := NewEnv(cfg, os.Stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	env.LogStart(name)
	stopHealth, err := ServeHealth(ctx, env)
	if err != nil {
		env.Close()
		return nil, nil, nil, err
	}
	conn, closeNATS, err := NATS(ctx, env, name, embedded)
	if err != nil {
		stopHealth()
		env.Close()
		return nil, nil, nil, err
	}
	return env, conn, func() {
		closeNATS()
		stopHealth()
		env.Close()
	}, nil
}
