// Package extractor pulls issues and their full changelogs from Tracker and
// publishes one raw snapshot per issue to JetStream. The watermark only
// moves past issues whose snapshots JetStream acknowledged.
package extractor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Config configures the extractor.
type Config struct {
	Query QueryConfig
	// Concurrency is the number of parallel changelog fetches.
	Concurrency int
	// ChangelogPageSize is perPage of changelog requests (1..1000).
	ChangelogPageSize int
	// ScrollPageSize is perScroll of the search (1..1000).
	ScrollPageSize int
	// MaxPayload is the NATS server's message size limit (0: unknown). A
	// snapshot still larger after compression fails with an error that
	// names the limit, is counted, and stops the watermark: it is never
	// silently dropped.
	MaxPayload int
	// ScrollTTL is the scroll context lifetime (default 60s).
	ScrollTTL time.Duration
	// StateKey names this extractor's watermark in the state store.
	StateKey string
	// ProgressEvery logs a progress line every N issues (0: never).
	ProgressEvery int
	// CheckpointEvery saves the watermark during a stateful pass (default
	// 5s; negative: only at the end).
	CheckpointEvery time.Duration
}

// Tracker is what the extractor needs from the Tracker client.
type Tracker interface {
	Search(ctx context.Context, req tracker.SearchRequest, fn func(tracker.SearchPage) error) error
	Changelog(ctx context.Context, issueKey string, perPage int) ([]tracker.ChangelogEntry, error)
	Statuses(ctx context.Context) ([]tracker.Status, error)
	Users(ctx context.Context) ([]tracker.User, error)
	User(ctx context.Context, id string) (tracker.User, error)
}

// StateStore keeps the watermark between runs.
type StateStore interface {
	Load(ctx context.Context, key string) (state.State, bool, error)
	Save(ctx context.Context, key string, s state.State) error
}

// Publisher publishes a message to JetStream and waits for the ack.
type Publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// Progress observes a pass, e.g. a progress bar in a terminal.
type Progress interface {
	// Start reports the number of matching issues (-1: unknown).
	Start(total int)
	// Done reports one issue finished (ok: published).
	Done(ok bool)
	// Finish ends the pass.
	Finish()
}

// Deps are the extractor's collaborators.
type Deps struct {
	Tracker Tracker
	JS      Publisher
	// State may be nil when the extractor is not stateful.
	State   StateStore
	Log     *slog.Logger
	Metrics *telemetry.Metrics
	Now     func() time.Time
	// Progress may be nil.
	Progress Progress
}

// Extractor runs extraction passes. Only one pass runs at a time.
type Extractor struct {
	cfg  Config
	deps Deps
	mu   sync.Mutex
}

// Stats summarises one pass.
type Stats struct {
	Query     string
	Found     int
	Published int
	Failed    int
	// FailedKeys lists (up to 100) issues that failed this pass.
	FailedKeys []string
	Watermark  time.Time
	Duration   time.Duration
	// UnknownUsers counts user ids absent from the directory (deleted).
	UnknownUsers int
	// Restarts counts searches restarted after the scroll expired.
	Restarts int
}

