package extractor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Stored reads the snapshot of an issue that the raw stream holds (the
// previous pass's), so that parts that did not change are carried over
// instead of fetched again.
type Stored interface {
	Snapshot(ctx context.Context, issueID string) (*wire.IssueSnapshot, bool, error)
}

// partKind is what announces one optional part in a changelog and how to
// fetch it.
type partKind struct {
	part  wire.Part
	class string // for failures
	types map[string]bool
	// key is the entry's field that mentions the part (a transition may
	// carry a comment).
	key   func(*tracker.ChangelogEntry) json.RawMessage
	fetch func(ctx context.Context, t Tracker, key string) ([]json.RawMessage, error)
	slot  func(*wire.IssueSnapshot) *[][]byte
}

var partKinds = []partKind{
	{
		part: wire.PartComments, class: "comments",
		types: map[string]bool{"IssueCommentAdded": true, "IssueCommentUpdated": true, "IssueCommentRemoved": true},
		key:   func(e *tracker.ChangelogEntry) json.RawMessage { return e.Comments },
		fetch: func(ctx context.Context, t Tracker, key string) ([]json.RawMessage, error) {
			return t.Comments(ctx, key)
		},
		slot: func(s *wire.IssueSnapshot) *[][]byte { return &s.Comments },
	},
	{
		part: wire.PartWorklogs, class: "worklogs",
		types: map[string]bool{"IssueWorklogAdded": true, "IssueWorklogUpdated": true, "IssueWorklogRemoved": true},
		key:   func(e *tracker.ChangelogEntry) json.RawMessage { return e.Worklog },
		fetch: func(ctx context.Context, t Tracker, key string) ([]json.RawMessage, error) {
			return t.Worklogs(ctx, key)
		},
		slot: func(s *wire.IssueSnapshot) *[][]byte { return &s.Worklogs },
	},
	{
		part: wire.PartLinks, class: "links",
		types: map[string]bool{"IssueLinked": true, "IssueLinkChanged": true, "IssueUnlinked": true},
		key:   func(e *tracker.ChangelogEntry) json.RawMessage { return e.Links },
		fetch: func(ctx context.Context, t Tracker, key string) ([]json.RawMessage, error) { return t.Links(ctx, key) },
		slot:  func(s *wire.IssueSnapshot) *[][]byte { return &s.Links },
	},
}

// events is the part's fingerprint in a changelog: the ids of every entry
// that concerns it (one without an id counts by its content), sorted, so
// that it does not depend on the changelog's order (oldest first is only
// inferred, tracker-api.md §4.2). Empty when no entry concerns the part.
func (k partKind) events(entries []tracker.ChangelogEntry) []string {
	var ids []string
	for i := range entries {
		e := &entries[i]
		if k.types[e.Type] || mentions(k.key(e)) {
			ids = append(ids, entryKey(e))
		}
	}
	slices.Sort(ids)
	return ids
}

// entryKey names a changelog entry: its id, or a hash of its content.
func entryKey(e *tracker.ChangelogEntry) string {
	if id := e.ID.String(); id != "" {
		return id
	}
	h := sha256.Sum256(bytes.TrimSpace(e.Raw))
	return "raw:" + hex.EncodeToString(h[:])
}

// mentions reports whether an entry's part field says something.
func mentions(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && !bytes.Equal(v, []byte("null")) && !bytes.Equal(v, []byte("[]")) && !bytes.Equal(v, []byte("{}"))
}

// eventsOf is events over the raw entries of a stored snapshot.
func (k partKind) eventsOf(s *wire.IssueSnapshot) []string {
	entries := make([]tracker.ChangelogEntry, 0, len(s.Changelog))
	for _, raw := range s.Changelog {
		var e tracker.ChangelogEntry
		if json.Unmarshal(raw, &e) == nil {
			entries = append(entries, e)
		}
	}
	return k.events(entries)
}

// fillParts adds the enabled optional parts to a snapshot: a part its
// changelog never mentions is empty without a request; one whose events
// (see events) are the same as in the stored snapshot prev (nil: none) is
// carried over; the others are fetched (every page).
func (e *Extractor) fillParts(ctx context.Context, snap *wire.IssueSnapshot, entries []tracker.ChangelogEntry, prev *wire.IssueSnapshot) result {
	for _, k := range partKinds {
		if !e.cfg.Parts.Has(k.part) {
			continue
		}
		snap.Parts |= k.part
		events := k.events(entries)
		if len(events) == 0 {
			continue
		}
		if prev != nil && prev.Parts.Has(k.part) && slices.Equal(k.eventsOf(prev), events) {
			*k.slot(snap) = *k.slot(prev)
			continue
		}
		t0 := time.Now()
		items, err := k.fetch(ctx, e.deps.Tracker, snap.IssueKey)
		if err == nil && k.part == wire.PartComments {
			// The old tool's timer of an issue's comments fetch.
			e.deps.Metrics.Timing("comments_fetch_seconds", time.Since(t0))
		}
		if err != nil {
			return fetchFailed(err)
		}
		raw := make([][]byte, len(items))
		for i := range items {
			raw[i] = items[i]
		}
		*k.slot(snap) = raw
	}
	return result{}
}

// stored is the raw stream's snapshot of an issue, nil when there is none
// or it cannot be read (then the parts are fetched: a cost, never a loss).
func (e *Extractor) stored(ctx context.Context, issueID string) *wire.IssueSnapshot {
	if e.deps.Stored == nil {
		return nil
	}
	s, ok, err := e.deps.Stored.Snapshot(ctx, issueID)
	if err != nil || !ok {
		return nil
	}
	return s
}

// publishBoards fetches the boards and their sprints (once per pass) and
// publishes them as the directory snapshot; the same directory is stored
// once (its message id is its content's hash).
func (e *Extractor) publishBoards(ctx context.Context) error {
	boards, err := e.deps.Tracker.Boards(ctx)
	if err != nil {
		return fmt.Errorf("boards (EXPORTER_SPRINTS_EXPORT_ENABLED=false skips boards and sprints): %w", err)
	}
	snap := wire.DirectorySnapshot{FetchedAt: e.deps.Now().UTC()}
	h := sha256.New()
	for _, b := range boards {
		snap.Boards = append(snap.Boards, b)
		h.Write(b)
		var board tracker.Board
		if err := json.Unmarshal(b, &board); err != nil || board.ID == "" {
			continue
		}
		sprints, err := e.deps.Tracker.Sprints(ctx, board.ID.String())
		if err != nil {
			return fmt.Errorf("sprints of board %s: %w", board.ID, err)
		}
		for _, s := range sprints {
			snap.Sprints = append(snap.Sprints, s)
			h.Write(s)
		}
	}
	payload, encoding, err := wire.Marshal(&snap)
	if err != nil {
		return fmt.Errorf("encode boards: %w", err)
	}
	msg := &nats.Msg{Subject: wire.DirectorySubject, Data: payload, Header: nats.Header{}}
	msg.Header.Set(wire.SchemaHeader, fmt.Sprint(wire.SnapshotSchema))
	if encoding != "" {
		msg.Header.Set(wire.EncodingHeader, encoding)
	}
	if _, err := e.publish(ctx, msg, "dir:"+hex.EncodeToString(h.Sum(nil))); err != nil {
		return fmt.Errorf("publish boards: %w", err)
	}
	return nil
}
