package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// ValidateRole validates the configuration for one more role.
func ValidateRole(cfg config.Config, role config.Role) error {
	if err := cfg.Validate(role); err != nil {
		return ConfigExit(err)
	}
	return nil
}

// RunOneProcess runs the whole pipeline in this process over the embedded
// NATS server (or the configured one).
func RunOneProcess(ctx context.Context, cfg config.Config, runOnce bool) error {
	return runStage(ctx, cfg, "tracker-exporter", natsEmbedded, func(env *Env, conn *stream.Conn) error {
		tc, closeTC, err := TrackerClient(ctx, env)
		if err != nil {
			return err
		}
		defer closeTC()
		st, err := BuildAll(ctx, env, tc, conn)
		if err != nil {
			return err
		}
		defer st.Close()
		env.Health.SetReady(true)
		start := time.Now()
		err = RunAll(ctx, conn, st, RunOptions{RunOnce: runOnce, Interval: cfg.ETLInterval, Metrics: env.Metrics}, env.Log)
		if runOnce {
			// A run stopped by a signal exits 0 (a clean stop: the
			// watermark keeps what it did not do for the next run), but it
			// is not a success: etl_upload_status says 2.
			logRunEnd(ctx, env, st, time.Since(start), tc.Requests(), err)
			if err != nil {
				return reported{err} // the run's last line said it
			}
		}
		return err
	})
}

// logRunEnd states a run's account in one line: what the search found,
// what is in ClickHouse (loaded by this run, or already current) and what
// is not, by reason.
func logRunEnd(ctx context.Context, env *Env, st *Stages, took time.Duration, requests int64, err error) {
	args := []any{"duration", took.Round(time.Millisecond), "tracker_requests", requests}
	if p := st.lastPass; p != nil {
		args = append(args, "found", p.Found)
		if st.settler != nil && st.settler.last != nil {
			a := st.settler.last
			args = append(args, "loaded", a.Loaded, "already_current", a.Current, "failed", a.Missing)
			if a.Missing > 0 {
				args = append(args, "failed_by_reason", a.ReasonText())
			}
		} else {
			args = append(args, "printed", p.Published+p.Duplicates, "failed", p.Failed)
		}
	}
	args = append(args, "dead_lettered", st.Transformer.Failed()+st.Loader.Dead())
	if ctx.Err() != nil {
		env.Log.Warn("run stopped by a signal before it finished: the next run continues", args...)
		return
	}
	if p := st.lastPass; err == nil && p != nil && p.BudgetReached {
		env.Log.Warn("run stopped at its time budget (EXPORTER_RUN_TIME_BUDGET): the next run continues", append(args, "left_for_next_run", p.Deferred)...)
		return
	}
	if err != nil {
		env.Log.Error("run finished incomplete", append(args, "err", err)...)
		return
	}
	env.Log.Info("run finished", args...)
}

// Migrate applies the embedded migrations.
func Migrate(ctx context.Context, cfg config.Config) error {
	return runStage(ctx, cfg, "migrate", natsNone, func(env *Env, _ *stream.Conn) error {
		ch, err := OpenClickHouse(ctx, env, true)
		if err != nil {
			return err
		}
		return ch.Close()
	})
}

// ReplayOneProcess replays the raw stream and loads the new rows.
func ReplayOneProcess(ctx context.Context, cfg config.Config) error {
	return runStage(ctx, cfg, "tracker-exporter-replay", natsEmbedded, func(env *Env, conn *stream.Conn) error {
		tr, err := NewTransformer(env, conn.JS)
		if err != nil {
			return err
		}
		ld, closeLoader, err := NewLoader(ctx, env, conn.JS)
		if err != nil {
			return err
		}
		defer closeLoader()
		return whileRunning(ctx, []func(context.Context) error{ld.Run}, func(w *stageWatch) error {
			n, rerr := tr.Replay(ctx)
			env.Log.Info("replayed snapshots", "count", n)
			if err := errors.Join(rerr, drain(ctx, conn, env.Log, w, loadConsumer)); err != nil {
				return err
			}
			// Rows the loader gave up on are not loaded: the replay did not
			// deliver them.
			if d := ld.Dead(); d > 0 {
				return fmt.Errorf("replay incomplete: %d of %d rows messages were dead-lettered by the loader (`tracker-exporter dlq list`; `dlq retry --stage loader` once the cause is fixed)", d, n)
			}
			return nil
		})
	})
}

// EmulatorOptions are the emulator and demo subcommands' flags.
type EmulatorOptions struct {
	Listen    string
	Issues    int
	Seed      int64
	Latency   time.Duration
	RateLimit float64
	// ClickHouseAddr is the demo's ClickHouse when EXPORTER_CLICKHOUSE__HOST
	// and __PORT are not set (host:port, native protocol).
	ClickHouseAddr string
}

// ServeEmulator serves the Tracker emulator until ctx ends.
func ServeEmulator(ctx context.Context, o EmulatorOptions) error {
	s := trackertest.New(trackertest.Options{Issues: o.Issues, Seed: o.Seed, Latency: o.Latency, RateLimit: o.RateLimit})
	fmt.Fprintf(os.Stderr, "tracker emulator: %d issues on http://%s (any OAuth token, any org id)\n", o.Issues, o.Listen)
	return s.ListenAndServe(ctx, o.Listen)
}
