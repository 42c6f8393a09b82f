package trackertest

import (
	"fmt"
	"maps"
	"time"
)

// Changes between passes: deletion and hiding of issues, and mutations of
// comments, worklogs and links. Every mutation materializes the issue (as
// Touch does), appends the matching changelog entry by the robot user
// (transport "api") at the given time, moved to updatedAt + 1 ms when it
// is not after updatedAt, and sets updatedAt to it.

// Issue visibility (Server.gone).
const (
	goneVisible uint8 = iota
	goneDeleted
	goneHidden
)

// goneState tells whether an issue was deleted or hidden.
func (s *Server) goneState(ref int32) uint8 {
	if s.nGone.Load() == 0 {
		return goneVisible
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gone[ref]
}

func (s *Server) setGoneLocked(ref int32, state uint8) {
	gone := maps.Clone(s.gone)
	if state == goneVisible {
		delete(gone, ref)
	} else {
		gone[ref] = state
	}
	s.gone = gone
	s.nGone.Store(int32(len(gone)))
}

// DeleteIssue deletes an issue (by current or old key, or id): search and
// _count omit it, and GET /issues/{key} and its /changelog, /comments,
// /worklog and /links answer 404 "Issue does not exist.". It cannot be
// undone, and its key stays taken. Ground truth forgets it too (Issue
// reports false, ChangelogLen 0); links of other issues to it stay.
func (s *Server) DeleteIssue(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.resolveLocked(key)
	if !ok || s.gone[ref] == goneDeleted {
		return fmt.Errorf("delete %s: no such issue", key)
	}
	s.setGoneLocked(ref, goneDeleted)
	return nil
}

// HideIssue takes an issue away from the token: search and _count omit it,
// and GET /issues/{key} and its sub-resources answer 403 with the standard
// error body. Ground truth (Issue, ChangelogLen, Comments…) still reports
// it; IssueKeys, IssueCount and TotalChangelogEntries do not.
func (s *Server) HideIssue(key string) error {
	return s.setVisibility(key, goneHidden, "hide")
}

// UnhideIssue gives a hidden issue back to the token.
func (s *Server) UnhideIssue(key string) error {
	return s.setVisibility(key, goneVisible, "unhide")
}

func (s *Server) setVisibility(key string, state uint8, what string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.resolveLocked(key)
	if !ok || s.gone[ref] == goneDeleted {
		return fmt.Errorf("%s %s: no such issue", what, key)
	}
	s.setGoneLocked(ref, state)
	return nil
}

// materializeLocked returns a private copy of an issue with its changelog,
// ready for appending; the caller holds s.mu for writing.
func (s *Server) materializeLocked(ref int32) *issue {
	var base *issue
	switch {
	case ref < 0:
		base = s.fixtures[-ref-1]
	case s.touched[ref] != nil:
		base = s.touched[ref]
	default:
		base = s.generate(int(ref), true)
	}
	cp := *base
	cp.entries = append(make([]entry, 0, len(base.entries)+2), base.entries...)
	return &cp
}

// storeLocked makes cp the issue of ref; the caller then calls
// rebuildExtrasLocked.
func (s *Server) storeLocked(ref int32, cp *issue) {
	if ref < 0 {
		s.fixtures[-ref-1] = cp
		return
	}
	touched := maps.Clone(s.touched)
	touched[ref] = cp
	s.touched = touched
	s.nTouched.Store(int32(len(touched)))
}

// mutate runs fn on a materialized copy of an issue with a builder at the
// mutation's time, then stores the copy with updatedAt at that time.
func (s *Server) mutate(key string, at time.Time, what string, fn func(b *builder, cp *issue, ms int64) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.resolveLocked(key)
	if !ok || s.gone[ref] == goneDeleted {
		return fmt.Errorf("%s %s: no such issue", what, key)
	}
	cp := s.materializeLocked(ref)
	ms := max(at.UnixMilli(), cp.updatedAt+1)
	if err := fn(&builder{s: s, iss: cp, record: true}, cp, ms); err != nil {
		return fmt.Errorf("%s %s: %w", what, key, err)
	}
	cp.updatedAt = ms
	s.storeLocked(ref, cp)
	s.rebuildExtrasLocked()
	return nil
}

// Touch updates an issue at `at`: it appends an IssueUpdated entry by the
// robot user changing storyPoints (null → 1, else +1), bumps the version
// and sets updatedAt. A time not after the current updatedAt is moved to
// updatedAt + 1 ms. It returns an error for an unknown or deleted issue.
func (s *Server) Touch(key string, at time.Time) error {
	return s.mutate(key, at, "touch", func(b *builder, cp *issue, ms int64) error {
		b.begin(ms, 0, etUpdated, true)
		from, to := null, value{k: vNum, f: 1}
		if cp.st.hasSP {
			from, to = value{k: vNum, f: cp.st.sp}, value{k: vNum, f: cp.st.sp + 1}
		}
		b.change(fStoryPoints, from, to)
		cp.st.sp, cp.st.hasSP = to.f, true
		return nil
	})
}

func (s *Server) nextMutationIDLocked() int64 {
	s.mutSeq++
	return mutationIDBase + s.mutSeq
}

func findComment(cp *issue, id int64) (*commentRec, error) {
	for _, c := range derive(cp).comments {
		if c.id == id && !c.removed {
			return &c, nil
		}
	}
	return nil, fmt.Errorf("no comment %d", id)
}

// AddComment adds a comment by the robot user (type standard, transport
// internal) with an IssueCommentAdded entry, and returns its id.
func (s *Server) AddComment(key, text string, at time.Time) (int64, error) {
	if text == "" {
		return 0, fmt.Errorf("add comment to %s: empty text", key)
	}
	var id int64
	err := s.mutate(key, at, "add comment to", func(b *builder, cp *issue, ms int64) error {
		id = s.nextMutationIDLocked()
		b.begin(ms, 0, etCommentAdded, true)
		e := b.entry()
		e.commentID = id
		e.x = &payload{text: strV(text), ckind: commentStandard}
		cp.st.comments++
		cp.st.lastCommentAt = ms
		return nil
	})
	return id, err
}

// EditComment replaces a live comment's text (version + 1) with an
// IssueCommentUpdated entry whose comments.updated has the old and new
// texts.
func (s *Server) EditComment(key string, commentID int64, text string, at time.Time) error {
	if text == "" {
		return fmt.Errorf("edit comment of %s: empty text", key)
	}
	return s.mutate(key, at, "edit comment of", func(b *builder, cp *issue, ms int64) error {
		c, err := findComment(cp, commentID)
		if err != nil {
			return err
		}
		b.begin(ms, 0, etCommentUpdated, true)
		e := b.entry()
		e.commentID = commentID
		e.x = &payload{text: strV(text), prev: c.text, ckind: c.kind}
		cp.st.lastCommentAt = ms
		return nil
	})
}

// RemoveComment removes a live comment with an IssueCommentRemoved entry;
// the comment is no longer listed.
func (s *Server) RemoveComment(key string, commentID int64, at time.Time) error {
	return s.mutate(key, at, "remove comment of", func(b *builder, cp *issue, ms int64) error {
		c, err := findComment(cp, commentID)
		if err != nil {
			return err
		}
		b.begin(ms, 0, etCommentRemoved, true)
		e := b.entry()
		e.commentID = commentID
		e.x = &payload{prev: c.text, ckind: c.kind}
		if c.kind == commentStandard {
			cp.st.comments--
		} else {
			cp.st.emailComments--
		}
		return nil
	})
}

func findWorklog(cp *issue, id int64) (*worklogRec, error) {
	for _, w := range derive(cp).worklogs {
		if w.id == id && !w.removed {
			return &w, nil
		}
	}
	return nil, fmt.Errorf("no worklog record %d", id)
}

// AddWorklog logs time by the robot user: duration is ISO 8601 with
// Tracker's meaning (PT1H30M, P1D = 8 h, P1W = 5 days), rendered back
// normalized (PT90M → PT1H30M). The IssueWorklogAdded entry also changes
// the issue's spent. It returns the record's id.
func (s *Server) AddWorklog(key, duration string, start, at time.Time) (int64, error) {
	dur, err := parseDuration(duration)
	if err != nil {
		return 0, fmt.Errorf("add worklog to %s: %w", key, err)
	}
	var id int64
	err = s.mutate(key, at, "add worklog to", func(b *builder, cp *issue, ms int64) error {
		id = s.nextMutationIDLocked()
		b.begin(ms, 0, etWorklogAdded, true)
		setSpent(b, cp.st.spent+dur)
		b.entry().x = &payload{wid: id, to: wlState{dur: dur, start: start.UnixMilli(), ok: true}}
		return nil
	})
	return id, err
}

// EditWorklog changes a live record's duration (IssueWorklogUpdated, with
// the spent change).
func (s *Server) EditWorklog(key string, id int64, duration string, at time.Time) error {
	dur, err := parseDuration(duration)
	if err != nil {
		return fmt.Errorf("edit worklog of %s: %w", key, err)
	}
	return s.mutate(key, at, "edit worklog of", func(b *builder, cp *issue, ms int64) error {
		w, err := findWorklog(cp, id)
		if err != nil {
			return err
		}
		b.begin(ms, 0, etWorklogUpdated, true)
		setSpent(b, cp.st.spent-w.state.dur+dur)
		b.entry().x = &payload{wid: id, from: w.state, to: wlState{dur: dur, start: w.state.start, ok: true}}
		return nil
	})
}

// RemoveWorklog removes a live record (IssueWorklogRemoved, with the spent
// change); it is no longer listed.
func (s *Server) RemoveWorklog(key string, id int64, at time.Time) error {
	return s.mutate(key, at, "remove worklog of", func(b *builder, cp *issue, ms int64) error {
		w, err := findWorklog(cp, id)
		if err != nil {
			return err
		}
		b.begin(ms, 0, etWorklogRemoved, true)
		setSpent(b, cp.st.spent-w.state.dur)
		b.entry().x = &payload{wid: id, from: w.state}
		return nil
	})
}

// Unlink removes a live link from both of its issues: each changelog gets
// an IssueUnlinked entry at the same time, after both updatedAt (the later
// of `at` and each issue's updatedAt + 1 ms), and both updatedAt move to
// it. A deleted other issue is left alone.
func (s *Server) Unlink(key string, linkID int64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.resolveLocked(key)
	if !ok || s.gone[ref] == goneDeleted {
		return fmt.Errorf("unlink %s: no such issue", key)
	}
	a := s.materializeLocked(ref)
	var l *linkRec
	for _, x := range derive(a).links {
		if x.id == linkID && !x.removed {
			l = &x
			break
		}
	}
	if l == nil {
		return fmt.Errorf("unlink %s: no link %d", key, linkID)
	}
	ms := max(at.UnixMilli(), a.updatedAt+1)
	var o *issue
	if s.gone[l.other] != goneDeleted {
		o = s.materializeLocked(l.other)
		ms = max(ms, o.updatedAt+1)
	}
	add := func(iss *issue, other int32, outward bool) {
		b := &builder{s: s, iss: iss, record: true}
		b.begin(ms, 0, etUnlinked, true)
		b.entry().x = &payload{lid: linkID, other: other, outward: outward, fromT: int8(l.typ), toT: -1}
		iss.updatedAt = ms
	}
	add(a, l.other, l.outward)
	s.storeLocked(ref, a)
	if o != nil {
		add(o, ref, !l.outward)
		s.storeLocked(l.other, o)
	}
	s.rebuildExtrasLocked()
	return nil
}

// Ground truth.

// CommentInfo is one comment as GET /issues/{key}/comments lists it.
type CommentInfo struct {
	ID        int64
	LongID    string
	Text      string // lossless
	CreatedBy UserInfo
	UpdatedBy UserInfo
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int    // 1 + the number of edits
	Type      string // standard, incoming or outcoming
	Transport string // internal or email
}

// WorklogInfo is one worklog record as GET /issues/{key}/worklog lists it.
type WorklogInfo struct {
	ID        int64
	IssueKey  string
	Comment   string // "" when the record has none (the key is omitted)
	CreatedBy UserInfo
	UpdatedBy UserInfo
	CreatedAt time.Time
	UpdatedAt time.Time
	Start     time.Time
	Duration  string // as served, normalized: "P1W2DT3H"
	Seconds   int64  // under Tracker's meaning: a day is 8 h, a week 5 days
	Version   int
}

// LinkInfo is one link as GET /issues/{key}/links lists it.
type LinkInfo struct {
	ID        int64
	Type      string // relates, depends or duplicates
	Direction string // outward on the issue that made the link, inward on the other
	// Inward and Outward are the type's names for both directions.
	Inward, Outward string
	ObjectKey       string // the other issue's current key
	ObjectID        string
	ObjectStatus    string // status key of the other issue
	CreatedBy       UserInfo
	UpdatedBy       UserInfo
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// BoardInfo describes one board of GET /boards.
type BoardInfo struct {
	ID      int
	Name    string
	Queues  []string // the queues of its filter
	Columns []string // column names (English status names)
}

// SprintInfo describes one sprint of GET /boards/{id}/sprints.
type SprintInfo struct {
	ID        int
	Name      string
	BoardID   int
	Status    string // draft, in_progress, released or archived (at Options.Now)
	Archived  bool
	StartDate string // YYYY-MM-DD
	EndDate   string
	Start     time.Time // startDateTime
	End       time.Time // endDateTime
	CreatedAt time.Time
	CreatedBy UserInfo
}

// partsOf returns the parts of an issue that is not deleted.
func (s *Server) partsOf(key string) (*issue, *parts, bool) {
	ref, ok := s.resolve(key)
	if !ok || s.goneState(ref) == goneDeleted {
		return nil, nil, false
	}
	iss := s.issueByRef(ref, true)
	return iss, derive(iss), true
}

func (s *Server) userInfo(u int) UserInfo {
	d := userDefs[u]
	return UserInfo{
		UID: userUID(u), Login: d.login, Email: d.login + "@example.ru", Display: d.display,
		CloudUID: cloudUID(u), Dismissed: d.dismissed, Deleted: d.deleted,
	}
}

func utc(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Comments returns the live comments of an issue in the order the endpoint
// lists them (creation order); nil for an unknown or deleted issue.
func (s *Server) Comments(key string) []CommentInfo {
	_, p, ok := s.partsOf(key)
	if !ok {
		return nil
	}
	var out []CommentInfo
	for k := range p.comments {
		c := &p.comments[k]
		if c.removed {
			continue
		}
		out = append(out, CommentInfo{
			ID: c.id, LongID: s.commentLongID(c), Text: string(rawText(c.text)),
			CreatedBy: s.userInfo(c.by), UpdatedBy: s.userInfo(c.updBy),
			CreatedAt: utc(c.createdAt), UpdatedAt: utc(c.updatedAt), Version: c.version,
			Type: commentKindNames[c.kind][0], Transport: commentKindNames[c.kind][1],
		})
	}
	return out
}

// Worklogs returns the live worklog records of an issue in the order the
// endpoint lists them (creation order).
func (s *Server) Worklogs(key string) []WorklogInfo {
	iss, p, ok := s.partsOf(key)
	if !ok {
		return nil
	}
	var out []WorklogInfo
	for k := range p.worklogs {
		w := &p.worklogs[k]
		if w.removed {
			continue
		}
		out = append(out, WorklogInfo{
			ID: w.id, IssueKey: iss.key, Comment: string(rawText(w.comment)),
			CreatedBy: s.userInfo(w.by), UpdatedBy: s.userInfo(w.updBy),
			CreatedAt: utc(w.createdAt), UpdatedAt: utc(w.updatedAt), Start: utc(w.state.start),
			Duration: formatDuration(w.state.dur), Seconds: w.state.dur, Version: w.version,
		})
	}
	return out
}

// Links returns the live links of an issue in the order the endpoint
// lists them (creation order).
func (s *Server) Links(key string) []LinkInfo {
	_, p, ok := s.partsOf(key)
	if !ok {
		return nil
	}
	var out []LinkInfo
	for k := range p.links {
		l := &p.links[k]
		if l.removed {
			continue
		}
		o := s.issueByRef(l.other, false)
		t := linkTypeDefs[l.typ]
		out = append(out, LinkInfo{
			ID: l.id, Type: t.id, Direction: direction(l.outward), Inward: t.inward, Outward: t.outward,
			ObjectKey: o.key, ObjectID: o.id, ObjectStatus: statusDefs[o.st.status].key,
			CreatedBy: s.userInfo(l.by), UpdatedBy: s.userInfo(l.updBy),
			CreatedAt: utc(l.createdAt), UpdatedAt: utc(l.updatedAt),
		})
	}
	return out
}

// Boards returns the boards of GET /boards.
func (s *Server) Boards() []BoardInfo {
	qs := s.queueList()
	out := make([]BoardInfo, len(boardDefs))
	for k, d := range boardDefs {
		b := BoardInfo{ID: k + 1, Name: d.name}
		for _, q := range d.queues {
			b.Queues = append(b.Queues, qs[q].key)
		}
		for _, st := range d.columns {
			b.Columns = append(b.Columns, statusDefs[st].name[langEN])
		}
		out[k] = b
	}
	return out
}

// Sprints returns every sprint of every board, by id. The first 12 are
// those issues reference (the sprint field), all on board 1.
func (s *Server) Sprints() []SprintInfo {
	out := make([]SprintInfo, len(sprintDefs))
	for k, d := range sprintDefs {
		start, end := sprintTimes(k)
		status, archived, _ := s.sprintStatus(k)
		out[k] = SprintInfo{
			ID: k + 1, Name: d.name, BoardID: d.board + 1, Status: status, Archived: archived,
			StartDate: d.start, EndDate: d.end, Start: utc(start), End: utc(end),
			CreatedAt: utc(start - 7*msPerDay), CreatedBy: s.userInfo(boardDefs[d.board].lead),
		}
	}
	return out
}
