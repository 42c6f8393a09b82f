// Package loader batches transformed rows from JetStream into ClickHouse,
// acknowledging messages only after ClickHouse accepted their batch. Any
// number of loaders share one durable consumer.
package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Sink stores rows. InsertRows must be all-or-nothing per call as far as
// the caller can tell: on error the whole batch is retried.
type Sink interface {
	InsertRows(ctx context.Context, rows []*wire.IssueRows) error
}

// Config configures the loader.
type Config struct {
	// BatchRows is the largest number of messages (issues) per insert.
	BatchRows int
	// BatchAge is how long a batch may wait to fill.
	BatchAge time.Duration
	// MaxDeliveries bounds deliveries of a message that cannot be loaded
	// before it is dead-lettered.
	MaxDeliveries int
	// Backoff for transient insert failures (the old EXPORTER_CLICKHOUSE__BACKOFF_*).
	BackoffBase   time.Duration
	BackoffFactor float64
	BackoffTries  int
	BackoffJitter bool
	AckWait       time.Duration
}

// Deps are the loader's collaborators.
type Deps struct {
	JS   jetstream.JetStream
	Sink Sink
	// IsPermanent tells errors that retrying cannot fix (bad data, schema
	// mismatch) from transient ones.
	IsPermanent func(error) bool
	Log         *slog.Logger
	Metrics     *telemetry.Metrics
	// Database is used in metric tags.
	Database string
}

// Loader is the load stage.
type Loader struct {
	cfg  Config
	deps Deps

	loaded, dead atomic.Int64
}

