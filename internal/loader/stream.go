package loader

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// streamBatches is how many insert batches (BatchRows rows each) one
// INSERT per table takes at most when the sink streams blocks: the rows
// of each batch are sent as they are added, so memory holds one batch,
// while ClickHouse's per-INSERT cost is paid once for all of them. The
// server squashes an INSERT's blocks into parts of up to a million rows:
// 320 000 rows (the default) is about 100 MB of its memory. A replay of
// 10 000 issues (460 000 rows) costs ClickHouse 18.16 2.6 s of CPU in
// two INSERTs, 3.1-3.9 s in six, 6.3 s in 33.
const streamBatches = 32

// insertTimeout bounds an INSERT from its first batch to its end.
const insertTimeout = 2 * time.Minute

// streamer loads the insert batches of the fetches through as few INSERTs
// as it can (a StreamSink's InsertStream), and acknowledges their messages
// when the INSERTs end. Whatever fails goes again, batch by batch, through
// load: its retries with backoff and its isolation of rejected messages.
//
// While a backlog waits (a replay, a backfill) the INSERT stays open from
// one fetch to the next, up to streamBatches batches, BatchBytes of rows
// held by the client (InsertStream.Holding) or BatchAge: one INSERT per
// fetch made a replay's 33 INSERTs, and the server spent more than twice
// the CPU merging their small parts. The messages of the earlier fetches are then held by
// their ack subjects alone (stream.Held), not their bodies, which would
// hold megabytes; if the INSERT fails they are handed back to the stream
// and come again, to a fetch that loads alone (see span).
type streamer struct {
	l    *Loader
	b    *batch     // the fetch in hand
	sink StreamSink // nil: every batch is its own insert
	// in is the open INSERT (nil: none), items its messages of the fetch
	// in hand, held those of earlier fetches and heldTables the tables
	// these have rows in (for OPTIMIZE).
	in         InsertStream
	items      []*item
	held       *stream.Held
	heldTables []string
	rows       int
	start      time.Time // when in began
	// inCtx is in's context: an INSERT keeps the context it began with,
	// and it may outlive the fetch (and the context) that began it.
	inCtx    context.Context
	inCancel context.CancelFunc
}

// newStreamer returns the loader's streamer: one, kept across fetches, as
// its INSERT may be.
func newStreamer(l *Loader) *streamer {
	s := &streamer{l: l, held: stream.NewHeld(l.deps.JS, l.cfg.AckWait/3)}
	if sink, ok := l.deps.Sink.(StreamSink); ok && sink.StreamsBlocks() {
		s.sink = sink
	}
	return s
}

// streamer returns the loader's streamer set to the fetch b.
func (l *Loader) streamer(b *batch) *streamer {
	l.stream.b = b
	return l.stream
}

// span reports whether the open INSERT should stay open for the next
// fetch: the fetch in hand was full and more messages wait, none of it
// was delivered before (a message that comes again loads with its own
// fetch, where a failure can be isolated), and the INSERT is younger than
// BatchAge.
func (s *streamer) span(msgs []jetstream.Msg) bool {
	if s.in == nil || len(msgs) < s.l.fetchMax() || time.Since(s.start) >= s.l.cfg.BatchAge {
		return false
	}
	for _, m := range msgs {
		if stream.Deliveries(m) > 1 {
			return false
		}
	}
	md, err := msgs[len(msgs)-1].Metadata()
	return err == nil && md.NumPending > 0
}

// expect tells the open INSERT, if any, the issues of items (see
// InsertStream.Expect).
func (s *streamer) expect(items []*item) {
	if s.in == nil {
		return
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		if it.rows != nil {
			ids = append(ids, it.rows.IssueID)
		} else if id, ok := wire.RowsSubjectIssue(it.msg.Subject()); ok && !it.settled {
			ids = append(ids, id)
		}
	}
	s.in.Expect(s.inCtx, ids)
}

// hold keeps the open INSERT's messages of the fetch in hand, by their
// ack subjects, for the next fetch (see streamer).
func (s *streamer) hold() {
	s.b.settle(s.items, func(it *item) {
		s.held.Add(it.msg)
		s.heldTables = append(s.heldTables, it.tables...)
	})
	s.items = nil
}

