package trackertest

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Fixture is a hand-written issue. Its changelog is an IssueCreated entry
// at CreatedAt followed by one IssueWorkflow entry per transition.
type Fixture struct {
	// Key is "QUEUE-N"; it must not collide with a synthetic issue.
	Key string
	// Queue defaults to the key's prefix and must equal it. Queues that do
	// not exist are added to the directory with the "dev" workflow.
	Queue string
	// Summary defaults to the key.
	Summary     string
	Description string
	// Type and Priority are directory keys; default "task" and "normal".
	Type, Priority string
	// Author is the login of createdBy; default the first directory user.
	Author string
	// Assignee is a login; empty for none.
	Assignee  string
	CreatedAt time.Time
	// InitialStatus is a status key; default "open".
	InitialStatus string
	Transitions   []FixtureTransition
	// Resolution is the resolution key set when a transition enters a done
	// or cancelled status; default "fixed" (done) or "wontFix" (cancelled).
	Resolution string
	// UpdatedAt defaults to the time of the last changelog entry.
	UpdatedAt time.Time
}

// FixtureTransition is one status change of a Fixture, also used to report
// the status changes of any issue (StatusChanges).
type FixtureTransition struct {
	At time.Time
	// From and To are status keys. An empty From means the current status;
	// a From that differs from it is recorded as given (an anomaly).
	From, To string
	// By is the login of the author; default the fixture's Author.
	By string
}

// Fixture73 returns the worked example of METRICS.md §7: METRICS-1, created
// Monday 2024-03-04 07:00Z in open, six transitions, closed at the end.
func Fixture73() Fixture {
	at := func(d, h int) time.Time { return time.Date(2024, 3, d, h, 0, 0, 0, time.UTC) }
	return Fixture{
		Key:           "METRICS-1",
		Summary:       "Worked example of METRICS.md §7",
		Type:          "task",
		Author:        userDefs[1].login,
		Assignee:      userDefs[2].login,
		CreatedAt:     at(4, 7),
		InitialStatus: "open",
		Transitions: []FixtureTransition{
			{At: at(4, 9), From: "open", To: "inProgress"},
			{At: at(5, 9), From: "inProgress", To: "testing"},
			{At: at(5, 13), From: "testing", To: "inProgress"},
			{At: at(6, 10), From: "inProgress", To: "testing"},
			{At: at(7, 10), From: "testing", To: "readyForRelease"},
			{At: at(11, 7), From: "readyForRelease", To: "closed"},
		},
	}
}

var fixtureKeyRE = regexp.MustCompile(`^([A-Z][A-Z0-9]*)-([1-9][0-9]*)$`)

