package bench

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/internal/app"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream/streamtest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// BenchmarkRedelivery kills the real transformer and the real loader
// (kill -9) while they work, then takes their durable consumer over and
// times how long JetStream takes to deliver again every message that was
// in flight at the kill: what a stage started in the dead one's place
// would wait for before it could redo that work. The raw stream holds
// 5 000 snapshots; the loader case also needs TEST_CLICKHOUSE_ADDR.
func BenchmarkRedelivery(b *testing.B) {
	srv, natsURL := streamtest.Start(b)
	conn, err := stream.ConnectInProcess(srv, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(conn.Close)
	fillRawStream(b, conn.JS, 5_000)
	b.Run("transformer", func(b *testing.B) {
		env := childEnv("EXPORTER_NATS__URL="+natsURL, "EXPORTER_LOGLEVEL=warning")
		for b.Loop() {
			killAndRedeliver(b, conn.JS, env, "transformer", wire.RawStream, stream.TransformerConsumer)
		}
	})
	b.Run("loader", func(b *testing.B) {
		target := newReplayTarget(b)
		env := *target.env
		env.Config.NATS.URL = natsURL
		tr, err := app.NewTransformer(&env, conn.JS)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := tr.Replay(context.Background()); err != nil || n != 5_000 {
			b.Fatalf("replay into the rows stream: %d snapshots: %v", n, err)
		}
		db := freshDatabase(b, target.env, target.cfg)
		vars := target.childVars(db, "EXPORTER_NATS__URL="+natsURL)
		for b.Loop() {
			killAndRedeliver(b, conn.JS, vars, "loader", wire.RowsStream, stream.LoaderConsumer)
		}
	})
}

// killAndRedeliver starts the stage name, kills it with SIGKILL once it
// has messages in flight and its stream has more for it, then fetches from its
// consumer until every message in flight at the kill was delivered again
// (acknowledging what it gets), and reports the time from the kill.
func killAndRedeliver(b *testing.B, js jetstream.JetStream, env []string, name, streamName, consumer string) {
	b.Helper()
	ctx := context.Background()
	ch := startChild(b, env, name)
	deadline := time.Now().Add(2 * time.Minute)
	var cons jetstream.Consumer
	for {
		var err error
		cons, err = js.Consumer(ctx, streamName, consumer)
		if err == nil {
			// Work taken and more to take: a loader acknowledges an
			// INSERT's messages only once the stream is drained or the
			// INSERT full.
			if info, err := cons.Info(ctx); err == nil && info.NumAckPending >= minInFlight && info.NumPending > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = ch.cmd.Process.Kill()
			b.Fatalf("%s: no message in flight after 2 min\n%s", name, ch.log())
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = ch.cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	_ = ch.cmd.Wait()
	ch.sampler.result()
	info := settled(b, cons)
	inFlight := info.NumAckPending
	if inFlight == 0 {
		b.Fatalf("%s: nothing in flight at the kill", name)
	}
	again := 0
	for again < inFlight {
		if time.Since(killed) > time.Minute {
			b.Fatalf("%s: %d of %d messages in flight at the kill delivered again after 1 min", name, again, inFlight)
		}
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		for msg := range batch.Messages() {
			if md, err := msg.Metadata(); err == nil && md.NumDelivered > 1 {
				again++
			}
			_ = msg.Ack()
		}
	}
	b.ReportMetric(time.Since(killed).Seconds(), "redelivered-s")
	b.ReportMetric(float64(inFlight), "in-flight")
	b.ReportMetric(info.Config.AckWait.Seconds(), "ack-wait-s")
}

// minInFlight is how many messages the stage must hold unacknowledged
// when it is killed.
const minInFlight = 200

// settled returns the consumer's state once the acknowledgements the
// killed stage wrote before it died, which the server may still be
// reading, are in: the same count of messages in flight twice, 100 ms
// apart.
func settled(b *testing.B, cons jetstream.Consumer) *jetstream.ConsumerInfo {
	b.Helper()
	ctx := context.Background()
	var last *jetstream.ConsumerInfo
	for range 50 {
		info, err := cons.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if last != nil && info.NumAckPending == last.NumAckPending {
			return info
		}
		last = info
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatalf("consumer: messages in flight still changing 5 s after the kill")
	return nil
}