// idle ends the open INSERT when the stream went quiet or the loader
// stops (FetchLoop's Idle).
func (s *streamer) idle(ctx context.Context) {
	if s.in != nil {
		s.b = &batch{}
		s.commit(ctx, nil)
	}
}

// put loads one insert batch, or adds it to the open INSERT. rest are the
// fetch's messages after it, handed back with it when it cannot load. It
// reports false when the fetch is to stop (its messages were handed back).
func (s *streamer) put(ctx context.Context, chunk, rest []*item) bool {
	if s.sink == nil || chunk[0].dir != nil {
		// A directory loads alone; the open INSERT ends first.
		return s.commit(ctx, append(chunk[:len(chunk):len(chunk)], rest...)) && s.l.loadChunk(ctx, s.b, chunk, rest)
	}
	rows := make([]*wire.IssueRows, len(chunk))
	for i, it := range chunk {
		rows[i] = it.rows
		if s.in != nil && s.in.Contains(it.rows.IssueID) {
			// One version of an issue per INSERT (see InsertStream).
			if !s.commit(ctx, append(chunk[:len(chunk):len(chunk)], rest...)) {
				return false
			}
		}
	}
	if s.in == nil {
		s.in, s.start = s.sink.BeginInsert(), time.Now()
		s.inCtx, s.inCancel = context.WithTimeout(context.WithoutCancel(ctx), insertTimeout)
		s.expect(append(chunk[:len(chunk):len(chunk)], rest...))
	}
	s.items = append(s.items, chunk...)
	if err := s.in.Add(s.inCtx, rows); err != nil {
		return s.fail(ctx, err, rest)
	}
	for _, it := range chunk {
		s.rows += it.nrows
		it.rows = nil // sent: only the message is kept, for its ack
	}
	if s.rows >= streamBatches*s.l.cfg.BatchRows || s.in.Holding() >= s.l.cfg.BatchBytes {
		return s.commit(ctx, rest)
	}
	return true
}

// commit ends the open INSERT and acknowledges its messages (see put for
// rest and the result).
func (s *streamer) commit(ctx context.Context, rest []*item) bool {
	if s.in == nil {
		return true
	}
	err := s.in.Commit(s.inCtx)
	s.inCancel()
	if err != nil {
		return s.fail(ctx, err, rest)
	}
	s.l.inserts.Add(1)
	// One upload, every table, from the first block to the end.
	s.l.deps.Metrics.Timing("upload_to_storage_time_seconds", time.Since(s.start))
	s.l.ack(s.b, s.items)
	n, err := s.held.Ack()
	if err != nil {
		s.l.deps.Log.Warn("ack failed (the rows may load again; dedup absorbs it)", "err", err)
	}
	s.l.loadedRows(int64(n), s.heldTables)
	s.in, s.items, s.heldTables, s.rows = nil, nil, nil, 0
	return true
}

// fail loads the messages of a failed INSERT that the fetch in hand
// brought again, batch by batch through load, decoding them anew; those
// of earlier fetches go back to the stream.
func (s *streamer) fail(ctx context.Context, err error, rest []*item) bool {
	s.in.Abort()
	s.inCancel()
	items := s.items
	s.in, s.items, s.heldTables, s.rows = nil, nil, nil, 0
	s.l.deps.Log.Debug("streamed insert failed, loading its batches one by one", "messages", len(items), "held", s.held.Len(), "err", err)
	if nerr := s.held.Nak(s.l.redeliveryDelay); nerr != nil {
		// The server redelivers them after the ack wait instead.
		s.l.deps.Log.Warn("could not hand messages back to the stream", "err", nerr)
	}
	for _, it := range items {
		it.rows = nil
	}
	all := append(items[:len(items):len(items)], rest...)
	c := s.l.chunker()
	for i, it := range items {
		if it.settled {
			continue
		}
		if err := s.l.decode(it); err != nil {
			s.l.deadLetter(ctx, s.b, it, err)
			continue
		}
		if full := c.add(it); full != nil && !s.l.loadChunk(ctx, s.b, full, all[i:]) {
			return false
		}
	}
	if full := c.flush(); len(full) > 0 {
		return s.l.loadChunk(ctx, s.b, full, rest)
	}
	return true
}
