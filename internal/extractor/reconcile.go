package extractor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// RawStore is the raw stream as the extractor reads and rewrites it: the
// previous snapshot of an issue (whose unchanged parts are carried over)
// and the reconciliation's records.
type RawStore interface {
	Stored
	// Known returns the id of every issue with a snapshot.
	Known(ctx context.Context) ([]string, error)
	// Republish stores a changed snapshot under a message id unique to tag.
	Republish(ctx context.Context, snap *wire.IssueSnapshot, tag string) error
	// Tombstoned returns the ids marked gone; MarkGone and ClearGone set
	// and remove the mark.
	Tombstoned(ctx context.Context) (map[string]bool, error)
	MarkGone(ctx context.Context, issueID string, at time.Time) error
	ClearGone(ctx context.Context, issueID string) error
	// LastReconciled and SetReconciled keep when the last reconciliation
	// finished.
	LastReconciled(ctx context.Context) (time.Time, error)
	SetReconciled(ctx context.Context, at time.Time) error
}

// reconcilePageSize is the largest documented scroll page: the listing
// then takes ⌈issues / 1000⌉ requests.
const reconcilePageSize = 1000

// Reconciliation is what one reconciliation found and did.
type Reconciliation struct {
	At    time.Time
	Query string
	// Listed is the issues Tracker returned for the scope; Requests the
	// search pages that took (the least is ⌈Listed / PageSize⌉).
	Listed, Requests, PageSize int
	// Known is the issues the raw stream has a snapshot of.
	Known int
	// Gone were tombstoned now; Restored had a tombstone and are back.
	Gone, Restored []string
	// Unexported are listed issues the raw stream has no snapshot of (a
	// later pass, or a wider search range, brings them).
	Unexported int
}

// ReconcileOptions tune a reconciliation.
type ReconcileOptions struct {
	// Force tombstones even when more than half of the known issues look
	// gone (by default that is refused as a likely loss of access).
	Force bool
}

// Reconcile lists the ids Tracker returns for the configured scope (the
// queues, or the custom query; no time filter) and compares them with the
// issues the raw stream holds: an issue no longer returned (deleted, or
// hidden from the token) gets a tombstone (its last snapshot republished
// with Deleted, which the transformer turns into is_deleted rows); a
// tombstoned issue returned again gets its snapshot back. Issues are
// compared by id, so a move between queues of the scope is no deletion.
// A listing that is not complete changes nothing.
func (e *Extractor) Reconcile(ctx context.Context, o ReconcileOptions) (Reconciliation, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reconcile(ctx, o)
}

func (e *Extractor) reconcile(ctx context.Context, o ReconcileOptions) (Reconciliation, error) {
	raw, ok := e.deps.Stored.(RawStore)
	if !ok {
		return Reconciliation{}, errors.New("reconcile: no raw stream to reconcile with")
	}
	rec := Reconciliation{At: e.deps.Now().UTC(), PageSize: reconcilePageSize}
	rec.Query = e.scopeQuery()
	listed, err := e.listScope(ctx, &rec)
	if err != nil {
		return rec, err
	}
	known, err := raw.Known(ctx)
	if err != nil {
		return rec, err
	}
	marked, err := raw.Tombstoned(ctx)
	if err != nil {
		return rec, err
	}
	rec.Known = len(known)
	var gone []string // not listed: tombstoned, or to be
	fresh := 0
	have := make(map[string]bool, len(known))
	for _, id := range known {
		have[id] = true
		if !listed[id] {
			gone = append(gone, id)
			if !marked[id] {
				fresh++
			}
		}
	}
	for id := range listed {
		switch {
		case !have[id]:
			rec.Unexported++
		case marked[id]:
			rec.Restored = append(rec.Restored, id)
		}
	}
	slices.Sort(gone)
	slices.Sort(rec.Restored)
	if fresh > 0 && 2*fresh > len(known) && !o.Force {
		return rec, fmt.Errorf("reconcile: %d of the %d known issues are no longer returned by Tracker for %q; refusing to tombstone them (lost access? a narrowed scope?): check the token and the scope, or run `reconcile --force`",
			fresh, len(known), rec.Query)
	}
	if err := e.tombstone(ctx, raw, gone, marked, &rec); err != nil {
		return rec, err
	}
	if err := e.restore(ctx, raw, &rec); err != nil {
		return rec, err
	}
	e.deps.Metrics.Gauge("reconcile_gone_issues", float64(len(rec.Gone)))
	e.deps.Metrics.Gauge("reconcile_restored_issues", float64(len(rec.Restored)))
	e.deps.Metrics.Gauge("reconcile_requests", float64(rec.Requests))
	return rec, raw.SetReconciled(ctx, rec.At)
}