// New validates the configuration; it does no I/O.
func New(cfg Config, deps Deps) (*Loader, error) {
	var errs []error
	if deps.JS == nil {
		errs = append(errs, errors.New("loader: no JetStream"))
	}
	if deps.Sink == nil {
		errs = append(errs, errors.New("loader: no sink"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = 500
	}
	if cfg.BatchAge <= 0 {
		cfg.BatchAge = time.Second
	}
	if cfg.MaxDeliveries <= 0 {
		cfg.MaxDeliveries = 5
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 500 * time.Millisecond
	}
	if cfg.BackoffFactor < 1 {
		cfg.BackoffFactor = 2.5
	}
	if cfg.BackoffTries <= 0 {
		cfg.BackoffTries = 3
	}
	if deps.IsPermanent == nil {
		deps.IsPermanent = func(error) bool { return false }
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	return &Loader{cfg: cfg, deps: deps}, nil
}

// Loaded is the number of messages (issues) loaded so far.
func (l *Loader) Loaded() int64 { return l.loaded.Load() }

// Dead is the number of messages dead-lettered so far.
func (l *Loader) Dead() int64 { return l.dead.Load() }

// Run consumes the rows stream until ctx ends; nil on a clean shutdown.
func (l *Loader) Run(ctx context.Context) error {
	cons, err := l.deps.JS.CreateOrUpdateConsumer(ctx, wire.RowsStream,
		stream.ConsumerConfig(stream.LoaderConsumer, l.cfg.MaxDeliveries+1, l.cfg.AckWait))
	if err != nil {
		return fmt.Errorf("loader consumer: %w", err)
	}
	return stream.FetchLoop(ctx, cons, stream.Batching{Max: l.cfg.BatchRows, MaxAge: l.cfg.BatchAge, Linger: 200 * time.Millisecond}, l.handleBatch)
}

type item struct {
	msg  jetstream.Msg
	rows *wire.IssueRows
}

func (l *Loader) handleBatch(ctx context.Context, msgs []jetstream.Msg) {
	items := make([]item, 0, len(msgs))
	for _, m := range msgs {
		if s := m.Headers().Get(wire.SchemaHeader); s != "" && s != strconv.Itoa(wire.RowsSchema) {
			l.deadLetter(ctx, m, fmt.Errorf("unknown rows schema %q", s))
			continue
		}
		var r wire.IssueRows
		if err := wire.Unmarshal(m.Data(), m.Headers().Get(wire.EncodingHeader), &r); err != nil {
			l.deadLetter(ctx, m, fmt.Errorf("decode rows: %w", err))
			continue
		}
		items = append(items, item{m, &r})
	}
	if len(items) == 0 {
		return
	}
	err := l.insert(ctx, items)
	switch {
	case err == nil:
		l.ackAll(items)
	case l.deps.IsPermanent(err):
		// Find the bad messages: load one at a time.
		l.deps.Log.Warn("batch rejected, isolating bad messages", "messages", len(items), "err", err)
		for _, it := range items {
			one := []item{it}
			if err := l.insert(ctx, one); err == nil {
				l.ackAll(one)
			} else if l.deps.IsPermanent(err) && stream.Deliveries(it.msg) >= uint64(l.cfg.MaxDeliveries) {
				l.deadLetter(ctx, it.msg, err)
			} else {
				_ = it.msg.NakWithDelay(time.Second)
			}
		}
	default:
		// Still failing after the backoff: hand the messages back, un-acked.
		l.deps.Log.Error("insert failed, messages returned to the stream", "messages", len(items), "err", err)
		for _, it := range items {
			_ = it.msg.NakWithDelay(l.cfg.BackoffBase * 4)
		}
	}
}

// insert sends one batch, retrying transient failures with backoff.
func (l *Loader) insert(ctx context.Context, items []item) error {
	rows := make([]*wire.IssueRows, len(items))
	for i, it := range items {
		rows[i] = it.rows
	}
	delay := l.cfg.BackoffBase
	var err error
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err = l.deps.Sink.InsertRows(ctx, rows)
		if err == nil {
			l.deps.Metrics.Timing("clickhouse_insert_time_seconds", time.Since(start), "database:"+l.deps.Database)
			return nil
		}
		if l.deps.IsPermanent(err) || attempt >= l.cfg.BackoffTries || ctx.Err() != nil {
			return err
		}
		d := delay
		if l.cfg.BackoffJitter {
			d = d/2 + rand.N(d/2+1)
		}
		l.deps.Log.Warn("insert failed, retrying", "attempt", attempt, "in", d, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
		delay = time.Duration(float64(delay) * l.cfg.BackoffFactor)
	}
}

func (l *Loader) ackAll(items []item) {
	var tables [4]int64
	for _, it := range items {
		if err := it.msg.Ack(); err != nil {
			l.deps.Log.Warn("ack failed (the batch may load again; dedup absorbs it)", "err", err)
		}
		tables[0]++
		tables[1] += int64(len(it.rows.Metrics))
		tables[2] += int64(len(it.rows.Intervals))
		tables[3] += int64(len(it.rows.Changelog))
	}
	l.loaded.Add(int64(len(items)))
	for i, t := range []string{"issues", "issue_metrics", "issue_status_intervals", "issues_changelog"} {
		l.deps.Metrics.Count("clickhouse_inserted_rows", tables[i], "database:"+l.deps.Database, "table:"+t)
	}
}

func (l *Loader) deadLetter(ctx context.Context, m jetstream.Msg, reason error) {
	l.dead.Add(1)
	l.deps.Metrics.Count("load_dead_letter_count", 1)
	l.deps.Log.Error("rows dead-lettered", "subject", m.Subject(), "err", reason)
	if err := stream.DeadLetter(ctx, l.deps.JS, "loader", m, reason); err != nil {
		l.deps.Log.Error("dead-letter failed", "err", err)
	}
}

// PrintSink writes rows as JSON lines instead of loading them (the old
// EXPORTER_CLICKHOUSE__ENABLE_UPLOAD=false). Safe for concurrent use.
type PrintSink struct {
	mu sync.Mutex
	W  io.Writer
}

// InsertRows prints every row with its table name.
func (p *PrintSink) InsertRows(_ context.Context, rows []*wire.IssueRows) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	enc := json.NewEncoder(p.W)
	for _, r := range rows {
		if err := enc.Encode(map[string]any{"table": "issues", "row": r.Issue}); err != nil {
			return err
		}
		for _, m := range r.Metrics {
			_ = enc.Encode(map[string]any{"table": "issue_metrics", "row": m})
		}
		for _, v := range r.Intervals {
			_ = enc.Encode(map[string]any{"table": "issue_status_intervals", "row": v})
		}
		for _, c := range r.Changelog {
			_ = enc.Encode(map[string]any{"table": "issues_changelog", "row": c})
		}
	}
	return nil
}
