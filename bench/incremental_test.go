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

// BenchmarkIncrementalChangelog extracts 2 000 issues, gives every issue
// with a 200-300 entry history (three pages of 100) one new entry, and
// extracts again over the same raw stream: the second pass asks each
// changelog only for what follows the stored history.
//
// full-req/long-issue is the changelog requests of those issues in the
// first pass, incremental-req/long-issue in the second (target 1);
// second-pass-req/issue is the changelog requests per issue of the
// second pass (every issue: one request each).
func BenchmarkIncrementalChangelog(b *testing.B) {
	for b.Loop() {
		em := trackertest.New(trackertest.Options{Issues: 2_000, Seed: 1})
		url := em.Start()
		srv, _ := streamtest.Start(b)
		conn, err := stream.ConnectInProcess(srv, "bench")
		if err != nil {
			b.Fatal(err)
		}
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
		}, extractor.Deps{Tracker: tc, JS: conn.JS, Stored: &stream.RawSnapshots{JS: conn.JS}})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		var long []string
		var fullPages int64
		for _, k := range em.IssueKeys() {
			if n := em.ChangelogLen(k); n >= 200 && n < 300 {
				long = append(long, k)
				fullPages += int64((n + 99) / 100)
			}
		}
		if len(long) == 0 {
			b.Fatal("no issue with a 200-300 entry history")
		}
		if _, err := ex.RunOnce(ctx); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for _, k := range long {
			if err := em.Touch(k, now); err != nil {
				b.Fatal(err)
			}
		}
		em.ResetCounters()
		start := time.Now()
		p, err := ex.RunOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		second := time.Since(start)
		issues := int64(len(em.IssueKeys()))
		got := em.Requests(trackertest.EpChangelog)
		// Every issue costs one request; the long ones are a subset.
		b.ReportMetric(float64(fullPages)/float64(len(long)), "full-req/long-issue")
		b.ReportMetric(float64(got-(issues-int64(len(long))))/float64(len(long)), "incremental-req/long-issue")
		b.ReportMetric(float64(got)/float64(issues), "second-pass-req/issue")
		b.ReportMetric(float64(len(long)), "long-issues")
		b.ReportMetric(float64(p.Published), "republished")
		b.ReportMetric(float64(issues)/second.Seconds(), "second-pass-issues/s")
		conn.Close()
		em.Close()
	}
}
