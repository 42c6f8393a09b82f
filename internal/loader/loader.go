// Package loader batches transformed rows from JetStream into ClickHouse,
// acknowledging messages only after ClickHouse accepted their batch. Any
// number of loaders share one durable consumer.
//
// A batch fetched from the stream is inserted in parts bounded by rows and
// bytes (an issue's message is never split); over the native protocol the
// parts go through one INSERT per table, which stays open across fetches
// while a backlog waits (a replay). Transient failures are retried
// with backoff while the messages stay un-acked (their ack deadline is
// extended), then handed back with a growing delay; they are never given
// up. A message that cannot be decoded is dead-lettered at once; one that
// the sink rejects as permanently invalid is isolated from its batch (by
// halving) and dead-lettered once it has been delivered MaxDeliveries
// times. OPTIMIZE ... FINAL runs, when enabled, once the loader is caught
// up, at most once per OptimizeEvery per table, beside the inserts: it
// never holds them up.
package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/loadercfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Sink stores rows. InsertRows must be all-or-nothing per call as far as
// the caller can tell: on error the whole batch is retried, and inserting
// the same rows again must be harmless.
type Sink interface {
	InsertRows(ctx context.Context, rows []*wire.IssueRows) error
	// InsertDirectory stores the boards and sprints directory.
	InsertDirectory(ctx context.Context, d *wire.DirectoryRows) error
}

// Optimizer merges the parts of a table so that duplicates disappear from
// the table itself (OPTIMIZE TABLE ... FINAL).
// StreamSink is a Sink that can load several insert batches in one
// INSERT per table (clickhouse.Insert): the loader then pays ClickHouse's
// cost of an INSERT once per fetch rather than once per batch.
type StreamSink interface {
	Sink
	BeginInsert() InsertStream
	// StreamsBlocks reports whether each batch added is sent at once
	// (memory holds one batch) rather than held until Commit.
	StreamsBlocks() bool
}

// InsertStream is one INSERT per table fed batch by batch; an issue may
// be in one batch of it only.
type InsertStream interface {
	Contains(issueID string) bool
	// Expect tells the INSERT which issues the next Adds will bring, so
	// that it can look up what it needs of them beforehand, in the
	// background.
	Expect(ctx context.Context, issueIDs []string)
	// Holding is about how many bytes of the rows added the client holds
	// in memory until Commit.
	Holding() int
	Add(ctx context.Context, rows []*wire.IssueRows) error
	Commit(ctx context.Context) error
	Abort()
}

type Optimizer interface {
	Optimize(ctx context.Context, table string) error
}

// Config configures the loader: the operator's settings
// (loadercfg.Config, with its defaults and validation) and the knobs that
// only the program and its tests set. Zero values take the defaults noted
// (loadercfg.Default for the settings).
type Config struct {
	loadercfg.Config
	// RedeliveryDelayMax caps the delay before a message whose insert kept
	// failing is delivered again. Default 30 s.
	RedeliveryDelayMax time.Duration
	// AckWait is how long a delivered message may stay unacknowledged
	// before JetStream delivers it again (a loader that died). A loader
	// extends it while it gathers and works on a batch. Default 8 s.
	AckWait time.Duration
	// Tables names the tables, for OPTIMIZE and metric tags. Default
	// wire.DefaultTables.
	Tables wire.Tables
}

// Deps are the loader's collaborators.
type Deps struct {
	JS   jetstream.JetStream
	Sink Sink
	// Optimizer runs OPTIMIZE when Config.AutoDeduplicate is on; nil
	// disables it (printing instead of uploading).
	Optimizer Optimizer
	// IsPermanent tells errors that retrying cannot fix (bad data, schema
	// mismatch) from transient ones. Default: every error is transient.
	IsPermanent func(error) bool
	// AffectsAll tells the permanent errors that any rows would meet (a
	// table or column is missing): the batch is then settled as a whole
	// instead of being halved to find bad messages. Default: none.
	AffectsAll func(error) bool
	Log        *slog.Logger
	Metrics    *telemetry.Metrics
	// Database is used in metric tags.
	Database string
}

