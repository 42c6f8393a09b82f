package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// timeline writes to BENCH_REPLAY_TIMELINE, when set, what the replay
// had done every 100 ms: rows messages published (the transformer),
// delivered to the loader and loaded, and the CPU seconds of this process
// and of ClickHouse. It returns the function that stops it. A stall shows
// as delivered standing still while ClickHouse works.
func timeline(b *testing.B, js jetstream.JetStream, loaded func() int64) func() {
	path := os.Getenv("BENCH_REPLAY_TIMELINE")
	if path == "" {
		return func() {}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var out strings.Builder
		start, cpu0 := time.Now(), processCPU()
		ch0, _ := clickHouseCPU()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
					b.Errorf("BENCH_REPLAY_TIMELINE: %v", err)
				}
				return
			case <-tick.C:
			}
			published, delivered := rowsProgress(js)
			ch, _ := clickHouseCPU()
			fmt.Fprintf(&out, "%5.2fs published=%d delivered=%d loaded=%d process-CPU-s=%.2f clickhouse-CPU-s=%.2f\n",
				time.Since(start).Seconds(), published, delivered, loaded(), (processCPU() - cpu0).Seconds(), (ch - ch0).Seconds())
		}
	}()
	return func() { close(stop); <-done }
}

// rowsProgress is the last sequence of the rows stream and the last one
// delivered to the loaders' consumer (0 when not known).
func rowsProgress(js jetstream.JetStream) (published, delivered uint64) {
	ctx := context.Background()
	if s, err := js.Stream(ctx, wire.RowsStream); err == nil {
		if i, err := s.Info(ctx); err == nil {
			published = i.State.LastSeq
		}
	}
	if c, err := js.Consumer(ctx, wire.RowsStream, stream.LoaderConsumer); err == nil {
		if i, err := c.Info(ctx); err == nil {
			delivered = i.Delivered.Stream
		}
	}
	return published, delivered
}