func lookupDef(defs []namedDef, key, def string) (int, error) {
	if key == "" {
		key = def
	}
	for i, d := range defs {
		if d.key == key {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown key %q", key)
}

func fixtureUser(login string, def int) (int, error) {
	if login == "" {
		return def, nil
	}
	u := lookupUser(login)
	if u < 0 {
		return 0, fmt.Errorf("unknown user %q", login)
	}
	return u, nil
}

// AddFixture adds a hand-written issue. It returns an error, and adds
// nothing, when the fixture is invalid or its key is taken.
func (s *Server) AddFixture(f Fixture) error {
	spec, err := parseFixture(f)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fixtureKeyFreeLocked(f.Key, spec.queue, spec.num); err != nil {
		return err
	}
	iss := s.newFixtureLocked(f, spec, s.fixtureQueueLocked(spec.queue))
	s.fixtures = append(s.fixtures, iss)
	s.fixtureKeys[iss.key] = iss.ref
	s.fixtureKeys[iss.id] = iss.ref
	s.rebuildExtrasLocked()
	return nil
}

// fixtureSpec is a validated Fixture: its key's queue and number, and its
// directory indexes.
type fixtureSpec struct {
	queue, num       string
	typ, prio        int
	author, assignee int // assignee -1: none
	initial          int // status
	res              int // -1: by the status type
}

// parseFixture validates f and looks up its directory keys; the error
// names the fixture and, for the lookups, every problem at once.
func parseFixture(f Fixture) (fixtureSpec, error) {
	m := fixtureKeyRE.FindStringSubmatch(f.Key)
	if m == nil {
		return fixtureSpec{}, fmt.Errorf("fixture key %q: want QUEUE-N", f.Key)
	}
	spec := fixtureSpec{queue: m[1], num: m[2], initial: stOpen, res: -1}
	if f.Queue != "" && f.Queue != spec.queue {
		return fixtureSpec{}, fmt.Errorf("fixture %s: queue %q differs from the key's", f.Key, f.Queue)
	}
	if f.CreatedAt.IsZero() {
		return fixtureSpec{}, fmt.Errorf("fixture %s: CreatedAt is required", f.Key)
	}
	var errs []error
	var err error
	spec.typ, err = lookupDef(issueTypeDefs, f.Type, "task")
	errs = append(errs, err)
	spec.prio, err = lookupDef(priorityDefs, f.Priority, "normal")
	errs = append(errs, err)
	spec.author, err = fixtureUser(f.Author, 1)
	errs = append(errs, err)
	spec.assignee, err = fixtureUser(f.Assignee, -1)
	errs = append(errs, err)
	if f.InitialStatus != "" {
		if spec.initial = statusIndex(f.InitialStatus); spec.initial < 0 {
			errs = append(errs, fmt.Errorf("unknown status %q", f.InitialStatus))
		}
	}
	if f.Resolution != "" {
		spec.res, err = lookupDef(resolutionDefs, f.Resolution, "")
		errs = append(errs, err)
	}
	for _, t := range f.Transitions {
		errs = append(errs, checkTransition(t, spec.author)...)
	}
	if err := errors.Join(errs...); err != nil {
		return fixtureSpec{}, fmt.Errorf("fixture %s: %w", f.Key, err)
	}
	return spec, nil
}

// checkTransition returns the problems of a fixture's transition; author
// is the fixture's.
func checkTransition(t FixtureTransition, author int) []error {
	var errs []error
	if t.To == "" || statusIndex(t.To) < 0 {
		errs = append(errs, fmt.Errorf("unknown status %q", t.To))
	}
	if t.From != "" && statusIndex(t.From) < 0 {
		errs = append(errs, fmt.Errorf("unknown status %q", t.From))
	}
	if t.At.IsZero() {
		errs = append(errs, errors.New("transition without At"))
	}
	_, err := fixtureUser(t.By, author)
	return append(errs, err)
}

// fixtureKeyFreeLocked returns an error when fixture key is taken: by an
// issue, or by the numbers of the synthetic issues in one of their queues
// (qkey and num are the key's parts). Callers hold mu.
func (s *Server) fixtureKeyFreeLocked(key, qkey, num string) error {
	if _, taken := s.resolveLocked(key); taken {
		return fmt.Errorf("fixture %s: key already exists", key)
	}
	if n, _ := strconv.Atoi(num); n <= s.opts.Issues {
		for _, q := range queueDefs {
			if q.key == qkey {
				return fmt.Errorf("fixture %s: key collides with a synthetic issue", key)
			}
		}
	}
	return nil
}

// fixtureQueueLocked returns the index of queue qkey, adding it with the
// "dev" workflow when it does not exist. Callers hold mu.
func (s *Server) fixtureQueueLocked(qkey string) int {
	qidx := -1
	for i, q := range s.queues {
		if q.key == qkey {
			qidx = i
		}
	}
	if qidx >= 0 {
		return qidx
	}
	s.queues = append(slices.Clip(s.queues), queueDef{
		key: qkey, name: qkey, workflow: wfDev, localField: -1, lead: 1, desc: "Fixture queue",
	})
	clear(s.refSets)
	return len(s.queues) - 1
}

// newFixtureLocked builds the issue of fixture f in queue qidx with its
// recorded changelog. Callers hold mu.
func (s *Server) newFixtureLocked(f Fixture, spec fixtureSpec, qidx int) *issue {
	k := len(s.fixtures)
	iss := &issue{
		ref: int32(-(k + 1)), code: uint32(fixtureCodeBase + k), num: atoiMust(spec.num), key: f.Key,
		prevQueue: -1, project: -1, parent: -1, epic: -1, start: -1, end: -1,
		createdAt: f.CreatedAt.UnixMilli(), createdBy: spec.author,
	}
	iss.id = s.issueID(iss.createdAt, iss.code)
	summary := f.Summary
	if summary == "" {
		summary = f.Key
	}
	iss.st = state{
		prevStatus: -1, assignee: spec.assignee, qa: -1, deadline: -1, res: -1, team: -1,
		queue: qidx, typ: spec.typ, prio: spec.prio, summary: strV(summary),
	}
	if f.Description != "" {
		iss.st.description = strV(f.Description)
	}
	b := &builder{s: s, iss: iss, record: true}
	b.begin(iss.createdAt, spec.author, etCreated, false)
	b.change(fStatus, null, statusV(spec.initial))
	iss.st.status, iss.st.statusStart = spec.initial, iss.createdAt
	iss.updatedAt = recordTransitions(b, f.Transitions, spec.author, spec.res)
	if !f.UpdatedAt.IsZero() {
		iss.updatedAt = f.UpdatedAt.UnixMilli()
	}
	return iss
}

// recordTransitions records a fixture's transitions, by author unless
// they say otherwise, with resolution res (-1: fixed, or won't fix for a
// cancelled status) when one closes the issue; it returns the time of the
// last entry.
func recordTransitions(b *builder, ts []FixtureTransition, author, res int) int64 {
	iss := b.iss
	last := iss.createdAt
	for _, t := range ts {
		by, _ := fixtureUser(t.By, author)
		at := t.At.UnixMilli()
		if t.From != "" {
			iss.st.status = statusIndex(t.From)
		}
		to := statusIndex(t.To)
		r := res
		if r < 0 {
			r = resFixed
			if statusDefs[to].typ == StatusTypeCancelled {
				r = resWontFix
			}
		}
		b.begin(at, by, etWorkflow, false)
		b.setStatus(to, at, by, r)
		last = max(last, at)
	}
	return last
}

func atoiMust(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// rebuildExtrasLocked recomputes the updatedAt-ordered list of fixtures and
// touched issues; the caller holds s.mu for writing.
func (s *Server) rebuildExtrasLocked() {
	extras := make([]*issue, 0, len(s.fixtures)+len(s.touched))
	extras = append(extras, s.fixtures...)
	for _, t := range s.touched {
		extras = append(extras, t)
	}
	slices.SortFunc(extras, func(a, b *issue) int {
		if c := cmpInt(a.updatedAt, b.updatedAt); c != 0 {
			return c
		}
		return cmpInt(int64(a.ref), int64(b.ref))
	})
	s.extras = extras
}

func (s *Server) touchedIssue(i int) *issue {
	if s.nTouched.Load() == 0 {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.touched[int32(i)]
}

// IssueCount returns the number of issues the token sees: synthetic plus
// fixtures, less the deleted and hidden ones.
func (s *Server) IssueCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.opts.Issues + len(s.fixtures) - len(s.gone)
}

// IssueKeys returns the current keys of all issues the token sees (not
// deleted, not hidden) in updatedAt order.
func (s *Server) IssueKeys() []string {
	refs := s.scan(newCriteria())
	keys := make([]string, len(refs))
	for i, ref := range refs {
		v := view{s: s, ref: ref}
		if ref < 0 {
			v.iss = s.issueByRef(ref, false)
		} else if t := s.touchedIssue(int(ref)); t != nil {
			v.iss = t
		}
		keys[i] = v.key()
	}
	return keys
}

// ChangelogLen returns the number of changelog entries of an issue (by
// current or old key, or id); 0 for an unknown or deleted issue. Hidden
// issues are counted.
func (s *Server) ChangelogLen(key string) int {
	ref, ok := s.resolve(key)
	if !ok || s.goneState(ref) == goneDeleted {
		return 0
	}
	return s.entriesOf(ref)
}

// entriesOf is the number of changelog entries of an issue, generating
// nothing for untouched synthetic issues.
func (s *Server) entriesOf(ref int32) int {
	if ref < 0 {
		return s.issueByRef(ref, false).nEntries
	}
	if t := s.touchedIssue(int(ref)); t != nil {
		return t.nEntries
	}
	n, _ := s.entryCount(int(ref), nil)
	return n
}

// TotalChangelogEntries returns the number of changelog entries of all
// issues the token sees (the sum of ChangelogLen over IssueKeys).
func (s *Server) TotalChangelogEntries() int64 {
	s.baseEntriesOnce.Do(func() {
		var n int64
		var buf []xevent
		for i := range s.opts.Issues {
			var c int
			c, buf = s.entryCount(i, buf)
			n += int64(c)
		}
		s.baseEntries = n
	})
	s.mu.RLock()
	touched, fixtures, gone := s.touched, s.fixtures, s.gone
	s.mu.RUnlock()
	n := s.baseEntries
	for ref, t := range touched {
		c, _ := s.entryCount(int(ref), nil)
		n += int64(t.nEntries - c)
	}
	for _, f := range fixtures {
		n += int64(f.nEntries)
	}
	for ref := range gone {
		n -= int64(s.entriesOf(ref))
	}
	return n
}

// ChangelogFieldChanges returns the number of field changes over all
// changelog entries of an issue (the sum of len(fields)); 0 if unknown or
// deleted.
func (s *Server) ChangelogFieldChanges(key string) int {
	ref, ok := s.resolve(key)
	if !ok || s.goneState(ref) == goneDeleted {
		return 0
	}
	return s.issueByRef(ref, false).fieldChanges
}

// StatusInfo describes one status of the directory.
type StatusInfo struct {
	ID     int
	Key    string
	Name   string // English
	NameRU string
	Type   string // new, inProgress, paused, done, cancelled
	Order  int
}

// Statuses returns the status directory.
func (s *Server) Statuses() []StatusInfo {
	out := make([]StatusInfo, len(statusDefs))
	for i, d := range statusDefs {
		out[i] = StatusInfo{ID: i + 1, Key: d.key, Name: d.name[langEN], NameRU: d.name[langRU], Type: d.typ, Order: d.order}
	}
	return out
}

// UserInfo describes a user that issues may reference.
type UserInfo struct {
	UID       int64
	Login     string
	Email     string
	Display   string
	CloudUID  string
	Dismissed bool
	// Deleted users are referenced by issues but absent from /users.
	Deleted bool
}

// Users returns every user issues may reference, the deleted ones included.
func (s *Server) Users() []UserInfo {
	out := make([]UserInfo, len(userDefs))
	for u := range userDefs {
		out[u] = s.userInfo(u)
	}
	return out
}

// IssueInfo is the ground truth of one issue's current state.
type IssueInfo struct {
	ID         string
	Key        string
	Aliases    []string
	Queue      string
	Status     string
	StatusType string
	StatusAt   time.Time // statusStartTime
	Resolution string    // "" when unresolved
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Version    int
	// Spent, Estimation and OriginalEstimation are ISO 8601 durations as
	// the issue shows them ("" when absent); SpentSeconds is Spent in
	// seconds (a day is 8 h, a week 5 days).
	Spent              string
	SpentSeconds       int64
	Estimation         string
	OriginalEstimation string
	// Hidden issues are reported by Issue but not by IssueKeys.
	Hidden bool
}

// Issue returns the current state of an issue by key (current or old) or
// id; false for an unknown or deleted issue.
func (s *Server) Issue(key string) (IssueInfo, bool) {
	ref, ok := s.resolve(key)
	if !ok {
		return IssueInfo{}, false
	}
	gone := s.goneState(ref)
	if gone == goneDeleted {
		return IssueInfo{}, false
	}
	iss := s.issueByRef(ref, false)
	qs := s.queueList()
	info := IssueInfo{
		ID: iss.id, Key: iss.key, Queue: qs[iss.st.queue].key,
		Status: statusDefs[iss.st.status].key, StatusType: statusDefs[iss.st.status].typ,
		StatusAt:  time.UnixMilli(iss.st.statusStart).UTC(),
		CreatedAt: time.UnixMilli(iss.createdAt).UTC(), UpdatedAt: time.UnixMilli(iss.updatedAt).UTC(),
		Version: iss.version(), Hidden: gone == goneHidden, SpentSeconds: iss.st.spent,
	}
	if iss.st.spent > 0 {
		info.Spent = formatDuration(iss.st.spent)
	}
	if iss.st.est > 0 {
		info.Estimation = formatDuration(iss.st.est)
	}
	if iss.st.origEst > 0 {
		info.OriginalEstimation = formatDuration(iss.st.origEst)
	}
	if iss.alias != "" {
		info.Aliases = []string{iss.alias}
	}
	if iss.st.res >= 0 {
		info.Resolution = resolutionDefs[iss.st.res].key
	}
	return info, true
}

// StatusChanges returns every status change in an issue's changelog after
// IssueCreated (IssueWorkflow and IssueMoved entries), oldest first, with
// the author's login in By.
func (s *Server) StatusChanges(key string) []FixtureTransition {
	ref, ok := s.resolve(key)
	if !ok {
		return nil
	}
	iss := s.issueByRef(ref, true)
	var out []FixtureTransition
	for _, e := range iss.entries {
		if e.typ == etCreated {
			continue
		}
		for _, fc := range e.fields {
			if fc.f == fStatus {
				out = append(out, FixtureTransition{
					At: time.UnixMilli(e.at).UTC(), By: userDefs[e.by].login,
					From: statusDefs[fc.from.n].key, To: statusDefs[fc.to.n].key,
				})
			}
		}
	}
	return out
}

// Queues returns the keys of the queues in the directory.
func (s *Server) Queues() []string {
	qs := s.queueList()
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.key
	}
	return out
}
