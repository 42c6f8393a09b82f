package clickhouse

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Range of DateTime (UInt32 seconds) and Date on ClickHouse 18.16.
var (
	zeroTime = time.Unix(0, 0).UTC()
	maxTime  = time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC)
)

// dateTime converts t for a DateTime column: UTC, the zero time (and
// anything before 1970) as 1970-01-01 00:00:00, clamped to the type's end.
func dateTime(t time.Time) time.Time {
	if t.IsZero() || t.Before(zeroTime) {
		return zeroTime
	}
	if t.After(maxTime) {
		return maxTime
	}
	return t.UTC()
}

// date converts t for a Date column: its UTC calendar date (wire times are
// UTC, and a date-only Tracker field is midnight UTC), with dateTime's zero
// and range rules.
func date(t time.Time) time.Time {
	t = dateTime(t)
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func boolUInt8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// stringsOrEmpty avoids a nil slice, which Array columns accept, but keeps
// what is read back identical for nil and empty.
func stringsOrEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// column is one column of an insert: its name, its type as in the DDL (a
// test checks both against system.columns) and how to build the column's
// values from the rows.
type column[R any] struct {
	name   string
	typ    string
	values func(rows []R) any
}

// col builds a column from an accessor returning the Go value to store.
func col[R, V any](name, typ string, get func(R) V) column[R] {
	return column[R]{name: name, typ: typ, values: func(rows []R) any {
		out := make([]V, len(rows))
		for i, r := range rows {
			out[i] = get(r)
		}
		return out
	}}
}

// derived is a row with the message it came from, which gives the version
// columns, and the issue id it is stored under.
type derived[T any] struct {
	env  *wire.IssueRows
	row  *T
	id   string
	slot uint8
}

// versionColumns are the dedup and provenance columns every issue-derived
// table ends with, plus the old tool's "version" (the transform time).
func versionColumns[T any]() []column[derived[T]] {
	return []column[derived[T]]{
		col("version", "DateTime('UTC')", func(r derived[T]) time.Time { return dateTime(r.env.TransformedAt) }),
		col("_version", "UInt64", func(r derived[T]) uint64 { return r.env.SourceVersion }),
		col("_transformed_at", "DateTime('UTC')", func(r derived[T]) time.Time { return dateTime(r.env.TransformedAt) }),
		col("_generation", "String", func(r derived[T]) string { return r.env.Generation }),
		col("_slot", "UInt8", func(r derived[T]) uint8 { return r.slot }),
	}
}

type issueRec = derived[wire.IssueRow]

func issueColumns() []column[issueRec] {
	type r = issueRec
	return append(versionColumns[wire.IssueRow](),
		col("issue_id", "String", func(r r) string { return r.id }),
		col("queue", "LowCardinality(String)", func(r r) string { return r.row.Queue }),
		col("title", "String", func(r r) string { return r.row.Title }),
		col("issue_key", "String", func(r r) string { return r.row.IssueKey }),
		col("issue_type", "LowCardinality(String)", func(r r) string { return r.row.IssueType }),
		col("priority", "LowCardinality(String)", func(r r) string { return r.row.Priority }),
		col("status", "LowCardinality(String)", func(r r) string { return r.row.Status }),
		col("status_key", "LowCardinality(String)", func(r r) string { return r.row.StatusKey }),
		col("status_type", "LowCardinality(String)", func(r r) string { return r.row.StatusType }),
		col("resolution", "LowCardinality(String)", func(r r) string { return r.row.Resolution }),
		col("assignee", "String", func(r r) string { return r.row.Assignee }),
		col("author", "String", func(r r) string { return r.row.Author }),
		col("qa_engineer", "String", func(r r) string { return r.row.QAEngineer }),
		col("tags", "Array(String)", func(r r) []string { return stringsOrEmpty(r.row.Tags) }),
		col("components", "Array(String)", func(r r) []string { return stringsOrEmpty(r.row.Components) }),
		col("project", "String", func(r r) string { return r.row.Project }),
		col("created_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.CreatedAt) }),
		col("updated_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.UpdatedAt) }),
		col("deadline", "Date", func(r r) time.Time { return date(r.row.Deadline) }),
		col("closed_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.ClosedAt) }),
		col("resolved_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.ResolvedAt) }),
		col("start_date", "Date", func(r r) time.Time { return date(r.row.StartDate) }),
		col("end_date", "Date", func(r r) time.Time { return date(r.row.EndDate) }),
		col("is_subtask", "UInt8", func(r r) uint8 { return boolUInt8(r.row.IsSubtask) }),
		col("is_closed", "UInt8", func(r r) uint8 { return boolUInt8(r.row.IsClosed) }),
		col("is_resolved", "UInt8", func(r r) uint8 { return boolUInt8(r.row.IsResolved) }),
		col("story_points", "Float32", func(r r) float32 { return float32(r.row.StoryPoints) }),
		col("sprints", "Array(String)", func(r r) []string { return stringsOrEmpty(r.row.Sprints) }),
		col("parent_issue_key", "String", func(r r) string { return r.row.ParentIssueKey }),
		col("epic_issue_key", "String", func(r r) string { return r.row.EpicIssueKey }),
		col("aliases", "Array(String)", func(r r) []string { return stringsOrEmpty(r.row.Aliases) }),
		col("was_moved", "UInt8", func(r r) uint8 { return boolUInt8(r.row.WasMoved) }),
		col("moved_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.MovedAt) }),
		col("moved_by", "String", func(r r) string { return r.row.MovedBy }),
		col("started_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.StartedAt) }),
		col("done_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.DoneAt) }),
		col("lead_time", "Nullable(Int64)", func(r r) *int64 { return r.row.LeadTime }),
		col("lead_time_business", "Nullable(Int64)", func(r r) *int64 { return r.row.LeadTimeBusiness }),
		col("cycle_time", "Nullable(Int64)", func(r r) *int64 { return r.row.CycleTime }),
		col("cycle_time_business", "Nullable(Int64)", func(r r) *int64 { return r.row.CycleTimeBusiness }),
		col("active_time", "Int64", func(r r) int64 { return r.row.ActiveTime }),
		col("paused_time", "Int64", func(r r) int64 { return r.row.PausedTime }),
		col("flow_efficiency", "Nullable(Float64)", func(r r) *float64 { return r.row.FlowEfficiency }),
		col("reopen_count", "UInt32", func(r r) uint32 { return r.row.ReopenCount }),
		col("current_status_since", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.CurrentStatusSince) }),
		col("current_status_age", "Int64", func(r r) int64 { return r.row.CurrentStatusAge }),
		col("anomalies", "UInt32", func(r r) uint32 { return r.row.Anomalies }),
		col("raw", "String", func(r r) string { return r.row.Raw }),
		col("spent", "Int64", func(r r) int64 { return r.row.Spent }),
		col("estimation", "Int64", func(r r) int64 { return r.row.Estimation }),
		col("original_estimation", "Int64", func(r r) int64 { return r.row.OriginalEstimation }),
		col("is_deleted", "UInt8", func(r r) uint8 { return boolUInt8(r.row.IsDeleted) }),
		col("deleted_detected_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.DeletedDetectedAt) }),
	)
}

type metricRec = derived[wire.MetricRow]

func metricColumns() []column[metricRec] {
	type r = metricRec
	return append(versionColumns[wire.MetricRow](),
		col("last_seen", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.LastSeen) }),
		col("issue_id", "String", func(r r) string { return r.id }),
		col("issue_key", "String", func(r r) string { return r.row.IssueKey }),
		col("status_name", "LowCardinality(String)", func(r r) string { return r.row.StatusName }),
		col("status_key", "LowCardinality(String)", func(r r) string { return r.row.StatusKey }),
		col("status_type", "LowCardinality(String)", func(r r) string { return r.row.StatusType }),
		col("status_transitions_count", "UInt32", func(r r) uint32 { return r.row.StatusTransitionsCount }),
		col("duration", "Int64", func(r r) int64 { return r.row.Duration }),
		col("human_readable_duration", "String", func(r r) string { return r.row.HumanReadableDuration }),
		col("busdays_duration", "Int64", func(r r) int64 { return r.row.BusdaysDuration }),
		col("human_readable_busdays_duration", "String", func(r r) string { return r.row.HumanReadableBusdaysDuration }),
		col("is_current", "UInt8", func(r r) uint8 { return boolUInt8(r.row.IsCurrent) }),
	)
}

type intervalRec = derived[wire.IntervalRow]

func intervalColumns() []column[intervalRec] {
	type r = intervalRec
	// issue_status_intervals is new: it has no old "version" column.
	return append(versionColumns[wire.IntervalRow]()[1:],
		col("issue_id", "String", func(r r) string { return r.id }),
		col("issue_key", "String", func(r r) string { return r.row.IssueKey }),
		col("queue", "LowCardinality(String)", func(r r) string { return r.row.Queue }),
		col("status_name", "LowCardinality(String)", func(r r) string { return r.row.StatusName }),
		col("status_key", "LowCardinality(String)", func(r r) string { return r.row.StatusKey }),
		col("status_type", "LowCardinality(String)", func(r r) string { return r.row.StatusType }),
		col("visit_number", "UInt32", func(r r) uint32 { return r.row.VisitNumber }),
		col("entered_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.EnteredAt) }),
		col("left_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.LeftAt) }),
		col("duration", "Int64", func(r r) int64 { return r.row.Duration }),
		col("busdays_duration", "Int64", func(r r) int64 { return r.row.BusdaysDuration }),
		col("is_current", "UInt8", func(r r) uint8 { return boolUInt8(r.row.IsCurrent) }),
	)
}

type changelogRec = derived[wire.ChangelogRow]

func changelogColumns() []column[changelogRec] {
	type r = changelogRec
	return append(versionColumns[wire.ChangelogRow](),
		col("event_time", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.row.EventTime) }),
		col("issue_id", "String", func(r r) string { return r.id }),
		col("issue_key", "String", func(r r) string { return r.row.IssueKey }),
		col("queue", "LowCardinality(String)", func(r r) string { return r.row.Queue }),
		col("entry_id", "String", func(r r) string { return r.row.EntryID }),
		col("field_index", "UInt16", func(r r) uint16 { return r.row.FieldIndex }),
		col("event_type", "LowCardinality(String)", func(r r) string { return r.row.EventType }),
		col("transport", "LowCardinality(String)", func(r r) string { return r.row.Transport }),
		col("actor", "String", func(r r) string { return r.row.Actor }),
		col("changed_field", "String", func(r r) string { return r.row.ChangedField }),
		col("field_display", "String", func(r r) string { return r.row.FieldDisplay }),
		col("changed_from", "String", func(r r) string { return r.row.ChangedFrom }),
		col("changed_to", "String", func(r r) string { return r.row.ChangedTo }),
	)
}

// statusRec is a directory entry with the version of its load.
type statusRec struct {
	s       *wire.Status
	version uint64
}

func statusColumns() []column[statusRec] {
	return []column[statusRec]{
		col("key", "String", func(r statusRec) string { return r.s.Key }),
		col("name", "String", func(r statusRec) string { return r.s.Name }),
		col("type", "LowCardinality(String)", func(r statusRec) string { return r.s.Type }),
		col("_version", "UInt64", func(r statusRec) uint64 { return r.version }),
	}
}

// InsertRows inserts the rows of the given messages: an Insert of one
// batch, one INSERT per table (explicit column lists), skipping tables
// with no rows.
//
// A view reader never sees an issue half loaded: the rows derived from an
// issue go to the generation slot its current issue row does not point at
// (looked up first), so they replace nothing the views show; the issue
// row, written last in one insert, then switches the views to them.
//
// Of several messages of one issue in rows, only the winner is inserted
// (largest SourceVersion; the later one on a tie). A row's issue id may be
// empty (the message's is used) but must otherwise match its message's.
// Errors are *Error: IsPermanent tells invalid rows,
// values that do not convert and schema mismatches from connection, timeout
// and server-side trouble worth a retry. After an error some tables may hold
// the rows already; inserting the same rows again is harmless (dedup).
func (c *Client) InsertRows(ctx context.Context, rows []*wire.IssueRows) error {
	in := c.BeginInsert()
	if err := in.Add(ctx, rows); err != nil {
		return err
	}
	return in.Commit(ctx)
}

// currentSlots returns the generation slot of the current issue row (what
// issues_view shows) of each of the ids that has one.
func (c *Client) currentSlots(ctx context.Context, ids []string) (map[string]uint8, error) {
	out := make(map[string]uint8, len(ids))
	err := c.perIssue(ctx, ids, "SELECT `issue_id`, toUInt64(`_slot`) FROM "+c.qualified(c.writeTable(c.tables.Issues))+" FINAL WHERE `issue_id` IN (%s)",
		func(id string, slot uint64) { out[id] = uint8(slot) })
	if err != nil {
		return nil, newError("insert", c.tables.Issues, fmt.Errorf("look up generation slots: %w", err))
	}
	return out, nil
}

// latestPerIssue drops nil messages and, of several messages of one issue,
// keeps only the one that would win: the largest SourceVersion, the later
// one on a tie. Each issue then has one version per insert, so that no
// table has to break a tie between two versions inside one block (which
// could pick different winners in different tables). Order is kept.
func latestPerIssue(rows []*wire.IssueRows) ([]*wire.IssueRows, error) {
	winner := make(map[string]int, len(rows))
	for i, env := range rows {
		if env == nil {
			continue
		}
		if env.IssueID == "" {
			return nil, &Error{Op: "insert", Permanent: true, Err: fmt.Errorf("%w: message for issue %q has no issue id", ErrInvalidRows, env.IssueKey)}
		}
		if j, ok := winner[env.IssueID]; !ok || env.SourceVersion >= rows[j].SourceVersion {
			winner[env.IssueID] = i
		}
	}
	if len(winner) == len(rows) {
		return rows, nil
	}
	out := make([]*wire.IssueRows, 0, len(winner))
	for i, env := range rows {
		if env != nil && winner[env.IssueID] == i {
			out = append(out, env)
		}
	}
	return out, nil
}

// validIssueIDs checks, before any I/O, that every row of a message
// belongs to the message's issue (a row's issue id may be empty).
func validIssueIDs(env *wire.IssueRows, sets []rowSet) error {
	if _, err := rowIssueID(env, env.Issue.IssueID, "issue"); err != nil {
		return err
	}
	for _, s := range sets {
		for _, id := range s.ids(env) {
			if _, err := rowIssueID(env, id, s.kind()); err != nil {
				return err
			}
		}
	}
	return nil
}

// rowIssueID returns the issue id a row is stored under.
func rowIssueID(env *wire.IssueRows, id, kind string) (string, error) {
	switch id {
	case "":
		return env.IssueID, nil
	case env.IssueID:
		return id, nil
	default:
		return "", &Error{Op: "insert", Permanent: true, Err: fmt.Errorf(
			"%w: %s row of issue %s (%s) has issue id %q", ErrInvalidRows, kind, env.IssueID, env.IssueKey, id)}
	}
}

// InsertStatuses inserts the status directory; the newest load of a key
// wins in the statuses view. Errors are classified as for InsertRows.
func (c *Client) InsertStatuses(ctx context.Context, statuses []wire.Status) error {
	recs := make([]statusRec, 0, len(statuses))
	version := uint64(time.Now().UnixMilli())
	for i := range statuses {
		if statuses[i].Key == "" {
			return &Error{Op: "insert", Table: c.tables.Statuses, Permanent: true,
				Err: fmt.Errorf("%w: status without a key (name %q)", ErrInvalidRows, statuses[i].Name)}
		}
		recs = append(recs, statusRec{s: &statuses[i], version: version})
	}
	return insertTable(ctx, c, c.tables.Statuses, statusColumns(), recs)
}

// statusRecs are the statuses the messages carry, each key once.
func statusRecs(rows []*wire.IssueRows) []statusRec {
	version := uint64(time.Now().UnixMilli())
	seen := map[string]bool{}
	var recs []statusRec
	for _, env := range rows {
		for i := range env.Statuses {
			if s := &env.Statuses[i]; s.Key != "" && !seen[s.Key] {
				seen[s.Key] = true
				recs = append(recs, statusRec{s: s, version: version})
			}
		}
	}
	return recs
}

// Field is one column of a row as InsertRows writes it: the column name,
// its ClickHouse type as in the DDL, and the Go value sent (times already
// in UTC, with the zero time and anything before 1970 as 1970-01-01
// 00:00:00, the zero Date being 1970-01-01; booleans as uint8; nil
// pointers are NULL).
type Field struct {
	Name  string
	Type  string
	Value any
}

// IssueFields returns the issues row of env as InsertRows writes it, in
// table order: version, the issue's columns, _version, _transformed_at,
// _generation, then the given custom columns. It leaves out _slot, which
// InsertRows chooses from what the table holds at insert time. Safe for
// concurrent use.
func IssueFields(env *wire.IssueRows, custom []CustomColumn) []Field {
	rec := issueRec{env: env, row: &env.Issue, id: fieldsIssueID(env, env.Issue.IssueID)}
	return append(fields(issueColumns(), rec), fields(customIssueColumns(nil, custom), rec)...)
}

// fieldsIssueID is the issue id a row is stored under: its own, else its
// message's.
func fieldsIssueID(env *wire.IssueRows, id string) string {
	if id == "" {
		return env.IssueID
	}
	return id
}

// fields evaluates cols for one row, in the tables' column order: the
// dedup and provenance columns (named _x) after the others, _slot left out.
func fields[R any](cols []column[R], rec R) []Field {
	one := []R{rec}
	out := make([]Field, 0, len(cols))
	var tail []Field
	for _, cl := range cols {
		f := Field{Name: cl.name, Type: cl.typ, Value: reflect.ValueOf(cl.values(one)).Index(0).Interface()}
		switch {
		case cl.name == "_slot":
		case strings.HasPrefix(cl.name, "_"):
			tail = append(tail, f)
		default:
			out = append(out, f)
		}
	}
	return append(out, tail...)
}
