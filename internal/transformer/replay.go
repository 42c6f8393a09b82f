package transformer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Replay re-transforms the latest snapshot of every issue in the raw
// stream with the current rules, without calling Tracker, and publishes
// the rows. It reads the stream up to its last message at the start and
// returns the number of snapshots replayed. Undecodable snapshots are
// counted in the error and skipped (they were dead-lettered before).
func (t *Transformer) Replay(ctx context.Context) (int, error) {
	return t.replay(ctx, false)
}

// RefreshOpen recomputes, as of now, the rows of every issue whose stored
// snapshot is not in a final status (current-status age, WIP ageing) and
// publishes them; issues in a final status are skipped. It returns the
// number of issues refreshed. A scheduled run calls it after each
// extraction so open issues' figures are at most one interval old.
func (t *Transformer) RefreshOpen(ctx context.Context) (int, error) {
	return t.replay(ctx, true)
}

func (t *Transformer) replay(ctx context.Context, openOnly bool) (int, error) {
	last, err := t.rawEnd(ctx)
	if err != nil || last == 0 {
		return 0, err
	}
	cons, err := t.deps.JS.OrderedConsumer(ctx, wire.RawStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, fmt.Errorf("replay consumer: %w", err)
	}
	r := &replayRun{t: t, asOf: t.deps.Now(), openOnly: openOnly}
	for {
		msgs, done, err := fetchUpTo(cons, last)
		if err != nil {
			return r.n, err
		}
		if err := r.batch(ctx, msgs); err != nil {
			return r.n, err
		}
		if done {
			return r.n, r.err()
		}
		if len(msgs) == 0 && ctx.Err() != nil {
			return r.n, ctx.Err()
		}
	}
}

// rawEnd is the sequence of the raw stream's last message (0: empty).
func (t *Transformer) rawEnd(ctx context.Context) (uint64, error) {
	s, err := t.deps.JS.Stream(ctx, wire.RawStream)
	if err != nil {
		return 0, fmt.Errorf("raw stream: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("raw stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	return info.State.LastSeq, nil
}

// fetchUpTo fetches the next messages, up to the stream sequence last;
// done says last was reached.
func fetchUpTo(cons jetstream.Consumer, last uint64) (msgs []jetstream.Msg, done bool, err error) {
	batch, err := cons.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		return nil, false, fmt.Errorf("replay fetch: %w", err)
	}
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			return msgs, false, fmt.Errorf("replay metadata: %w", err)
		}
		msgs = append(msgs, m)
		if md.Sequence.Stream >= last {
			done = true
			break
		}
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
		return msgs, false, fmt.Errorf("replay fetch: %w", err)
	}
	return msgs, done, nil
}

// replayRun is a replay in progress: what it published and what it could
// not transform.
type replayRun struct {
	t        *Transformer
	asOf     time.Time
	openOnly bool

	mu       sync.Mutex
	n, bad   int
	firstBad error
}

// batchTries bounds the tries of a snapshot whose rows could not be
// published (NATS unavailable) within a replay.
const batchTries = 5

// batch transforms msgs on every worker, then publishes the rows
// messages without waiting for each ack (JetStream keeps their order) and
// waits for the acks. A message whose publish failed is published again
// with backoff; one that keeps failing ends the replay.
func (r *replayRun) batch(ctx context.Context, msgs []jetstream.Msg) error {
	outs := make([]*outgoing, len(msgs))
	r.t.each(len(msgs), func(k int) {
		out, err := r.t.prepare(msgs[k], r.asOf, r.openOnly)
		if err != nil {
			r.count(false, err)
		}
		outs[k] = out
	})
	acks := make([]jetstream.PubAckFuture, len(outs))
	for k, out := range outs {
		if out != nil {
			acks[k], _ = r.t.deps.JS.PublishMsgAsync(out.msg, jetstream.WithMsgID(out.id))
		}
	}
	var errs []error
	for k, out := range outs {
		if out == nil {
			continue
		}
		if acks[k] != nil && waitAck(ctx, acks[k]) == nil {
			r.count(true, nil)
			continue
		}
		if err := r.resend(ctx, out); err != nil {
			errs = append(errs, err)
			continue
		}
		r.count(true, nil)
	}
	return errors.Join(errs...)
}

// waitAck waits for the ack of an asynchronous publish, at most
// publishTimeout.
func waitAck(ctx context.Context, f jetstream.PubAckFuture) error {
	timer := time.NewTimer(publishTimeout)
	defer timer.Stop()
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	case <-timer.C:
		return errors.New("no ack")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resend publishes one rows message again, with backoff, batchTries
// times at most.
func (r *replayRun) resend(ctx context.Context, out *outgoing) error {
	delay := 200 * time.Millisecond
	for try := 1; ; try++ {
		err := r.t.send(ctx, out)
		switch {
		case err == nil:
			return nil
		case try >= batchTries || ctx.Err() != nil:
			return fmt.Errorf("replay: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replay: %w", err)
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func (r *replayRun) count(published bool, bad error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if published {
		r.n++
	}
	if bad != nil {
		r.bad++
		if r.firstBad == nil {
			r.firstBad = bad
		}
	}
}

// err reports the snapshots that could not be transformed.
func (r *replayRun) err() error {
	if r.bad > 0 {
		return fmt.Errorf("replay: %d snapshots could not be transformed (first: %w)", r.bad, r.firstBad)
	}
	return nil
}
