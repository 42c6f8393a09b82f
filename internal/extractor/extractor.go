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
	"golang.org/x/sync/singleflight"

	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Config configures the extractor: the operator's settings
// (extractorcfg.Config) and what the program derives or tests set. Zero
// values take the defaults noted.
type Config struct {
	// Config holds the operator's settings: the query, concurrency, page
	// sizes, the watermark's name.
	extractorcfg.Config
	// MaxPayload is the NATS server's message size limit (0: unknown). A
	// snapshot still larger after compression fails with an error that
	// names the limit, is counted, and stops the watermark: it is never
	// silently dropped.
	MaxPayload int
	// ScrollTTL is the scroll context lifetime (default 60s).
	ScrollTTL time.Duration
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
	// Parts are the optional parts of a snapshot to export: comments,
	// worklogs, links.
	Parts wire.Part
	// Directory fetches boards and sprints once per pass.
	Directory bool
	// ReconcileEvery is the least time between two reconciliations run
	// after a pass (0: only on demand, Reconcile).
	ReconcileEvery time.Duration
}

// Tracker is what the extractor needs from the Tracker client.
type Tracker interface {
	Search(ctx context.Context, req tracker.SearchRequest, fn func(tracker.SearchPage) error) error
	Changelog(ctx context.Context, issueKey string, perPage int) ([]tracker.ChangelogEntry, error)
	ChangelogAfter(ctx context.Context, issueKey string, perPage int, afterID string) ([]tracker.ChangelogEntry, error)
	Statuses(ctx context.Context) ([]tracker.Status, error)
	Users(ctx context.Context) ([]tracker.User, error)
	User(ctx context.Context, id string) (tracker.User, error)
	Comments(ctx context.Context, issueKey string) ([]json.RawMessage, error)
	Worklogs(ctx context.Context, issueKey string) ([]json.RawMessage, error)
	Links(ctx context.Context, issueKey string) ([]json.RawMessage, error)
	Boards(ctx context.Context) ([]json.RawMessage, error)
	Sprints(ctx context.Context, boardID string) ([]json.RawMessage, error)
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
	// Stored gives the previous snapshot of an issue (nil: parts are
	// always fetched when the changelog mentions them). A RawStore also
	// allows reconciliations.
	Stored Stored
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
	// BudgetReached: the time budget stopped the pass (its search too,
	// perhaps, with every issue found done): the next run continues.
	BudgetReached bool
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
	lookups  singleflight.Group // single-user requests in flight, by id
	statuses map[string]wire.Status
	unknown  int
}

// RunOnce performs one extraction pass: search, changelogs, publish, the
// pass manifest, then (with Loads) settling the loads, and (in stateful
// mode, unless a dry run) saving the watermark. The watermark never moves
// past an issue that is not done: published, or with Loads loaded. It
// returns the pass and an error when the pass could not run, the search
// could not return every issue, an issue failed or, with Loads, an issue
// was not loaded. A shutdown (ctx ends) or the time budget stops it
// cleanly: what was not done stays for the next pass.
func (e *Extractor) RunOnce(ctx context.Context) (*Pass, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, dir, err := e.begin(ctx)
	if err != nil {
		return r.p, err
	}
	r.extract(ctx, dir)
	if err := r.finish(ctx); err != nil {
		return r.p, err
	}
	if !r.interrupted && ctx.Err() == nil {
		e.reconcileIfDue(ctx, r.log)
	}
	return r.p, nil
}

// passRun is one pass in progress.
type passRun struct {
	e      *Extractor
	p      *Pass
	log    *slog.Logger
	led    *ledger
	stored time.Time // the watermark the pass started from
	// interrupted: a shutdown stopped the pass.
	interrupted bool
}

// begin reads the watermark, builds the query and loads the directories.
func (e *Extractor) begin(ctx context.Context) (*passRun, *directory, error) {
	start := e.deps.Now()
	r := &passRun{e: e, p: &Pass{ID: passID(start), Started: start}}
	r.log = e.deps.Log.With("pass", r.p.ID)
	if e.cfg.Query.Mode() == ModeStateful {
		s, ok, err := e.deps.State.Load(ctx, e.cfg.StateKey)
		if err != nil {
			return r, nil, fmt.Errorf("load state %q: %w", e.cfg.StateKey, err)
		}
		if ok {
			r.stored = s.Watermark
		}
	}
	r.p.Query, r.p.Since = BuildQuery(e.cfg.Query, r.stored, start)
	r.led = newLedger(r.p.Since)
	r.led.ceiling = start
	r.log.Info("extraction started", "mode", e.cfg.Query.Mode(), "query", r.p.Query, "watermark", r.stored)
	dir, err := e.loadDirectory(ctx)
	if err == nil && e.cfg.Directory {
		err = e.publishBoards(ctx)
	}
	return r, dir, err
}