// New validates the configuration. It does no I/O.
func New(cfg Config, deps Deps) (*Extractor, error) {
	var errs []error
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.ChangelogPageSize <= 0 {
		cfg.ChangelogPageSize = 100
	}
	if cfg.ChangelogPageSize > 1000 {
		errs = append(errs, fmt.Errorf("extractor: changelog page size %d > 1000", cfg.ChangelogPageSize))
	}
	if cfg.ScrollPageSize <= 0 || cfg.ScrollPageSize > 1000 {
		cfg.ScrollPageSize = 1000
	}
	if cfg.ScrollTTL <= 0 {
		cfg.ScrollTTL = time.Minute
	}
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = 5 * time.Second
	}
	if cfg.StateKey == "" {
		cfg.StateKey = "tracker_etl_default"
	}
	if deps.Tracker == nil {
		errs = append(errs, errors.New("extractor: no Tracker client"))
	}
	if deps.JS == nil {
		errs = append(errs, errors.New("extractor: no JetStream"))
	}
	if cfg.Query.Mode() == ModeStateful && deps.State == nil {
		errs = append(errs, errors.New("extractor: stateful mode needs a state store"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Extractor{cfg: cfg, deps: deps}, nil
}

// directory is the per-run cache of users and statuses.
type directory struct {
	mu       sync.Mutex
	users    map[string]wire.User
	missing  map[string]bool
	fetching map[string]chan struct{} // ids being fetched now
	statuses map[string]wire.Status
	unknown  int
}

// RunOnce performs one extraction pass: search, changelogs, publish, and
// (in stateful mode) save the new watermark. It returns an error when the
// pass could not run or some issues failed (the watermark then stops at
// the first failed issue, so they are retried next time).
func (e *Extractor) RunOnce(ctx context.Context) (Stats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	start := e.deps.Now()
	st := Stats{}
	log := e.deps.Log

	var watermark time.Time
	if e.cfg.Query.Mode() == ModeStateful {
		s, ok, err := e.deps.State.Load(ctx, e.cfg.StateKey)
		if err != nil {
			return st, fmt.Errorf("load state %q: %w", e.cfg.StateKey, err)
		}
		if ok {
			watermark = s.Watermark
		}
	}
	query, since := BuildQuery(e.cfg.Query, watermark, start)
	st.Query = query
	log.Info("extraction started", "mode", e.cfg.Query.Mode(), "query", query, "watermark", watermark)

	dir, err := e.loadDirectory(ctx)
	if err != nil {
		return st, err
	}

	wm := newWatermark()
	jobs := make(chan job, e.cfg.Concurrency*2)
	var wg sync.WaitGroup
	var statsMu sync.Mutex
	for range e.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				err := e.process(ctx, dir, &j.issue)
				statsMu.Lock()
				if err != nil {
					st.Failed++
					if len(st.FailedKeys) < 100 {
						st.FailedKeys = append(st.FailedKeys, j.issue.Key)
					}
					log.Warn("issue failed", "issue", j.issue.Key, "err", err)
					e.deps.Metrics.Count("issues_failed_count", 1)
				} else {
					st.Published++
					if n := e.cfg.ProgressEvery; n > 0 && st.Published%n == 0 {
						log.Info("extraction progress", "published", st.Published, "found", st.Found, "failed", st.Failed)
					}
				}
				statsMu.Unlock()
				wm.done(j.seq, err == nil)
				if e.deps.Progress != nil {
					e.deps.Progress.Done(err == nil)
				}
			}
		}()
	}

	// Checkpoint the watermark while the pass runs, so a crash loses at
	// most a few seconds of progress.
	stopCheckpoint := e.checkpoint(ctx, wm, since, watermark)

	searchStart := time.Now()
	seq := 0
	// Issues arrive in Updated order. If the scroll expires mid-way (its
	// TTL ran out while workers were busy), the search restarts from the
	// last issue seen, skipping what this pass already queued, for as long
	// as each attempt makes progress.
	var lastSeen time.Time
	recent := map[tracker.ID]bool{} // ids seen within lastSeen's second
	sortedByUpdate := e.cfg.Query.Mode() != ModeCustom
	q := query
	var searchErr error
	for attempt := 1; ; attempt++ {
		progress := 0
		searchErr = e.deps.Tracker.Search(ctx, tracker.SearchRequest{Query: q, PerScroll: e.cfg.ScrollPageSize, TTLMillis: int(e.cfg.ScrollTTL / time.Millisecond)}, func(p tracker.SearchPage) error {
			if e.deps.Progress != nil && attempt == 1 && seq == 0 {
				e.deps.Progress.Start(p.Total)
			}
			for _, is := range p.Issues {
				u := is.UpdatedAt.Time
				if sortedByUpdate && attempt > 1 && (u.Before(lastSeen.Truncate(time.Second)) || recent[is.ID]) {
					continue
				}
				if sec := u.Truncate(time.Second); !sec.Equal(lastSeen.Truncate(time.Second)) {
					clear(recent)
				}
				recent[is.ID] = true
				lastSeen = u
				progress++
				seq++
				wm.add(seq, u)
				statsMu.Lock()
				st.Found++
				statsMu.Unlock()
				select {
				case jobs <- job{seq: seq, issue: is}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
		if searchErr == nil || !errors.Is(searchErr, tracker.ErrNotFound) || progress == 0 || ctx.Err() != nil {
			break
		}
		st.Restarts++
		e.deps.Metrics.Count("search_restarts_count", 1)
		log.Warn("scroll expired; restarting the search from the last issue seen", "attempt", attempt, "last_seen", lastSeen, "err", searchErr)
		if sortedByUpdate {
			q, _ = QueryFrom(e.cfg.Query, lastSeen)
		}
	}
	close(jobs)
	wg.Wait()
	stopCheckpoint()
	if e.deps.Progress != nil {
		e.deps.Progress.Finish()
	}
	e.deps.Metrics.Timing("issues_search_time_seconds", time.Since(searchStart))
	st.UnknownUsers = dir.unknown
	st.Duration = e.deps.Now().Sub(start)

	// After a failed search the watermark still stops at the last issue of
	// the acknowledged prefix, never past an unseen issue.
	st.Watermark = wm.value(since)
	if e.cfg.Query.Mode() == ModeStateful && !st.Watermark.IsZero() && st.Watermark.After(watermark) {
		if err := e.deps.State.Save(ctx, e.cfg.StateKey, state.State{Watermark: st.Watermark, UpdatedAt: e.deps.Now().UTC()}); err != nil {
			return st, fmt.Errorf("save state %q: %w", e.cfg.StateKey, err)
		}
	}
	e.deps.Metrics.Count("issues_total_processed_count", int64(st.Published), "source:issues")
	e.deps.Metrics.Timing("export_and_transform_time_seconds", st.Duration)
	log.Info("extraction finished", "found", st.Found, "published", st.Published, "failed", st.Failed,
		"watermark", st.Watermark, "duration", st.Duration.Round(time.Millisecond))
	switch {
	case searchErr != nil:
		return st, fmt.Errorf("search: %w", searchErr)
	case st.Failed > 0:
		return st, fmt.Errorf("%d issues failed (first: %s); the watermark stops at the first", st.Failed, strings.Join(st.FailedKeys[:min(len(st.FailedKeys), 5)], ", "))
	}
	return st, nil
}

// checkpoint saves the watermark every CheckpointEvery while a stateful
// pass runs; the returned function stops it and waits.
func (e *Extractor) checkpoint(ctx context.Context, wm *watermark, since, saved time.Time) func() {
	if e.cfg.Query.Mode() != ModeStateful || e.cfg.CheckpointEvery <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(e.cfg.CheckpointEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				v := wm.value(since)
				if !v.After(saved) {
					continue
				}
				if err := e.deps.State.Save(ctx, e.cfg.StateKey, state.State{Watermark: v, UpdatedAt: e.deps.Now().UTC()}); err != nil {
					e.deps.Log.Warn("watermark checkpoint failed", "err", err)
					continue
				}
				saved = v
			}
		}
	}()
	return func() { close(done); <-stopped }
}

type job struct {
	seq   int
	issue tracker.Issue
}

func (e *Extractor) loadDirectory(ctx context.Context) (*directory, error) {
	d := &directory{users: map[string]wire.User{}, missing: map[string]bool{}, fetching: map[string]chan struct{}{}, statuses: map[string]wire.Status{}}
	statuses, err := e.deps.Tracker.Statuses(ctx)
	if err != nil {
		return nil, fmt.Errorf("status directory: %w", err)
	}
	for _, s := range statuses {
		d.statuses[s.Key] = wire.Status{Key: s.Key, Name: s.Name, Type: s.Type}
	}
	users, err := e.deps.Tracker.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("users directory: %w", err)
	}
	for i := range users {
		u := &users[i]
		wu := wire.User{Login: u.Login, Email: strings.ToLower(u.Email), Display: u.Display, Dismissed: u.Dismissed}
		for _, id := range u.IDs() {
			d.users[id] = wu
		}
	}
	return d, nil
}

