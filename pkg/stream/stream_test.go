package stream_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream/streamtest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// env is a JetStream server with the project's streams and a connection,
// for a test inside a synctest bubble: ack waits, fetch waits, lingers and
// the work a recorder holds run on the bubble's fake clock.
func env(t *testing.T) jetstream.JetStream {
	t.Helper()
	return streamtest.StartInBubble(t, "stream-test").JS
}

func publish(t *testing.T, js jetstream.JetStream, subject string, n int) {
	t.Helper()
	for i := range n {
		if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: subject, Data: []byte(fmt.Sprint(i)), Header: nats.Header{"X": []string{"y"}}}); err != nil {
			t.Fatal(err)
		}
	}
}

// recorder is a FetchLoop callback that keeps the batch sizes and acks.
type recorder struct {
	mu      sync.Mutex
	batches []int
	hold    time.Duration // how long fn keeps each batch before acking
	ctxErr  []error       // fn's context state when called
	calls   int           // batches handed over, counted when fn starts
	changed chan struct{} // holds a token after each change of the above
}

func newRecorder(hold time.Duration) *recorder {
	return &recorder{hold: hold, changed: make(chan struct{}, 1)}
}

// signal tells waitFor that something changed; call it with mu held.
func (r *recorder) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) fn(ctx context.Context, msgs []jetstream.Msg) {
	r.mu.Lock()
	r.calls++
	r.signal()
	r.mu.Unlock()
	time.Sleep(r.hold) // the work this batch takes, on the bubble's clock
	for _, m := range msgs {
		// Acked with the server's confirmation: the next pull of this
		// loop cannot overtake the ack and take a redelivery of it.
		_ = m.DoubleAck(ctx)
	}
	r.mu.Lock()
	r.batches = append(r.batches, len(msgs))
	r.ctxErr = append(r.ctxErr, ctx.Err())
	r.signal()
	r.mu.Unlock()
}

// waitFor returns once cond, a condition on r, holds: it checks it at
// each change of r, for at most 20 s of the bubble's clock.
func (r *recorder) waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-r.changed:
		case <-timeout:
			t.Fatal("condition not met within 20s")
		}
	}
}

// started returns how many batches fn has been given, finished or not.
func (r *recorder) started() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, b := range r.batches {
		n += b
	}
	return n
}

func consumer(t *testing.T, js jetstream.JetStream, ackWait time.Duration) jetstream.Consumer {
	t.Helper()
	c, err := js.CreateOrUpdateConsumer(context.Background(), wire.RowsStream, stream.ConsumerConfig("test", -1, ackWait))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// run runs FetchLoop until the recorder has want messages, then stops it.
func run(t *testing.T, cons jetstream.Consumer, b stream.Batching, r *recorder, want int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- stream.FetchLoop(ctx, cons, b, r.fn) }()
	r.waitFor(t, func() bool { return r.total() >= want })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("FetchLoop: %v", err)
	}
	if got := r.total(); got != want {
		t.Fatalf("handed over %d messages, want %d", got, want)
	}
}

func TestFetchLoopBatchesByCount(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		js := env(t)
		publish(t, js, wire.RowsSubject("a"), 10)
		r := newRecorder(0)
		// The ten are stored before the loop starts: a Linger far above a
		// local fetch's time keeps the full batches full; the last two wait it.
		run(t, consumer(t, js, 10*time.Second), stream.Batching{Max: 4, MaxAge: 5 * time.Second, Linger: 500 * time.Millisecond}, r, 10)
		if fmt.Sprint(r.batches) != "[4 4 2]" {
			t.Errorf("batches %v, want [4 4 2]: full batches go at once, the rest when idle", r.batches)
		}
	})
}

func TestFetchLoopHandsOverAPartialBatchWhenIdle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		js := env(t)
		publish(t, js, wire.RowsSubject("a"), 3)
		r := newRecorder(0)
		start := time.Now()
		run(t, consumer(t, js, 10*time.Second), stream.Batching{Max: 100, MaxAge: 10 * time.Second, Linger: 50 * time.Millisecond}, r, 3)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("a partial batch waited %s with the stream idle, want about Linger", took)
		}
	})
}

func TestFetchLoopBatchAge(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		js := env(t)
		cons := consumer(t, js, 10*time.Second)
		r := newRecorder(0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- stream.FetchLoop(ctx, cons, stream.Batching{Max: 1000, MaxAge: 400 * time.Millisecond, Linger: 300 * time.Millisecond}, r.fn)
		}()
		// A message every 100 ms never leaves the consumer idle for Linger:
		// batches go out by age, each of several messages, far below Max.
		// (The sleep paces the publisher on the bubble's clock.)
		for i := 0; i < 20; i++ {
			publish(t, js, wire.RowsSubject("a"), 1)
			time.Sleep(100 * time.Millisecond)
		}
		r.waitFor(t, func() bool { return r.total() == 20 })
		cancel()
		<-done
		if len(r.batches) < 3 {
			t.Errorf("batches %v: the age bound did not cut them", r.batches)
		}
		for _, b := range r.batches[:len(r.batches)-1] {
			if b > 8 {
				t.Errorf("batches %v: one waited far past MaxAge", r.batches)
			}
		}
	})
}

