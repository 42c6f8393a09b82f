package loader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/loadercfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream/streamtest"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Rows per sample message besides the issue row.
const (
	sampleMetrics   = 3
	sampleIntervals = 4
	sampleChangelog = 5
	sampleRows      = 1 + sampleMetrics + sampleIntervals + sampleChangelog
)

var t0 = time.Date(2024, 3, 4, 7, 0, 0, 0, time.UTC)

// sampleRowsOf builds the rows of issue i at a version.
func sampleRowsOf(i int, version uint64) *wire.IssueRows {
	id := fmt.Sprintf("id%05d", i)
	key := fmt.Sprintf("LOAD-%d", i)
	r := &wire.IssueRows{
		IssueID: id, IssueKey: key, SourceVersion: version, TransformedAt: t0.Add(time.Hour), Generation: "g1",
		Issue: wire.IssueRow{
			IssueID: id, IssueKey: key, Queue: "LOAD", Title: "issue " + key + " " + strings.Repeat("x", i%50),
			Status: "closed", StatusKey: "closed", StatusType: "done", CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(version) * time.Millisecond),
			Tags: []string{"a", "b"},
		},
	}
	for s := range sampleMetrics {
		r.Metrics = append(r.Metrics, wire.MetricRow{IssueKey: key, StatusKey: fmt.Sprint("s", s), StatusName: fmt.Sprint("s", s), Duration: int64(i * s)})
	}
	for v := range sampleIntervals {
		r.Intervals = append(r.Intervals, wire.IntervalRow{IssueKey: key, Queue: "LOAD", StatusKey: "s0", VisitNumber: uint32(v + 1),
			EnteredAt: t0.Add(time.Duration(v) * time.Hour), LeftAt: t0.Add(time.Duration(v+1) * time.Hour)})
	}
	for c := range sampleChangelog {
		r.Changelog = append(r.Changelog, wire.ChangelogRow{IssueKey: key, Queue: "LOAD", EntryID: fmt.Sprint("e", c), EventTime: t0,
			ChangedField: "status", ChangedTo: strings.Repeat("v", 10*c)})
	}
	return r
}

// env is one test world: an in-process NATS server and a fresh, migrated
// ClickHouse database.
type env struct {
	t   testing.TB
	js  jetstream.JetStream
	ch  *clickhouse.Client
	cfg clickhouse.Config
}

func newEnv(t testing.TB) *env {
	t.Helper()
	addr := testenv.Require(t, "TEST_CLICKHOUSE_ADDR")
	srv, _ := streamtest.Start(t)
	conn, err := stream.ConnectInProcess(srv, "loader-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg := clickhouse.Default()
	cfg.Host, cfg.Port, cfg.Proto = addr, 9000, clickhouse.ProtoNative
	cfg.Database = "loader_" + hex.EncodeToString(b[:])
	cfg.DialTimeout = 2 * time.Second
	cfg.ReadTimeout = 60 * time.Second
	ctx := context.Background()
	ch, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("clickhouse: %v", err)
	}
	t.Cleanup(func() {
		_ = ch.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+cfg.Database+"`")
		_ = ch.Close()
	})
	if _, err := ch.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return &env{t: t, js: conn.JS, ch: ch, cfg: cfg}
}

// publish stores a rows message with the given payload and schema header
// (none when empty).
func (e *env) publish(subject string, data []byte, schema string) {
	e.t.Helper()
	m := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	if schema != "" {
		m.Header.Set(wire.SchemaHeader, schema)
	}
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		e.t.Fatalf("publish: %v", err)
	}
}

// publishRows publishes rows as the transformer does (msgpack, zstd when
// large).
func (e *env) publishRows(r *wire.IssueRows) {
	e.t.Helper()
	data, enc, err := wire.Marshal(r)
	if err != nil {
		e.t.Fatal(err)
	}
	m := &nats.Msg{Subject: wire.RowsSubject(r.IssueID), Data: data, Header: nats.Header{}}
	m.Header.Set(wire.SchemaHeader, strconv.Itoa(wire.RowsSchema))
	if enc != "" {
		m.Header.Set(wire.EncodingHeader, enc)
	}
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		e.t.Fatalf("publish: %v", err)
	}
}

