package transformer

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// entityRows adds the rows of the optional parts a snapshot carries
// (comments, worklogs, links) and the issue's stays in sprints. An item
// that does not decode is skipped and counted as an anomaly.
func entityRows(snap *wire.IssueSnapshot, d *decoded, users *userRenderer, res *Result, out *wire.IssueRows) {
	out.Parts = snap.Parts
	if snap.Parts.Has(wire.PartComments) {
		out.Comments = commentRows(snap.Comments, d.entries, users, res)
	}
	if snap.Parts.Has(wire.PartWorklogs) {
		out.Worklogs = worklogRows(snap.Worklogs, users, res)
	}
	if snap.Parts.Has(wire.PartLinks) {
		out.Links = linkRows(snap.Links, users, res)
	}
	out.Sprints = sprintRows(&d.issue, d.entries)
}

// decodeAll decodes every item into T with encoding/json, counting those
// that do not decode (or that fail ok) as anomalies.
func decodeAll[T any](items [][]byte, res *Result, ok func(*T) bool) []T {
	out := make([]T, 0, len(items))
	for _, raw := range items {
		var v T
		if json.Unmarshal(raw, &v) != nil || !ok(&v) {
			res.Anomalies++
			continue
		}
		out = append(out, v)
	}
	return out
}

// commentRows are the issue_comments rows: the issue's comments, plus one
// row (is_deleted) for each comment the changelog says was removed, with
// when and by whom it was added if the changelog says so too.
func commentRows(items [][]byte, entries []entry, users *userRenderer, res *Result) []wire.CommentRow {
	comments := decodeEach(items, res, commentObject, leanComment, func(c *tracker.Comment) bool { return c.ID != "" })
	rows := make([]wire.CommentRow, 0, len(comments))
	present := map[string]bool{}
	for i := range comments {
		c := &comments[i]
		present[c.ID.String()] = true
		rows = append(rows, wire.CommentRow{
			CommentID: c.ID.String(), LongID: c.LongID,
			Author: users.actor(c.CreatedBy), AuthorName: label(c.CreatedBy),
			CreatedAt: c.CreatedAt.Time, UpdatedAt: c.UpdatedAt.Time,
			Text: c.Text, TextLength: uint32(utf8.RuneCountInString(c.Text)),
			Type: c.Type, Transport: c.Transport,
		})
	}
	return append(rows, removedComments(entries, present, users)...)
}

// commentEvents is the comments part of a changelog entry.
type commentEvents struct {
	Added   []tracker.Ref `json:"added"`
	Removed []tracker.Ref `json:"removed"`
}

