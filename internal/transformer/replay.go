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
	s, err := t.deps.JS.Stream(ctx, wire.RawStream)
	if err != nil {
		return 0, fmt.Errorf("raw stream: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("raw stream info: %w", err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return 0, nil
	}
	cons, err := t.deps.JS.OrderedConsumer(ctx, wire.RawStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, fmt.Errorf("replay consumer: %w", err)
	}
	asOf := t.deps.Now()
	n, bad := 0, 0
	var firstErr error
	for {
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return n, fmt.Errorf("replay fetch: %w", err)
		}
		var msgs []jetstream.Msg
		done := false
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return n, fmt.Errorf("replay metadata: %w", err)
			}
			msgs = append(msgs, m)
			if md.Sequence.Stream >= last {
				done = true
				break
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return n, fmt.Errorf("replay fetch: %w", err)
		}
		// Transform the batch on every worker; publishes wait for their
		// acks in parallel.
		results := make([]error, len(msgs))
		published := make([]bool, len(msgs))
		var wg sync.WaitGroup
		next := make(chan int)
		for range min(t.cfg.Workers, len(msgs)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range next {
					published[k], results[k] = t.process(ctx, msgs[k], asOf, openOnly)
				}
			}()
		}
		for k := range msgs {
			next <- k
		}
		close(next)
		wg.Wait()
		for k, err := range results {
			switch {
			case err == nil && published[k]:
				n++
			case err == nil:
			default:
				var perm permanentError
				if !errors.As(err, &perm) {
					return n, fmt.Errorf("replay: %w", err)
				}
				bad++
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		if done {
			if bad > 0 {
				return n, fmt.Errorf("replay: %d snapshots could not be transformed (first: %w)", bad, firstErr)
			}
			return n, nil
		}
		if len(msgs) == 0 && ctx.Err() != nil {
			return n, ctx.Err()
		}
	}
}
