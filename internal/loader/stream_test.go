package loader

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/loadercfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// streamed is the ClickHouse client as the StreamSink internal/app wires
// it, counting INSERTs begun, batches added and commits; failCommits
// makes that many commits fail with a retryable error (ClickHouse gone
// between the blocks and the end of the INSERT).
type streamed struct {
	*clickhouse.Client
	begun, adds, commits atomic.Int64
	// added counts the messages added to INSERTs.
	added       atomic.Int64
	failCommits atomic.Int64
}

func (s *streamed) BeginInsert() InsertStream {
	s.begun.Add(1)
	return &countedInsert{Insert: s.Client.BeginInsert(), s: s}
}

type countedInsert struct {
	*clickhouse.Insert
	s *streamed
}

func (c *countedInsert) Add(ctx context.Context, rows []*wire.IssueRows) error {
	c.s.adds.Add(1)
	c.s.added.Add(int64(len(rows)))
	return c.Insert.Add(ctx, rows)
}

func (c *countedInsert) Commit(ctx context.Context) error {
	if c.s.failCommits.Add(-1) >= 0 {
		c.Abort()
		return &clickhouse.Error{Op: "insert", Table: "issues", Err: errors.New("connection reset by peer")}
	}
	c.s.commits.Add(1)
	return c.Insert.Commit(ctx)
}

// A fetch's insert batches go into one INSERT per table: fewer commits
// than batches, every issue loaded once, the views whole.
func TestStreamedInserts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 600
	e.publishMany(0, n)
	sink := &streamed{Client: e.ch}
	// Batches of 10 messages; a fetch takes 300 (minFetch).
	l := startLoader(t, e, loadercfg.Config{BatchRows: 10 * sampleRows, BatchAge: 100 * time.Millisecond}, sink)
	waitFor(t, "all loaded", 60*time.Second, func() bool { return l.Loaded() >= n && e.pending() == 0 })
	e.checkViews(n)
	adds, commits := sink.adds.Load(), sink.commits.Load()
	t.Logf("%d batches added in %d INSERTs", adds, commits)
	if adds < n/10 {
		t.Errorf("%d batches added, want at least %d (BatchRows bounds each)", adds, n/10)
	}
	if commits*4 > adds {
		t.Errorf("%d INSERTs for %d batches: want four or more batches per INSERT", commits, adds)
	}
	if l.Loaded() != n {
		t.Errorf("%d messages acknowledged, want %d", l.Loaded(), n)
	}
}

// An INSERT that fails at its end loads its batches again one by one:
// nothing is lost or dead-lettered.
func TestStreamedCommitFailsOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 300
	e.publishMany(0, n)
	sink := &streamed{Client: e.ch}
	sink.failCommits.Store(2)
	l := startLoader(t, e, failover(loadercfg.Config{BatchRows: 10 * sampleRows, BatchAge: 100 * time.Millisecond}), sink)
	waitFor(t, "all loaded", 60*time.Second, func() bool { return l.Loaded() >= n && e.pending() == 0 })
	if l.Dead() != 0 {
		t.Errorf("%d dead letters, want none", l.Dead())
	}
	if sink.failCommits.Load() >= 0 {
		t.Errorf("the failing commits did not happen (%d left)", sink.failCommits.Load()+1)
	}
	e.checkViews(n)
}

// Two versions of an issue in one fetch go into two INSERTs, the later
// one winning, as two fetches would.
func TestStreamedOneVersionPerInsert(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 40
	e.publishMany(0, n)
	newer := sampleRowsOf(7, 1000)
	newer.SourceVersion += 10
	newer.TransformedAt = newer.TransformedAt.Add(time.Hour)
	newer.Metrics = newer.Metrics[:1]
	e.publishRows(newer)
	sink := &streamed{Client: e.ch}
	l := startLoader(t, e, loadercfg.Config{BatchRows: 10 * sampleRows, BatchAge: 100 * time.Millisecond}, sink)
	waitFor(t, "all loaded", 60*time.Second, func() bool { return l.Loaded() >= n+1 && e.pending() == 0 })
	if c := sink.commits.Load(); c < 2 {
		t.Errorf("%d INSERTs, want the second version in an INSERT of its own", c)
	}
	if got := e.count("SELECT count() FROM DB.issue_metrics_view WHERE issue_id = '" + newer.IssueID + "'"); got != 1 {
		t.Errorf("the newer version's issue shows %d metric rows, want its 1", got)
	}
}