// user returns the directory entry for a user id, fetching an id the
// directory lacks once per run (a deleted user is remembered as missing).
// Workers asking for the same unknown id at once share one request.
func (e *Extractor) user(ctx context.Context, d *directory, id string) (wire.User, bool) {
	d.mu.Lock()
	if u, ok := d.users[id]; ok {
		d.mu.Unlock()
		return u, true
	}
	if d.missing[id] {
		d.mu.Unlock()
		return wire.User{}, false
	}
	if wait, ok := d.fetching[id]; ok {
		d.mu.Unlock()
		<-wait
		d.mu.Lock()
		u, ok := d.users[id]
		d.mu.Unlock()
		return u, ok
	}
	done := make(chan struct{})
	d.fetching[id] = done
	d.mu.Unlock()

	fetched, err := e.deps.Tracker.User(ctx, id)
	d.mu.Lock()
	defer func() {
		delete(d.fetching, id)
		close(done)
		d.mu.Unlock()
	}()
	if err != nil {
		d.missing[id] = true
		d.unknown++
		return wire.User{}, false
	}
	u := wire.User{Login: fetched.Login, Email: strings.ToLower(fetched.Email), Display: fetched.Display, Dismissed: fetched.Dismissed}
	d.users[id] = u
	return u, true
}

