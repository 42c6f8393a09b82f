package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Batching bounds how FetchLoop groups messages.
type Batching struct {
	// Max is the largest batch.
	Max int
	// MaxAge is how long the first message of a batch may wait for the
	// batch to fill.
	MaxAge time.Duration
	// Linger is how long to wait for more messages before handing over a
	// partial batch: when none arrive within Linger the consumer is idle
	// and the batch goes out at once.
	Linger time.Duration
	// Heartbeat, when set, tells the server every so often that the
	// messages of the batch in hand are still being worked on (InProgress),
	// so that the consumer's ack wait can be short, and a stage that died
	// has its messages redelivered soon, while long work keeps its own.
	// Use a third of the ack wait.
	Heartbeat time.Duration
	// Idle, when set, is called when a wait for the first message of a
	// batch ended with none (within a second of the stream going quiet),
	// and once when the loop ends, after the last batch: a handler that
	// keeps work open across batches (the loader's INSERT) ends it there.
	// It runs under a context like fn's.
	Idle func(context.Context)
	// Ahead gathers the next batch while fn works on the one in hand
	// (memory holds two batches): the wait for the server's messages
	// then overlaps the work. Without it, nothing is fetched while fn
	// runs.
	Ahead bool
}

// FetchLoop pulls messages from a consumer and hands them to fn in
// batches: a batch goes out when it holds Max messages, when its first
// message is MaxAge old, or when no message arrived for Linger. It returns
// nil when ctx ends (within about a second), or an error if the consumer
// disappears. fn must ack, nak or term every message it is given; it runs
// under a context that survives ctx's cancellation (graceful shutdown: the
// batch in hand is finished and acknowledged under its own deadline). With
// Heartbeat, the messages in hand, gathered or being worked on, are kept
// from redelivery to another consumer. fn and Idle are called one at a
// time, from one goroutine.
func FetchLoop(ctx context.Context, cons jetstream.Consumer, b Batching, fn func(context.Context, []jetstream.Msg)) error {
	if b.Max <= 0 {
		b.Max = 100
	}
	if b.Linger <= 0 {
		b.Linger = 100 * time.Millisecond
	}
	if b.MaxAge < b.Linger {
		b.MaxAge = b.Linger
	}
	l := &batchLoop{cons: cons, b: b, w: startWorker(ctx, fn, b.Idle, b.Ahead)}
	defer func() {
		l.flush()
		l.w.idle()
		l.w.close()
	}()
	for ctx.Err() == nil {
		var err error
		if l.g == nil {
			err = l.first(ctx)
		} else {
			err = l.more(ctx)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pollEvery bounds one wait on the server, so that a shutdown is seen
// within it.
const pollEvery = time.Second

// batchLoop is FetchLoop's state: the batch being gathered, and the
// worker that runs fn.
type batchLoop struct {
	cons jetstream.Consumer
	b    Batching
	w    *worker
	g    *gathered // nil: no message gathered yet
}

// gathered is a batch being gathered or worked on, with its heartbeat.
type gathered struct {
	mu    sync.Mutex // guards msgs against the heartbeat
	msgs  []jetstream.Msg
	since time.Time     // when the first message arrived
	last  time.Time     // when the latest one arrived
	stop  chan struct{} // ends the heartbeat (nil: none runs)
}

// first waits for the first message of a batch (a long poll that returns
// as soon as one arrives). It returns an error only when the consumer is
// gone.
func (l *batchLoop) first(ctx context.Context) error {
	m, err := l.cons.Next(jetstream.FetchMaxWait(pollEvery))
	if err != nil {
		if timedOut(err) {
			l.w.idle()
		}
		return l.fetchFailed(ctx, err)
	}
	l.add(m)
	if len(l.g.msgs) >= l.b.Max {
		l.flush()
	}
	return nil
}

// more gathers the rest of a batch for as long as messages keep coming
// within Linger and the first is younger than MaxAge, then hands it over.
func (l *batchLoop) more(ctx context.Context) error {
	g := l.g
	wait := min(l.b.Linger-time.Since(g.last), l.b.MaxAge-time.Since(g.since), pollEvery)
	batch, err := l.cons.Fetch(l.b.Max-len(g.msgs), jetstream.FetchMaxWait(max(wait, time.Millisecond)))
	if err == nil {
		for m := range batch.Messages() {
			l.add(m)
		}
		err = batch.Error()
	}
	if err != nil && !timedOut(err) {
		// Hand over what we have, then see whether the consumer is gone.
		l.flush()
		return l.fetchFailed(ctx, err)
	}
	if len(g.msgs) >= l.b.Max || time.Since(g.last) >= l.b.Linger || time.Since(g.since) >= l.b.MaxAge {
		l.flush()
	}
	return nil
}

// fetchFailed sorts a failed fetch: a consumer that is gone (deleted, or
// its stream) ends the loop; a timeout is an idle stream; anything else (a
// connection hiccup, JetStream electing a leader) waits a little.
func (l *batchLoop) fetchFailed(ctx context.Context, err error) error {
	if timedOut(err) {
		return nil
	}
	if consumerGone(err) {
		return fmt.Errorf("fetch: %w", err)
	}
	if errors.Is(err, nats.ErrNoResponders) {
		// No one answers pulls: a deleted consumer, or JetStream busy.
		ictx, cancel := context.WithTimeout(ctx, pollEvery)
		_, ierr := l.cons.Info(ictx)
		cancel()
		if consumerGone(ierr) || errors.Is(ierr, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("fetch: %w", ierr)
		}
	}
	pause(ctx)
	return nil
}

// add appends a message to the batch being gathered; the first starts
// the batch and its heartbeat.
func (l *batchLoop) add(m jetstream.Msg) {
	now := time.Now()
	if l.g == nil {
		l.g = &gathered{since: now}
		if l.b.Heartbeat > 0 {
			l.g.stop = make(chan struct{})
			go l.g.heartbeat(l.b.Heartbeat)
		}
	}
	g := l.g
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last = now
	g.msgs = append(g.msgs, m)
}

// heartbeat sends InProgress for the batch's messages every d until stop
// closes. A message already settled refuses it locally.
func (g *gathered) heartbeat(d time.Duration) {
	every(d, g.stop, func() {
		g.mu.Lock()
		msgs := g.msgs
		g.mu.Unlock()
		for _, m := range msgs {
			_ = m.InProgress()
		}
	})
}

// end stops the batch's heartbeat, once fn is done with it.
func (g *gathered) end() {
	if g.stop != nil {
		close(g.stop)
	}
}

// every calls fn every d until stop closes.
func every(d time.Duration, stop <-chan struct{}, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			fn()
		}
	}
}

// timedOut reports whether a fetch ended because no message came in time.
func timedOut(err error) bool {
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}

// handlerTimeout bounds fn and Idle, which run on after ctx ends.
const handlerTimeout = 2 * time.Minute

// flush hands the batch gathered, if any, to the worker, waiting for it
// to be free.
func (l *batchLoop) flush() {
	if l.g != nil {
		l.w.hand(l.g)
		l.g = nil
	}
}

// worker runs fn on the batches handed to it, and Idle, one at a time.
// Without Ahead, handing work over waits until it is done.
type worker struct {
	jobs    chan *gathered // nil: Idle
	done    chan struct{}  // a job finished (nil with Ahead)
	exited  chan struct{}
	hasIdle bool
}

// startWorker starts the worker; its handlers run under contexts of
// their own, detached from ctx (see FetchLoop).
func startWorker(ctx context.Context, fn func(context.Context, []jetstream.Msg), idle func(context.Context), ahead bool) *worker {
	w := &worker{jobs: make(chan *gathered), exited: make(chan struct{}), hasIdle: idle != nil}
	if !ahead {
		w.done = make(chan struct{})
	}
	run := func(job func(context.Context)) {
		jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlerTimeout)
		defer cancel()
		job(jctx)
	}
	go func() {
		defer close(w.exited)
		for g := range w.jobs {
			if g == nil {
				run(idle)
			} else {
				run(func(c context.Context) { fn(c, g.msgs) })
				g.end()
			}
			if w.done != nil {
				w.done <- struct{}{}
			}
		}
	}()
	return w
}