// extract searches and fetches and publishes every issue found, then gives
// those that failed for a transient reason more tries. Intake stops at a
// shutdown or at the time budget; the issues in hand then get
// ShutdownGrace (after a shutdown) or all the time they need.
func (r *passRun) extract(ctx context.Context, dir *directory) {
	e, p := r.e, r.p
	work, stopWork := e.workContext(ctx)
	defer stopWork()
	intake, stopIntake := ctx, context.CancelFunc(func() {})
	if e.cfg.TimeBudget > 0 {
		intake, stopIntake = context.WithTimeout(ctx, e.cfg.TimeBudget)
	}
	defer stopIntake()
	f := &fetcher{e: e, dir: dir, led: r.led, log: r.log, work: work, progress: e.deps.Progress, retry: map[int]tracker.Issue{}}
	// Checkpoint the watermark while the pass runs, so a crash loses at
	// most a few seconds of progress.
	stopCheckpoint := e.checkpoint(ctx, r.led, p.Since, r.stored, r.log)
	defer stopCheckpoint()
	searchStart := time.Now()
	sc := e.newScroller(p, r.led, r.log)
	f.run(intake, e.cfg.Concurrency, sc.Issues(intake))
	p.SearchErr = sc.Err()
	if e.deps.Progress != nil {
		e.deps.Progress.Finish()
	}
	f.progress = nil
	f.retryFailed(intake, e.cfg.Concurrency)
	e.deps.Metrics.Timing("issues_search_time_seconds", time.Since(searchStart))
	p.Issues = r.led.snapshot()
	p.count()
	p.UnknownUsers = dir.unknown
	p.Duration = e.deps.Now().Sub(p.Started)
	r.interrupted = ctx.Err() != nil
	if intake.Err() != nil && !r.interrupted {
		r.budgetReached()
	}
}

// budgetReached records that the time budget ran out: what was not
// started is left for the next run (the watermark stops at it), not a
// failure.
func (r *passRun) budgetReached() {
	p := r.p
	p.BudgetReached = true
	p.Deferred = p.pending()
	if errors.Is(p.SearchErr, context.DeadlineExceeded) {
		p.SearchErr = nil
	}
	r.log.Warn("time budget reached: the rest waits for the next run", "budget", r.e.cfg.TimeBudget,
		"done", p.Published+p.Duplicates, "left_for_next_run", p.Deferred)
}

// finish publishes the manifest, settles the loads, saves the watermark
// and reports; the error says what the pass did not deliver.
func (r *passRun) finish(ctx context.Context) error {
	r.publishManifest(ctx)
	settleErr := r.settle(ctx)
	if err := r.saveWatermark(ctx); err != nil {
		return err
	}
	r.report()
	return r.outcome(settleErr)
}

// publishManifest stores the pass's manifest, even for a failed pass:
// verify can then say what of it reached ClickHouse. A shutdown does not
// stop it.
func (r *passRun) publishManifest(ctx context.Context) {
	err := r.e.retryPublish(context.WithoutCancel(ctx), func(ctx context.Context) error {
		return stream.PublishPass(ctx, r.e.deps.JS, r.p.Summary(r.e.cfg.StateKey), r.p.Issues)
	})
	if err != nil {
		r.log.Error("pass manifest not published: verify cannot reconcile this pass", "err", err)
	}
}

