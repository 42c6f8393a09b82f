package extractor

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// retryRounds is how many times, after all the others, an issue that
// failed for a transient reason is tried again within the pass.
const retryRounds = 3

type job struct {
	seq   int
	issue tracker.Issue
}

// fetcher fetches the changelogs of the issues the search hands it and
// publishes their snapshots, on a bounded number of goroutines, recording
// each outcome in the ledger.
type fetcher struct {
	e    *Extractor
	dir  *directory
	led  *ledger
	log  *slog.Logger
	work context.Context // outlives a shutdown by the grace period
	// progress is told about each issue of the main round (nil: no bar).
	progress Progress

	mu    sync.Mutex
	done  int
	retry map[int]tracker.Issue // failed for a reason worth another try
	// asked is the longest Retry-After the server gave with those failures,
	// at most tracker.MaxRetryAfter.
	asked time.Duration
}

// run fetches and publishes the issues of the sequence on up to limit
// goroutines and returns once every issue started is finished. After ctx
// ends (a shutdown, the time budget) it starts no more: the rest stays
// pending, for the next pass.
func (f *fetcher) run(ctx context.Context, limit int, issues iter.Seq2[int, tracker.Issue]) {
	var g errgroup.Group
	g.SetLimit(limit)
	for i, is := range issues {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			f.one(&job{seq: i, issue: is})
			return nil
		})
	}
	_ = g.Wait()
}

func (f *fetcher) one(j *job) {
	res := f.e.process(f.work, f.dir, &j.issue)
	if res.outcome == wire.OutcomeFailed && f.work.Err() != nil {
		return // cut short by the shutdown: pending, for the next pass
	}
	f.led.finish(j.seq, res.apply)
	f.mu.Lock()
	defer f.mu.Unlock()
	if res.outcome == wire.OutcomeFailed {
		f.log.Warn("issue failed", "issue", j.issue.Key, "retry_later", res.retryable, "err", res.err)
		if res.retryable {
			f.retry[j.seq] = j.issue
			if d := min(tracker.RetryAfter(res.err), tracker.MaxRetryAfter); d > f.asked {
				f.asked = d
			}
		}
	} else {
		delete(f.retry, j.seq)
		f.done++
		if n := f.e.cfg.ProgressEvery; n > 0 && f.done%n == 0 {
			f.log.Info("extraction progress", "published", f.done, "found", f.led.count())
		}
	}
	if f.progress != nil {
		f.progress.Done(res.outcome != wire.OutcomeFailed)
	}
}

// retryFailed tries the issues that failed for a transient reason (a 429
// storm, 5xx, a NATS outage) again, after all the others: up to
// retryRounds rounds, each after a pause (2, 4, 8 s, or the longest
// Retry-After the server gave with the failures when that is longer, at
// most tracker.MaxRetryAfter) and
// on a quarter of the workers, so that an overloaded server gets room.
func (f *fetcher) retryFailed(ctx context.Context, limit int) {
	backoff := 2 * time.Second
	for round := 1; round <= retryRounds && ctx.Err() == nil; round++ {
		f.mu.Lock()
		pending, asked := f.retry, f.asked
		f.retry, f.asked = map[int]tracker.Issue{}, 0
		f.mu.Unlock()
		if len(pending) == 0 {
			return
		}
		pause := max(backoff, asked)
		f.log.Info("retrying issues that failed for a transient reason", "issues", len(pending), "round", round, "after", pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		f.run(ctx, max(1, limit/4), inOrder(pending))
		backoff *= 2
	}
}

// inOrder ranges over issues by their position in the pass.
func inOrder(issues map[int]tracker.Issue) iter.Seq2[int, tracker.Issue] {
	return func(yield func(int, tracker.Issue) bool) {
		for _, s := range slices.Sorted(maps.Keys(issues)) {
			if !yield(s, issues[s]) {
				return
			}
		}
	}
}

// workContext returns the context the issues in hand are fetched and
// published under: it survives ctx's end by ShutdownGrace.
func (e *Extractor) workContext(ctx context.Context) (context.Context, func()) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var timer *time.Timer
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		timer = time.AfterFunc(e.cfg.ShutdownGrace, cancel)
		mu.Unlock()
	})
	return work, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// publish publishes msg with a message id, waiting out a NATS outage (see
// retryPublish; the id makes repeats harmless).
func (e *Extractor) publish(ctx context.Context, msg *nats.Msg, id string) (*jetstream.PubAck, error) {
	var ack *jetstream.PubAck
	err := e.retryPublish(ctx, func(ctx context.Context) (err error) {
		ack, err = e.deps.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
		return err
	})
	return ack, err
}

// pending is the number of issues found but not started.
func (p *Pass) pending() int {
	n := 0
	for i := range p.Issues {
		if p.Issues[i].Outcome == wire.OutcomePending {
			n++
		}
	}
	return n
}

// count fills the pass's counts from its issues.
func (p *Pass) count() {
	p.Found, p.Published, p.Duplicates, p.Failed, p.FailedKeys = len(p.Issues), 0, 0, 0, nil
	for i := range p.Issues {
		switch p.Issues[i].Outcome {
		case wire.OutcomePublished:
			p.Published++
		case wire.OutcomeDuplicate:
			p.Duplicates++
		case wire.OutcomeFailed:
			p.Failed++
			if len(p.FailedKeys) < 100 {
				p.FailedKeys = append(p.FailedKeys, p.Issues[i].Key)
			}
		}
	}
}

// retryPublish runs fn, which publishes, until it succeeds or
// PublishPatience has passed: each try has a deadline of its own (a
// publish sent across a NATS restart may never be acknowledged), tries are
// repeated with backoff, and a message above the server's limit fails at
// once.
func (e *Extractor) retryPublish(ctx context.Context, fn func(context.Context) error) error {
	deadline := time.Now().Add(e.cfg.PublishPatience)
	delay := 100 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := fn(actx)
		cancel()
		if err == nil || errors.Is(err, nats.ErrMaxPayload) || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}