// process fetches the changelog of one issue and publishes its snapshot.
func (e *Extractor) process(ctx context.Context, d *directory, is *tracker.Issue) error {
	t0 := time.Now()
	entries, err := e.deps.Tracker.Changelog(ctx, is.Key, e.cfg.ChangelogPageSize)
	if err != nil {
		return err
	}
	e.deps.Metrics.Timing("issue_prefetch_seconds", time.Since(t0))
	snap := wire.IssueSnapshot{
		IssueID:   is.ID.String(),
		IssueKey:  is.Key,
		UpdatedAt: is.UpdatedAt.Time,
		Version:   is.Version,
		FetchedAt: e.deps.Now().UTC(),
		Issue:     is.Raw,
		Changelog: make([][]byte, len(entries)),
		Users:     map[string]wire.User{},
		Statuses:  map[string]wire.Status{},
	}
	if snap.IssueID == "" {
		return fmt.Errorf("issue %s has no id", is.Key)
	}
	addUser := func(r *tracker.Ref) {
		if r == nil || r.ID == "" {
			return
		}
		id := r.ID.String()
		if _, done := snap.Users[id]; done {
			return
		}
		if u, ok := e.user(ctx, d, id); ok {
			snap.Users[id] = u
		}
	}
	addStatus := func(r *tracker.Ref) {
		if r == nil || r.Key == "" {
			return
		}
		d.mu.Lock()
		s, ok := d.statuses[r.Key]
		d.mu.Unlock()
		if ok {
			snap.Statuses[r.Key] = s
		}
	}
	for _, r := range is.UserRefs() {
		addUser(r)
	}
	addStatus(is.Status)
	for i := range entries {
		en := &entries[i]
		snap.Changelog[i] = en.Raw
		addUser(en.UpdatedBy)
		for _, f := range en.Fields {
			for _, v := range [][]byte{f.From, f.To} {
				for _, r := range refsIn(v) {
					switch {
					case f.Field.ID == "status":
						addStatus(r)
					case strings.Contains(r.Self, "/users/"):
						addUser(r)
					}
				}
			}
		}
	}
	payload, encoding, err := wire.Marshal(&snap)
	if err != nil {
		return fmt.Errorf("encode snapshot %s: %w", is.Key, err)
	}
	if limit := e.cfg.MaxPayload; limit > 0 && len(payload)+4096 > limit {
		e.deps.Metrics.Count("snapshots_too_large_count", 1)
		return fmt.Errorf("snapshot of %s is %d bytes after compression, above the NATS server's max_payload %d: raise max_payload (the embedded server and deploy/compose use 8 MiB)",
			is.Key, len(payload), limit)
	}
	msg := &nats.Msg{Subject: wire.RawSubject(snap.IssueID), Data: payload, Header: nats.Header{}}
	msg.Header.Set(wire.SchemaHeader, fmt.Sprint(wire.SnapshotSchema))
	if encoding != "" {
		msg.Header.Set(wire.EncodingHeader, encoding)
	}
	if _, err := e.deps.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(wire.SnapshotMsgID(snap.IssueID, snap.UpdatedAt, snap.Version))); err != nil {
		return fmt.Errorf("publish %s (%d bytes): %w", is.Key, len(payload), err)
	}
	return nil
}

// refsIn decodes a changelog value that is a reference or an array of
// references; other values yield nothing.
func refsIn(v []byte) []*tracker.Ref {
	if len(v) == 0 {
		return nil
	}
	switch v[0] {
	case '{':
		var r tracker.Ref
		if json.Unmarshal(v, &r) == nil {
			return []*tracker.Ref{&r}
		}
	case '[':
		var rs []tracker.Ref
		if json.Unmarshal(v, &rs) == nil {
			out := make([]*tracker.Ref, len(rs))
			for i := range rs {
				out[i] = &rs[i]
			}
			return out
		}
	}
	return nil
}
