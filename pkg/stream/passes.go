package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Publisher publishes one message and waits for JetStream's ack.
type Publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// ErrNoPass is returned (wrapped) by LoadPass when the stream holds no
// pass for the state key (or not the one asked for).
var ErrNoPass = errors.New("no pass manifest")

// PublishPass stores a pass manifest: the issues in chunks of
// wire.PassChunkSize, then the summary (whose Chunks it sets), so a summary
// that can be read always has its chunks. Each message has a Nats-Msg-Id,
// so publishing the same pass again stores it once.
func PublishPass(ctx context.Context, js Publisher, sum wire.PassSummary, issues []wire.PassIssue) error {
	sum.Chunks = (len(issues) + wire.PassChunkSize - 1) / wire.PassChunkSize
	for n := 0; n < sum.Chunks; n++ {
		part := issues[n*wire.PassChunkSize : min((n+1)*wire.PassChunkSize, len(issues))]
		chunk := wire.PassChunk{PassID: sum.PassID, Index: n, Issues: part}
		subject := wire.PassChunkSubject(sum.StateKey, sum.PassID, n)
		if err := publishWire(ctx, js, subject, subject, &chunk); err != nil {
			return fmt.Errorf("pass %s chunk %d: %w", sum.PassID, n, err)
		}
	}
	subject := wire.PassSummarySubject(sum.StateKey)
	if err := publishWire(ctx, js, subject, "pass:"+sum.StateKey+":"+sum.PassID, &sum); err != nil {
		return fmt.Errorf("pass %s summary: %w", sum.PassID, err)
	}
	return nil
}

func publishWire(ctx context.Context, js Publisher, subject, msgID string, v any) error {
	body, enc, err := wire.Marshal(v)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
	msg.Header.Set(wire.SchemaHeader, strconv.Itoa(wire.PassSchema))
	if enc != "" {
		msg.Header.Set(wire.EncodingHeader, enc)
	}
	_, err = js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID))
	return err
}

// LoadPass reads a pass manifest of a state key: the latest pass when
// passID is empty. It returns an error wrapping ErrNoPass when there is
// none.
func LoadPass(ctx context.Context, js jetstream.JetStream, stateKey, passID string) (wire.PassSummary, []wire.PassIssue, error) {
	s, err := js.Stream(ctx, wire.PassStream)
	if err != nil {
		return wire.PassSummary{}, nil, fmt.Errorf("stream %s: %w", wire.PassStream, err)
	}
	var sum wire.PassSummary
	if passID == "" {
		m, err := s.GetLastMsgForSubject(ctx, wire.PassSummarySubject(stateKey))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return sum, nil, fmt.Errorf("%w for state key %q", ErrNoPass, stateKey)
		}
		if err != nil {
			return sum, nil, fmt.Errorf("latest pass of %q: %w", stateKey, err)
		}
		if err := decodeWire(m.Data, m.Header, &sum); err != nil {
			return sum, nil, fmt.Errorf("pass summary: %w", err)
		}
	} else if sum, err = findSummary(ctx, js, stateKey, passID); err != nil {
		return sum, nil, err
	}
	var issues []wire.PassIssue
	for n := 0; n < sum.Chunks; n++ {
		m, err := s.GetLastMsgForSubject(ctx, wire.PassChunkSubject(stateKey, sum.PassID, n))
		if err != nil {
			return sum, nil, fmt.Errorf("pass %s chunk %d: %w", sum.PassID, n, err)
		}
		var chunk wire.PassChunk
		if err := decodeWire(m.Data, m.Header, &chunk); err != nil {
			return sum, nil, fmt.Errorf("pass %s chunk %d: %w", sum.PassID, n, err)
		}
		issues = append(issues, chunk.Issues...)
	}
	return sum, issues, nil
}

// findSummary scans the summaries of a state key for one pass.
func findSummary(ctx context.Context, js jetstream.JetStream, stateKey, passID string) (wire.PassSummary, error) {
	cons, err := js.OrderedConsumer(ctx, wire.PassStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{wire.PassSummarySubject(stateKey)},
	})
	if err != nil {
		return wire.PassSummary{}, fmt.Errorf("pass summaries: %w", err)
	}
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return wire.PassSummary{}, fmt.Errorf("pass summaries: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var sum wire.PassSummary
			if err := decodeWire(m.Data(), m.Headers(), &sum); err == nil && sum.PassID == passID {
				return sum, nil
			}
		}
		if n == 0 {
			return wire.PassSummary{}, fmt.Errorf("%w: pass %q of state key %q", ErrNoPass, passID, stateKey)
		}
	}
}

func decodeWire(body []byte, h nats.Header, v any) error {
	if s := h.Get(wire.SchemaHeader); s != "" && s != strconv.Itoa(wire.PassSchema) {
		return fmt.Errorf("unknown pass schema %q", s)
	}
	return wire.Unmarshal(body, h.Get(wire.EncodingHeader), v)
}