// removedComments are rows for the comments the changelog shows removed
// that the issue no longer has.
func removedComments(entries []entry, present map[string]bool, users *userRenderer) []wire.CommentRow {
	added := map[string]*entry{}
	var rows []wire.CommentRow
	for i := range entries {
		e := &entries[i]
		if !mentions(e.comments) {
			continue
		}
		ev, ok := decodeCommentEvents(e.comments)
		if !ok {
			continue
		}
		for _, r := range ev.Added {
			added[r.ID.String()] = e
		}
		for _, r := range ev.Removed {
			id := r.ID.String()
			if id == "" || present[id] {
				continue
			}
			present[id] = true
			row := wire.CommentRow{CommentID: id, UpdatedAt: e.updatedAt, Deleted: true}
			if a := added[id]; a != nil {
				row.CreatedAt = a.updatedAt
				row.Author, row.AuthorName = users.actor(&a.updatedBy), label(&a.updatedBy)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// mentions reports whether a changelog entry's part field says something.
func mentions(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && !bytes.Equal(v, []byte("null"))
}

// worklogRows are the issue_worklogs rows. A duration that does not parse
// keeps its text, counts 0 seconds and an anomaly.
func worklogRows(items [][]byte, users *userRenderer, res *Result) []wire.WorklogRow {
	logs := decodeEach(items, res, worklogObject, leanWorklog, func(w *tracker.Worklog) bool { return w.ID != "" })
	rows := make([]wire.WorklogRow, 0, len(logs))
	for i := range logs {
		w := &logs[i]
		secs, err := tracker.ParseDuration(w.Duration)
		if err != nil {
			res.Anomalies++
		}
		rows = append(rows, wire.WorklogRow{
			WorklogID: w.ID.String(), Author: users.actor(w.CreatedBy),
			Start: w.Start.Time, Duration: w.Duration, Seconds: secs, Comment: w.Comment,
			CreatedAt: w.CreatedAt.Time, UpdatedAt: w.UpdatedAt.Time,
		})
	}
	return rows
}

// linkRows are the issue_links rows; the relationship is the link type's
// name seen from this issue.
func linkRows(items [][]byte, users *userRenderer, res *Result) []wire.LinkRow {
	links := decodeEach(items, res, linkObject, leanLink, func(l *tracker.Link) bool { return l.ID != "" })
	rows := make([]wire.LinkRow, 0, len(links))
	for i := range links {
		l := &links[i]
		rel := l.Type.Outward
		if l.Direction == "inward" {
			rel = l.Type.Inward
		}
		row := wire.LinkRow{
			LinkID: l.ID.String(), TypeID: l.Type.ID.String(), Direction: l.Direction,
			Relationship: rel, Author: users.actor(l.CreatedBy),
			CreatedAt: l.CreatedAt.Time, UpdatedAt: l.UpdatedAt.Time,
		}
		if l.Object != nil {
			row.LinkedIssueKey, row.LinkedIssueID = l.Object.Key, l.Object.ID.String()
		}
		rows = append(rows, row)
	}
	return rows
}

// sprintRows are the issue's stays in sprints: each change of the sprint
// field opens a stay for a sprint added and closes the stay of one
// removed; a current sprint the changelog never added (set at creation)
// has a stay from the issue's creation.
func sprintRows(is *tracker.Issue, entries []entry) []wire.IssueSprintRow {
	st := sprintStays{open: map[string]int{}}
	for i := range entries {
		e := &entries[i]
		for j := range e.fields {
			if f := &e.fields[j]; f.id == "sprint" {
				st.change(refSet(f.from), refSet(f.to), e.updatedAt)
			}
		}
	}
	for i := range is.Sprint {
		s := &is.Sprint[i]
		id := s.ID.String()
		j, ok := st.open[id]
		if !ok {
			j = st.add(id, "", is.CreatedAt.Time)
		}
		st.rows[j].SprintName, st.rows[j].Current = s.Label(), true
	}
	return st.rows
}

// sprintStays are an issue's stays in sprints, being built.
type sprintStays struct {
	rows []wire.IssueSprintRow
	open map[string]int // sprint id → index of its open stay
}

func (st *sprintStays) add(id, name string, at time.Time) int {
	st.open[id] = len(st.rows)
	st.rows = append(st.rows, wire.IssueSprintRow{SprintID: id, SprintName: name, AddedAt: at})
	return st.open[id]
}

// change closes the stays of the sprints left and opens those of the
// sprints joined at one change of the sprint field.
func (st *sprintStays) change(from, to map[string]tracker.Ref, at time.Time) {
	for id := range from {
		if _, still := to[id]; still {
			continue
		}
		if j, ok := st.open[id]; ok {
			st.rows[j].RemovedAt = at
			delete(st.open, id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(to)) {
		if _, was := st.open[id]; !was {
			ref := to[id]
			st.add(id, ref.Label(), at)
		}
	}
}

// refSet decodes a sprint field value (a reference or an array of them)
// into its references by id.
func refSet(v json.RawMessage) map[string]tracker.Ref {
	out := map[string]tracker.Ref{}
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return out
	}
	refs, ok := cursorRefs(v)
	if !ok {
		refs = jsonRefs(v)
	}
	for _, r := range refs {
		if id := r.ID.String(); id != "" {
			out[id] = r
		}
	}
	return out
}

// cursorRefs reads a reference or an array of them as jsonRefs does,
// without what lean drops; ok is false when the cursor fails (jsonRefs
// then decides).
func cursorRefs(v []byte) (refs []tracker.Ref, ok bool) {
	c := cursor{b: v}
	if v[0] == '{' {
		r := c.ref()
		refs = []tracker.Ref{r.lean()}
	} else {
		refs = c.refs()
	}
	c.end()
	return refs, !c.bad
}

// jsonRefs reads a reference or an array of them with encoding/json; a
// value that is neither gives none.
func jsonRefs(v []byte) []tracker.Ref {
	var refs []tracker.Ref
	if v[0] == '{' {
		var r tracker.Ref
		if json.Unmarshal(v, &r) == nil {
			refs = append(refs, r)
		}
	} else {
		_ = json.Unmarshal(v, &refs)
	}
	return refs
}

// timeSpent reads one of the issue's time tracking fields (ISO 8601, e.g.
// "P1W2D"); absent is 0, a value that does not parse is 0 and an anomaly.
func timeSpent(is *tracker.Issue, field string, res *Result) int64 {
	v := bytes.TrimSpace(is.Extra[field])
	if len(v) == 0 || bytes.Equal(v, []byte("null")) {
		return 0
	}
	var text string
	if json.Unmarshal(v, &text) != nil {
		res.Anomalies++
		return 0
	}
	secs, err := tracker.ParseDuration(text)
	if err != nil {
		res.Anomalies++
		return 0
	}
	return secs
}

// DirectoryRows turns a directory snapshot into the boards and sprints
// rows; items that do not decode are skipped and counted.
func DirectoryRows(snap *wire.DirectorySnapshot) (*wire.DirectoryRows, int) {
	var res Result
	boards := decodeAll(snap.Boards, &res, func(b *tracker.Board) bool { return b.ID != "" })
	sprints := decodeAll(snap.Sprints, &res, func(s *tracker.Sprint) bool { return s.ID != "" })
	out := &wire.DirectoryRows{SourceVersion: wire.VersionOf(snap.FetchedAt)}
	names := map[string]string{}
	for _, b := range boards {
		names[b.ID.String()] = b.Name
		out.Boards = append(out.Boards, wire.BoardRow{BoardID: b.ID.String(), Name: b.Name, Version: b.Version})
	}
	for _, s := range sprints {
		row := wire.SprintRow{
			SprintID: s.ID.String(), Name: s.Name, Status: s.Status, Archived: s.Archived,
			StartDate: date(s.StartDate), EndDate: date(s.EndDate),
			StartAt: s.StartDateTime.Time, EndAt: s.EndDateTime.Time,
			CreatedAt: s.CreatedAt.Time,
		}
		if s.CreatedBy != nil {
			row.CreatedBy = s.CreatedBy.Label()
		}
		if s.Board != nil {
			row.BoardID = s.Board.ID.String()
			row.BoardName = names[row.BoardID]
			if row.BoardName == "" {
				row.BoardName = s.Board.Label()
			}
		}
		out.Sprints = append(out.Sprints, row)
	}
	return out, res.Anomalies
}

// deletedAt is when a tombstoned snapshot was found gone (zero otherwise).
func deletedAt(snap *wire.IssueSnapshot) time.Time {
	if !snap.Deleted {
		return time.Time{}
	}
	return snap.DeletedAt
}
