// Package transformer consumes raw issue snapshots, computes the rows of
// every table (issue, status metrics, status intervals, changelog) and
// publishes them for the loaders. It also replays the raw stream.
package transformer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Config configures the transformer stage.
type Config struct {
	// Workers transform messages in parallel (default GOMAXPROCS-ish 4).
	Workers int
	// Batch is how many messages are fetched at once.
	Batch int
	// MaxDeliveries is kept for configuration compatibility: a snapshot
	// that cannot be transformed is dead-lettered at once, and one whose
	// rows could not be published (NATS unavailable) is retried for as long
	// as it takes, never dropped.
	MaxDeliveries int
	// AckWait is how long a delivered message may stay unacknowledged.
	AckWait time.Duration
}

// Deps are the transformer's collaborators.
type Deps struct {
	JS      jetstream.JetStream
	Rules   *Rules
	Log     *slog.Logger
	Metrics *telemetry.Metrics
	Now     func() time.Time
}

// Transformer is the transform stage. Safe for one Run at a time.
type Transformer struct {
	cfg  Config
	deps Deps

	processed, failed atomic.Int64
	withoutMetrics    atomic.Int64
	// untyped holds the status keys without a type already logged in
	// this run.
	untyped sync.Map
}

// New validates the configuration; it does no I/O.
func New(cfg Config, deps Deps) (*Transformer, error) {
	var errs []error
	if deps.JS == nil {
		errs = append(errs, errors.New("transformer: no JetStream"))
	}
	if deps.Rules == nil {
		errs = append(errs, errors.New("transformer: no rules"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.MaxDeliveries <= 0 {
		cfg.MaxDeliveries = 5
	}
	if cfg.AckWait <= 0 {
		// Short, so that a transformer that died has its messages
		// redelivered within seconds; the batch in hand is kept alive by
		// heartbeats however long it takes.
		cfg.AckWait = 5 * time.Second
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Transformer{cfg: cfg, deps: deps}, nil
}

// Processed is the number of snapshots turned into rows so far.
func (t *Transformer) Processed() int64 { return t.processed.Load() }

// EndPass closes a run's account: it sends the old tool's
// issues_without_metrics gauge (the issues transformed since the last
// call whose changelog gave no status metrics) and forgets the statuses
// without a type already logged, so that the next run logs each of them
// once again (METRICS.md §2). A run calls it after each pass.
func (t *Transformer) EndPass() {
	t.deps.Metrics.Gauge("issues_without_metrics", float64(t.withoutMetrics.Swap(0)))
	t.untyped.Clear()
}

// Failed is the number of snapshots dead-lettered so far.
func (t *Transformer) Failed() int64 { return t.failed.Load() }

// Run consumes the raw stream through the durable consumer until ctx ends.
// It returns nil on a clean shutdown.
func (t *Transformer) Run(ctx context.Context) error {
	cons, err := t.deps.JS.CreateOrUpdateConsumer(ctx, wire.RawStream,
		stream.ConsumerConfig(stream.TransformerConsumer, -1, t.cfg.AckWait))
	if err != nil {
		return fmt.Errorf("transformer consumer: %w", err)
	}
	return stream.FetchLoop(ctx, cons, stream.Batching{Max: t.cfg.Batch, MaxAge: time.Second, Linger: 20 * time.Millisecond, Heartbeat: t.cfg.AckWait / 3}, t.handleBatch)
}

func (t *Transformer) handleBatch(ctx context.Context, msgs []jetstream.Msg) {
	start := time.Now()
	t.each(len(msgs), func(k int) { t.handle(ctx, msgs[k]) })
	t.deps.Log.Debug("snapshots transformed", "messages", len(msgs), "took", time.Since(start).Round(time.Microsecond))
}

// each runs fn(0..n-1) on the transformer's workers and waits. The
// workers take the next index until none is left: a goroutine per
// message grew a fresh stack for each transform (2 % of a replay).
func (t *Transformer) each(n int, fn func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(t.cfg.Workers, n) {
		wg.Go(func() {
			for k := int(next.Add(1) - 1); k < n; k = int(next.Add(1) - 1) {
				fn(k)
			}
		})
	}
	wg.Wait()
}

// publishTimeout bounds one publish of rows.
const publishTimeout = 5 * time.Second

// permanentError marks a message that can never be processed.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func (t *Transformer) handle(ctx context.Context, m jetstream.Msg) {
	_, err := t.process(ctx, m, t.deps.Now(), false)
	if err == nil {
		if aerr := m.Ack(); aerr != nil {
			t.deps.Log.Warn("ack failed", "subject", m.Subject(), "err", aerr)
		}
		t.processed.Add(1)
		return
	}
	var perm permanentError
	if errors.As(err, &perm) {
		t.failed.Add(1)
		t.deps.Metrics.Count("transform_dead_letter_count", 1)
		t.deps.Log.Error("snapshot dead-lettered", "subject", m.Subject(), "err", err)
		if derr := stream.DeadLetter(ctx, t.deps.JS, "transformer", m, err); derr != nil {
			t.deps.Log.Error("dead-letter failed", "err", derr)
		}
		return
	}
	// Transient (the rows could not be published): back, with a delay
	// growing to 30 s, for as long as it takes.
	t.deps.Log.Warn("snapshot will be retried", "subject", m.Subject(), "err", err)
	_ = m.NakWithDelay(min(time.Second*time.Duration(stream.Deliveries(m)), 30*time.Second))
}

// process transforms one raw snapshot message and publishes its rows.
// With openOnly the rows of an issue in a final status are not published
// (its figures no longer change with time); published reports whether
// rows went out.
func (t *Transformer) process(ctx context.Context, m jetstream.Msg, asOf time.Time, openOnly bool) (published bool, err error) {
	out, err := t.prepare(m, asOf, openOnly)
	if err != nil || out == nil {
		return false, err
	}
	if err := t.send(ctx, out); err != nil {
		return false, err
	}
	return true, nil
}

// outgoing is a rows message ready to publish.
type outgoing struct {
	msg *nats.Msg
	id  string // the message id (deduplication)
	// what names the rows in errors ("rows of KEY").
	what string
}

// prepare transforms one raw snapshot message into its rows message; nil
// when there is nothing to publish (see process). Its errors are all
// permanentError.
func (t *Transformer) prepare(m jetstream.Msg, asOf time.Time, openOnly bool) (out *outgoing, err error) {
	defer func() {
		// A snapshot that makes the transform panic must not crash-loop
		// the stage: it is dead-lettered like any other it cannot handle.
		if r := recover(); r != nil {
			out, err = nil, permanentError{fmt.Errorf("transform panicked: %v", r)}
		}
	}()
	if schema := m.Headers().Get(wire.SchemaHeader); schema != "" && schema != strconv.Itoa(wire.SnapshotSchema) {
		return nil, permanentError{fmt.Errorf("unknown snapshot schema %q", schema)}
	}
	switch subj := m.Subject(); {
	case subj == wire.DirectorySubject:
		return t.prepareDirectory(m)
	case !strings.HasPrefix(subj, wire.RawIssuePrefix):
		// The reconciliation's index (tombstones, its time): no rows.
		return nil, nil
	}
	start := time.Now()
	// The snapshot, and the rows' strings that point into it, are done
	// with once rowsMessage has encoded the rows: the reader's buffer can
	// serve the next message.
	reader := snapshotReaders.Get().(*wire.SnapshotReader)
	defer snapshotReaders.Put(reader)
	var snap wire.IssueSnapshot
	if err := reader.Decode(m.Data(), m.Headers().Get(wire.EncodingHeader), &snap); err != nil {
		return nil, permanentError{fmt.Errorf("decode snapshot: %w", err)}
	}
	res, err := Transform(&snap, t.deps.Rules, asOf)
	if err != nil {
		return nil, permanentError{err}
	}
	if openOnly && res.Rows.Issue.IsClosed {
		return nil, nil
	}
	t.note(&snap, res)
	t.deps.Metrics.Timing("issue_transform_time_seconds", time.Since(start))
	id := wire.RowsMsgID(snap.IssueID, res.Rows.SourceVersion, t.deps.Rules.Generation+":"+strconv.FormatInt(asOf.UnixMilli(), 36))
	return rowsMessage(wire.RowsSubject(snap.IssueID), id, "rows of "+snap.IssueKey, res.Rows)
}

// snapshotReaders keep the buffers snapshots are decompressed into.
var snapshotReaders = sync.Pool{New: func() any { return new(wire.SnapshotReader) }}

// note reports what the transform of one snapshot noticed.
func (t *Transformer) note(snap *wire.IssueSnapshot, res Result) {
	for _, key := range res.UnknownStatuses {
		// A copy: the key points into the snapshot, which the map would keep.
		if _, seen := t.untyped.LoadOrStore(strings.Clone(key), true); !seen {
			// METRICS.md §2: once per run, for each such status.
			t.deps.Log.Warn("status without a type: it is final only if EXPORTER_CLOSED_ISSUE_STATUSES names it, and counts as neither active nor paused time; give it one with EXPORTER_STATUS_TYPES="+key+":<new|inProgress|paused|done|cancelled>",
				"status", key, "issue", snap.IssueKey)
		}
	}
	if res.UnknownUsers > 0 {
		t.deps.Metrics.Count("unknown_users_count", int64(res.UnknownUsers))
	}
	if res.Anomalies > 0 {
		t.deps.Metrics.Count("timeline_anomalies_count", int64(res.Anomalies))
	}
	if len(res.Rows.Metrics) == 0 {
		t.withoutMetrics.Add(1)
	}
}

// prepareDirectory turns the boards and sprints directory into its rows
// message.
func (t *Transformer) prepareDirectory(m jetstream.Msg) (*outgoing, error) {
	var snap wire.DirectorySnapshot
	if err := wire.Unmarshal(m.Data(), m.Headers().Get(wire.EncodingHeader), &snap); err != nil {
		return nil, permanentError{fmt.Errorf("decode directory: %w", err)}
	}
	rows, bad := DirectoryRows(&snap)
	if bad > 0 {
		t.deps.Metrics.Count("timeline_anomalies_count", int64(bad))
	}
	id := "dirrows:" + strconv.FormatUint(rows.SourceVersion, 10)
	return rowsMessage(wire.DirectoryRowsSubject, id, "boards and sprints", rows)
}

// rowsMessage encodes rows as a message of the rows stream.
func rowsMessage(subject, msgID, what string, v any) (*outgoing, error) {
	payload, encoding, err := wire.Marshal(v)
	if err != nil {
		return nil, permanentError{fmt.Errorf("encode %s: %w", what, err)}
	}
	out := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{}}
	out.Header.Set(wire.SchemaHeader, strconv.Itoa(wire.RowsSchema))
	if encoding != "" {
		out.Header.Set(wire.EncodingHeader, encoding)
	}
	return &outgoing{msg: out, id: msgID, what: what}, nil
}

// send publishes one rows message under its own deadline: across a NATS
// restart an ack may never come, and the snapshot is better handed back
// (NAK) and redelivered than waited for under the batch's long deadline.
func (t *Transformer) send(ctx context.Context, out *outgoing) error {
	pctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if _, err := t.deps.JS.PublishMsg(pctx, out.msg, jetstream.WithMsgID(out.id)); err != nil {
		return fmt.Errorf("publish %s: %w", out.what, err)
	}
	return nil
}
