package stream

import (
	"context"
	"errors"
	"fmt"
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
}

// heartbeat sends InProgress for every message of msgs not yet settled,
// every period, until stop closes. A settled message refuses it locally.
func heartbeat(msgs []jetstream.Msg, period time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			for _, m := range msgs {
				_ = m.InProgress()
			}
		}
	}
}

// FetchLoop pulls messages from a consumer and hands them to fn in
// batches: a batch goes out when it holds Max messages, when its first
// message is MaxAge old, or when no message arrived for Linger. It returns
// nil when ctx ends, or an error if the consumer disappears. fn must ack,
// nak or term every message it is given; it runs under a context that
// survives ctx's cancellation (graceful shutdown: the batch in hand is
// finished and acknowledged under its own deadline).
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
	var buf []jetstream.Msg
	var first time.Time
	flush := func() {
		if len(buf) == 0 {
			return
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		var stop chan struct{}
		if b.Heartbeat > 0 {
			stop = make(chan struct{})
			go heartbeat(buf, b.Heartbeat, stop)
		}
		fn(fctx, buf)
		if stop != nil {
			close(stop)
		}
		cancel()
		buf = nil
	}
	defer flush()
	for ctx.Err() == nil {
		if len(buf) == 0 {
			// Idle: block for the first message (a long poll that returns
			// as soon as one arrives), then gather the rest.
			m, err := cons.Next(jetstream.FetchMaxWait(time.Second))
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
					return fmt.Errorf("fetch: %w", err)
				}
				if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
					select {
					case <-ctx.Done():
					case <-time.After(200 * time.Millisecond):
					}
				}
				continue
			}
			first = time.Now()
			buf = append(buf, m)
			if len(buf) >= b.Max {
				flush()
			}
			continue
		}
		wait := b.Linger
		if left := b.MaxAge - time.Since(first); left < wait {
			wait = max(left, time.Millisecond)
		}
		batch, err := cons.Fetch(b.Max-len(buf), jetstream.FetchMaxWait(wait))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				return fmt.Errorf("fetch: %w", err)
			}
			// Connection hiccups: hand over what we have, then retry.
			flush()
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		got := 0
		for m := range batch.Messages() {
			if len(buf) == 0 {
				first = time.Now()
			}
			buf = append(buf, m)
			got++
		}
		if len(buf) >= b.Max || (len(buf) > 0 && (got == 0 || time.Since(first) >= b.MaxAge)) {
			flush()
		}
	}
	return nil
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
