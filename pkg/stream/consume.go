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
}

// FetchLoop pulls messages from a consumer and hands them to fn in
// batches: a batch goes out when it holds Max messages, when its first
// message is MaxAge old, or when no message arrived for Linger. It returns
// nil when ctx ends (within about a second), or an error if the consumer
// disappears. fn must ack, nak or term every message it is given; it runs
// under a context that survives ctx's cancellation (graceful shutdown: the
// batch in hand is finished and acknowledged under its own deadline). With
// Heartbeat, the messages in hand, gathered or being worked on, are kept
// from redelivery to another consumer.
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
	l := &batchLoop{cons: cons, b: b, fn: fn}
	defer func() {
		l.flush(ctx)
		l.idle(ctx)
	}()
	for ctx.Err() == nil {
		var err error
		if l.size() == 0 {
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

// batchLoop is FetchLoop's state: the batch being gathered.
type batchLoop struct {
	cons jetstream.Consumer
	b    Batching
	fn   func(context.Context, []jetstream.Msg)

	mu    sync.Mutex // guards buf against the heartbeat
	buf   []jetstream.Msg
	since time.Time     // when the first message of buf arrived
	last  time.Time     // when the latest one arrived
	stop  chan struct{} // ends the heartbeat of buf
}

// first waits for the first message of a batch (a long poll that returns
// as soon as one arrives). It returns an error only when the consumer is
// gone.
func (l *batchLoop) first(ctx context.Context) error {
	m, err := l.cons.Next(jetstream.FetchMaxWait(pollEvery))
	if err != nil {
		if timedOut(err) {
			l.idle(ctx)
		}
		return l.fetchFailed(ctx, err)
	}
	l.add(m)
	if l.size() >= l.b.Max {
		l.flush(ctx)
	}
	return nil
}

// more gathers the rest of a batch for as long as messages keep coming
// within Linger and the first is younger than MaxAge, then hands it over.
func (l *batchLoop) more(ctx context.Context) error {
	wait := min(l.b.Linger-time.Since(l.last), l.b.MaxAge-time.Since(l.since), pollEvery)
	batch, err := l.cons.Fetch(l.b.Max-l.size(), jetstream.FetchMaxWait(max(wait, time.Millisecond)))
	if err == nil {
		for m := range batch.Messages() {
			l.add(m)
		}
		err = batch.Error()
	}
	if err != nil && !timedOut(err) {
		// Hand over what we have, then see whether the consumer is gone.
		l.flush(ctx)
		return l.fetchFailed(ctx, err)
	}
	if l.size() >= l.b.Max || time.Since(l.last) >= l.b.Linger || time.Since(l.since) >= l.b.MaxAge {
		l.flush(ctx)
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

func (l *batchLoop) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buf)
}

// add appends a message to the batch; the first starts the heartbeat.
func (l *batchLoop) add(m jetstream.Msg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = time.Now()
	if len(l.buf) == 0 {
		l.since = l.last
		if l.b.Heartbeat > 0 {
			l.stop = make(chan struct{})
			go l.heartbeat(l.stop)
		}
	}
	l.buf = append(l.buf, m)
}

// heartbeat sends InProgress for the messages in hand every Heartbeat
// until stop closes. A message already settled refuses it locally.
func (l *batchLoop) heartbeat(stop <-chan struct{}) {
	every(l.b.Heartbeat, stop, func() {
		l.mu.Lock()
		msgs := l.buf
		l.mu.Unlock()
		for _, m := range msgs {
			_ = m.InProgress()
		}
	})
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

// idle calls Idle, under a context of its own.
func (l *batchLoop) idle(ctx context.Context) {
	if l.b.Idle == nil {
		return
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlerTimeout)
	defer cancel()
	l.b.Idle(ictx)
}

// flush hands the batch in hand to fn, under a context of its own, and
// ends its heartbeat once fn returns.
func (l *batchLoop) flush(ctx context.Context) {
	l.mu.Lock()
	msgs, stop := l.buf, l.stop
	l.mu.Unlock()
	if len(msgs) == 0 {
		return
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlerTimeout)
	l.fn(fctx, msgs)
	cancel()
	l.mu.Lock()
	l.buf, l.stop = nil, nil
	l.mu.Unlock()
	if stop != nil {
		close(stop)
	}
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