// hand gives the worker a job and, without Ahead, waits until it is done.
func (w *worker) hand(g *gathered) {
	w.jobs <- g
	if w.done != nil {
		<-w.done
	}
}

// idle has the worker call Idle (if set), after the job in hand.
func (w *worker) idle() {
	if w.hasIdle {
		w.hand(nil)
	}
}

// close waits for the job in hand and stops the worker.
func (w *worker) close() {
	close(w.jobs)
	<-w.exited
}

func consumerGone(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted)
}

// pause waits a little, or until ctx ends.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(200 * time.Millisecond):
	}
}

// DeadLetter copies a message to the stage's dead-letter subject with the
// reason and the original subject in headers, then terminates it so it is
// never redelivered. If the copy cannot be stored the message is NAKed
// instead, so nothing is lost.
func DeadLetter(ctx context.Context, js jetstream.JetStream, stage string, m jetstream.Msg, reason error) error {
	out := &nats.Msg{Subject: wire.DeadSubject(stage, m.Subject()), Data: m.Data(), Header: nats.Header{}}
	for k, v := range m.Headers() {
		out.Header[k] = append([]string(nil), v...)
	}
	msg := reason.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	out.Header.Set(wire.ErrorHeader, msg)
	out.Header.Set(wire.OriginalSubjectHeader, m.Subject())
	if _, err := js.PublishMsg(ctx, out); err != nil {
		_ = m.NakWithDelay(5 * time.Second)
		return fmt.Errorf("dead-letter %s: %w", m.Subject(), err)
	}
	return m.Term()
}

// Deliveries returns how many times the message has been delivered (1 on
// the first delivery).
func Deliveries(m jetstream.Msg) uint64 {
	md, err := m.Metadata()
	if err != nil {
		return 1
	}
	return md.NumDelivered
}