// scopeQuery is the configured scope without a time filter.
func (e *Extractor) scopeQuery() string {
	if e.cfg.Query.Mode() == ModeCustom {
		q, _ := BuildQuery(e.cfg.Query, time.Time{}, time.Time{})
		return q
	}
	q, _ := QueryFrom(e.cfg.Query, time.Time{})
	return q
}

// listScope returns the ids of every issue of the scope; an incomplete
// listing is an error.
func (e *Extractor) listScope(ctx context.Context, rec *Reconciliation) (map[string]bool, error) {
	ids := map[string]bool{}
	total := -1
	err := e.deps.Tracker.Search(ctx, tracker.SearchRequest{Query: rec.Query, PerScroll: reconcilePageSize},
		func(pg tracker.SearchPage) error {
			rec.Requests++
			if total < 0 {
				total = pg.Total
			}
			for i := range pg.Issues {
				if id := pg.Issues[i].ID.String(); id != "" {
					ids[id] = true
				}
			}
			return nil
		})
	rec.Listed = len(ids)
	if err != nil {
		return nil, fmt.Errorf("reconcile: list the issues of %q: %w", rec.Query, err)
	}
	if total >= 0 && len(ids) < total {
		return nil, fmt.Errorf("reconcile: %w: %d distinct issues listed where %d were counted", tracker.ErrSearchIncomplete, len(ids), total)
	}
	return ids, nil
}

// tombstone republishes the snapshots of the gone issues marked deleted
// (those whose snapshot says so already are left as they are).
func (e *Extractor) tombstone(ctx context.Context, raw RawStore, gone []string, marked map[string]bool, rec *Reconciliation) error {
	tag := "gone:" + strconv.FormatInt(rec.At.UnixMilli(), 36)
	for _, id := range gone {
		snap, ok, err := raw.Snapshot(ctx, id)
		if err != nil {
			return err
		}
		if !ok || snap.Deleted {
			continue
		}
		// The mark first: a reconciliation cut short between the two
		// finds the snapshot still undeleted and finishes the job.
		if !marked[id] {
			if err := raw.MarkGone(ctx, id, rec.At); err != nil {
				return err
			}
		}
		snap.Deleted, snap.DeletedAt = true, rec.At
		if err := raw.Republish(ctx, snap, tag); err != nil {
			return err
		}
		rec.Gone = append(rec.Gone, id)
	}
	return nil
}

// restore republishes the snapshots of tombstoned issues that are back.
func (e *Extractor) restore(ctx context.Context, raw RawStore, rec *Reconciliation) error {
	tag := "back:" + strconv.FormatInt(rec.At.UnixMilli(), 36)
	for _, id := range rec.Restored {
		snap, ok, err := raw.Snapshot(ctx, id)
		if err != nil {
			return err
		}
		if ok && snap.Deleted {
			snap.Deleted, snap.DeletedAt = false, time.Time{}
			if err := raw.Republish(ctx, snap, tag); err != nil {
				return err
			}
		}
		if err := raw.ClearGone(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// reconcileIfDue runs a reconciliation when the last one is older than
// Config.ReconcileEvery. The first pass only starts the clock (what it
// just exported is current). A failure is logged: it leaves the tables as
// they were, and a later pass tries again.
func (e *Extractor) reconcileIfDue(ctx context.Context, log *slog.Logger) {
	raw, ok := e.deps.Stored.(RawStore)
	if !ok || e.cfg.ReconcileEvery <= 0 {
		return
	}
	last, err := raw.LastReconciled(ctx)
	switch {
	case err == nil && last.IsZero():
		err = raw.SetReconciled(ctx, e.deps.Now())
	case err == nil && e.deps.Now().Sub(last) < e.cfg.ReconcileEvery:
		return
	}
	var rec Reconciliation
	if err == nil && !last.IsZero() {
		rec, err = e.reconcile(ctx, ReconcileOptions{})
	}
	switch {
	case err != nil:
		e.deps.Metrics.Count("reconcile_errors_count", 1)
		log.Error("reconciliation failed; the tables are as they were", "err", err)
	case !last.IsZero():
		log.Info("reconciliation finished", rec.LogAttrs()...)
	}
}

// LogAttrs describes the reconciliation for a log line.
func (r Reconciliation) LogAttrs() []any {
	return []any{"query", r.Query, "listed", r.Listed, "requests", r.Requests,
		"least_requests", (r.Listed + r.PageSize - 1) / max(r.PageSize, 1),
		"known", r.Known, "gone", len(r.Gone), "restored", len(r.Restored), "unexported", r.Unexported}
}