// publishMany publishes issues [from, to) asynchronously, which is much
// faster than one by one.
func (e *env) publishMany(from, to int) {
	e.t.Helper()
	var futures []jetstream.PubAckFuture
	for i := from; i < to; i++ {
		data, enc, err := wire.Marshal(sampleRowsOf(i, 1000))
		if err != nil {
			e.t.Fatal(err)
		}
		m := &nats.Msg{Subject: wire.RowsSubject(fmt.Sprintf("id%05d", i)), Data: data, Header: nats.Header{}}
		m.Header.Set(wire.SchemaHeader, strconv.Itoa(wire.RowsSchema))
		if enc != "" {
			m.Header.Set(wire.EncodingHeader, enc)
		}
		f, err := e.js.PublishMsgAsync(m)
		if err != nil {
			e.t.Fatal(err)
		}
		futures = append(futures, f)
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		e.t.Fatal("async publish did not complete")
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			e.t.Fatalf("publish: %v", err)
		}
	}
}

func (e *env) count(q string) uint64 {
	e.t.Helper()
	var n uint64
	q = strings.ReplaceAll(q, "DB.", "`"+e.cfg.Database+"`.")
	if err := e.ch.Conn().QueryRow(context.Background(), q).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// checkViews checks that the views hold issues [0, n) exactly once.
func (e *env) checkViews(n int) {
	e.t.Helper()
	for _, c := range []struct {
		view string
		per  int
		key  string
	}{
		{"issues_view", 1, "issue_id"},
		{"issue_metrics_view", sampleMetrics, "(issue_id, status_key)"},
		{"issue_status_intervals_view", sampleIntervals, "(issue_id, status_key, visit_number)"},
		{"issues_changelog_view", sampleChangelog, "(issue_id, entry_id, field_index)"},
	} {
		total := e.count("SELECT count() FROM DB." + c.view)
		distinct := e.count("SELECT uniqExact(" + c.key + ") FROM DB." + c.view)
		if total != uint64(n*c.per) || distinct != total {
			e.t.Errorf("%s: %d rows, %d distinct keys; want %d, each once", c.view, total, distinct, n*c.per)
		}
	}
}

// pending is what the loader consumer still has to do.
func (e *env) pending() uint64 {
	n, err := stream.Pending(context.Background(), e.js, wire.RowsStream, stream.LoaderConsumer)
	if err != nil {
		return 1 << 62
	}
	return n
}

// runLoader runs l until the test ends (or stop is called) and reports
// Run's error.
func runLoader(t testing.TB, l *Loader) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("loader did not stop within 30s")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recordingSink inserts into ClickHouse and records the size of every
// successful insert.
type recordingSink struct {
	ch    *clickhouse.Client
	mu    sync.Mutex
	calls [][2]int // rows, bytes
}

func (s *recordingSink) InsertRows(ctx context.Context, rows []*wire.IssueRows) error {
	if err := s.ch.InsertRows(ctx, rows); err != nil {
		return err
	}
	var nrows, nbytes int
	for _, r := range rows {
		data, _, _ := wire.Marshal(r) // the message as published
		nbytes += len(data)
		nrows += 1 + len(r.Metrics) + len(r.Intervals) + len(r.Changelog)
	}
	s.mu.Lock()
	s.calls = append(s.calls, [2]int{nrows, nbytes})
	s.mu.Unlock()
	return nil
}

// TestBatchBounds: a fetched batch is inserted in parts of at most
// BatchRows rows and BatchBytes bytes.
func TestBatchBounds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 120
	e.publishMany(0, n)
	msg, _, err := wire.Marshal(sampleRowsOf(0, 1000))
	if err != nil {
		t.Fatal(err)
	}
	msgSize := len(msg)
	tests := []struct {
		name              string
		batchRows, bytes  int
		wantMinInserts    int
		checkRows, checkB bool
	}{
		{"rows", 10 * sampleRows, 0, n / 10, true, false},
		{"bytes", 1 << 20, 10*msgSize + msgSize/2, n / 10, false, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if i > 0 {
				// Load the same messages again (a replay): republish.
				e.publishMany(0, n)
			}
			sink := &recordingSink{ch: e.ch}
			l, err := New(Config{Config: loadercfg.Config{BatchRows: tt.batchRows, BatchBytes: tt.bytes, BatchAge: 300 * time.Millisecond}},
				Deps{JS: e.js, Sink: sink, IsPermanent: clickhouse.IsPermanent})
			if err != nil {
				t.Fatal(err)
			}
			stop := runLoader(t, l)
			waitFor(t, "all loaded", 30*time.Second, func() bool { return l.Loaded() >= n && e.pending() == 0 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			for _, c := range sink.calls {
				if tt.checkRows && c[0] > tt.batchRows {
					t.Errorf("insert of %d rows, over BatchRows %d", c[0], tt.batchRows)
				}
				if tt.checkB && c[1] > tt.bytes {
					t.Errorf("insert of %d bytes, over BatchBytes %d", c[1], tt.bytes)
				}
			}
			if len(sink.calls) < tt.wantMinInserts {
				t.Errorf("%d inserts, want at least %d", len(sink.calls), tt.wantMinInserts)
			}
			t.Logf("%s: %d messages in %d inserts", tt.name, l.Loaded(), len(sink.calls))
			e.checkViews(n)
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestDeadLetters: messages that can never load go to the dead-letter
// subject with the reason, exactly once each, while the good ones around
// them load.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	for _, streams := range []bool{false, true} {
		t.Run(fmt.Sprint("streamed=", streams), func(t *testing.T) {
			t.Parallel()
			testDeadLetters(t, streams)
		})
	}
}

// testDeadLetters: through the streamed sink, a rejected message fails
// the INSERT of its fetch, whose batches then load one by one.
func testDeadLetters(t *testing.T, streams bool) {
	e := newEnv(t)
	var sink Sink = e.ch
	if streams {
		sink = &streamed{Client: e.ch}
	}
	ctx := context.Background()
	// An old loader declared the consumer with bounded deliveries; the new
	// one must lift the bound (transient failures must never exhaust it).
	if _, err := e.js.CreateOrUpdateConsumer(ctx, wire.RowsStream, stream.ConsumerConfig(stream.LoaderConsumer, 6, time.Minute)); err != nil {
		t.Fatal(err)
	}
	const good = 60
	noID := sampleRowsOf(9001, 1000)
	noID.IssueID = ""
	foreign := sampleRowsOf(9002, 1000)
	foreign.Metrics[1].IssueID = "id-of-another-issue"
	bad := map[string]string{ // subject suffix → expected reason
		"schema":   `unknown rows schema "99"`,
		"garbage":  "decode rows",
		"encoding": `unknown encoding "br"`,
		"noid":     "has no issue id",
		"foreign":  `has issue id "id-of-another-issue"`,
	}
	for i := range good {
		r := sampleRowsOf(i, 1000)
		if i%10 == 5 {
			// Large: published zstd-compressed, as the transformer does.
			r.Issue.Raw = strings.Repeat(`{"description":"long text `+strconv.Itoa(i)+`"}`, 2000)
		}
		e.publishRows(r)
		switch i {
		case 5:
			m := &nats.Msg{Subject: wire.RowsSubject("encoding"), Data: must(msgpack.Marshal(sampleRowsOf(9003, 1000))), Header: nats.Header{}}
			m.Header.Set(wire.SchemaHeader, "1")
			m.Header.Set(wire.EncodingHeader, "br")
			if _, err := e.js.PublishMsg(ctx, m); err != nil {
				t.Fatal(err)
			}
		case 10:
			e.publish(wire.RowsSubject("schema"), must(msgpack.Marshal(sampleRowsOf(9000, 1000))), "99")
		case 20:
			e.publish(wire.RowsSubject("garbage"), []byte("\xc1 not msgpack"), "1")
		case 30:
			e.publish(wire.RowsSubject("noid"), must(msgpack.Marshal(noID)), "1")
		case 40:
			e.publish(wire.RowsSubject("foreign"), must(msgpack.Marshal(foreign)), "1")
		}
	}
	const maxDeliveries = 3
	l, err := New(Config{Config: loadercfg.Config{BatchRows: 1000, BatchAge: 100 * time.Millisecond, MaxDeliveries: maxDeliveries,
		Backoff: loadercfg.Backoff{BaseDelay: 20 * time.Millisecond, ExpoFactor: 2, MaxTries: 2}}},
		Deps{JS: e.js, Sink: sink, IsPermanent: clickhouse.IsPermanent})
	if err != nil {
		t.Fatal(err)
	}
	stop := runLoader(t, l)
	waitFor(t, "good loaded, bad dead-lettered", 30*time.Second, func() bool {
		return l.Loaded() == good && l.Dead() == int64(len(bad)) && e.pending() == 0
	})
	info, err := e.js.Consumer(ctx, wire.RowsStream, stream.LoaderConsumer)
	if err != nil {
		t.Fatal(err)
	}
	if md := info.CachedInfo().Config.MaxDeliver; md != -1 {
		t.Errorf("consumer MaxDeliver = %d, want -1 (unbounded)", md)
	}
	e.checkViews(good)
	if n := e.count("SELECT count() FROM DB.issues_view WHERE length(raw) > 50000"); n != good/10 {
		t.Errorf("%d large (compressed) issues loaded whole, want %d", n, good/10)
	}
	// Nothing more arrives in the dead-letter stream afterwards: every
	// message is acknowledged or terminated (nothing pending, so nothing
	// to redeliver), and the loader, stopped, has finished its work.
	if err := stop(); err != nil {
		t.Fatalf("loader: %v", err)
	}
	dlq, err := e.js.Stream(ctx, wire.DeadStream)
	if err != nil {
		t.Fatal(err)
	}
	si, err := dlq.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if si.State.Msgs != uint64(len(bad)) {
		t.Errorf("dead-letter stream has %d messages, want %d", si.State.Msgs, len(bad))
	}
	seen := map[string]int{}
	for seq := si.State.FirstSeq; seq <= si.State.LastSeq; seq++ {
		m, err := dlq.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("dead letter %d: %v", seq, err)
		}
		orig := m.Header.Get("Tracker-Original-Subject")
		if m.Subject != wire.DeadSubject("loader", orig) {
			t.Errorf("dead letter on %s, want %s", m.Subject, wire.DeadSubject("loader", orig))
		}
		which := strings.TrimPrefix(orig, wire.RowsSubject(""))
		seen[which]++
		reason := m.Header.Get(wire.ErrorHeader)
		if want, ok := bad[which]; !ok || !strings.Contains(reason, want) {
			t.Errorf("dead letter from %s: reason %q, want it to contain %q", orig, reason, want)
		}
		// Sink rejections are retried up to MaxDeliveries first; decode
		// errors cannot change and go at once.
		if (which == "noid" || which == "foreign") && !strings.Contains(reason, fmt.Sprintf("after %d deliveries", maxDeliveries)) {
			t.Errorf("dead letter from %s: reason %q, want it dead-lettered after %d deliveries", orig, reason, maxDeliveries)
		}
	}
	for which := range bad {
		if seen[which] != 1 {
			t.Errorf("%s dead-lettered %d times, want exactly once", which, seen[which])
		}
	}
}

// flakySink fails the first failures inserts with a retryable error
// (ClickHouse unreachable), then inserts into ClickHouse.
type flakySink struct {
	ch       *clickhouse.Client
	failures atomic.Int64
	calls    atomic.Int64
}

func (s *flakySink) InsertRows(ctx context.Context, rows []*wire.IssueRows) error {
	s.calls.Add(1)
	if s.failures.Add(-1) >= 0 {
		return &clickhouse.Error{Op: "insert", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}
	}
	return s.ch.InsertRows(ctx, rows)
}

// TestTransientFailuresNeverDeadLetter: an outage longer than
// MaxDeliveries deliveries loses and dead-letters nothing.
func TestTransientFailuresNeverDeadLetter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 40
	e.publishMany(0, n)
	sink := &flakySink{ch: e.ch}
	sink.failures.Store(6) // 2 tries per delivery: 3 deliveries > MaxDeliveries
	l, err := New(Config{Config: loadercfg.Config{BatchRows: 10000, BatchAge: 50 * time.Millisecond, MaxDeliveries: 2,
		Backoff: loadercfg.Backoff{BaseDelay: 10 * time.Millisecond, ExpoFactor: 1.5, MaxTries: 2}}, RedeliveryDelayMax: 100 * time.Millisecond},
		Deps{JS: e.js, Sink: sink, IsPermanent: clickhouse.IsPermanent})
	if err != nil {
		t.Fatal(err)
	}
	runLoader(t, l)
	waitFor(t, "all loaded", 30*time.Second, func() bool { return l.Loaded() == n && e.pending() == 0 })
	if l.Dead() != 0 {
		t.Errorf("%d dead-lettered, want 0", l.Dead())
	}
	if c := sink.calls.Load(); c < 7 {
		t.Errorf("%d insert calls, want at least 7 (6 failures then success)", c)
	}
	e.checkViews(n)
}

// slowSink delays the first insert beyond the ack wait.
type slowSink struct {
	ch    *clickhouse.Client
	first atomic.Bool
	delay time.Duration
}

func (s *slowSink) InsertRows(ctx context.Context, rows []*wire.IssueRows) error {
	if s.first.CompareAndSwap(false, true) {
		time.Sleep(s.delay)
	}
	return s.ch.InsertRows(ctx, rows)
}

// TestAckDeadlineExtended: a batch that takes longer than AckWait is not
// redelivered meanwhile (to this or another loader).
func TestAckDeadlineExtended(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 30
	e.publishMany(0, n)
	l, err := New(Config{Config: loadercfg.Config{BatchRows: 10000, BatchAge: 50 * time.Millisecond}, AckWait: time.Second},
		Deps{JS: e.js, Sink: &slowSink{ch: e.ch, delay: 2500 * time.Millisecond}, IsPermanent: clickhouse.IsPermanent})
	if err != nil {
		t.Fatal(err)
	}
	runLoader(t, l)
	waitFor(t, "all loaded", 30*time.Second, func() bool { return l.Loaded() >= n && e.pending() == 0 })
	cons, err := e.js.Consumer(context.Background(), wire.RowsStream, stream.LoaderConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 || l.Loaded() != n {
		t.Errorf("%d redelivered, %d loaded; want 0 and %d: the ack deadline was not extended", info.NumRedelivered, l.Loaded(), n)
	}
	e.checkViews(n)
}

// TestTwoLoaders: two loaders on one durable consumer load 2 000 issues,
// each row exactly once in the views, and both do part of the work.
func TestTwoLoaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 2000
	e.publishMany(0, n)
	var loaders []*Loader
	for range 2 {
		l, err := New(Config{Config: loadercfg.Config{BatchRows: 100 * sampleRows, BatchAge: 100 * time.Millisecond}},
			Deps{JS: e.js, Sink: e.ch, IsPermanent: clickhouse.IsPermanent})
		if err != nil {
			t.Fatal(err)
		}
		loaders = append(loaders, l)
	}
	start := time.Now()
	for _, l := range loaders {
		runLoader(t, l)
	}
	waitFor(t, "all loaded", 60*time.Second, func() bool {
		return loaders[0].Loaded()+loaders[1].Loaded() >= n && e.pending() == 0
	})
	t.Logf("two loaders: %d + %d messages in %s", loaders[0].Loaded(), loaders[1].Loaded(), time.Since(start).Round(time.Millisecond))
	for i, l := range loaders {
		if l.Loaded() == 0 {
			t.Errorf("loader %d did no work", i)
		}
	}
	e.checkViews(n)
}

// statsdListener collects DogStatsD packets on a UDP port.
type statsdListener struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []string
}

