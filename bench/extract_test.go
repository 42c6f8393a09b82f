package bench

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream/streamtest"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// extractCase is one run of the extractor binary against the emulator.
type extractCase struct {
	Issues      int
	Latency     time.Duration
	Concurrency int
	// RateLimit is the extractor's EXPORTER_TRACKER__RATE_LIMIT and, when
	// set, also the emulator's own limit: any request over it gets a 429.
	RateLimit float64
	// PerPage is EXPORTER_TRACKER__CHANGELOG_PAGE_SIZE.
	PerPage int
}

// scrollPageSize is the extractor's default perScroll.
const scrollPageSize = 1000

// BenchmarkExtract runs the extractor binary (`extractor --run-once`, a
// separate process whose peak RSS is read from /proc) against the
// emulator served by this process (50 ms per response; synthetic issues
// whose changelogs average ~25 entries with a tail over 500) and a NATS
// server of this process listening on loopback.
//
// concurrency16 extracts 10 000 issues with no rate limit. ratelimit20
// extracts 1 000 issues with a 20 requests/s limit in the extractor and
// the same limit enforced by the emulator (about requests/20 s, a minute);
// every request over the limit would be answered 429 and counted.
//
// The extractor runs with the default parts (worklogs, links, boards and
// sprints). x-min is its requests over the least the API allows: the
// changelog pages, the search pages, and for each issue whose changelog
// shows worklog records or links their pages, plus the boards and one
// sprints list per board (parts-x-min is that last share alone).
func BenchmarkExtract(b *testing.B) {
	b.Run("concurrency16", func(b *testing.B) {
		runExtract(b, extractCase{Issues: 10_000, Latency: 50 * time.Millisecond, Concurrency: 16, PerPage: 100})
	})
	b.Run("ratelimit20", func(b *testing.B) {
		runExtract(b, extractCase{Issues: 1_000, Latency: 50 * time.Millisecond, Concurrency: 16, RateLimit: 20, PerPage: 100})
	})
}

// BenchmarkExtractLarge is concurrency16 with 100 000 issues (about seven
// minutes), for the RSS target. Run by `make bench-large`.
func BenchmarkExtractLarge(b *testing.B) {
	requireLarge(b)
	runExtract(b, extractCase{Issues: 100_000, Latency: 50 * time.Millisecond, Concurrency: 16, PerPage: 100})
}

// extractResult is what one run measured.
type extractResult struct {
	Wall                time.Duration
	Span                time.Duration // first to last Tracker request
	Requests, Changelog int64
	Search, Throttled   int64
	UserLookups         int64
	Published           uint64
	// Parts: requests for worklogs, links and the boards directory, and
	// their least number: the pages of the issues whose changelog shows
	// the part, plus the boards and one sprints list per board.
	Parts, PartsMin     int64
	PeakRSS             int64 // bytes, VmHWM polled
	RSSFirst, RSSSecond int64 // bytes, VmRSS polled
	RSSFile             int64 // bytes, peak RssFile polled
	UserCPU, SysCPU     time.Duration
}

func runExtract(b *testing.B, c extractCase) {
	bin := os.Getenv("BENCH_EXTRACTOR_BIN") // another build, for comparisons
	if bin == "" {
		bin = binary(b, "extractor")
	}
	var res extractResult
	var st changelogStats
	for b.Loop() {
		em := startEmulator(b, trackertest.Options{Issues: c.Issues, Seed: 1, Latency: c.Latency, RateLimit: c.RateLimit})
		if st.Issues == 0 {
			st = statsOf(em.Server, c.PerPage)
		}
		res = extractOnce(b, bin, em, c)
	}
	n := float64(c.Issues)
	minReq := float64(st.MinPages + int64((c.Issues+scrollPageSize-1)/scrollPageSize) + res.PartsMin)
	b.ReportMetric(n/res.Wall.Seconds(), "issues/s")
	b.ReportMetric(float64(res.Requests)/n, "req/issue")
	b.ReportMetric(minReq/n, "min-req/issue")
	b.ReportMetric(float64(res.Requests)/minReq, "x-min")
	b.ReportMetric(float64(res.Changelog)/float64(st.MinPages), "changelog-x-min")
	b.ReportMetric(float64(res.Requests-res.Changelog-res.Search-res.Parts), "directory-req")
	b.ReportMetric(float64(res.Parts), "parts-req")
	b.ReportMetric(float64(res.Parts)/float64(max(res.PartsMin, 1)), "parts-x-min")
	b.ReportMetric(float64(res.UserLookups), "user-lookups")
	b.ReportMetric(float64(res.Search), "search-req")
	b.ReportMetric(float64(res.Throttled), "429s")
	b.ReportMetric(mb(res.PeakRSS), "peak-RSS-MB")
	b.ReportMetric(mb(res.RSSFirst), "RSS-1st-half-MB")
	b.ReportMetric(mb(res.RSSSecond), "RSS-2nd-half-MB")
	b.ReportMetric(mb(res.RSSFile), "RSS-file-MB")
	b.ReportMetric((res.UserCPU+res.SysCPU).Seconds()*1e3/n, "CPU-ms/issue")
	b.ReportMetric(st.Mean, "mean-changelog")
	b.ReportMetric(float64(st.Max), "max-changelog")
	b.ReportMetric(float64(st.Over500), "changelogs>500")
	if c.RateLimit > 0 && res.Span > 0 {
		rps := float64(res.Requests-1) / res.Span.Seconds()
		b.ReportMetric(rps, "req/s")
		b.ReportMetric(100*rps/c.RateLimit, "limit-%")
	}
}

