package stream_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// heldEnv publishes n rows messages and returns a loader consumer with
// the given ack wait.
func heldEnv(t *testing.T, n int, ackWait time.Duration) (jetstream.JetStream, jetstream.Consumer) {
	t.Helper()
	js := env(t)
	publish(t, js, wire.RowsSubject("held"), n)
	cons, err := js.CreateOrUpdateConsumer(context.Background(), wire.RowsStream, stream.ConsumerConfig(stream.LoaderConsumer, -1, ackWait))
	if err != nil {
		t.Fatal(err)
	}
	return js, cons
}

// fetch takes up to n messages, waiting at most wait.
func fetch(t *testing.T, cons jetstream.Consumer, n int, wait time.Duration) []jetstream.Msg {
	t.Helper()
	b, err := cons.Fetch(n, jetstream.FetchMaxWait(wait))
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for m := range b.Messages() {
		out = append(out, m)
	}
	return out
}

// settled checks that the consumer has nothing pending nor
// unacknowledged once the acks (published without confirmation) reached
// the server.
func settled(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	synctest.Wait()
	n, err := stream.Pending(context.Background(), js, wire.RowsStream, stream.LoaderConsumer)
	if err != nil || n != 0 {
		t.Fatalf("%d messages still pending or unacknowledged (err %v)", n, err)
	}
}

// Messages held by their ack subjects are acknowledged by Ack, and
// handed back by Nak: they come again, delivered a second time.
func TestHeldAckAndNak(t *testing.T) {
	t.Parallel()
	synctest.Test(t, heldAckAndNak)
}

func heldAckAndNak(t *testing.T) {
	js, cons := heldEnv(t, 10, time.Minute)
	h := stream.NewHeld(js, 0)
	first := fetch(t, cons, 6, time.Second)
	if len(first) != 6 {
		t.Fatalf("fetched %d, want 6", len(first))
	}
	for _, m := range first[:3] {
		h.Add(m)
	}
	if err := h.Nak(func(deliveries uint64) time.Duration {
		if deliveries != 1 {
			t.Errorf("Nak was told %d deliveries, want 1", deliveries)
		}
		return 0
	}); err != nil {
		t.Fatal(err)
	}
	if h.Len() != 0 {
		t.Errorf("%d held after Nak, want 0", h.Len())
	}
	// The three handed back come again, with the four never delivered.
	again := fetch(t, cons, 10, time.Second)
	redelivered := 0
	for _, m := range again {
		if stream.Deliveries(m) == 2 {
			redelivered++
		}
		h.Add(m)
	}
	for _, m := range first[3:] {
		h.Add(m)
	}
	if len(again) != 7 || redelivered != 3 {
		t.Errorf("after the Nak: %d fetched, %d of them a second time; want 7 and 3", len(again), redelivered)
	}
	n, err := h.Ack()
	if err != nil || n != 10 {
		t.Fatalf("Ack() = %d, %v; want 10, nil", n, err)
	}
	settled(t, js)
}

// Held messages are kept from redelivery past their ack wait by the
// heartbeat until they are settled.
func TestHeldHeartbeat(t *testing.T) {
	t.Parallel()
	synctest.Test(t, heldHeartbeat)
}

func heldHeartbeat(t *testing.T) {
	const ackWait = 500 * time.Millisecond
	js, cons := heldEnv(t, 5, ackWait)
	h := stream.NewHeld(js, ackWait/5)
	for _, m := range fetch(t, cons, 5, time.Second) {
		h.Add(m)
	}
	// Five ack waits: without the heartbeat all five would come again.
	if got := fetch(t, cons, 5, 5*ackWait); len(got) != 0 {
		t.Fatalf("%d held messages were redelivered", len(got))
	}
	if n, err := h.Ack(); n != 5 || err != nil {
		t.Fatalf("Ack() = %d, %v; want 5, nil", n, err)
	}
	settled(t, js)
}

// FetchLoop calls Idle when the stream went quiet and once more when it
// ends, after the last batch.
func TestFetchLoopIdle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, fetchLoopIdle)
}

func fetchLoopIdle(t *testing.T) {
	_, cons := heldEnv(t, 3, time.Minute)
	events := make(chan string, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- stream.FetchLoop(ctx, cons, stream.Batching{Max: 10, Linger: 50 * time.Millisecond,
			Idle: func(ictx context.Context) {
				if ictx.Err() != nil {
					t.Error("Idle's context is done")
				}
				events <- "idle"
			}}, func(_ context.Context, msgs []jetstream.Msg) {
			for _, m := range msgs {
				_ = m.Ack()
			}
			events <- "batch"
		})
	}()
	timeout := time.After(10 * time.Second)
	for _, want := range []string{"batch", "idle"} {
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("got %s, want %s: the batch first, then Idle once the stream is quiet", got, want)
			}
		case <-timeout:
			t.Fatalf("no %s within 10 s", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(events)
	idles := 0
	for e := range events {
		if e == "idle" {
			idles++
		}
	}
	// internal/loader's TestStreamedSpanEndsAtStop checks what the last
	// Idle is for: nothing left open when the loop ends.
	if idles == 0 {
		t.Error("no Idle after the loop was told to stop")
	}
}