// Loader is the load stage. Its methods are safe for concurrent use; Run
// may be called once.
type Loader struct {
	cfg  Config
	deps Deps

	loaded, dead, inserts, optimized atomic.Int64

	optMu sync.Mutex
	opt   map[string]*optState // by table
	// optRunning is set while a round of OPTIMIZE runs (optWG counts it);
	// optAgain asks it for one more round when it ends.
	optRunning, optAgain atomic.Bool
	optWG                sync.WaitGroup

	// stream is the streamer kept across fetches (used by Run's goroutine
	// only).
	stream *streamer
}

// optState is the OPTIMIZE throttle of one table.
type optState struct {
	last  time.Time // last attempt
	dirty bool      // rows loaded since the last successful OPTIMIZE
	// loads counts the acks that put rows in the table: an OPTIMIZE
	// clears dirty only if none came while it ran.
	loads uint64
}

// optimizeTimeout bounds one round of OPTIMIZE, which may finish after a
// shutdown has begun (like the batch in hand).
const optimizeTimeout = 2 * time.Minute

// How many messages are fetched at once (fetchMax): about one insert
// batch's worth, as they wait in memory until their INSERT ends and other
// loaders should get work too. At the default BatchRows that is 312
// messages, one to two batches, loaded in one INSERT per table when the
// sink streams blocks (an INSERT spans fetches while a backlog waits:
// see streamer). Larger fetches hold more memory for no faster load:
// 1 000 messages ~10 MB, and fetches of 1 700 took the loader to 75 MB of
// RSS and to 3.5 times its CPU under the stages' memory limit
// (BenchmarkReplayProcesses). A larger BatchRows (a backfill)
// fetches more, up to maxFetch.
const (
	rowsPerMessage = 32 // about what an issue with a changelog makes
	minFetch       = 300
	maxFetch       = 5000
)