func listenStatsd(t *testing.T) *statsdListener {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &statsdListener{conn: c}
	t.Cleanup(func() { _ = c.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.got = append(s.got, strings.Split(string(buf[:n]), "\n")...)
			s.mu.Unlock()
		}
	}()
	return s
}

// lines returns the packets' lines that contain name.
func (s *statsdListener) lines(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.got {
		if strings.Contains(l, name) {
			out = append(out, l)
		}
	}
	return out
}

// countingOptimizer optimizes through the real client and counts calls.
type countingOptimizer struct {
	ch       *clickhouse.Client
	mu       sync.Mutex
	calls    map[string]int
	finished int
}

func (o *countingOptimizer) Optimize(ctx context.Context, table string) error {
	o.mu.Lock()
	o.calls[table]++
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.finished++
		o.mu.Unlock()
	}()
	return o.ch.Optimize(ctx, table)
}

// settled is the number of calls that started and finished, or -1 while
// one is running.
func (o *countingOptimizer) settled() int {
	n := o.total()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.finished != n {
		return -1
	}
	return n
}

func (o *countingOptimizer) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, c := range o.calls {
		n += c
	}
	return n
}

// TestOptimize: OPTIMIZE ... FINAL runs only when AutoDeduplicate is on,
// on the tables that got rows, at most once per OptimizeEvery, and is
// timed as clickhouse_deduplicate_time_seconds per database and table.
func TestOptimize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name      string
		auto      bool
		every     time.Duration
		wantFirst int // OPTIMIZE calls in the first wave
		wantMore  int // in the second
	}{
		{"off", false, time.Millisecond, 0, 0},
		{"throttled", true, time.Hour, 4, 0},
		{"due again", true, 200 * time.Millisecond, 4, 4},
		// (Each wave is one batch: OPTIMIZE runs once per table and wave.)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			udp := listenStatsd(t)
			port := udp.conn.LocalAddr().(*net.UDPAddr).Port
			m, err := telemetry.NewMetrics(telemetry.MetricsConfig{Host: "127.0.0.1", Port: port, Prefix: "tracker_exporter"})
			if err != nil {
				t.Fatal(err)
			}
			opt := &countingOptimizer{ch: e.ch, calls: map[string]int{}}
			l, err := New(Config{Config: loadercfg.Config{BatchRows: 10000, BatchAge: 50 * time.Millisecond, AutoDeduplicate: tt.auto, OptimizeEvery: tt.every}},
				Deps{JS: e.js, Sink: e.ch, Optimizer: opt, IsPermanent: clickhouse.IsPermanent, Metrics: m, Database: e.cfg.Database})
			if err != nil {
				t.Fatal(err)
			}
			stop := runLoader(t, l)
			base := i * 1000
			wave := func(from int) {
				e.publishMany(from, from+10)
				waitFor(t, "wave loaded", 20*time.Second, func() bool { return e.pending() == 0 && l.Loaded() >= int64(from-base+10) })
				// OPTIMIZE runs after the acks: wait until it is over (none
				// running and no new call for 500 ms, past OptimizeEvery of
				// "due again"; one OPTIMIZE may take longer on a busy host).
				last, since := opt.settled(), time.Now()
				waitFor(t, "OPTIMIZE over", 30*time.Second, func() bool {
					if n := opt.settled(); n != last || n < 0 {
						last, since = n, time.Now()
					}
					return time.Since(since) > 500*time.Millisecond
				})
			}
			wave(base)
			first := opt.total()
			if tt.auto {
				wave(base + 10)
			}
			more := opt.total() - first
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			_ = m.Close()
			// throttled: one OPTIMIZE per table, at the first batch;
			// due again: at least one per table and wave.
			exact := tt.every == time.Hour || !tt.auto
			if exact && (first != tt.wantFirst || more != tt.wantMore) || !exact && (first < tt.wantFirst || more < tt.wantMore) {
				t.Errorf("OPTIMIZE %d times in the first wave, %d in the second; want %d and %d (at least, when due again)", first, more, tt.wantFirst, tt.wantMore)
			}
			for table, n := range opt.calls {
				if tt.every == time.Hour && n != 1 {
					t.Errorf("%s optimized %d times within OptimizeEvery", table, n)
				}
			}
			timings := udp.lines("clickhouse_deduplicate_time_seconds:")
			if tt.auto {
				// After the last OPTIMIZE each table is one part.
				// The tables the test's messages fill.
				for _, table := range clickhouse.DefaultTableNames().RowTables()[:4] {
					q := fmt.Sprintf("SELECT count() FROM system.parts WHERE active AND database = '%s' AND table = '%s'", e.cfg.Database, table)
					if tt.every == time.Hour {
						continue // the second wave was not optimized
					}
					if parts := e.count(q); parts != 1 {
						t.Errorf("%s has %d active parts after OPTIMIZE, want 1", table, parts)
					}
				}
				waitFor(t, "timing metrics", 5*time.Second, func() bool {
					return len(udp.lines("clickhouse_deduplicate_time_seconds:")) >= opt.total()
				})
				timings = udp.lines("clickhouse_deduplicate_time_seconds:")
				for _, table := range []string{"issues", "issue_metrics", "issue_status_intervals", "issues_changelog"} {
					found := false
					for _, line := range timings {
						if strings.Contains(line, "|ms") && strings.Contains(line, "database:"+e.cfg.Database) && strings.Contains(line, "table:"+table) {
							found = true
						}
					}
					if !found {
						t.Errorf("no clickhouse_deduplicate_time_seconds timing for table %s in %q (all: %q)", table, timings, udp.lines(""))
					}
				}
			} else if len(timings) > 0 || l.Optimized() != 0 {
				t.Errorf("AutoDeduplicate off, yet OPTIMIZE ran: %q", timings)
			}
			t.Logf("%s: OPTIMIZE %d then %d", tt.name, first, more)
		})
	}
}