// settle waits for the loads of the issues the pass worked on (with
// Loads) and confirms those that arrived; the issues a time budget left
// are deferred, not missing.
func (r *passRun) settle(ctx context.Context) error {
	p := r.p
	if r.e.deps.Loads == nil || ctx.Err() != nil {
		return nil
	}
	pos := make([]int, 0, len(p.Issues))
	worked := *p
	worked.Issues = make([]wire.PassIssue, 0, len(p.Issues))
	for i := range p.Issues {
		if p.Deferred == 0 || p.Issues[i].Outcome != wire.OutcomePending {
			pos = append(pos, i)
			worked.Issues = append(worked.Issues, p.Issues[i])
		}
	}
	ok, err := r.e.deps.Loads.Settle(ctx, &worked)
	r.led.confirm(pos[:len(ok)], ok)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Stopped while waiting for the loads: the watermark keeps to the
		// loads confirmed so far; the next run does the rest.
		r.interrupted = true
		return nil
	}
	return err
}

// saveWatermark saves the watermark the ledger allows (stateful mode, not
// a dry run), under a deadline of its own.
func (r *passRun) saveWatermark(ctx context.Context) error {
	e, p := r.e, r.p
	if e.cfg.Query.Mode() != ModeStateful || e.cfg.DryRun {
		return nil
	}
	wm := r.led.watermark(p.Since, e.deps.Loads != nil)
	if !wm.After(r.stored) {
		return nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	s := state.State{Watermark: wm, UpdatedAt: e.deps.Now().UTC(), RunID: p.ID, FailedKeys: p.FailedKeys}
	if err := e.deps.State.Save(sctx, e.cfg.StateKey, s); err != nil {
		return fmt.Errorf("save state %q: %w", e.cfg.StateKey, err)
	}
	p.Watermark = wm
	return nil
}

// report sends the pass's metrics and logs its end.
func (r *passRun) report() {
	p, metrics := r.p, r.e.deps.Metrics
	metrics.Count("issues_failed_count", int64(p.Failed))
	metrics.Count("issues_total_processed_count", int64(p.Published+p.Duplicates), "source:issues")
	metrics.Timing("export_and_transform_time_seconds", p.Duration)
	metrics.Gauge("pass_issues_found", float64(p.Found))
	metrics.Gauge("pass_issues_failed", float64(p.Failed))
	r.log.Info("extraction finished", "found", p.Found, "published", p.Published, "already_stored", p.Duplicates,
		"failed", p.Failed, "watermark", p.Watermark, "duration", p.Duration.Round(time.Millisecond))
	if r.interrupted {
		r.log.Info("pass interrupted by shutdown", "done", p.Published+p.Duplicates, "left_for_next_pass", p.pending())
	}
}

// outcome is the pass's error: an incomplete search, failed issues, what
// did not load. A shutdown is a clean stop: what was not done stays for
// the next pass (the watermark is before it).
func (r *passRun) outcome(settleErr error) error {
	p := r.p
	if r.interrupted && errors.Is(p.SearchErr, context.Canceled) {
		p.SearchErr = nil
	}
	var errs []error
	if p.SearchErr != nil {
		errs = append(errs, fmt.Errorf("search: %w", p.SearchErr))
	}
	if p.Failed > 0 {
		errs = append(errs, fmt.Errorf("%d issues failed (first: %s); the watermark stops at the first", p.Failed, strings.Join(p.FailedKeys[:min(len(p.FailedKeys), 5)], ", ")))
	}
	return errors.Join(append(errs, settleErr)...)
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
				saved = e.checkpointOnce(ctx, led, since, saved, log)
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// checkpointOnce confirms the loads of the issues published since the last
// checkpoint (with Loads) and saves the watermark when it moved past
// saved. It returns the watermark now saved.
func (e *Extractor) checkpointOnce(ctx context.Context, led *ledger, since, saved time.Time, log *slog.Logger) time.Time {
	if e.deps.Loads != nil {
		if err := e.confirmLoads(ctx, led); err != nil {
			log.Warn("checking loads for a checkpoint failed", "err", err)
			return saved
		}
	}
	v := led.watermark(since, e.deps.Loads != nil)
	if !v.After(saved) {
		return saved
	}
	if err := e.deps.State.Save(ctx, e.cfg.StateKey, state.State{Watermark: v, UpdatedAt: e.deps.Now().UTC()}); err != nil {
		log.Warn("watermark checkpoint failed", "err", err)
		return saved
	}
	return v
}

// confirmLoads asks which of the published issues not yet confirmed have
// reached ClickHouse, in search order, a chunk at a time.
func (e *Extractor) confirmLoads(ctx context.Context, led *ledger) error {
	pos := led.unconfirmed(wire.PassChunkSize)
	if len(pos) == 0 {
		return nil
	}
	ok, err := e.deps.Loads.Confirm(ctx, led.issuesAt(pos))
	if err != nil {
		return err
	}
	led.confirm(pos, ok)
	return nil
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
	d := &directory{users: map[string]wire.User{}, missing: map[string]bool{}, statuses: map[string]wire.Status{}}
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

// user returns the directory entry for a user id (false: a deleted user),
// fetching an id the directory lacks once per run. Only a 404 means the
// user was deleted, and is remembered as missing; any other failure (5xx,
// 429 after the client's retries, 401/403, network) is returned, and the
// id is asked for again by the next issue that needs it. Workers asking
// for the same unknown id at once share one request and its outcome.
func (e *Extractor) user(ctx context.Context, d *directory, id string) (wire.User, bool, error) {
	if u, known, done := d.known(id); done {
		return u, known, nil
	}
	v, err, _ := d.lookups.Do(id, func() (any, error) {
		if u, known, done := d.known(id); done {
			return entry(u, known), nil // a lookup that ended since
		}
		fetched, err := e.deps.Tracker.User(ctx, id)
		d.mu.Lock()
		defer d.mu.Unlock()
		switch {
		case errors.Is(err, tracker.ErrNotFound):
			d.missing[id] = true
			d.unknown++
			return entry(wire.User{}, false), nil
		case err != nil:
			return nil, fmt.Errorf("look up user %s: %w", id, err)
		}
		u := wire.User{Login: fetched.Login, Email: strings.ToLower(fetched.Email), Display: fetched.Display, Dismissed: fetched.Dismissed}
		d.users[id] = u
		return entry(u, true), nil
	})
	if err != nil {
		return wire.User{}, false, err
	}
	if u := v.(*wire.User); u != nil {
		return *u, true, nil
	}
	return wire.User{}, false, nil
}

// entry is a user lookup's outcome: the user, or nil for a deleted one.
func entry(u wire.User, known bool) *wire.User {
	if !known {
		return nil
	}
	return &u
}

// known is what the directory already says of a user id: its entry, or
// that it was deleted (done with known false); done is false when the id
// is still to be looked up.
func (d *directory) known(id string) (u wire.User, known, done bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if u, ok := d.users[id]; ok {
		return u, true, true
	}
	return wire.User{}, false, d.missing[id]
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

// fetchFailed is the result of an issue whose data could not be read from
// Tracker: failed, and tried again later in the pass when the failure is
// transient.
func fetchFailed(err error) result {
	r := failed("fetch", err)
	r.retryable = tracker.Retryable(err)
	return r
}

// process fetches the changelog of one issue (only what is new since the
// snapshot the raw stream holds, when it holds one) and its parts, and
// publishes its snapshot.
func (e *Extractor) process(ctx context.Context, d *directory, is *tracker.Issue) result {
	if is.ID.String() == "" {
		return failed("invalid", fmt.Errorf("issue %s has no id", is.Key))
	}
	prev := e.stored(ctx, is.ID.String())
	t0 := time.Now()
	entries, err := e.changelog(ctx, is, prev)
	if err != nil {
		return fetchFailed(err)
	}
	e.deps.Metrics.Timing("issue_prefetch_seconds", time.Since(t0))
	snap, changes, err := e.snapshot(ctx, d, is, entries)
	if err != nil {
		return fetchFailed(err)
	}
	if r := e.fillParts(ctx, &snap, entries, prev); r.outcome == wire.OutcomeFailed {
		return r
	}
	if err := e.partUsers(ctx, d, &snap); err != nil {
		return fetchFailed(err)
	}
	res := e.publishSnapshot(ctx, &snap)
	res.changes = changes
	return res
}

// snapshot is an issue with its changelog and the directory facts they
// refer to (users, statuses), and the number of changed fields. The error
// is that of a user who could not be looked up.
func (e *Extractor) snapshot(ctx context.Context, d *directory, is *tracker.Issue, entries []tracker.ChangelogEntry) (wire.IssueSnapshot, int, error) {
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
	facts := &snapshotFacts{e: e, d: d, snap: &snap}
	for _, r := range is.UserRefs() {
		facts.user(ctx, r)
	}
	facts.status(is.Status)
	changes := 0
	for i := range entries {
		en := &entries[i]
		snap.Changelog[i] = en.Raw
		changes += len(en.Fields)
		facts.user(ctx, en.UpdatedBy)
		for _, f := range en.Fields {
			facts.refs(ctx, f)
		}
	}
	return snap, changes, facts.err
}

// partUsers adds the users who created or updated the snapshot's
// comments, worklogs and links. The error is that of a user who could not
// be looked up.
func (e *Extractor) partUsers(ctx context.Context, d *directory, snap *wire.IssueSnapshot) error {
	facts := &snapshotFacts{e: e, d: d, snap: snap}
	for _, part := range [][][]byte{snap.Comments, snap.Worklogs, snap.Links} {
		for _, raw := range part {
			var who struct{ CreatedBy, UpdatedBy *tracker.Ref }
			if json.Unmarshal(raw, &who) == nil {
				facts.user(ctx, who.CreatedBy)
				facts.user(ctx, who.UpdatedBy)
			}
		}
	}
	return facts.err
}

// snapshotFacts adds the directory facts a snapshot refers to. err is the
// first user look-up that failed (other than a deleted user's 404): the
// snapshot then lacks a user and must not be published.
type snapshotFacts struct {
	e    *Extractor
	d    *directory
	snap *wire.IssueSnapshot
	err  error
}

// user adds the user r refers to, unless a look-up failed already.
func (s *snapshotFacts) user(ctx context.Context, r *tracker.Ref) {
	if r == nil || r.ID == "" || s.err != nil {
		return
	}
	id := r.ID.String()
	if _, done := s.snap.Users[id]; done {
		return
	}
	u, ok, err := s.e.user(ctx, s.d, id)
	switch {
	case err != nil:
		s.err = err
	case ok:
		s.snap.Users[id] = u
	}
}

func (s *snapshotFacts) status(r *tracker.Ref) {
	if r == nil || r.Key == "" {
		return
	}
	s.d.mu.Lock()
	st, ok := s.d.statuses[r.Key]
	s.d.mu.Unlock()
	if ok {
		s.snap.Statuses[r.Key] = st
	}
}

// refs adds the users and statuses a changed field's values refer to.
func (s *snapshotFacts) refs(ctx context.Context, f tracker.FieldChange) {
	for _, v := range [][]byte{f.From, f.To} {
		for _, r := range refsIn(v) {
			switch {
			case f.Field.ID == "status":
				s.status(r)
			case strings.Contains(r.Self, "/users/"):
				s.user(ctx, r)
			}
		}
	}
}

// publishSnapshot encodes a snapshot and publishes it under its message
// id (the same state of an issue is stored once).
func (e *Extractor) publishSnapshot(ctx context.Context, snap *wire.IssueSnapshot) result {
	payload, encoding, err := wire.Marshal(snap)
	if err != nil {
		return failed("encode", fmt.Errorf("encode snapshot %s: %w", snap.IssueKey, err))
	}
	if limit := e.cfg.MaxPayload; limit > 0 && len(payload)+4096 > limit {
		e.deps.Metrics.Count("snapshots_too_large_count", 1)
		return failed("too_large", fmt.Errorf("snapshot of %s is %d bytes after compression, above the NATS server's max_payload %d: raise max_payload (the embedded server and deploy/compose use 8 MiB)",
			snap.IssueKey, len(payload), limit))
	}
	msg := &nats.Msg{Subject: wire.RawSubject(snap.IssueID), Data: payload, Header: nats.Header{}}
	msg.Header.Set(wire.SchemaHeader, fmt.Sprint(wire.SnapshotSchema))
	if encoding != "" {
		msg.Header.Set(wire.EncodingHeader, encoding)
	}
	ack, err := e.publish(ctx, msg, snap.MsgID())
	if err != nil {
		r := failed("publish", fmt.Errorf("publish %s (%d bytes): %w", snap.IssueKey, len(payload), err))
		r.retryable = true
		return r
	}
	res := result{outcome: wire.OutcomePublished, version: snap.SourceVersion()}
	if ack != nil && ack.Duplicate {
		res.outcome = wire.OutcomeDuplicate
	}
	e.deps.Log.Debug("issue snapshot published", "issue", snap.IssueKey, "version", res.version, "changelog_entries", len(snap.Changelog),
		"bytes", len(payload), "already_stored", res.outcome == wire.OutcomeDuplicate)
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