// extractOnce runs `extractor --run-once` to completion and checks that
// every issue reached the raw stream.
func extractOnce(b *testing.B, bin string, em *emulator, c extractCase) extractResult {
	b.Helper()
	srv, natsURL := streamtest.Start(b)
	cmd := exec.Command(bin, "--run-once")
	cmd.Dir = b.TempDir() // no stray .env file
	cmd.Env = childEnv(
		"EXPORTER_TRACKER__API_URL="+em.url,
		"EXPORTER_TRACKER__TOKEN=bench-token",
		"EXPORTER_TRACKER__ORG_ID=42",
		"EXPORTER_NATS__URL="+natsURL,
		`EXPORTER_TRACKER__SEARCH__QUERY=Updated: >= "2000-01-01 00:00:00"`,
		"EXPORTER_TRACKER__RATE_LIMIT="+strconv.FormatFloat(c.RateLimit, 'g', -1, 64),
		"EXPORTER_TRACKER__RATE_LIMIT_ADAPTIVE=false", // a fixed limit: the adaptive one is BenchmarkAdaptiveRate
		"EXPORTER_TRACKER__CONCURRENCY="+strconv.Itoa(c.Concurrency),
		"EXPORTER_TRACKER__CHANGELOG_PAGE_SIZE="+strconv.Itoa(c.PerPage),
		"EXPORTER_LOGLEVEL=info",
	)
	// BENCH_EXTRACTOR_ENV adds variables to the extractor's environment
	// only, e.g. "GOMEMLIMIT=48MiB GOGC=50", for experiments.
	cmd.Env = append(cmd.Env, strings.Fields(os.Getenv("BENCH_EXTRACTOR_ENV"))...)
	var out strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	cmd.Stdout, cmd.Stderr = w, w
	em.ResetCounters()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("start extractor: %v", err)
	}
	sampler := sampleRSS(cmd.Process.Pid, 100*time.Millisecond)
	err := cmd.Wait()
	wall := time.Since(start)
	peak, first, second, file := sampler.result()
	mu.Lock()
	log := out.String()
	mu.Unlock()
	if err != nil {
		b.Fatalf("extractor: %v\n%s", err, tail(log, 30))
	}
	if path := os.Getenv("BENCH_DEBUG_LOG"); path != "" {
		// The extractor's output, e.g. with BENCH_EXTRACTOR_ENV=GODEBUG=gctrace=1.
		if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
			b.Fatalf("BENCH_DEBUG_LOG: %v", err)
		}
	}
	res := extractResult{
		Wall:        wall,
		Span:        em.span(),
		Requests:    em.TotalRequests(),
		Changelog:   em.Requests(trackertest.EpChangelog),
		Search:      em.Requests(trackertest.EpSearch),
		UserLookups: em.Requests(trackertest.EpUser),
		Throttled:   em.Throttled(),
		Parts: em.Requests(trackertest.EpWorklog) + em.Requests(trackertest.EpLinks) + em.Requests(trackertest.EpComments) +
			em.Requests(trackertest.EpBoards) + em.Requests(trackertest.EpSprints),
		RSSFirst:  first,
		RSSSecond: second,
		RSSFile:   file,
		PeakRSS:   peak,
		UserCPU:   cmd.ProcessState.UserTime(),
		SysCPU:    cmd.ProcessState.SystemTime(),
	}
	conn, err := stream.ConnectInProcess(srv, "bench")
	if err != nil {
		b.Fatalf("nats: %v", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	published, err := stream.CountUnder(ctx, conn.JS, wire.RawStream, wire.RawIssuePrefix)
	if err != nil {
		b.Fatalf("raw stream: %v", err)
	}
	res.Published = published
	if res.Published != uint64(c.Issues) {
		b.Fatalf("raw stream holds %d snapshots, want %d\n%s", res.Published, c.Issues, tail(log, 30))
	}
	res.PartsMin = 1 + int64(len(em.Boards())) + partPages(b, ctx, conn.JS)
	return res
}

// partEvents are the changelog entry types that announce the worklog
// records and the links of an issue (the parts exported by default).
var partEvents = map[string]string{
	"IssueWorklogAdded": "worklog", "IssueWorklogUpdated": "worklog", "IssueWorklogRemoved": "worklog",
	"IssueLinked": "links", "IssueLinkChanged": "links", "IssueUnlinked": "links",
}

// partPages is the least number of worklog and link requests for the
// snapshots of the raw stream: for each issue whose changelog shows the
// part, its pages (100 worklog records a page; links come in one list).
func partPages(b *testing.B, ctx context.Context, js jetstream.JetStream) int64 {
	b.Helper()
	cons, err := js.OrderedConsumer(ctx, wire.RawStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{wire.RawIssuePrefix + ">"}})
	if err != nil {
		b.Fatal(err)
	}
	var pages int64
	for {
		batch, err := cons.FetchNoWait(1000)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var snap wire.IssueSnapshot
			if err := wire.Unmarshal(m.Data(), m.Headers().Get(wire.EncodingHeader), &snap); err != nil {
				b.Fatal(err)
			}
			shown := map[string]bool{}
			for _, raw := range snap.Changelog {
				var e struct {
					Type string `json:"type"`
				}
				if err := json.Unmarshal(raw, &e); err != nil {
					b.Fatal(err)
				}
				if part := partEvents[e.Type]; part != "" {
					shown[part] = true
				}
			}
			if shown["worklog"] {
				pages += int64(max(1, (len(snap.Worklogs)+99)/100))
			}
			if shown["links"] {
				pages++
			}
		}
		if n == 0 {
			return pages
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
