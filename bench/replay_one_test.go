package bench

import (
	"context"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/internal/app"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
)

// BenchmarkReplayOneProcess replays 10 000 stored snapshots with the
// one-process binary, as an operator does: `tracker-exporter replay` on
// the embedded JetStream's store (filled beforehand by the extractor
// package), ClickHouse over the native protocol; then the same rows are
// inserted directly (clickhouse.InsertRows, as in BenchmarkReplay). It
// measures the binary's time, peak RSS and CPU.
func BenchmarkReplayOneProcess(b *testing.B) { runReplayOneProcess(b, 10_000) }

// BenchmarkReplayOneProcessLarge is BenchmarkReplayOneProcess with
// 100 000 issues (BENCH_LARGE=1 or -bench naming it).
func BenchmarkReplayOneProcessLarge(b *testing.B) {
	requireLarge(b)
	runReplayOneProcess(b, 100_000)
}

func runReplayOneProcess(b *testing.B, n int) {
	target := newReplayTarget(b)
	dir := b.TempDir()
	withStore(b, dir, func(conn *stream.Conn) { fillRawStream(b, conn.JS, n) })

	cfg, env := target.cfg, target.env
	binary(b, "tracker-exporter") // built before the clock starts
	var p *child
	var took, visible time.Duration
	for b.Loop() {
		db := freshDatabase(b, env, cfg)
		vars := target.childVars(db, "EXPORTER_NATS__DATA_DIR="+dir)
		start := time.Now()
		p = startChild(b, vars, "tracker-exporter", "replay")
		seen := watchVisible(b, env, cfg, db, n)
		if err := p.cmd.Wait(); err != nil {
			b.Fatalf("tracker-exporter replay: %v\n%s", err, p.log())
		}
		took = time.Since(start)
		visible = seen().Sub(start)
		if got := countIssues(b, env, cfg, db); got != n {
			b.Fatalf("issues_view holds %d issues after the replay, want %d\n%s", got, n, p.log())
		}
	}
	peak, _, _, _ := p.sampler.result()
	cfg.ClickHouse.Database = freshDatabase(b, env, cfg)
	env.Config = cfg
	rules, err := app.TransformRules(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var ins insertResult
	withStore(b, dir, func(conn *stream.Conn) {
		ins = insertDirect(b, context.Background(), env, conn.JS, rules, cfg.Loader.BatchRows)
	})
	b.ReportMetric(float64(n)/took.Seconds(), "replay-issues/s")
	b.ReportMetric(took.Seconds(), "replay-total-s")
	b.ReportMetric(visible.Seconds(), "replay-visible-s")
	b.ReportMetric(mb(peak), "peak-RSS-MB")
	b.ReportMetric(float64(p.cpu().Microseconds())/1e3/float64(n), "process-CPU-ms/issue")
	b.ReportMetric(float64(n)/ins.Elapsed.Seconds(), "insert-issues/s")
	b.ReportMetric(took.Seconds()/ins.Elapsed.Seconds(), "replay/insert-time")
	b.ReportMetric(visible.Seconds()/ins.Elapsed.Seconds(), "visible/insert-time")
}

// watchVisible polls issues_view of db every 50 ms until it shows n
// issues; the function it returns waits for that moment and returns it
// (the zero time if the view never got there within a minute of the
// first call).
func watchVisible(b *testing.B, env *app.Env, cfg config.Config, db string, n int) func() time.Time {
	b.Helper()
	e := *env
	cfg.ClickHouse.Database = db
	e.Config = cfg
	ch, err := app.OpenClickHouse(context.Background(), &e, false)
	if err != nil {
		b.Fatalf("clickhouse: %v", err)
	}
	done := make(chan time.Time, 1)
	stop := make(chan struct{})
	go func() {
		defer ch.Close()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var got uint64
			err := ch.Conn().QueryRow(context.Background(), "SELECT count() FROM `"+db+"`.issues_view").Scan(&got)
			if err == nil && got >= uint64(n) {
				done <- time.Now()
				return
			}
			select {
			case <-stop:
				done <- time.Time{}
				return
			case <-tick.C:
			}
		}
	}()
	return func() time.Time {
		select {
		case t := <-done:
			return t
		case <-time.After(time.Minute):
			close(stop)
			return <-done
		}
	}
}

// withStore runs fn on a JetStream server of this process keeping its
// store in dir (where the one-process binary keeps it), with the streams
// declared, and shuts the server down after.
func withStore(b *testing.B, dir string, fn func(*stream.Conn)) {
	b.Helper()
	srv, err := stream.StartEmbedded(stream.EmbeddedConfig{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	conn, err := stream.ConnectInProcess(srv, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if err := stream.Setup(context.Background(), conn.JS, stream.Streams{}); err != nil {
		b.Fatal(err)
	}
	fn(conn)
}
