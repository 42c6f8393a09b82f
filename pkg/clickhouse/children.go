package clickhouse

import (
	"context"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// rowSet is the rows of one issue-derived table gathered from messages:
// every table but issues is one, so that InsertRows, the validation and
// the printed form treat them alike.
type rowSet interface {
	// kind names the rows in errors ("metric").
	kind() string
	// ids returns the issue id of each row of env ("" for the message's).
	ids(env *wire.IssueRows) []string
	// add gathers env's rows under the issue id and slot.
	add(env *wire.IssueRows, id string, slot uint8)
	// addTo adds the rows gathered to the Insert, as a block.
	addTo(ctx context.Context, in *Insert) error
	// fields returns env's rows as they are inserted.
	fields(env *wire.IssueRows) [][]Field
	// tableName is the table in t.
	tableName(t *TableNames) string
}

// childSet is a rowSet of rows of type T.
type childSet[T any] struct {
	name  string
	table func(*TableNames) string
	rows  func(*wire.IssueRows) []T
	// id is the row's own issue id field (nil: rows have none).
	id   func(*T) string
	cols []column[derived[T]]
	recs []derived[T]
}

func (s *childSet[T]) kind() string                   { return s.name }
func (s *childSet[T]) tableName(t *TableNames) string { return s.table(t) }

func (s *childSet[T]) ids(env *wire.IssueRows) []string {
	rows := s.rows(env)
	out := make([]string, len(rows))
	if s.id != nil {
		for i := range rows {
			out[i] = s.id(&rows[i])
		}
	}
	return out
}

func (s *childSet[T]) add(env *wire.IssueRows, id string, slot uint8) {
	rows := s.rows(env)
	for i := range rows {
		s.recs = append(s.recs, derived[T]{env: env, row: &rows[i], id: id, slot: slot})
	}
}

func (s *childSet[T]) addTo(ctx context.Context, in *Insert) error {
	return addTable(ctx, in, s.table(&in.c.tables), s.cols, s.recs, true)
}

func (s *childSet[T]) fields(env *wire.IssueRows) [][]Field {
	rows := s.rows(env)
	ids := s.ids(env)
	out := make([][]Field, len(rows))
	for i := range rows {
		out[i] = fields(s.cols, derived[T]{env: env, row: &rows[i], id: fieldsIssueID(env, ids[i])})
	}
	return out
}

// childSets returns empty sets of every issue-derived table but issues, in
// insert order.
func childSets() []rowSet {
	return []rowSet{
		&childSet[wire.MetricRow]{name: "metric", table: func(t *TableNames) string { return t.IssueMetrics },
			rows: func(e *wire.IssueRows) []wire.MetricRow { return e.Metrics },
			id:   func(r *wire.MetricRow) string { return r.IssueID }, cols: metricColumns()},
		&childSet[wire.IntervalRow]{name: "interval", table: func(t *TableNames) string { return t.StatusIntervals },
			rows: func(e *wire.IssueRows) []wire.IntervalRow { return e.Intervals },
			id:   func(r *wire.IntervalRow) string { return r.IssueID }, cols: intervalColumns()},
		&childSet[wire.ChangelogRow]{name: "changelog", table: func(t *TableNames) string { return t.IssuesChangelog },
			rows: func(e *wire.IssueRows) []wire.ChangelogRow { return e.Changelog },
			id:   func(r *wire.ChangelogRow) string { return r.IssueID }, cols: changelogColumns()},
		&childSet[wire.CommentRow]{name: "comment", table: func(t *TableNames) string { return t.Comments },
			rows: func(e *wire.IssueRows) []wire.CommentRow { return e.Comments }, cols: commentColumns()},
		&childSet[wire.WorklogRow]{name: "worklog", table: func(t *TableNames) string { return t.Worklogs },
			rows: func(e *wire.IssueRows) []wire.WorklogRow { return e.Worklogs }, cols: worklogColumns()},
		&childSet[wire.LinkRow]{name: "link", table: func(t *TableNames) string { return t.Links },
			rows: func(e *wire.IssueRows) []wire.LinkRow { return e.Links }, cols: linkColumns()},
		&childSet[wire.IssueSprintRow]{name: "sprint", table: func(t *TableNames) string { return t.IssueSprints },
			rows: func(e *wire.IssueRows) []wire.IssueSprintRow { return e.Sprints }, cols: issueSprintColumns()},
	}
}

// TableFields is one row of a table as it is inserted.
type TableFields struct {
	Table  string
	Fields []Field
}

// ChildFields returns the rows of env of every issue-derived table but
// issues, as InsertRows writes them (see IssueFields), table by table in
// insert order.
func ChildFields(env *wire.IssueRows, t TableNames) []TableFields {
	var out []TableFields
	for _, s := range childSets() {
		for _, f := range s.fields(env) {
			out = append(out, TableFields{Table: s.tableName(&t), Fields: f})
		}
	}
	return out
}

// issueHead are the columns every new issue-derived table starts with.
func issueHead[T any]() []column[derived[T]] {
	type r = derived[T]
	return []column[derived[T]]{
		col("issue_id", "String", func(r r) string { return r.id }),
		col("issue_key", "String", func(r r) string { return r.env.IssueKey }),
		col("queue", "LowCardinality(String)", func(r r) string { return r.env.Issue.Queue }),
	}
}

// newChildColumns are a new table's columns: the issue's, its own, then the
// version columns without the old tool's "version".
func newChildColumns[T any](own ...column[derived[T]]) []column[derived[T]] {
	cols := append(issueHead[T](), own...)
	return append(cols, versionColumns[T]()[1:]...)
}

func commentColumns() []column[derived[wire.CommentRow]] {
	type r = derived[wire.CommentRow]
	return newChildColumns(
		col("comment_id", "String", func(r r) string { return r.row.CommentID }),
		col("long_id", "String", func(r r) string { return r.row.LongID }),
		col("author", "String", func(r r) string { return r.row.Author }),
		col("author_display", "String", func(r r) string { return r.row.AuthorName }),
		col("created_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.CreatedAt) }),
		col("updated_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.UpdatedAt) }),
		col("text", "String", func(r r) string { return r.row.Text }),
		col("text_length", "UInt32", func(r r) uint32 { return r.row.TextLength }),
		col("type", "LowCardinality(String)", func(r r) string { return r.row.Type }),
		col("transport", "LowCardinality(String)", func(r r) string { return r.row.Transport }),
		col("is_deleted", "UInt8", func(r r) uint8 { return boolUInt8(r.row.Deleted) }),
	)
}

func worklogColumns() []column[derived[wire.WorklogRow]] {
	type r = derived[wire.WorklogRow]
	return newChildColumns(
		col("worklog_id", "String", func(r r) string { return r.row.WorklogID }),
		col("author", "String", func(r r) string { return r.row.Author }),
		col("start", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.Start) }),
		col("duration", "String", func(r r) string { return r.row.Duration }),
		col("duration_seconds", "Int64", func(r r) int64 { return r.row.Seconds }),
		col("comment", "String", func(r r) string { return r.row.Comment }),
		col("created_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.CreatedAt) }),
		col("updated_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.UpdatedAt) }),
	)
}

func linkColumns() []column[derived[wire.LinkRow]] {
	type r = derived[wire.LinkRow]
	return newChildColumns(
		col("link_id", "String", func(r r) string { return r.row.LinkID }),
		col("linked_issue_key", "String", func(r r) string { return r.row.LinkedIssueKey }),
		col("linked_issue_id", "String", func(r r) string { return r.row.LinkedIssueID }),
		col("type_id", "LowCardinality(String)", func(r r) string { return r.row.TypeID }),
		col("direction", "LowCardinality(String)", func(r r) string { return r.row.Direction }),
		col("relationship", "LowCardinality(String)", func(r r) string { return r.row.Relationship }),
		col("author", "String", func(r r) string { return r.row.Author }),
		col("created_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.CreatedAt) }),
		col("updated_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.UpdatedAt) }),
	)
}

func issueSprintColumns() []column[derived[wire.IssueSprintRow]] {
	type r = derived[wire.IssueSprintRow]
	return newChildColumns(
		col("sprint_id", "String", func(r r) string { return r.row.SprintID }),
		col("sprint_name", "String", func(r r) string { return r.row.SprintName }),
		col("added_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.AddedAt) }),
		col("removed_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.RemovedAt) }),
		col("is_current", "UInt8", func(r r) uint8 { return boolUInt8(r.row.Current) }),
	)
}

// dirRec is a row of the boards or sprints directory with its version.
type dirRec[T any] struct {
	row     *T
	version uint64
}

func boardColumns() []column[dirRec[wire.BoardRow]] {
	type r = dirRec[wire.BoardRow]
	return []column[r]{
		col("board_id", "String", func(r r) string { return r.row.BoardID }),
		col("name", "String", func(r r) string { return r.row.Name }),
		col("board_version", "Int64", func(r r) int64 { return r.row.Version }),
		col("_version", "UInt64", func(r r) uint64 { return r.version }),
	}
}

func sprintColumns() []column[dirRec[wire.SprintRow]] {
	type r = dirRec[wire.SprintRow]
	return []column[r]{
		col("sprint_id", "String", func(r r) string { return r.row.SprintID }),
		col("name", "String", func(r r) string { return r.row.Name }),
		col("board_id", "String", func(r r) string { return r.row.BoardID }),
		col("board_name", "String", func(r r) string { return r.row.BoardName }),
		col("status", "LowCardinality(String)", func(r r) string { return r.row.Status }),
		col("archived", "UInt8", func(r r) uint8 { return boolUInt8(r.row.Archived) }),
		col("start_date", "Date", func(r r) time.Time { return date(r.row.StartDate) }),
		col("end_date", "Date", func(r r) time.Time { return date(r.row.EndDate) }),
		col("start_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.StartAt) }),
		col("end_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.EndAt) }),
		col("created_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.CreatedAt) }),
		col("created_by", "String", func(r r) string { return r.row.CreatedBy }),
		col("_version", "UInt64", func(r r) uint64 { return r.version }),
	}
}

func dirRecs[T any](rows []T, version uint64) []dirRec[T] {
	out := make([]dirRec[T], len(rows))
	for i := range rows {
		out[i] = dirRec[T]{row: &rows[i], version: version}
	}
	return out
}

// InsertDirectory stores the boards and sprints of a directory snapshot;
// the views show the newest directory only (a board or sprint deleted in
// Tracker leaves them). Errors are classified as for InsertRows.
func (c *Client) InsertDirectory(ctx context.Context, d *wire.DirectoryRows) error {
	if err := insertTable(ctx, c, c.tables.Sprints, sprintColumns(), dirRecs(d.Sprints, d.SourceVersion)); err != nil {
		return err
	}
	return insertTable(ctx, c, c.tables.Boards, boardColumns(), dirRecs(d.Boards, d.SourceVersion))
}

// DirectoryFields returns the rows of a directory as InsertDirectory
// writes them: sprints, then boards.
func DirectoryFields(d *wire.DirectoryRows, t TableNames) []TableFields {
	var out []TableFields
	for _, r := range dirRecs(d.Sprints, d.SourceVersion) {
		out = append(out, TableFields{Table: t.Sprints, Fields: fields(sprintColumns(), r)})
	}
	for _, r := range dirRecs(d.Boards, d.SourceVersion) {
		out = append(out, TableFields{Table: t.Boards, Fields: fields(boardColumns(), r)})
	}
	return out
}
