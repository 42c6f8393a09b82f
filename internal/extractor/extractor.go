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
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
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
	// DryRun never saves the watermark (rows are printed, not loaded).
	DryRun bool
	// ShutdownGrace is how long the issues in hand may take to finish
	// after a shutdown began (default 20s); the rest stay for the next
	// pass.
	ShutdownGrace time.Duration
	// PublishPatience is how long a publish is repeated while NATS is
	// unavailable (default 2 min).
	PublishPatience time.Duration
	// TimeBudget bounds how long a pass takes new issues (0: no bound).
	TimeBudget time.Duration
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
type Publisher = stream.Publisher

// Progress observes a pass, e.g. a progress bar in a terminal.
type Progress interface {
	// Start reports the number of matching issues (-1: unknown).
	Start(total int)
	// Done reports one issue finished (ok: published).
	Done(ok bool)
	// Finish ends the pass.
	Finish()
}

// Loads tells whether issues reached ClickHouse. The one-process form
// gives one, and the watermark then follows loads instead of publishes.
type Loads interface {
	// Confirm reports, for each issue, whether ClickHouse holds it at its
	// version or a newer one. It is called during a pass to checkpoint.
	Confirm(ctx context.Context, issues []wire.PassIssue) ([]bool, error)
	// Settle waits until the pass's snapshots went through the pipeline,
	// re-drives what did not arrive, and reports for each issue of the
	// pass whether it is loaded. Its error says what is missing and why.
	Settle(ctx context.Context, p *Pass) ([]bool, error)
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
	// Loads is nil in the distributed form: a published snapshot is then
	// enough to move the watermark past its issue.
	Loads Loads
}

// Extractor runs extraction passes. Only one pass runs at a time.
type Extractor struct {
	cfg  Config
	deps Deps
	mu   sync.Mutex
}

// Pass is the ledger of one extraction pass: what the search said, every
// issue it found in search order with what became of it, and the
// watermark that followed.
type Pass struct {
	ID    string
	Query string
	// Since is the lower bound of Updated the search asked for (zero: none).
	Since time.Time
	// SearchTotals is X-Total-Count of each search attempt (-1: absent).
	SearchTotals []int
	// SearchErr is set when the search could not return everything.
	SearchErr error
	// Issues are the issues found, each once, in search order.
	Issues                               []wire.PassIssue
	Found, Published, Duplicates, Failed int
	// FailedKeys lists (up to 100) issues that failed this pass.
	FailedKeys []string
	// Watermark is the watermark saved (zero when none was).
	Watermark time.Time
	Started   time.Time
	Duration  time.Duration
	// UnknownUsers counts user ids absent from the directory (deleted).
	UnknownUsers int
	// Restarts counts searches restarted after a scroll broke off.
	Restarts int
	// Deferred counts the issues found but not started because the time
	// budget ran out: the next run does them.
	Deferred int
}

