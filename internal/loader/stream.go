package loader

import (
	"context"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// streamBatches is how many insert batches (BatchRows rows each) one
// INSERT per table takes at most when the sink streams blocks: the rows
// of each batch are sent as they are added, so memory holds one batch,
// while ClickHouse's per-INSERT cost is paid once for all of them.
const streamBatches = 8

// streamer loads the insert batches of one fetch through as few INSERTs
// as it can (a StreamSink's InsertStream), and acknowledges their messages
// when the INSERTs end. Whatever fails goes again, batch by batch, through
// load: its retries with backoff and its isolation of rejected messages.
type streamer struct {
	l    *Loader
	b    *batch
	sink StreamSink // nil: every batch is its own insert
	// in is the open InsertStream (nil: none) and items its messages.
	in    InsertStream
	items []*item
	rows  int
	start time.Time // when in began
}

func (l *Loader) streamer(b *batch) *streamer {
	s := &streamer{l: l, b: b}
	if sink, ok := l.deps.Sink.(StreamSink); ok && sink.StreamsBlocks() {
		s.sink = sink
	}
	return s
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
	}
	s.items = append(s.items, chunk...)
	if err := s.in.Add(ctx, rows); err != nil {
		return s.fail(ctx, err, rest)
	}
	for _, it := range chunk {
		s.rows += it.nrows
		it.rows = nil // sent: only the message is kept, for its ack
	}
	if s.rows >= streamBatches*s.l.cfg.BatchRows {
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
	if err := s.in.Commit(ctx); err != nil {
		return s.fail(ctx, err, rest)
	}
	s.l.inserts.Add(1)
	// One upload, every table, from the first block to the end.
	s.l.deps.Metrics.Timing("upload_to_storage_time_seconds", time.Since(s.start))
	s.l.ack(s.b, s.items)
	s.in, s.items, s.rows = nil, nil, 0
	return true
}

// fail loads the messages of a failed INSERT again, batch by batch
// through load, decoding them anew.
func (s *streamer) fail(ctx context.Context, err error, rest []*item) bool {
	s.in.Abort()
	items := s.items
	s.in, s.items, s.rows = nil, nil, 0
	s.l.deps.Log.Debug("streamed insert failed, loading its batches one by one", "messages", len(items), "err", err)
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
