package bench

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/internal/app"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream/streamtest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// BenchmarkReplayProcesses replays 10 000 stored snapshots with the real
// binaries, as an operator does: `transformer replay` and a `loader`, each
// its own process, against a JetStream server of the benchmark process and
// ClickHouse; it measures each one's peak RSS and CPU.
func BenchmarkReplayProcesses(b *testing.B) { runReplayProcesses(b, 10_000) }

// BenchmarkReplayProcessesLarge is BenchmarkReplayProcesses with 100 000
// issues (BENCH_LARGE=1 or -bench naming it).
func BenchmarkReplayProcessesLarge(b *testing.B) {
	requireLarge(b)
	runReplayProcesses(b, 100_000)
}

// child is a stage running as a child process, its peak RSS sampled.
type child struct {
	cmd     *exec.Cmd
	sampler *rssSampler
	mu      sync.Mutex
	out     strings.Builder
}

func startChild(b *testing.B, env []string, name string, args ...string) *child {
	b.Helper()
	c := &child{cmd: exec.Command(binary(b, name), args...)}
	c.cmd.Dir = b.TempDir() // no stray .env file
	c.cmd.Env = env
	w := writerFunc(func(p []byte) (int, error) { c.mu.Lock(); defer c.mu.Unlock(); return c.out.Write(p) })
	c.cmd.Stdout, c.cmd.Stderr = w, w
	if err := c.cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", name, err)
	}
	c.sampler = sampleRSS(c.cmd.Process.Pid, 50*time.Millisecond)
	return c
}

func (c *child) log() string { c.mu.Lock(); defer c.mu.Unlock(); return tail(c.out.String(), 30) }

func (c *child) cpu() time.Duration {
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

func runReplayProcesses(b *testing.B, n int) {
	target := newReplayTarget(b)
	srv, natsURL := streamtest.Start(b)
	conn, err := stream.ConnectInProcess(srv, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(conn.Close)
	fillRawStream(b, conn.JS, n)

	cfg, env := target.cfg, target.env
	var tr, ld *child
	var took, transformed time.Duration
	for b.Loop() {
		db := freshDatabase(b, env, cfg)
		childVars := target.childVars(db, "EXPORTER_NATS__URL="+natsURL)
		binary(b, "loader") // built before the clock starts
		start := time.Now()
		ld = startChild(b, childVars, "loader")
		tr = startChild(b, childVars, "transformer", "replay")
		if err := tr.cmd.Wait(); err != nil {
			_ = ld.cmd.Process.Kill()
			b.Fatalf("transformer replay: %v\n%s", err, tr.log())
		}
		transformed = time.Since(start)
		waitLoaded(b, conn, ld, start.Add(time.Minute+time.Duration(n)*20*time.Millisecond))
		took = time.Since(start)
		_ = ld.cmd.Process.Signal(syscall.SIGTERM)
		if err := ld.cmd.Wait(); err != nil {
			b.Fatalf("loader: %v\n%s", err, ld.log())
		}
		if got := countIssues(b, env, cfg, db); got != n {
			b.Fatalf("issues_view holds %d issues, want %d", got, n)
		}
	}
	trPeak, _, _, _ := tr.sampler.result()
	ldPeak, _, _, _ := ld.sampler.result()
	b.ReportMetric(float64(n)/took.Seconds(), "replay-issues/s")
	b.ReportMetric(transformed.Seconds(), "transform-s")
	b.ReportMetric(took.Seconds(), "total-s")
	b.ReportMetric(mb(trPeak), "transformer-peak-RSS-MB")
	b.ReportMetric(mb(ldPeak), "loader-peak-RSS-MB")
	b.ReportMetric(float64(tr.cpu().Microseconds())/1e3/float64(n), "transformer-CPU-ms/issue")
	b.ReportMetric(float64(ld.cpu().Microseconds())/1e3/float64(n), "loader-CPU-ms/issue")
}

// waitLoaded waits until the loader's consumer has nothing pending nor in
// flight: every rows message was inserted and acknowledged.
func waitLoaded(b *testing.B, conn *stream.Conn, ld *child, deadline time.Time) {
	b.Helper()
	ctx := context.Background()
	for {
		cons, err := conn.JS.Consumer(ctx, wire.RowsStream, stream.LoaderConsumer)
		if err == nil {
			if info, err := cons.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			_ = ld.cmd.Process.Kill()
			b.Fatalf("the loader did not drain the rows stream in time\n%s", ld.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countIssues is the number of issues in the database's issues view.
func countIssues(b *testing.B, env *app.Env, cfg config.Config, db string) int {
	b.Helper()
	ctx := context.Background()
	e := *env
	cfg.ClickHouse.Database = db
	e.Config = cfg
	ch, err := app.OpenClickHouse(ctx, &e, false)
	if err != nil {
		b.Fatalf("clickhouse: %v", err)
	}
	defer ch.Close()
	var got uint64
	if err := ch.Conn().QueryRow(ctx, "SELECT count() FROM `"+db+"`.issues_view").Scan(&got); err != nil {
		b.Fatalf("count issues: %v", err)
	}
	return int(got)
}