// Summary is the pass as published in its manifest.
func (p *Pass) Summary(stateKey string) wire.PassSummary {
	s := wire.PassSummary{PassID: p.ID, StateKey: stateKey, Query: p.Query, Since: p.Since,
		StartedAt: p.Started, FinishedAt: p.Started.Add(p.Duration), SearchTotals: p.SearchTotals,
		Found: p.Found, Published: p.Published, Duplicates: p.Duplicates, Failed: p.Failed}
	if p.SearchErr != nil {
		s.SearchError = p.SearchErr.Error()
	}
	return s
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
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 20 * time.Second
	}
	if cfg.PublishPatience <= 0 {
		cfg.PublishPatience = 2 * time.Minute
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

// maxFruitlessRestarts bounds the restarts of a search that return
// nothing new.
const maxFruitlessRestarts = 3

// RunOnce performs one extraction pass: search, changelogs, publish, the
// pass manifest, then (with Loads) settling the loads, and (in stateful
// mode, unless a dry run) saving the watermark. The watermark never moves
// past an issue that is not done: published, or with Loads loaded. It
// returns the pass and an error when the pass could not run, the search
// could not return every issue, an issue failed or, with Loads, an issue
// was not loaded.
func (e *Extractor) RunOnce(ctx context.Context) (*Pass, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	start := e.deps.Now()
	p := &Pass{ID: passID(start), Started: start}
	log := e.deps.Log.With("pass", p.ID)

	var stored time.Time
	stateful := e.cfg.Query.Mode() == ModeStateful
	if stateful {
		s, ok, err := e.deps.State.Load(ctx, e.cfg.StateKey)
		if err != nil {
			return p, fmt.Errorf("load state %q: %w", e.cfg.StateKey, err)
		}
		if ok {
			stored = s.Watermark
		}
	}
	p.Query, p.Since = BuildQuery(e.cfg.Query, stored, start)
	log.Info("extraction started", "mode", e.cfg.Query.Mode(), "query", p.Query, "watermark", stored)

	dir, err := e.loadDirectory(ctx)
	if err != nil {
		return p, err
	}
	led := newLedger(p.Since)
	// A shutdown stops the search at once; the issues in hand get
	// ShutdownGrace to finish, the others stay for the next pass.
	work, stopWork := e.workContext(ctx)
	defer stopWork()
	// Intake (the search, new issues) also stops at the time budget; the
	// issues in hand then finish and load as usual.
	intake, stopIntake := ctx, context.CancelFunc(func() {})
	if e.cfg.TimeBudget > 0 {
		intake, stopIntake = context.WithTimeout(ctx, e.cfg.TimeBudget)
	}
	defer stopIntake()
	f := &fetcher{e: e, dir: dir, led: led, log: log, work: work, progress: e.deps.Progress, retry: map[int]tracker.Issue{}}

	// Checkpoint the watermark while the pass runs, so a crash loses at
	// most a few seconds of progress.
	stopCheckpoint := e.checkpoint(ctx, led, p.Since, stored, log)
	searchStart := time.Now()
	p.SearchErr = f.run(intake, e.cfg.Concurrency, func(enqueue func(int, tracker.Issue) error) error {
		return e.search(intake, p, led, enqueue, log)
	})
	if e.deps.Progress != nil {
		e.deps.Progress.Finish()
	}
	f.progress = nil
	f.retryFailed(intake, e.cfg.Concurrency)
	stopCheckpoint()
	e.deps.Metrics.Timing("issues_search_time_seconds", time.Since(searchStart))
	p.Issues = led.snapshot()
	p.count()
	e.deps.Metrics.Count("issues_failed_count", int64(p.Failed))
	interrupted := ctx.Err() != nil
	if intake.Err() != nil && !interrupted {
		// The time budget ran out: what was not started is left for the
		// next run (the watermark stops at it), not a failure.
		for i := range p.Issues {
			if p.Issues[i].Outcome == wire.OutcomePending {
				p.Deferred++
			}
		}
		if errors.Is(p.SearchErr, context.DeadlineExceeded) {
			p.SearchErr = nil
		}
		log.Warn("time budget reached: the rest waits for the next run", "budget", e.cfg.TimeBudget, "done", p.Published+p.Duplicates, "left_for_next_run", p.Deferred)
	}
	p.UnknownUsers = dir.unknown
	p.Duration = e.deps.Now().Sub(start)

	// The manifest goes out even for a failed pass: verify can then say
	// what of it reached ClickHouse. It is tried under a context of its
	// own so that a shutdown does not lose it.
	merr := e.retryPublish(context.WithoutCancel(ctx), func(ctx context.Context) error {
		return stream.PublishPass(ctx, e.deps.JS, p.Summary(e.cfg.StateKey), p.Issues)
	})
	if merr != nil {
		log.Error("pass manifest not published: verify cannot reconcile this pass", "err", merr)
	}

	var settleErr error
	loaded := e.deps.Loads != nil
	if loaded && ctx.Err() == nil {
		// Settle the issues the pass worked on; those a time budget left
		// are not missing but deferred (and the watermark stops at them).
		pos := make([]int, 0, len(p.Issues))
		worked := *p
		worked.Issues = make([]wire.PassIssue, 0, len(p.Issues))
		for i := range p.Issues {
			if p.Deferred == 0 || p.Issues[i].Outcome != wire.OutcomePending {
				pos = append(pos, i)
				worked.Issues = append(worked.Issues, p.Issues[i])
			}
		}
		var ok []bool
		ok, settleErr = e.deps.Loads.Settle(ctx, &worked)
		led.confirm(pos[:len(ok)], ok)
		if ctx.Err() != nil && errors.Is(settleErr, context.Canceled) {
			// Stopped while waiting for the loads: the watermark keeps to
			// the loads confirmed so far; the next run does the rest.
			settleErr, interrupted = nil, true
		}
	}
	if stateful && !e.cfg.DryRun {
		wm := led.watermark(p.Since, loaded)
		if wm.After(stored) {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := e.deps.State.Save(sctx, e.cfg.StateKey, state.State{Watermark: wm, UpdatedAt: e.deps.Now().UTC(), RunID: p.ID, FailedKeys: p.FailedKeys})
			cancel()
			if err != nil {
				return p, fmt.Errorf("save state %q: %w", e.cfg.StateKey, err)
			}
			p.Watermark = wm
		}
	}
	e.deps.Metrics.Count("issues_total_processed_count", int64(p.Published+p.Duplicates), "source:issues")
	e.deps.Metrics.Timing("export_and_transform_time_seconds", p.Duration)
	e.deps.Metrics.Gauge("pass_issues_found", float64(p.Found))
	e.deps.Metrics.Gauge("pass_issues_failed", float64(p.Failed))
	log.Info("extraction finished", "found", p.Found, "published", p.Published, "already_stored", p.Duplicates,
		"failed", p.Failed, "watermark", p.Watermark, "duration", p.Duration.Round(time.Millisecond))
	var errs []error
	if interrupted {
		// A shutdown is a clean stop: what was not done stays for the
		// next pass (the watermark is before it).
		left := 0
		for i := range p.Issues {
			if p.Issues[i].Outcome == wire.OutcomePending {
				left++
			}
		}
		log.Info("pass interrupted by shutdown", "done", p.Published+p.Duplicates, "left_for_next_pass", left)
		if errors.Is(p.SearchErr, context.Canceled) {
			p.SearchErr = nil
		}
	}
	if p.SearchErr != nil {
		errs = append(errs, fmt.Errorf("search: %w", p.SearchErr))
	}
	if p.Failed > 0 {
		errs = append(errs, fmt.Errorf("%d issues failed (first: %s); the watermark stops at the first", p.Failed, strings.Join(p.FailedKeys[:min(len(p.FailedKeys), 5)], ", ")))
	}
	if settleErr != nil {
		errs = append(errs, settleErr)
	}
	return p, errors.Join(errs...)
}

// search runs the search of a pass, adding each issue it returns to the
// ledger once and handing new ones to enqueue.
//
// A scroll that breaks off restarts from the last issue seen (in Updated
// order; from the start, skipping what was seen, for a custom query). The
// attempts since the last full start form a chain: the issues the broken
// ones returned plus the total of the one that finished must reach the
// total the first counted, or issues went missing on the way (a proxy
// that re-sent a request, a server that skipped a page). Then, as when a
// single scroll ends short of its total, the search runs again from the
// chain's start, and the watermark stays there. It gives up after
// maxFruitlessRestarts attempts in a row that found nothing new.
func (e *Extractor) search(ctx context.Context, p *Pass, led *ledger, enqueue func(int, tracker.Issue) error, log *slog.Logger) error {
	sorted := e.cfg.Query.Mode() != ModeCustom
	query, since := p.Query, p.Since
	chainStart, chainTotal, chainSeen := since, -1, 0
	var lastSeen time.Time
	fruitless := 0
	for attempt := 1; ; attempt++ {
		progress, returned, total := 0, 0, -1
		err := e.deps.Tracker.Search(ctx, tracker.SearchRequest{Query: query, PerScroll: e.cfg.ScrollPageSize, TTLMillis: int(e.cfg.ScrollTTL / time.Millisecond)}, func(pg tracker.SearchPage) error {
			if returned == 0 && total < 0 {
				total = pg.Total
				p.SearchTotals = append(p.SearchTotals, pg.Total)
				if chainTotal < 0 && chainSeen == 0 {
					chainTotal = pg.Total
				}
				if e.deps.Progress != nil && attempt == 1 {
					e.deps.Progress.Start(pg.Total)
				}
			}
			returned += len(pg.Issues)
			for k := range pg.Issues {
				is := &pg.Issues[k]
				i, isNew := led.add(wire.PassIssue{ID: is.ID.String(), Key: is.Key, Updated: is.UpdatedAt.Time, Version: wire.VersionOf(is.UpdatedAt.Time)})
				if sorted {
					led.seen(is.UpdatedAt.Time)
					lastSeen = is.UpdatedAt.Time
				}
				if !isNew {
					continue
				}
				progress++
				if err := enqueue(i, *is); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil && chainTotal >= 0 && total >= 0 && chainSeen+total < chainTotal {
			err = fmt.Errorf("%w: the searches since %s returned %d issues where %d were counted",
				tracker.ErrSearchIncomplete, chainStart.Format(time.RFC3339), chainSeen+total, chainTotal)
		}
		switch {
		case err == nil:
			led.complete()
			return nil
		case ctx.Err() != nil:
			return err
		case errors.Is(err, tracker.ErrSearchIncomplete):
			// Issues went missing without an error: search the chain's
			// range again; the watermark stays at its start.
			led.freeze(chainStart)
			query, since = p.Query, chainStart
			if sorted {
				query, _ = QueryFrom(e.cfg.Query, chainStart)
			}
			chainTotal, chainSeen = -1, 0
		case errors.Is(err, tracker.ErrScrollInterrupted):
			if sorted && !lastSeen.IsZero() {
				chainSeen += returned
				query, since = QueryFrom(e.cfg.Query, lastSeen)
			} else {
				chainTotal, chainSeen = -1, 0 // a custom query starts over
			}
		default:
			return err
		}
		if progress == 0 {
			fruitless++
		} else {
			fruitless = 0
		}
		if fruitless >= maxFruitlessRestarts {
			return fmt.Errorf("gave up after %d restarts that found nothing new: %w", fruitless, err)
		}
		p.Restarts++
		e.deps.Metrics.Count("search_restarts_count", 1)
		log.Warn("search restarted", "attempt", attempt+1, "from", since, "found_so_far", led.count(), "err", err)
	}
}

// checkpoint saves the watermark every CheckpointEvery while a stateful
// pass runs (with Loads, up to the issues confirmed in ClickHouse); the
// returned function stops it and waits.
func (e *Extractor) checkpoint(ctx context.Context, led *ledger, since, saved time.Time, log *slog.Logger) func() {
	if e.cfg.Query.Mode() != ModeStateful || e.cfg.CheckpointEvery <= 0 || e.cfg.DryRun {
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
			}
			if e.deps.Loads != nil {
				pos := led.unconfirmed(wire.PassChunkSize)
				if len(pos) > 0 {
					issues := make([]wire.PassIssue, len(pos))
					all := led.snapshot()
					for k, i := range pos {
						issues[k] = all[i]
					}
					ok, err := e.deps.Loads.Confirm(ctx, issues)
					if err != nil {
						log.Warn("checking loads for a checkpoint failed", "err", err)
						continue
					}
					led.confirm(pos, ok)
				}
			}
			v := led.watermark(since, e.deps.Loads != nil)
			if !v.After(saved) {
				continue
			}
			if err := e.deps.State.Save(ctx, e.cfg.StateKey, state.State{Watermark: v, UpdatedAt: e.deps.Now().UTC()}); err != nil {
				log.Warn("watermark checkpoint failed", "err", err)
				continue
			}
			saved = v
		}
	}()
	return func() { close(done); <-stopped }
}

// passID names a pass: its start time, sortable, plus a random suffix.
func passID(start time.Time) string {
	return start.UTC().Format("20060102T150405.000Z") + "-" + strconv.FormatUint(rand.Uint64()&0xffffff, 36)
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
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

// result is what became of one issue.
type result struct {
	outcome wire.Outcome
	version uint64
	changes int
	err     error
	class   string // why it failed: fetch, encode, too_large, publish
	// retryable: another try later in the pass may succeed.
	retryable bool
}

// apply records the result in the issue's ledger entry.
func (r result) apply(pi *wire.PassIssue) {
	pi.Outcome, pi.Changes = r.outcome, r.changes
	if r.version > 0 {
		pi.Version = r.version
	}
	if r.err != nil {
		pi.Reason = r.class + ": " + r.err.Error()
	}
}

func failed(class string, err error) result {
	return result{outcome: wire.OutcomeFailed, class: class, err: err}
}

// process fetches the changelog of one issue and publishes its snapshot.
func (e *Extractor) process(ctx context.Context, d *directory, is *tracker.Issue) result {
	t0 := time.Now()
	entries, err := e.deps.Tracker.Changelog(ctx, is.Key, e.cfg.ChangelogPageSize)
	if err != nil {
		r := failed("fetch", err)
		r.retryable = tracker.Retryable(err)
		return r
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
		return failed("invalid", fmt.Errorf("issue %s has no id", is.Key))
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
	res := result{version: snap.SourceVersion()}
	for i := range entries {
		en := &entries[i]
		snap.Changelog[i] = en.Raw
		res.changes += len(en.Fields)
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
		return failed("encode", fmt.Errorf("encode snapshot %s: %w", is.Key, err))
	}
	if limit := e.cfg.MaxPayload; limit > 0 && len(payload)+4096 > limit {
		e.deps.Metrics.Count("snapshots_too_large_count", 1)
		return failed("too_large", fmt.Errorf("snapshot of %s is %d bytes after compression, above the NATS server's max_payload %d: raise max_payload (the embedded server and deploy/compose use 8 MiB)",
			is.Key, len(payload), limit))
	}
	msg := &nats.Msg{Subject: wire.RawSubject(snap.IssueID), Data: payload, Header: nats.Header{}}
	msg.Header.Set(wire.SchemaHeader, fmt.Sprint(wire.SnapshotSchema))
	if encoding != "" {
		msg.Header.Set(wire.EncodingHeader, encoding)
	}
	ack, err := e.publish(ctx, msg, wire.SnapshotMsgID(snap.IssueID, snap.UpdatedAt, snap.Version))
	if err != nil {
		r := failed("publish", fmt.Errorf("publish %s (%d bytes): %w", is.Key, len(payload), err))
		r.retryable = true
		return r
	}
	res.outcome = wire.OutcomePublished
	if ack != nil && ack.Duplicate {
		res.outcome = wire.OutcomeDuplicate
	}
	return res
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
