package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// RawSnapshots reads and rewrites the latest snapshot of an issue in the
// raw stream. Safe for concurrent use.
type RawSnapshots struct {
	JS jetstream.JetStream

	once sync.Once
	s    jetstream.Stream
	err  error
}

func (r *RawSnapshots) stream(ctx context.Context) (jetstream.Stream, error) {
	r.once.Do(func() {
		r.s, r.err = r.JS.Stream(ctx, wire.RawStream)
		if r.err != nil {
			r.err = fmt.Errorf("stream %s: %w", wire.RawStream, r.err)
		}
	})
	return r.s, r.err
}

// Snapshot returns the raw stream's snapshot of an issue; false when it
// holds none.
func (r *RawSnapshots) Snapshot(ctx context.Context, issueID string) (*wire.IssueSnapshot, bool, error) {
	s, err := r.stream(ctx)
	if err != nil {
		return nil, false, err
	}
	m, err := s.GetLastMsgForSubject(ctx, wire.RawSubject(issueID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("snapshot of %s: %w", issueID, err)
	}
	if v := m.Header.Get(wire.SchemaHeader); v != "" && v != strconv.Itoa(wire.SnapshotSchema) {
		return nil, false, fmt.Errorf("snapshot of %s: unknown schema %q", issueID, v)
	}
	var snap wire.IssueSnapshot
	if err := wire.Unmarshal(m.Data, m.Header.Get(wire.EncodingHeader), &snap); err != nil {
		return nil, false, fmt.Errorf("snapshot of %s: %w", issueID, err)
	}
	return &snap, true, nil
}

// Republish stores snap as the issue's latest snapshot under a message id
// unique to tag (a tombstone, or its withdrawal), for the transformer to
// turn into rows like any other.
func (r *RawSnapshots) Republish(ctx context.Context, snap *wire.IssueSnapshot, tag string) error {
	payload, enc, err := wire.Marshal(snap)
	if err != nil {
		return fmt.Errorf("encode snapshot of %s: %w", snap.IssueKey, err)
	}
	msg := &nats.Msg{Subject: wire.RawSubject(snap.IssueID), Data: payload, Header: nats.Header{}}
	msg.Header.Set(wire.SchemaHeader, strconv.Itoa(wire.SnapshotSchema))
	if enc != "" {
		msg.Header.Set(wire.EncodingHeader, enc)
	}
	if _, err := r.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(wire.RedriveMsgID(snap.IssueID, tag))); err != nil {
		return fmt.Errorf("publish snapshot of %s: %w", snap.IssueKey, err)
	}
	return nil
}

// Known returns the id of every issue the raw stream has a snapshot of.
func (r *RawSnapshots) Known(ctx context.Context) ([]string, error) {
	subjects, err := r.subjects(ctx, wire.RawIssuePrefix)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(subjects))
	for _, s := range subjects {
		ids = append(ids, s[len(wire.RawIssuePrefix):])
	}
	return ids, nil
}

// Tombstoned returns the ids of the issues marked gone (MarkGone).
func (r *RawSnapshots) Tombstoned(ctx context.Context) (map[string]bool, error) {
	prefix := wire.TombstoneSubject("")
	subjects, err := r.subjects(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(subjects))
	for _, s := range subjects {
		out[s[len(prefix):]] = true
	}
	return out, nil
}

// subjects lists the subjects of the raw stream under prefix.
func (r *RawSnapshots) subjects(ctx context.Context, prefix string) ([]string, error) {
	s, err := r.stream(ctx)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("list %s*: %w", prefix, err)
	}
	out := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		out = append(out, subj)
	}
	return out, nil
}

// MarkGone records that an issue is tombstoned.
func (r *RawSnapshots) MarkGone(ctx context.Context, issueID string, at time.Time) error {
	msg := &nats.Msg{Subject: wire.TombstoneSubject(issueID), Data: []byte(at.UTC().Format(time.RFC3339Nano))}
	if _, err := r.JS.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("mark %s gone: %w", issueID, err)
	}
	return nil
}

// ClearGone removes an issue's tombstone mark.
func (r *RawSnapshots) ClearGone(ctx context.Context, issueID string) error {
	s, err := r.stream(ctx)
	if err != nil {
		return err
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(wire.TombstoneSubject(issueID))); err != nil {
		return fmt.Errorf("clear the tombstone of %s: %w", issueID, err)
	}
	return nil
}

// LastReconciled is when the last reconciliation finished (zero: never).
func (r *RawSnapshots) LastReconciled(ctx context.Context) (time.Time, error) {
	s, err := r.stream(ctx)
	if err != nil {
		return time.Time{}, err
	}
	m, err := s.GetLastMsgForSubject(ctx, wire.ReconciledSubject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("last reconciliation: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, string(m.Data))
	if err != nil {
		return time.Time{}, fmt.Errorf("last reconciliation: %w", err)
	}
	return t, nil
}

// SetReconciled records when a reconciliation finished.
func (r *RawSnapshots) SetReconciled(ctx context.Context, at time.Time) error {
	msg := &nats.Msg{Subject: wire.ReconciledSubject, Data: []byte(at.UTC().Format(time.RFC3339Nano))}
	if _, err := r.JS.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("record the reconciliation: %w", err)
	}
	return nil
}

// CountUnder is the number of messages of a stream whose subject starts
// with prefix (e.g. wire.RawIssuePrefix: the issues with a snapshot, not
// the directory nor the reconciliation's records).
func CountUnder(ctx context.Context, js jetstream.JetStream, streamName, prefix string) (uint64, error) {
	s, err := js.Stream(ctx, streamName)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", streamName, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", streamName, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}