// failover makes failures quick to get over: a short backoff, and a
// message dead-lettered at its second delivery.
func failover(cfg loadercfg.Config) loadercfg.Config {
	cfg.MaxDeliveries = 2
	cfg.Backoff = loadercfg.Backoff{BaseDelay: 10 * time.Millisecond, ExpoFactor: 2, MaxTries: 3}
	return cfg
}

// startLoader runs a loader into sink until the test ends.
func startLoader(t *testing.T, e *env, cfg loadercfg.Config, sink Sink) *Loader {
	t.Helper()
	l, err := New(Config{Config: cfg}, Deps{JS: e.js, Sink: sink, IsPermanent: clickhouse.IsPermanent})
	if err != nil {
		t.Fatal(err)
	}
	runLoader(t, l)
	return l
}

// spanCfg makes fetches of 300 messages (minFetch) and INSERTs of up to
// streamBatches × 3 000 rows, about 7 400 messages of 13 rows: with a
// backlog an INSERT spans every fetch of these tests.
var spanCfg = loadercfg.Config{BatchRows: 3000, BatchAge: 5 * time.Second}

// With a backlog, an INSERT stays open across fetches: far fewer INSERTs
// than fetches, every issue loaded once, the views whole.
func TestStreamedInsertSpansFetches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 3600
	e.publishMany(0, n)
	sink := &streamed{Client: e.ch}
	l := startLoader(t, e, spanCfg, sink)
	waitFor(t, "all loaded", 120*time.Second, func() bool { return l.Loaded() >= n && e.pending() == 0 })
	e.checkViews(n)
	fetches := n / l.fetchMax()
	t.Logf("%d messages in %d fetches of %d, %d INSERTs", n, fetches, l.fetchMax(), sink.commits.Load())
	if c := sink.commits.Load(); c > int64(fetches)/3 {
		t.Errorf("%d INSERTs for %d full fetches: want an INSERT to span several fetches", c, fetches)
	}
	if l.Loaded() != n {
		t.Errorf("%d messages acknowledged, want %d", l.Loaded(), n)
	}
}

// When an INSERT that spans fetches fails at its end, the messages of
// the earlier fetches go back to the stream and come again: nothing is
// lost or dead-lettered.
func TestStreamedSpanFailsOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 3000
	e.publishMany(0, n)
	sink := &streamed{Client: e.ch}
	sink.failCommits.Store(1)
	l := startLoader(t, e, failover(spanCfg), sink)
	waitFor(t, "all loaded", 120*time.Second, func() bool { return l.Loaded() >= n && e.pending() == 0 })
	if l.Dead() != 0 {
		t.Errorf("%d dead letters, want none", l.Dead())
	}
	if sink.failCommits.Load() >= 0 {
		t.Fatalf("the failing commit did not happen")
	}
	// The failed INSERT's fetch in hand loads again at once, batch by
	// batch (not through an INSERT that spans); its earlier fetches come
	// again to INSERTs.
	again := sink.added.Load() - n
	t.Logf("%d messages added to INSERTs again", again)
	if again < int64(l.fetchMax()) {
		t.Errorf("%d messages added again: want the failed INSERT's earlier fetches (%d or more) handed back and loaded", again, l.fetchMax())
	}
	e.checkViews(n)
}

// A loader stopped with an INSERT open across fetches ends it and
// acknowledges its messages; another loader loads the rest.
func TestStreamedSpanEndsAtStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 3000
	e.publishMany(0, n)
	l, err := New(Config{Config: spanCfg}, Deps{JS: e.js, Sink: &streamed{Client: e.ch}, IsPermanent: clickhouse.IsPermanent})
	if err != nil {
		t.Fatal(err)
	}
	stop := runLoader(t, l)
	waitFor(t, "an INSERT open across fetches", 60*time.Second, func() bool { return l.stream.held.Len() > 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	loaded := l.Loaded()
	if l.stream.held.Len() != 0 {
		t.Errorf("%d messages still held after the loader stopped", l.stream.held.Len())
	}
	if got := e.count("SELECT count() FROM DB.issues_view"); got != uint64(loaded) {
		t.Errorf("after the stop %d issues are in the view, %d messages acknowledged: want equal", got, loaded)
	}
	// Messages a fetch brought as the loader stopped stay unacknowledged
	// until their ack wait ends: pending may count them too.
	if p := e.pending(); p+uint64(loaded) < n {
		t.Errorf("after the stop %d pending + %d acknowledged, want at least %d", p, loaded, n)
	}
	l2 := startLoader(t, e, spanCfg, &streamed{Client: e.ch})
	waitFor(t, "all loaded", 120*time.Second, func() bool { return loaded+l2.Loaded() >= n && e.pending() == 0 })
	e.checkViews(n)
}