// twoLoops starts two FetchLoops on one consumer (two replicas of a
// stage) and returns a function that stops them and waits for them.
func twoLoops(t *testing.T, cons jetstream.Consumer, b stream.Batching, r *recorder) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := stream.FetchLoop(ctx, cons, b, r.fn); err != nil {
				t.Errorf("FetchLoop: %v", err)
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// A batch whose work outlasts the ack wait is kept by heartbeats: the
// other replica never gets it. Without them it does, before the first
// replica's work ends: the first case is not vacuous, and waiting for the
// first replica's work to end is long enough to see a redelivery.
func TestFetchLoopHeartbeatKeepsLongWork(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		heartbeat time.Duration
		want      int
	}{{250 * time.Millisecond, 1}, {0, 2}} {
		t.Run(fmt.Sprintf("heartbeat=%s", c.heartbeat), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				js := env(t)
				publish(t, js, wire.RowsSubject("a"), 1)
				const ackWait = time.Second
				cons := consumer(t, js, ackWait)
				r := newRecorder(5 * ackWait / 2)
				b := stream.Batching{Max: 10, MaxAge: 100 * time.Millisecond, Linger: 50 * time.Millisecond, Heartbeat: c.heartbeat}
				stop := twoLoops(t, cons, b, r)
				// The first handover's work ends after two and a half ack waits,
				// off the multiples of the ack wait at which the server
				// redelivers: by then a message left without heartbeats has
				// been redelivered.
				r.waitFor(t, func() bool { return r.total() >= 1 })
				startedBeforeFirstEnded := r.started()
				if c.want > 1 {
					r.waitFor(t, func() bool { return r.total() >= c.want })
				}
				stop()
				if startedBeforeFirstEnded != c.want || r.started() != c.want || r.total() != c.want {
					t.Errorf("heartbeat %s: the message was handed over %d times before the first work ended, %d in all (%d finished), want %d",
						c.heartbeat, startedBeforeFirstEnded, r.started(), r.total(), c.want)
				}
			})
		})
	}
}

// On shutdown the batch in hand is handed over under a live context.
func TestFetchLoopFlushesOnShutdown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		js := env(t)
		publish(t, js, wire.RowsSubject("a"), 3)
		cons := consumer(t, js, 10*time.Second)
		r := newRecorder(0)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- stream.FetchLoop(ctx, cons, stream.Batching{Max: 100, MaxAge: time.Hour, Linger: time.Hour}, r.fn)
		}()
		// The three are in hand, waiting to fill: delivered, none acked,
		// once the loop waits for more.
		synctest.Wait()
		if info, err := cons.Info(context.Background()); err != nil || info.NumPending != 0 || info.NumAckPending != 3 {
			t.Fatalf("consumer before the shutdown: %+v, %v; want none pending, 3 waiting for their ack", info, err)
		}
		if r.total() != 0 {
			t.Fatalf("handed over before the shutdown: %v", r.batches)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if r.total() != 3 || r.ctxErr[0] != nil {
			t.Errorf("at shutdown: batches %v, fn's context %v", r.batches, r.ctxErr)
		}
	})
}

func TestFetchLoopEndsWhenTheConsumerIsGone(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		js := env(t)
		cons := consumer(t, js, 10*time.Second)
		done := make(chan error, 1)
		go func() {
			done <- stream.FetchLoop(context.Background(), cons, stream.Batching{}, func(context.Context, []jetstream.Msg) {})
		}()
		if err := js.DeleteConsumer(context.Background(), wire.RowsStream, "test"); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err == nil {
				t.Error("FetchLoop returned nil after its consumer was deleted")
			}
		case <-time.After(15 * time.Second):
			t.Fatal("FetchLoop did not end after its consumer was deleted")
		}
	})
}

// A dead letter keeps the payload and headers, adds the reason and the
// subject, lands on the issue's dead-letter subject, and the original is
// never delivered again; dlq retry sends it back once.
func TestDeadLetterAndRetry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		js := env(t)
		ctx := context.Background()
		publish(t, js, wire.RowsSubject("issue1"), 1)
		cons := consumer(t, js, time.Second)
		m, err := cons.Next()
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.DeadLetter(ctx, js, "loader", m, fmt.Errorf("bad rows")); err != nil {
			t.Fatal(err)
		}
		dead, err := stream.DeadLettersOf(ctx, js, "issue1")
		if err != nil || len(dead) != 1 || dead[0].Stage != "loader" || dead[0].Reason != "bad rows" {
			t.Fatalf("dead letters of issue1: %+v, %v", dead, err)
		}
		list, err := stream.ListDeadLetters(ctx, js, "")
		if err != nil || len(list) != 1 || list[0].Original != wire.RowsSubject("issue1") {
			t.Fatalf("list: %+v, %v", list, err)
		}
		if _, err := cons.Next(jetstream.FetchMaxWait(1500 * time.Millisecond)); err == nil {
			t.Fatal("the dead-lettered message was delivered again")
		}
		n, err := stream.RetryDeadLetters(ctx, js, "loader", "t1")
		if err != nil || n != 1 {
			t.Fatalf("retry: %d, %v", n, err)
		}
		again, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil || string(again.Data()) != "0" || again.Headers().Get("X") != "y" || again.Headers().Get(wire.ErrorHeader) != "" {
			t.Fatalf("after retry: %v %v", again, err)
		}
		if list, _ := stream.ListDeadLetters(ctx, js, ""); len(list) != 0 {
			t.Errorf("%d dead letters left after retry", len(list))
		}
	})
}