// New fills in the defaults of zero settings and validates the
// configuration; it does no I/O.
func New(cfg Config, deps Deps) (*Loader, error) {
	cfg = cfg.withDefaults()
	if err := errors.Join(cfg.validate(), deps.validate()); err != nil {
		return nil, err
	}
	if deps.IsPermanent == nil {
		deps.IsPermanent = func(error) bool { return false }
	}
	if deps.AffectsAll == nil {
		deps.AffectsAll = func(error) bool { return false }
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	l := &Loader{cfg: cfg, deps: deps, opt: map[string]*optState{}}
	l.stream = newStreamer(l)
	return l, nil
}

func (d Deps) validate() error {
	var errs []error
	if d.JS == nil {
		errs = append(errs, errors.New("loader: no JetStream"))
	}
	if d.Sink == nil {
		errs = append(errs, errors.New("loader: no sink"))
	}
	return errors.Join(errs...)
}

// validate reports every setting out of range (zero means the default).
func (c Config) validate() error {
	errs := []error{c.Config.Validate()}
	for _, v := range []struct {
		name string
		neg  bool
	}{
		{"RedeliveryDelayMax", c.RedeliveryDelayMax < 0}, {"AckWait", c.AckWait < 0},
	} {
		if v.neg {
			errs = append(errs, fmt.Errorf("loader: %s is negative", v.name))
		}
	}
	for _, r := range c.Tables.Refs() {
		if *r.Name == "" {
			errs = append(errs, fmt.Errorf("loader: table %s has no name", r.Field))
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with its zero settings replaced by their
// defaults.
func (c Config) withDefaults() Config {
	c.Config = c.Config.WithDefaults()
	if c.Tables == (wire.Tables{}) {
		c.Tables = wire.DefaultTables()
	}
	if c.RedeliveryDelayMax == 0 {
		c.RedeliveryDelayMax = 30 * time.Second
	}
	if c.AckWait == 0 {
		// Whatever BatchAge is: the messages gathered for a batch and
		// those being loaded are kept by InProgress heartbeats (every
		// third of it), so a loader that died has its messages
		// redelivered within 10 s: the server redelivers some tenths of
		// a second after the ack wait ends (10.5 s with a 10 s wait in
		// BenchmarkRedelivery).
		c.AckWait = 8 * time.Second
	}
	return c
}

// Loaded is the number of messages (issues) loaded so far.
func (l *Loader) Loaded() int64 { return l.loaded.Load() }

// Dead is the number of messages dead-lettered so far.
func (l *Loader) Dead() int64 { return l.dead.Load() }

// Inserts is the number of successful InsertRows calls so far.
func (l *Loader) Inserts() int64 { return l.inserts.Load() }

// Optimized is the number of successful OPTIMIZE statements so far.
func (l *Loader) Optimized() int64 { return l.optimized.Load() }

// fetchMax is the most messages handed over in one batch.
func (l *Loader) fetchMax() int {
	return min(l.cfg.BatchRows, max(l.cfg.BatchRows/rowsPerMessage, minFetch), maxFetch)
}

// Run consumes the rows stream until ctx ends; nil on a clean shutdown (the
// batch in hand, and a round of OPTIMIZE under way, are finished first). It
// returns an error when the consumer cannot be created or disappears.
func (l *Loader) Run(ctx context.Context) error {
	defer l.optWG.Wait()
	// Deliveries are unlimited on the server: transient failures must never
	// exhaust them (a message would be dropped silently); the loader itself
	// dead-letters what can never load.
	cons, err := l.deps.JS.CreateOrUpdateConsumer(ctx, wire.RowsStream,
		stream.ConsumerConfig(stream.LoaderConsumer, -1, l.cfg.AckWait))
	if err != nil {
		return fmt.Errorf("loader consumer: %w", err)
	}
	linger := min(200*time.Millisecond, l.cfg.BatchAge)
	return stream.FetchLoop(ctx, cons, stream.Batching{
		Max: l.fetchMax(), MaxAge: l.cfg.BatchAge, Linger: linger, Heartbeat: l.cfg.AckWait / 3,
		Idle: l.stream.idle,
	}, l.handleBatch)
}

// item is a decoded message and whether it is settled (acked, NAKed,
// terminated).
type item struct {
	msg  jetstream.Msg
	rows *wire.IssueRows
	// dir is set instead of rows for the boards and sprints directory.
	dir   *wire.DirectoryRows
	size  int
	nrows int
	// tables are the tables the message has rows for (kept for the ack
	// once the rows are dropped).
	tables  []string
	settled bool
}

// batch is the messages of one fetch (FetchLoop's heartbeat extends the
// ack deadline of those not settled while the loader works on them).
type batch struct {
	mu    sync.Mutex
	items []*item
}

// settle runs fn on each item not settled yet and marks it settled: an
// item is acked, NAKed or terminated once.
func (b *batch) settle(items []*item, fn func(*item)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, it := range items {
		if !it.settled {
			it.settled = true
			fn(it)
		}
	}
}

func (l *Loader) handleBatch(ctx context.Context, msgs []jetstream.Msg) {
	b := &batch{items: make([]*item, 0, len(msgs))}
	for _, m := range msgs {
		b.items = append(b.items, &item{msg: m, size: len(m.Data())})
	}
	// Messages are decoded as the insert batches fill, and each batch is
	// loaded (or sent into the open INSERT) as soon as it is full: only
	// one batch's rows are held at a time, not the whole fetch's.
	s := l.streamer(b)
	s.expect(b.items)
	c := l.chunker()
	for i, it := range b.items {
		if err := l.decode(it); err != nil {
			l.deadLetter(ctx, b, it, err)
			continue
		}
		if full := c.add(it); full != nil && !s.put(ctx, full, b.items[i:]) {
			return
		}
	}
	if full := c.flush(); len(full) > 0 && !s.put(ctx, full, nil) {
		return
	}
	if s.span(msgs) {
		s.hold()
		return
	}
	if !s.commit(ctx, nil) {
		return
	}
	if len(msgs) < l.fetchMax() {
		l.optimizeAside(ctx)
	}
}

// loadChunk loads one insert batch and drops its decoded rows. If the
// insert still fails after the backoff, the batch and the messages not
// loaded yet (rest) are handed back, un-acked, for a later delivery, and it
// reports false.
func (l *Loader) loadChunk(ctx context.Context, b *batch, chunk, rest []*item) bool {
	err := l.load(ctx, b, chunk)
	for _, it := range chunk {
		it.rows, it.dir = nil, nil
	}
	if err == nil {
		return true
	}
	back := append(chunk[:len(chunk):len(chunk)], rest...)
	// Transient: nothing is lost, so warn; an outage that outlasts
	// MaxDeliveries deliveries is an error (and reaches Sentry).
	level := slog.LevelWarn
	if stream.Deliveries(back[0].msg) >= uint64(l.cfg.MaxDeliveries) {
		level = slog.LevelError
	}
	l.deps.Log.Log(ctx, level, "insert failed, messages returned to the stream", "messages", len(back), "err", err)
	l.nak(b, back)
	return false
}

// decode unpacks a message and notes the tables it has rows for.
func (l *Loader) decode(it *item) error {
	if err := decode(it); err != nil {
		return err
	}
	it.tables = l.tablesOf(it)
	return nil
}

// decode checks the schema and unpacks a message.
func decode(it *item) error {
	if s := it.msg.Headers().Get(wire.SchemaHeader); s != "" && s != strconv.Itoa(wire.RowsSchema) {
		return fmt.Errorf("unknown rows schema %q", s)
	}
	enc := it.msg.Headers().Get(wire.EncodingHeader)
	if it.msg.Subject() == wire.DirectoryRowsSubject {
		var d wire.DirectoryRows
		if err := wire.Unmarshal(it.msg.Data(), enc, &d); err != nil {
			return fmt.Errorf("decode boards and sprints: %w", err)
		}
		it.dir, it.nrows = &d, len(d.Boards)+len(d.Sprints)
		return nil
	}
	var r wire.IssueRows
	// The rows' strings point into the message's data, which the item
	// keeps as long as them.
	if err := wire.UnmarshalView(it.msg.Data(), enc, &r); err != nil {
		return fmt.Errorf("decode rows: %w", err)
	}
	it.rows = &r
	it.nrows = 1 + len(r.Metrics) + len(r.Intervals) + len(r.Changelog) +
		len(r.Comments) + len(r.Worklogs) + len(r.Links) + len(r.Sprints)
	return nil
}

// chunks splits items, in order, into inserts of at most BatchRows rows
// and BatchBytes bytes; an item larger than either bound goes alone, and
// so does a directory.
func (l *Loader) chunks(items []*item) [][]*item {
	c := l.chunker()
	var out [][]*item
	for _, it := range items {
		if full := c.add(it); full != nil {
			out = append(out, full)
		}
	}
	if full := c.flush(); len(full) > 0 {
		out = append(out, full)
	}
	return out
}

// chunker cuts items into insert batches as they come (see chunks).
type chunker struct {
	maxRows, maxBytes int
	cur               []*item
	rows, bytes       int
}

func (l *Loader) chunker() *chunker {
	return &chunker{maxRows: l.cfg.BatchRows, maxBytes: l.cfg.BatchBytes}
}

// add appends it to the batch being filled, first closing that batch if it
// would no longer fit; it returns the batch closed (nil if none).
func (c *chunker) add(it *item) (full []*item) {
	over := c.rows+it.nrows > c.maxRows || (c.maxBytes > 0 && c.bytes+it.size > c.maxBytes)
	// A directory goes alone: it shares no table, nor the fate of a batch
	// that a table's trouble fails as a whole.
	alone := it.dir != nil || len(c.cur) > 0 && c.cur[len(c.cur)-1].dir != nil
	if len(c.cur) > 0 && (over || alone) {
		full = c.flush()
	}
	c.cur = append(c.cur, it)
	c.rows += it.nrows
	c.bytes += it.size
	return full
}

// flush returns the batch being filled and starts a new one.
func (c *chunker) flush() []*item {
	full := c.cur
	c.cur, c.rows, c.bytes = nil, 0, 0
	return full
}

// load inserts items and settles them: acked when inserted; when the sink
// rejects them as permanently invalid, halved until the bad messages are
// alone, which are dead-lettered after MaxDeliveries deliveries or handed
// back. It returns the error of a transient failure that outlasted the
// backoff, leaving the items concerned unsettled.
func (l *Loader) load(ctx context.Context, b *batch, items []*item) error {
	err := l.insert(ctx, items)
	switch {
	case err == nil:
		l.ack(b, items)
		return nil
	case !l.deps.IsPermanent(err):
		return err
	case l.deps.AffectsAll(err):
		// No message is to blame: they share the fate of the first.
		if stream.Deliveries(items[0].msg) < uint64(l.cfg.MaxDeliveries) {
			l.deps.Log.Warn("rows rejected by the table, will retry", "messages", len(items), "delivery", stream.Deliveries(items[0].msg), "err", err)
			l.nak(b, items)
			return nil
		}
		for _, it := range items {
			l.deadLetter(ctx, b, it, fmt.Errorf("after %d deliveries: %w", stream.Deliveries(it.msg), err))
		}
		return nil
	case len(items) > 1:
		l.deps.Log.Warn("insert rejected, isolating the bad messages", "messages", len(items), "err", err)
		half := len(items) / 2
		if err := l.load(ctx, b, items[:half]); err != nil {
			return err
		}
		return l.load(ctx, b, items[half:])
	}
	it := items[0]
	if n := stream.Deliveries(it.msg); n >= uint64(l.cfg.MaxDeliveries) {
		l.deadLetter(ctx, b, it, fmt.Errorf("after %d deliveries: %w", n, err))
	} else {
		l.deps.Log.Warn("rows rejected, will retry", "subject", it.msg.Subject(), "delivery", n, "err", err)
		l.nak(b, items)
	}
	return nil
}

// insert sends one batch, retrying transient failures with backoff.
func (l *Loader) insert(ctx context.Context, items []*item) error {
	rows := make([]*wire.IssueRows, 0, len(items))
	var dirs []*wire.DirectoryRows
	for _, it := range items {
		if it.dir != nil {
			dirs = append(dirs, it.dir)
		} else {
			rows = append(rows, it.rows)
		}
	}
	delay := l.cfg.Backoff.BaseDelay
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := l.sinkInsert(ctx, rows, dirs)
		if err == nil {
			l.inserts.Add(1)
			// One upload of the batch, every table (the old tool timed its
			// upload of each table's rows; the per-table insert times are
			// clickhouse_insert_time_seconds).
			l.deps.Metrics.Timing("upload_to_storage_time_seconds", time.Since(start))
			return nil
		}
		if l.deps.IsPermanent(err) || attempt >= l.cfg.Backoff.MaxTries || ctx.Err() != nil {
			return err
		}
		l.deps.Metrics.Count("clickhouse_insert_retries", 1, "database:"+l.deps.Database)
		d := l.jitter(delay)
		l.deps.Log.Warn("insert failed, retrying", "attempt", attempt, "in", d, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
		delay = time.Duration(float64(delay) * l.cfg.Backoff.ExpoFactor)
	}
}

// sinkInsert stores issue rows and directories; a failure of either
// fails the call (inserting again is harmless).
func (l *Loader) sinkInsert(ctx context.Context, rows []*wire.IssueRows, dirs []*wire.DirectoryRows) error {
	if len(rows) > 0 {
		if err := l.deps.Sink.InsertRows(ctx, rows); err != nil {
			return err
		}
	}
	for _, d := range dirs {
		if err := l.deps.Sink.InsertDirectory(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

func (l *Loader) jitter(d time.Duration) time.Duration {
	if !l.cfg.Backoff.Jitter || d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// redeliveryDelay is the delay before the next delivery of a message that
// was delivered n times: the backoff continued, capped.
func (l *Loader) redeliveryDelay(n uint64) time.Duration {
	d := float64(l.cfg.Backoff.BaseDelay) * math.Pow(l.cfg.Backoff.ExpoFactor, float64(min(n, 60)))
	if d > float64(l.cfg.RedeliveryDelayMax) {
		return l.cfg.RedeliveryDelayMax
	}
	return l.jitter(time.Duration(d))
}

func (l *Loader) ack(b *batch, items []*item) {
	var dirty []string
	n := int64(0)
	b.settle(items, func(it *item) {
		if err := it.msg.Ack(); err != nil {
			l.deps.Log.Warn("ack failed (the rows may load again; dedup absorbs it)", "err", err)
		}
		n++
		dirty = append(dirty, it.tables...)
	})
	l.loadedRows(n, dirty)
}

// loadedRows counts n messages loaded, with rows in tables (one entry per
// message and table).
func (l *Loader) loadedRows(n int64, tables []string) {
	l.loaded.Add(n)
	l.optMu.Lock()
	for _, t := range tables {
		if l.opt[t] == nil {
			l.opt[t] = &optState{}
		}
		l.opt[t].dirty = true
		l.opt[t].loads++
	}
	l.optMu.Unlock()
	if n > 0 {
		// The old tool's freshness gauge: when rows last landed.
		l.deps.Metrics.Gauge("last_update_timestamp", float64(time.Now().Unix()))
	}
}

// tablesOf names the tables an item put rows in.
func (l *Loader) tablesOf(it *item) []string {
	t := &l.cfg.Tables
	var out []string
	add := func(n int, table string) {
		if n > 0 {
			out = append(out, table)
		}
	}
	if d := it.dir; d != nil {
		add(len(d.Boards), t.Boards)
		add(len(d.Sprints), t.Sprints)
		return out
	}
	r := it.rows
	add(1, t.Issues)
	add(len(r.Metrics), t.IssueMetrics)
	add(len(r.Intervals), t.StatusIntervals)
	add(len(r.Changelog), t.IssuesChangelog)
	add(len(r.Comments), t.Comments)
	add(len(r.Worklogs), t.Worklogs)
	add(len(r.Links), t.Links)
	add(len(r.Sprints), t.IssueSprints)
	return out
}

func (l *Loader) nak(b *batch, items []*item) {
	b.settle(items, func(it *item) {
		_ = it.msg.NakWithDelay(l.redeliveryDelay(stream.Deliveries(it.msg)))
	})
}

func (l *Loader) deadLetter(ctx context.Context, b *batch, it *item, reason error) {
	b.settle([]*item{it}, func(it *item) {
		l.dead.Add(1)
		l.deps.Metrics.Count("load_dead_letter_count", 1)
		l.deps.Log.Error("rows dead-lettered", "subject", it.msg.Subject(), "err", reason)
		if err := stream.DeadLetter(ctx, l.deps.JS, "loader", it.msg, reason); err != nil {
			l.deps.Log.Error("dead-letter failed; the message will come again", "err", err)
		}
	})
}

// optimizeAside starts a round of OPTIMIZE (maybeOptimize) in the
// background and returns at once: an OPTIMIZE is an optimisation, and a
// slow or stuck one (a replicated table waiting for a stopped replica)
// must not hold up the inserts. One round runs at a time; a call during a
// round asks for another one after it. The round has a context of its
// own, bounded by optimizeTimeout, that survives the end of ctx's batch.
func (l *Loader) optimizeAside(ctx context.Context) {
	if !l.cfg.AutoDeduplicate || l.deps.Optimizer == nil {
		return
	}
	l.optAgain.Store(true)
	if !l.optRunning.CompareAndSwap(false, true) {
		return
	}
	l.optWG.Add(1)
	go func() {
		defer l.optWG.Done()
		for {
			for l.optAgain.Swap(false) {
				octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), optimizeTimeout)
				l.maybeOptimize(octx)
				cancel()
			}
			l.optRunning.Store(false)
			// A call between the last Swap and the Store found the round
			// running: take its request unless another round took it.
			if !l.optAgain.Load() || !l.optRunning.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// maybeOptimize runs OPTIMIZE TABLE ... FINAL on every table that got rows
// since its last OPTIMIZE and was not optimized (or tried) for
// OptimizeEvery. It runs after a batch that did not fill, that is when the
// loader is caught up, so that a backfill is optimized once, at its end.
// A failed OPTIMIZE is logged and counted, and tried again once due.
func (l *Loader) maybeOptimize(ctx context.Context) {
	for _, table := range l.cfg.Tables.Names() {
		l.optMu.Lock()
		st := l.opt[table]
		due := st != nil && st.dirty && (st.last.IsZero() || time.Since(st.last) >= l.cfg.OptimizeEvery)
		var loads uint64
		if due {
			st.last = time.Now()
			loads = st.loads
		}
		l.optMu.Unlock()
		if !due {
			continue
		}
		start := time.Now()
		err := l.deps.Optimizer.Optimize(ctx, table)
		took := time.Since(start)
		if err != nil {
			l.deps.Log.Warn("optimize failed", "table", table, "took", took.Round(time.Millisecond), "err", err)
			l.deps.Metrics.Count("clickhouse_deduplicate_errors", 1, "database:"+l.deps.Database, "table:"+table)
			continue
		}
		l.optMu.Lock()
		if st.loads == loads {
			st.dirty = false
		}
		l.optMu.Unlock()
		l.optimized.Add(1)
		l.deps.Metrics.Timing("clickhouse_deduplicate_time_seconds", took, "database:"+l.deps.Database, "table:"+table)
		l.deps.Log.Info("table optimized", "table", table, "took", took.Round(time.Millisecond))
	}
}
