package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Redrive publishes the raw stream's snapshot of an issue again, with a
// message id unique to tag, so that the transformer and the loaders
// process it once more (JetStream's duplicate window would drop the same
// snapshot published with its usual id). It reports false, with a nil
// error, when the raw stream holds no snapshot of the issue.
func Redrive(ctx context.Context, js jetstream.JetStream, issueID, tag string) (bool, error) {
	s, err := js.Stream(ctx, wire.RawStream)
	if err != nil {
		return false, fmt.Errorf("stream %s: %w", wire.RawStream, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, wire.RawSubject(issueID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redrive %s: %w", issueID, err)
	}
	out := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
	for k, v := range m.Header {
		if k != jetstream.MsgIDHeader {
			out.Header[k] = append([]string(nil), v...)
		}
	}
	if _, err := js.PublishMsg(ctx, out, jetstream.WithMsgID(wire.RedriveMsgID(issueID, tag))); err != nil {
		return false, fmt.Errorf("redrive %s: %w", issueID, err)
	}
	return true, nil
}

// DeadLetterOf is the newest dead letter of one issue at one stage.
type DeadLetterOf struct {
	Stage  string
	Reason string
	Time   time.Time
}

// DeadLettersOf returns the newest dead letter of an issue at each stage
// (transformer, loader) that has one.
func DeadLettersOf(ctx context.Context, js jetstream.JetStream, issueID string) ([]DeadLetterOf, error) {
	s, err := js.Stream(ctx, wire.DeadStream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", wire.DeadStream, err)
	}
	var out []DeadLetterOf
	for _, c := range []struct{ stage, subject string }{
		{"transformer", wire.RawSubject(issueID)},
		{"loader", wire.RowsSubject(issueID)},
	} {
		m, err := s.GetLastMsgForSubject(ctx, wire.DeadSubject(c.stage, c.subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("dead letters of %s: %w", issueID, err)
		}
		out = append(out, DeadLetterOf{Stage: c.stage, Reason: m.Header.Get(wire.ErrorHeader), Time: m.Time})
	}
	return out, nil
}

// Dead is one message of the dead-letter stream.
type Dead struct {
	Seq      uint64
	Stage    string
	Original string // the subject it came from
	Reason   string
	Time     time.Time
}

// ListDeadLetters returns the dead letters, oldest first, of one stage
// ("" for all).
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, stage string) ([]Dead, error) {
	var out []Dead
	err := eachDeadLetter(ctx, js, stage, func(d Dead, _ *jetstream.RawStreamMsg) error {
		out = append(out, d)
		return nil
	})
	return out, err
}

// RetryDeadLetters sends the dead letters of one stage ("" for all) back
// to be processed again and deletes each from the dead-letter stream once
// it is re-published: a dead snapshot is redriven from the raw stream (its
// latest snapshot, so an older dead copy never replaces a newer one; the
// copy itself when the raw stream no longer has the issue), dead rows are
// published to their subject again. It returns how many it sent back.
func RetryDeadLetters(ctx context.Context, js jetstream.JetStream, stage, tag string) (int, error) {
	dlq, err := js.Stream(ctx, wire.DeadStream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", wire.DeadStream, err)
	}
	n := 0
	err = eachDeadLetter(ctx, js, stage, func(d Dead, m *jetstream.RawStreamMsg) error {
		if err := sendBack(ctx, js, d, m, fmt.Sprintf("dlq:%s:%d", tag, d.Seq)); err != nil {
			return err
		}
		if err := dlq.DeleteMsg(ctx, d.Seq); err != nil {
			return fmt.Errorf("delete dead letter %d: %w", d.Seq, err)
		}
		n++
		return nil
	})
	return n, err
}

// sendBack re-drives a dead snapshot from the raw stream (its copy when
// the stream no longer has the issue) or publishes dead rows again, under
// the message id id.
func sendBack(ctx context.Context, js jetstream.JetStream, d Dead, m *jetstream.RawStreamMsg, id string) error {
	if issueID, ok := strings.CutPrefix(d.Original, wire.RawSubject("")); ok {
		sent, err := Redrive(ctx, js, issueID, id)
		if err != nil || sent {
			return err
		}
	}
	out := &nats.Msg{Subject: d.Original, Data: m.Data, Header: nats.Header{}}
	for k, v := range m.Header {
		if k != wire.ErrorHeader && k != wire.OriginalSubjectHeader && k != jetstream.MsgIDHeader {
			out.Header[k] = append([]string(nil), v...)
		}
	}
	if _, err := js.PublishMsg(ctx, out, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("dead letter %d to %s: %w", d.Seq, d.Original, err)
	}
	return nil
}

// eachDeadLetter calls fn for every dead letter of stage ("" for all) that
// the stream holds now, oldest first.
func eachDeadLetter(ctx context.Context, js jetstream.JetStream, stage string, fn func(Dead, *jetstream.RawStreamMsg) error) error {
	s, err := js.Stream(ctx, wire.DeadStream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", wire.DeadStream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", wire.DeadStream, err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted
		}
		if err != nil {
			return fmt.Errorf("dead letter %d: %w", seq, err)
		}
		rest, _ := strings.CutPrefix(m.Subject, wire.DeadSubjectRoot+".")
		st, _, _ := strings.Cut(rest, ".")
		if stage != "" && st != stage {
			continue
		}
		d := Dead{Seq: seq, Stage: st, Original: m.Header.Get(wire.OriginalSubjectHeader), Reason: m.Header.Get(wire.ErrorHeader), Time: m.Time}
		if d.Original == "" {
			continue // not a dead letter this version wrote
		}
		if err := fn(d, m); err != nil {
			return err
		}
	}
	return nil
}