// A redrive publishes the raw stream's snapshot again under a new id.
func TestRedrive(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		js := env(t)
		ctx := context.Background()
		if ok, err := stream.Redrive(ctx, js, "missing", "t"); ok || err != nil {
			t.Fatalf("redrive of an issue the stream does not hold: %v %v", ok, err)
		}
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: wire.RawSubject("i1"), Data: []byte("snap")}, jetstream.WithMsgID("raw:i1:1:1")); err != nil {
			t.Fatal(err)
		}
		// The same id again is a duplicate: nothing new to transform.
		ack, err := js.PublishMsg(ctx, &nats.Msg{Subject: wire.RawSubject("i1"), Data: []byte("snap")}, jetstream.WithMsgID("raw:i1:1:1"))
		if err != nil || !ack.Duplicate {
			t.Fatalf("re-publish: %+v %v", ack, err)
		}
		ok, err := stream.Redrive(ctx, js, "i1", "t")
		if !ok || err != nil {
			t.Fatalf("redrive: %v %v", ok, err)
		}
		s, _ := js.Stream(ctx, wire.RawStream)
		info, _ := s.Info(ctx)
		if info.State.Msgs != 1 || info.State.LastSeq != 2 {
			t.Errorf("raw stream after the redrive: %d messages, last seq %d; want the one snapshot, published again", info.State.Msgs, info.State.LastSeq)
		}
	})
}

// A manifest larger than a chunk is stored in chunks and read back whole.
func TestPassManifestChunks(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		js := env(t)
		ctx := context.Background()
		issues := make([]wire.PassIssue, 2*wire.PassChunkSize+7)
		for i := range issues {
			issues[i] = wire.PassIssue{ID: fmt.Sprint(i), Key: fmt.Sprintf("K-%d", i), Version: uint64(i), Outcome: wire.OutcomePublished}
		}
		sum := wire.PassSummary{PassID: "p1", StateKey: "key with spaces", Found: len(issues)}
		if err := stream.PublishPass(ctx, js, sum, issues); err != nil {
			t.Fatal(err)
		}
		got, back, err := stream.LoadPass(ctx, js, "key with spaces", "")
		if err != nil || got.Chunks != 3 || len(back) != len(issues) || back[len(back)-1].Key != issues[len(issues)-1].Key {
			t.Fatalf("loaded %+v with %d issues, %v", got, len(back), err)
		}
	})
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://u:secret@a:4222", "nats://REDACTED@a:4222"},
		{"nats://a:4222,nats://u:secret@b:4222, tls://token@c:4222", "nats://a:4222,nats://REDACTED@b:4222, tls://REDACTED@c:4222"},
		{"u:secret@a:4222,b:4222", "REDACTED@a:4222,b:4222"},
	}
	for _, tt := range tests {
		if got := stream.RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A list of servers connects through any one that answers, tried in
// order here (DontRandomize), so the dead one is tried first once.
func TestConnectToAListWithADeadServer(t *testing.T) {
	t.Parallel()
	_, live := streamtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, url := range []string{"nats://127.0.0.1:1," + live, live + ", nats://127.0.0.1:1"} {
		c, err := stream.Connect(ctx, url, "list-test", nats.DontRandomize())
		if err != nil {
			t.Fatalf("Connect(%q): %v", url, err)
		}
		if got := c.NC.ConnectedUrl(); got != live {
			t.Errorf("Connect(%q) reached %q, want %q", url, got, live)
		}
		c.Close()
	}
}

// A single server refuses streams of three replicas with an error that
// says so and that waiting cannot fix; one replica still works.
func TestSetupReplicasOnASingleServer(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		js := env(t)
		ctx := context.Background()
		err := stream.Setup(ctx, js, stream.Streams{Replicas: 3})
		if !errors.Is(err, stream.ErrReplicasUnsupported) || !stream.IsPermanent(err) {
			t.Fatalf("Setup(Replicas: 3) on one server = %v, want ErrReplicasUnsupported, permanent", err)
		}
		if err := stream.Setup(ctx, js, stream.Streams{Replicas: 1}); err != nil {
			t.Fatalf("Setup(Replicas: 1) = %v", err)
		}
		s, err := js.Stream(ctx, wire.RawStream)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.Replicas; got != 1 {
			t.Errorf("raw stream replicas %d, want 1", got)
		}
	})
}