func (s *recordingSink) InsertDirectory(ctx context.Context, d *wire.DirectoryRows) error {
	return s.ch.InsertDirectory(ctx, d)
}

func (s *flakySink) InsertDirectory(ctx context.Context, d *wire.DirectoryRows) error {
	return s.ch.InsertDirectory(ctx, d)
}

func (s *slowSink) InsertDirectory(ctx context.Context, d *wire.DirectoryRows) error {
	return s.ch.InsertDirectory(ctx, d)
}

// stuckOptimizer blocks every OPTIMIZE until release closes (or its
// context ends), then fails it: an OPTIMIZE on a replicated table waiting
// for a stopped replica.
type stuckOptimizer struct {
	release      chan struct{}
	calls, ended atomic.Int64
}

func (o *stuckOptimizer) Optimize(ctx context.Context, table string) error {
	o.calls.Add(1)
	defer o.ended.Add(1)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-o.release:
		return errors.New("replica stopped")
	}
}

// TestOptimizeDoesNotHoldUpInserts: while an OPTIMIZE hangs, the next
// messages load at once; its failure is only logged and counted, and the
// shutdown waits for the round.
func TestOptimizeDoesNotHoldUpInserts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	opt := &stuckOptimizer{release: make(chan struct{})}
	l, err := New(Config{Config: loadercfg.Config{BatchRows: 10000, BatchAge: 50 * time.Millisecond, AutoDeduplicate: true, OptimizeEvery: time.Millisecond}},
		Deps{JS: e.js, Sink: e.ch, Optimizer: opt, IsPermanent: clickhouse.IsPermanent, Database: e.cfg.Database})
	if err != nil {
		t.Fatal(err)
	}
	stop := runLoader(t, l)
	e.publishMany(0, 10)
	waitFor(t, "first wave loaded", 20*time.Second, func() bool { return l.Loaded() >= 10 })
	waitFor(t, "an OPTIMIZE under way", 5*time.Second, func() bool { return opt.calls.Load() > 0 })
	start := time.Now()
	e.publishMany(10, 20)
	// A batch age, a fetch and an insert: well under a second when the
	// inserts go on; held up by the OPTIMIZE they would wait for release.
	waitFor(t, "second wave loaded while OPTIMIZE hangs", 10*time.Second, func() bool { return l.Loaded() >= 20 })
	took := time.Since(start)
	if calls, ended := opt.calls.Load(), opt.ended.Load(); calls != 1 || ended != 0 {
		t.Errorf("OPTIMIZE calls %d, ended %d before release; want 1 stuck (one round at a time)", calls, ended)
	}
	if e.pending() != 0 || l.Dead() != 0 {
		t.Errorf("pending %d, dead %d; want 0, 0", e.pending(), l.Dead())
	}
	e.checkViews(20)
	close(opt.release)
	if err := stop(); err != nil {
		t.Fatalf("Run after the OPTIMIZE failed: %v", err)
	}
	if calls, ended := opt.calls.Load(), opt.ended.Load(); calls != ended {
		t.Errorf("Run returned with %d of %d OPTIMIZE still running", calls-ended, calls)
	}
	if l.Optimized() != 0 {
		t.Errorf("Optimized() = %d after failed OPTIMIZEs, want 0", l.Optimized())
	}
	t.Logf("second wave loaded %s after publishing, beside a stuck OPTIMIZE; %d OPTIMIZE calls in all", took.Round(time.Millisecond), opt.calls.Load())
}
