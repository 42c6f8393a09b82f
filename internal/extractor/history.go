package extractor

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// changelog returns an issue's whole changelog. When the raw stream holds
// a snapshot of the issue (prev), only what follows its history is asked
// for, from its next-to-last entry on: the first entry returned must then
// be its last one, byte for byte, or the stored history is not a prefix of
// the current one (an entry changed or disappeared, or the server reads
// the cursor otherwise) and every page is fetched instead. Either way the
// result is what a full fetch returns.
func (e *Extractor) changelog(ctx context.Context, is *tracker.Issue, prev *wire.IssueSnapshot) ([]tracker.ChangelogEntry, error) {
	per := e.cfg.ChangelogPageSize
	if prev == nil || len(prev.Changelog) < 2 {
		return e.deps.Tracker.Changelog(ctx, is.Key, per)
	}
	stored, ok := decodeEntries(prev.Changelog)
	if !ok || !oldestFirst(stored) {
		return e.deps.Tracker.Changelog(ctx, is.Key, per)
	}
	n := len(stored)
	fresh, err := e.deps.Tracker.ChangelogAfter(ctx, is.Key, per, stored[n-2].ID.String())
	if err != nil && !tracker.Retryable(err) {
		// The cursor refused (an entry that no longer exists): start over.
		e.deps.Metrics.Count("changelog_refetch_count", 1)
		return e.deps.Tracker.Changelog(ctx, is.Key, per)
	}
	if err != nil {
		return nil, err
	}
	if len(fresh) == 0 || !bytes.Equal(fresh[0].Raw, prev.Changelog[n-1]) {
		e.deps.Metrics.Count("changelog_refetch_count", 1)
		return e.deps.Tracker.Changelog(ctx, is.Key, per)
	}
	merged := append(stored[:n-1], fresh...)
	if !oldestFirst(merged) {
		e.deps.Metrics.Count("changelog_refetch_count", 1)
		return e.deps.Tracker.Changelog(ctx, is.Key, per)
	}
	return merged, nil
}

// oldestFirst reports whether entries are shown to be oldest first: their
// update times never go back, and the last is later than the first. Only
// then does "the entries after the stored ones" mean the new ones: the
// contract infers that order (tracker-api.md §4), and on a server that
// lists newest first the new entries would come before the stored ones,
// so the history is fetched whole instead.
func oldestFirst(entries []tracker.ChangelogEntry) bool {
	for i := 1; i < len(entries); i++ {
		if entries[i].UpdatedAt.Before(entries[i-1].UpdatedAt.Time) {
			return false
		}
	}
	return len(entries) > 1 && entries[len(entries)-1].UpdatedAt.After(entries[0].UpdatedAt.Time)
}

// decodeEntries decodes stored changelog entries; false when one does not
// decode (then the history is fetched again).
func decodeEntries(raw [][]byte) ([]tracker.ChangelogEntry, bool) {
	out := make([]tracker.ChangelogEntry, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, false
		}
	}
	return out, true
}
