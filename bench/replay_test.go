package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/internal/app"
	"github.com/tracker-exporter/tracker-exporter/internal/extractor"
	"github.com/tracker-exporter/tracker-exporter/internal/transformer"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream/streamtest"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// BenchmarkReplay replays 10 000 stored snapshots (the raw stream, filled
// beforehand by the extractor from the emulator) into ClickHouse end to
// end — transformer replay, rows stream, loader, ClickHouse — with the
// default configuration plus changelog export, then inserts the same rows
// with clickhouse.InsertRows directly into another database, timing only
// the inserts. It needs TEST_CLICKHOUSE_ADDR (native protocol); without it
// it is skipped, or fails under CI=true.
func BenchmarkReplay(b *testing.B) { runReplay(b, 10_000) }

// BenchmarkReplayLarge is BenchmarkReplay with 100 000 snapshots. Run by
// `make bench-large`.
func BenchmarkReplayLarge(b *testing.B) {
	requireLarge(b)
	runReplay(b, 100_000)
}

func runReplay(b *testing.B, n int) {
	target := newReplayTarget(b)
	ctx := context.Background()
	srv, natsURL := streamtest.Start(b)
	conn, err := stream.ConnectInProcess(srv, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(conn.Close)

	fillStart := time.Now()
	fillRawStream(b, conn.JS, n)
	fill := time.Since(fillStart)

	cfg, env := target.cfg, target.env
	cfg.NATS.URL = natsURL

	var ph replayPhases
	for b.Loop() {
		cfg.ClickHouse.Database = freshDatabase(b, env, cfg)
		env.Config = cfg
		ph = replayOnce(b, env, conn, n, false)
	}
	cfg.ClickHouse.Database = freshDatabase(b, env, cfg)
	env.Config = cfg
	seq := replayOnce(b, env, conn, n, true)
	rules, err := app.TransformRules(cfg)
	if err != nil {
		b.Fatal(err)
	}
	cfg.ClickHouse.Database = freshDatabase(b, env, cfg)
	env.Config = cfg
	ins := insertDirect(b, ctx, env, conn.JS, rules, cfg.Loader.BatchRows)

	b.ReportMetric(float64(n)/fill.Seconds(), "fill-issues/s")
	b.ReportMetric(float64(n)/ph.Total.Seconds(), "replay-issues/s")
	b.ReportMetric(ph.Transformed.Seconds(), "replay-transform-s")
	b.ReportMetric(ph.Total.Seconds(), "replay-total-s")
	b.ReportMetric(ph.CPU.Seconds()/ph.Total.Seconds(), "replay-process-cores")
	b.ReportMetric(ph.CPU.Seconds()*1e3/float64(n), "replay-process-CPU-ms/issue")
	b.ReportMetric(float64(n)/ins.Elapsed.Seconds(), "insert-issues/s")
	b.ReportMetric(float64(ins.Rows)/ins.Elapsed.Seconds(), "insert-rows/s")
	b.ReportMetric(float64(ins.Rows)/float64(n), "rows/issue")
	b.ReportMetric(float64(ins.Batches), "insert-batches")
	b.ReportMetric(float64(ph.Inserts), "replay-inserts")
	b.ReportMetric(float64(ph.Optimizes), "replay-optimizes")
	b.ReportMetric(ins.CPU.Seconds()*1e3/float64(n), "insert-process-CPU-ms/issue")
	b.ReportMetric(ph.Total.Seconds()/ins.Elapsed.Seconds(), "replay/insert-time")
	b.ReportMetric(seq.Transformed.Seconds(), "seq-transform-s")
	b.ReportMetric(seq.TransformCPU.Seconds()*1e3/float64(n), "seq-transform-CPU-ms/issue")
	b.ReportMetric(seq.Load.Seconds(), "seq-load-s")
	b.ReportMetric(seq.Load.Seconds()/ins.Elapsed.Seconds(), "seq-load/insert-time")
	if ph.ClickHouseCPU > 0 && ins.ClickHouseCPU > 0 {
		b.ReportMetric(ph.ClickHouseCPU.Seconds(), "replay-clickhouse-CPU-s")
		b.ReportMetric(ins.ClickHouseCPU.Seconds(), "insert-clickhouse-CPU-s")
	}
}

// fillRawStream runs the extractor package against an emulator without
// latency until the raw stream holds n snapshots.
func fillRawStream(b *testing.B, js jetstream.JetStream, n int) {
	b.Helper()
	em := trackertest.New(trackertest.Options{Issues: n, Seed: 1})
	url := em.Start()
	defer em.Close()
	tc, err := tracker.New(tracker.Config{BaseURL: url, Token: "bench-token", OrgID: "42", MaxRetries: 10}, tracker.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	ex, err := extractor.New(extractor.Config{
		Config: extractorcfg.Config{
			Query:             extractor.QueryConfig{Custom: `Updated: >= "2000-01-01 00:00:00"`},
			Concurrency:       16,
			ChangelogPageSize: 100,
		},
	}, extractor.Deps{Tracker: tc, JS: js})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+time.Duration(n)*10*time.Millisecond)
	defer cancel()
	st, err := ex.RunOnce(ctx)
	if err != nil || st.Published != n {
		b.Fatalf("fill raw stream: published %d of %d: %v", st.Published, n, err)
	}
}

// freshDatabase migrates a new database and drops it when the benchmark
// ends.
func freshDatabase(b *testing.B, env *app.Env, cfg config.Config) string {
	b.Helper()
	ctx := context.Background()
	cfg.ClickHouse.Database = fmt.Sprintf("bench_%d", rand.Uint32())
	e := *env
	e.Config = cfg
	ch, err := app.OpenClickHouse(ctx, &e, true)
	if err != nil {
		b.Fatalf("clickhouse: %v", err)
	}
	db := cfg.ClickHouse.Database
	b.Cleanup(func() {
		_ = ch.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`")
		_ = ch.Close()
	})
	return db
}

// replayPhases are the times from the start of a replay until the
// transformer had published every rows message and until the loader had
// acknowledged them all, and the loader's time from its start to then.
type replayPhases struct {
	Transformed, Total, Load time.Duration
	// TransformCPU is this process's CPU until the transformer was done:
	// the transformer's and the NATS server's alone in a sequential run.
	TransformCPU time.Duration
	// CPU is the CPU time of this process (transformer, loader, NATS
	// server) during the replay; ClickHouse's is not included.
	CPU time.Duration
	// ClickHouseCPU is the ClickHouse server's (0: not known).
	ClickHouseCPU time.Duration
	// Inserts and Optimizes are the loader's INSERTs (one per table
	// each) and OPTIMIZE statements.
	Inserts, Optimizes int64
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// replayOnce does what `tracker-exporter replay` does (transformer
// replay, then the loader drains the rows stream into ClickHouse) with the
// stages app builds, and checks that every issue landed. Sequential, the
// loader starts only once the transformer is done, so that each stage's
// time is its own: the two compete for the same cores otherwise.
func replayOnce(b *testing.B, env *app.Env, conn *stream.Conn, n int, sequential bool) replayPhases {
	b.Helper()
	ctx := context.Background()
	tr, err := app.NewTransformer(env, conn.JS)
	if err != nil {
		b.Fatal(err)
	}
	ld, closeLoader, err := app.NewLoader(ctx, env, conn.JS)
	if err != nil {
		b.Fatal(err)
	}
	defer closeLoader()
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	lerr := make(chan error, 1)
	limit := time.Minute + time.Duration(n)*20*time.Millisecond
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if !sequential {
		defer profileReplay(b)()
	}
	cpu0 := processCPU()
	chCPU0, chOK := clickHouseCPU()
	start := time.Now()
	run := func() { go func() { lerr <- ld.Run(lctx) }() }
	if !sequential {
		defer timeline(b, conn.JS, ld.Loaded)()
		run()
	}
	replayed, err := tr.Replay(rctx)
	if err != nil || replayed != n {
		b.Fatalf("replay: %d of %d: %v", replayed, n, err)
	}
	ph := replayPhases{Transformed: time.Since(start), TransformCPU: processCPU() - cpu0}
	loadStart := start
	if sequential {
		loadStart = time.Now()
		run()
	}
	deadline := start.Add(limit)
	for ld.Loaded()+ld.Dead() < int64(n) {
		select {
		case err := <-lerr:
			b.Fatalf("loader stopped after %d of %d: %v", ld.Loaded(), n, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("loader: %d of %d loaded, %d dead-lettered after %s", ld.Loaded(), n, ld.Dead(), time.Since(start))
		}
	}
	if ld.Dead() > 0 || tr.Failed() > 0 {
		b.Fatalf("%d rows messages and %d snapshots dead-lettered", ld.Dead(), tr.Failed())
	}
	ph.Total, ph.Load = time.Since(start), time.Since(loadStart)
	ph.CPU = processCPU() - cpu0
	if chCPU, ok := clickHouseCPU(); ok && chOK {
		ph.ClickHouseCPU = chCPU - chCPU0
	}
	ph.Inserts, ph.Optimizes = ld.Inserts(), ld.Optimized()
	stop()
	if err := <-lerr; err != nil && !errors.Is(err, context.Canceled) {
		b.Fatalf("loader: %v", err)
	}
	ch, err := app.OpenClickHouse(ctx, env, false)
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	got, err := ch.Count(ctx, ch.Tables().Issues)
	if err != nil {
		b.Fatal(err)
	}
	if got != uint64(n) {
		b.Fatalf("issues table holds %d rows after the replay, want %d", got, n)
	}
	return ph
}

// profileReplay writes a CPU profile of the replay alone (not of the
// extractor filling the raw stream) to BENCH_REPLAY_CPUPROFILE, when set;
// it returns the function that stops it.
func profileReplay(b *testing.B) func() {
	stopHeap := heapProfileReplay(b)
	path := os.Getenv("BENCH_REPLAY_CPUPROFILE")
	if path == "" {
		return stopHeap
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("BENCH_REPLAY_CPUPROFILE: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatalf("BENCH_REPLAY_CPUPROFILE (not with -cpuprofile): %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
		stopHeap()
	}
}

// heapProfileReplay writes heap profiles to BENCH_REPLAY_MEMPROFILE.base
// at the start of the replay and to BENCH_REPLAY_MEMPROFILE at its end,
// when set, so that `go tool pprof -sample_index=alloc_space -base`
// shows what the replay alone allocated.
func heapProfileReplay(b *testing.B) func() {
	path := os.Getenv("BENCH_REPLAY_MEMPROFILE")
	if path == "" {
		return func() {}
	}
	write := func(name string) {
		runtime.GC() // the profile is as of the last collection
		f, err := os.Create(name)
		if err != nil {
			b.Fatalf("BENCH_REPLAY_MEMPROFILE: %v", err)
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			b.Fatalf("BENCH_REPLAY_MEMPROFILE: %v", err)
		}
	}
	write(path + ".base")
	return func() { write(path) }
}

// insertResult is what the direct inserts measured.
type insertResult struct {
	Elapsed time.Duration // in InsertRows only
	// ClickHouseCPU is the ClickHouse server's CPU during the inserts (0:
	// not known).
	ClickHouseCPU time.Duration
	// CPU is this process's during the inserts (clickhouse-go's encoding).
	CPU     time.Duration
	Rows    int64 // rows of all tables
	Batches int
}

// insertDirect reads every snapshot of the raw stream, transforms it as
// the replay does, and inserts the rows with clickhouse.InsertRows in
// batches of batch issues (the loader's EXPORTER_CLICKHOUSE__BATCH_ROWS),
// timing only InsertRows.
func insertDirect(b *testing.B, ctx context.Context, env *app.Env, js jetstream.JetStream, rules *transformer.Rules, batch int) insertResult {
	b.Helper()
	ch, err := app.OpenClickHouse(ctx, env, false)
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	s, err := js.Stream(ctx, wire.RawStream)
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cons, err := js.OrderedConsumer(ctx, wire.RawStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	asOf := time.Now()
	var res insertResult
	var pending []*wire.IssueRows
	flush := func() {
		if len(pending) == 0 {
			return
		}
		t0 := time.Now()
		chCPU0, chOK := clickHouseCPU()
		cpu0 := processCPU()
		if err := ch.InsertRows(ctx, pending); err != nil {
			b.Fatalf("insert: %v", err)
		}
		res.Elapsed += time.Since(t0)
		res.CPU += processCPU() - cpu0
		if chCPU, ok := clickHouseCPU(); ok && chOK {
			res.ClickHouseCPU += chCPU - chCPU0
		}
		res.Batches++
		pending = pending[:0]
	}
	seen := uint64(0)
	for seen < info.State.Msgs {
		msgs, err := cons.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		for m := range msgs.Messages() {
			seen++
			var snap wire.IssueSnapshot
			if err := wire.Unmarshal(m.Data(), m.Headers().Get(wire.EncodingHeader), &snap); err != nil {
				b.Fatal(err)
			}
			r, err := transformer.Transform(&snap, rules, asOf)
			if err != nil {
				b.Fatal(err)
			}
			rows := r.Rows
			res.Rows += int64(1 + len(rows.Metrics) + len(rows.Intervals) + len(rows.Changelog))
			pending = append(pending, rows)
			if len(pending) >= batch {
				flush()
			}
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			b.Fatal(err)
		}
	}
	flush()
	got, err := ch.Count(ctx, ch.Tables().Issues)
	if err != nil {
		b.Fatal(err)
	}
	if got != info.State.Msgs {
		b.Fatalf("issues table holds %d rows after the direct inserts, want %d", got, info.State.Msgs)
	}
	return res
}
