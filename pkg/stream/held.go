package stream

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Held keeps delivered messages whose work goes on after the batch that
// brought them was handed back (the loader's INSERT that spans fetches):
// only each message's ack subject is kept, not its body, so memory does
// not grow with the messages held. Until they are settled, they are told
// to the server as in progress every heartbeat, as FetchLoop does for the
// batch in hand. Acknowledging goes by JetStream's ack protocol: "+ACK",
// "+WPI" (in progress) and "-NAK" with a delay, published to the ack
// subject, which is what jetstream.Msg's methods send. Safe for
// concurrent use.
type Held struct {
	js    jetstream.JetStream
	every time.Duration

	mu   sync.Mutex
	refs []heldRef
	stop chan struct{} // ends the heartbeat; nil when none runs
}

type heldRef struct {
	reply      string
	deliveries uint64
}

// NewHeld returns an empty Held that publishes on js's connection and
// sends InProgress every heartbeat (none when 0).
func NewHeld(js jetstream.JetStream, heartbeat time.Duration) *Held {
	return &Held{js: js, every: heartbeat}
}

// Add takes over m: from now on it is settled through h (its own Ack,
// Nak... must not be called), and kept from redelivery by the heartbeat.
func (h *Held) Add(m jetstream.Msg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refs = append(h.refs, heldRef{reply: m.Reply(), deliveries: Deliveries(m)})
	if h.stop == nil && h.every > 0 {
		h.stop = make(chan struct{})
		go h.heartbeat(h.stop)
	}
}

// Len is the number of messages held.
func (h *Held) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.refs)
}

// Ack acknowledges every message held and empties h. It returns the
// number acknowledged and the failures to publish (the server then
// redelivers those messages: a duplicate, never a loss).
func (h *Held) Ack() (int, error) {
	refs := h.take()
	var errs []error
	for _, r := range refs {
		if err := h.js.Conn().Publish(r.reply, ackBody); err != nil {
			errs = append(errs, err)
		}
	}
	return len(refs), errors.Join(errs...)
}

// Nak hands every message held back to the server, each to be delivered
// again after delay(the deliveries it had), and empties h.
func (h *Held) Nak(delay func(deliveries uint64) time.Duration) error {
	var errs []error
	for _, r := range h.take() {
		body := fmt.Appendf(nil, `-NAK {"delay": %d}`, delay(r.deliveries).Nanoseconds())
		if err := h.js.Conn().Publish(r.reply, body); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var (
	ackBody      = []byte("+ACK")
	progressBody = []byte("+WPI")
)

// take empties h and stops its heartbeat.
func (h *Held) take() []heldRef {
	h.mu.Lock()
	defer h.mu.Unlock()
	refs := h.refs
	h.refs = nil
	if h.stop != nil {
		close(h.stop)
		h.stop = nil
	}
	return refs
}

func (h *Held) heartbeat(stop <-chan struct{}) {
	every(h.every, stop, func() {
		h.mu.Lock()
		refs := h.refs
		h.mu.Unlock()
		for _, r := range refs {
			_ = h.js.Conn().Publish(r.reply, progressBody)
		}
	})
}
