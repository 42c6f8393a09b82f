package bench

import (
	"context"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/internal/extractor"
	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream/streamtest"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// BenchmarkExtractInProcess runs the extractor package in this process
// (emulator, NATS and extractor together) on 2 000 issues at 50 ms, so
// that -cpuprofile and -memprofile see the extractor's own code.
func BenchmarkExtractInProcess(b *testing.B) {
	const issues = 2_000
	var elapsed time.Duration
	var requests int64
	for b.Loop() {
		em := startEmulator(b, trackertest.Options{Issues: issues, Seed: 1, Latency: 50 * time.Millisecond})
		srv, _ := streamtest.Start(b)
		conn, err := stream.ConnectInProcess(srv, "bench")
		if err != nil {
			b.Fatal(err)
		}
		tc, err := tracker.New(tracker.Config{BaseURL: em.url, Token: "bench-token", OrgID: "42", MaxRetries: 10}, tracker.Deps{})
		if err != nil {
			b.Fatal(err)
		}
		ex, err := extractor.New(extractor.Config{
			Config: extractorcfg.Config{
				Query:             extractor.QueryConfig{Custom: `Updated: >= "2000-01-01 00:00:00"`},
				Concurrency:       16,
				ChangelogPageSize: 100,
				ScrollPageSize:    scrollPageSize,
			},
		}, extractor.Deps{Tracker: tc, JS: conn.JS})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		st, err := ex.RunOnce(context.Background())
		elapsed = time.Since(start)
		if err != nil || st.Published != issues {
			b.Fatalf("run: published %d of %d: %v", st.Published, issues, err)
		}
		requests = em.TotalRequests()
		conn.Close()
	}
	b.ReportMetric(issues/elapsed.Seconds(), "issues/s")
	b.ReportMetric(float64(requests)/issues, "req/issue")
}
