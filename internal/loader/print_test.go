package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// printSample is one message with every kind of value: set and empty
// dates, NULLs, a NaN, arrays, HTML characters and a custom field.
func printSample() *wire.IssueRows {
	lead := int64(3600)
	nan := math.NaN()
	return &wire.IssueRows{
		IssueID: "id1", IssueKey: "DEV-1", SourceVersion: 1709539200123, TransformedAt: t0.Add(time.Hour), Generation: "g1",
		Issue: wire.IssueRow{
			IssueKey: "DEV-1", Queue: "DEV", Title: "<b>Fix</b> & 🔥", IssueType: "bug", Priority: "critical",
			Status: "в_работе", StatusKey: "inProgress", StatusType: "inProgress", Assignee: "alice@example.com",
			Tags: []string{"a", "b"}, CreatedAt: t0, UpdatedAt: t0.Add(30 * time.Minute),
			StartDate: time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC), StoryPoints: 2.5, LeadTime: &lead,
			FlowEfficiency: &nan, CurrentStatusSince: t0, CurrentStatusAge: 60, Raw: `{"key":"DEV-1"}`,
			Custom: map[string]any{"team": "core"},
		},
		Metrics: []wire.MetricRow{{IssueKey: "DEV-1", StatusName: "open", StatusKey: "open", StatusType: "new",
			StatusTransitionsCount: 1, Duration: 60, HumanReadableDuration: "1m", LastSeen: t0}},
		Intervals: []wire.IntervalRow{{IssueKey: "DEV-1", Queue: "DEV", StatusName: "open", StatusKey: "open", StatusType: "new",
			VisitNumber: 1, EnteredAt: t0, Duration: 60, IsCurrent: true}},
		Changelog: []wire.ChangelogRow{{IssueKey: "DEV-1", Queue: "DEV", EntryID: "e1", EventTime: t0, EventType: "IssueWorkflow",
			Transport: "front", Actor: "alice@example.com", ChangedField: "status", FieldDisplay: "Status", ChangedTo: "open"}},
	}
}

func TestPrintSinkLines(t *testing.T) {
	var out bytes.Buffer
	p := &PrintSink{W: &out}
	if err := p.InsertRows(context.Background(), []*wire.IssueRows{printSample(), nil}); err != nil {
		t.Fatal(err)
	}
	want := `{"table":"issues","row":{"version":"2024-03-04T08:00:00Z","issue_id":"id1","queue":"DEV","title":"<b>Fix</b> & 🔥","issue_key":"DEV-1","issue_type":"bug","priority":"critical","status":"в_работе","status_key":"inProgress","status_type":"inProgress","resolution":"","assignee":"alice@example.com","author":"","qa_engineer":"","tags":["a","b"],"components":[],"project":"","created_at":"2024-03-04T07:00:00Z","updated_at":"2024-03-04T07:30:00Z","start_date":"2024-03-05","is_subtask":0,"is_closed":0,"is_resolved":0,"story_points":2.5,"sprints":[],"parent_issue_key":"","epic_issue_key":"","aliases":[],"was_moved":0,"moved_by":"","lead_time":3600,"lead_time_business":null,"cycle_time":null,"cycle_time_business":null,"active_time":0,"paused_time":0,"flow_efficiency":null,"reopen_count":0,"current_status_since":"2024-03-04T07:00:00Z","current_status_age":60,"anomalies":0,"raw":"{\"key\":\"DEV-1\"}","spent":0,"estimation":0,"original_estimation":0,"is_deleted":0,"_version":1709539200123,"_transformed_at":"2024-03-04T08:00:00Z","_generation":"g1","team":"core"}}
{"table":"issue_metrics","row":{"version":"2024-03-04T08:00:00Z","last_seen":"2024-03-04T07:00:00Z","issue_id":"id1","issue_key":"DEV-1","status_name":"open","status_key":"open","status_type":"new","status_transitions_count":1,"duration":60,"human_readable_duration":"1m","busdays_duration":0,"human_readable_busdays_duration":"","is_current":0,"_version":1709539200123,"_transformed_at":"2024-03-04T08:00:00Z","_generation":"g1"}}
{"table":"issue_status_intervals","row":{"issue_id":"id1","issue_key":"DEV-1","queue":"DEV","status_name":"open","status_key":"open","status_type":"new","visit_number":1,"entered_at":"2024-03-04T07:00:00Z","duration":60,"busdays_duration":0,"is_current":1,"_version":1709539200123,"_transformed_at":"2024-03-04T08:00:00Z","_generation":"g1"}}
{"table":"issues_changelog","row":{"version":"2024-03-04T08:00:00Z","event_time":"2024-03-04T07:00:00Z","issue_id":"id1","issue_key":"DEV-1","queue":"DEV","entry_id":"e1","field_index":0,"event_type":"IssueWorkflow","transport":"front","actor":"alice@example.com","changed_field":"status","field_display":"Status","changed_from":"","changed_to":"open"}}
`
	// The changelog row's provenance columns follow.
	want = strings.Replace(want, `"changed_to":"open"}}`, `"changed_to":"open","_version":1709539200123,"_transformed_at":"2024-03-04T08:00:00Z","_generation":"g1"}}`, 1)
	if got := out.String(); got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
			}
		}
	}
	for sc := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		if !json.Valid([]byte(sc)) {
			t.Errorf("not JSON: %s", sc)
		}
	}
}

// TestPrintSinkCustomColumns: configured custom columns print in their
// order and type (an empty Date left out), the others after them by name.
func TestPrintSinkCustomColumns(t *testing.T) {
	r := printSample()
	r.Issue.Custom = map[string]any{"zeta": "z", "alpha": "a", "due": time.Time{}, "points": int8(3), "at": t0}
	var out bytes.Buffer
	p := &PrintSink{W: &out, Custom: []clickhouse.CustomColumn{{Name: "points", Type: "Int64"}, {Name: "due", Type: "Date"}, {Name: "at", Type: "DateTime"}}}
	if err := p.InsertRows(context.Background(), []*wire.IssueRows{r}); err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	const want = `"_generation":"g1","points":3,"at":"2024-03-04T07:00:00Z","alpha":"a","zeta":"z"}}`
	if !strings.HasSuffix(line, want) {
		t.Errorf("issue line ends %q, want it to end %q", line[max(0, len(line)-len(want)):], want)
	}
}

// TestPrintSinkTableNames: configured table names are printed.
func TestPrintSinkTableNames(t *testing.T) {
	var out bytes.Buffer
	p := &PrintSink{W: &out, Tables: wire.Tables{Issues: "my_issues"}}
	if err := p.InsertRows(context.Background(), []*wire.IssueRows{printSample()}); err != nil {
		t.Fatal(err)
	}
	var tables []string
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		var l struct{ Table string }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, l.Table)
	}
	if got := strings.Join(tables, ","); got != "my_issues,issue_metrics,issue_status_intervals,issues_changelog" {
		t.Errorf("tables %s", got)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPrintSinkWriteError(t *testing.T) {
	p := &PrintSink{W: failingWriter{}}
	if err := p.InsertRows(context.Background(), []*wire.IssueRows{printSample()}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v, want the write error", err)
	}
	if err := p.InsertRows(context.Background(), nil); err != nil {
		t.Errorf("no rows: err = %v, want nil (nothing written)", err)
	}
}

// orderedRow decodes a printed line's row object keeping the key order.
func orderedRow(t *testing.T, line string) (table string, keys []string, vals map[string]any) {
	t.Helper()
	var l struct {
		Table string
		Row   json.RawMessage
	}
	if err := json.Unmarshal([]byte(line), &l); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(l.Row))
	dec.UseNumber()
	vals = map[string]any{}
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		vals[k.(string)] = v
	}
	return l.Table, keys, vals
}

// TestPrintSinkMatchesTables loads a message with every date set into a
// migrated database and prints it: every table's printed keys are its
// columns in table order (all but _slot), and every printed value is
// what the table holds.
func TestPrintSinkMatchesTables(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := printSample()
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	day := time.Date(2024, 3, 6, 0, 0, 0, 0, time.UTC)
	fe, ct := 0.25, int64(7200)
	is := &r.Issue
	is.Deadline, is.EndDate, is.ClosedAt, is.ResolvedAt, is.MovedAt, is.StartedAt, is.DoneAt = day, day, at(5), at(5), at(2), at(1), at(5)
	is.FlowEfficiency, is.CycleTime, is.Custom = &fe, &ct, nil
	is.Spent, is.IsDeleted, is.DeletedDetectedAt = 3600, true, at(6)
	r.Intervals[0].LeftAt = at(1)
	r.Comments = []wire.CommentRow{{CommentID: "c1", LongID: "ab", Author: "a@x", AuthorName: "A", CreatedAt: at(1), UpdatedAt: at(2), Text: "«hi»", TextLength: 4, Type: "standard", Transport: "internal"}}
	r.Worklogs = []wire.WorklogRow{{WorklogID: "w1", Author: "a@x", Start: at(1), Duration: "PT1H", Seconds: 3600, Comment: "c", CreatedAt: at(1), UpdatedAt: at(2)}}
	r.Links = []wire.LinkRow{{LinkID: "l1", LinkedIssueKey: "DEV-2", LinkedIssueID: "id2", TypeID: "relates", Direction: "outward", Relationship: "relates", Author: "a@x", CreatedAt: at(1), UpdatedAt: at(2)}}
	r.Sprints = []wire.IssueSprintRow{{SprintID: "s1", SprintName: "S1", AddedAt: at(1), RemovedAt: at(3)}}
	if err := e.ch.InsertRows(ctx, []*wire.IssueRows{r}); err != nil {
		t.Fatal(err)
	}
	dir := &wire.DirectoryRows{SourceVersion: 7, Boards: []wire.BoardRow{{BoardID: "b1", Name: "Board", Version: 3}},
		Sprints: []wire.SprintRow{{SprintID: "s1", Name: "S1", BoardID: "b1", BoardName: "Board", Status: "released", Archived: true,
			StartDate: day, EndDate: day, StartAt: at(1), EndAt: at(2), CreatedAt: at(0), CreatedBy: "A"}}}
	if err := e.ch.InsertDirectory(ctx, dir); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p := &PrintSink{W: &out}
	if err := p.InsertRows(ctx, []*wire.IssueRows{r}); err != nil {
		t.Fatal(err)
	}
	if err := p.InsertDirectory(ctx, dir); err != nil {
		t.Fatal(err)
	}
	printed := map[string]bool{}
	defer func() {
		for _, table := range wire.DefaultTables().Names() {
			if !printed[table] && table != "statuses" {
				t.Errorf("no %s row printed", table)
			}
		}
	}()
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		table, keys, vals := orderedRow(t, line)
		printed[table] = true
		// DESCRIBE lists the columns in table order (system.columns has no
		// position on ClickHouse 18.16).
		rows, err := e.ch.Conn().Query(ctx, fmt.Sprintf("DESCRIBE TABLE `%s`.`%s`", e.cfg.Database, table))
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		types := map[string]string{}
		for rows.Next() {
			dest := make([]any, len(rows.Columns()))
			for i := range dest {
				dest[i] = new(string)
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			name, typ := *dest[0].(*string), *dest[1].(*string)
			if name != "_slot" {
				cols = append(cols, name)
				types[name] = typ
			}
		}
		rows.Close()
		if strings.Join(keys, ",") != strings.Join(cols, ",") {
			t.Errorf("%s: printed keys\n%s\nwant the table's columns\n%s", table, strings.Join(keys, ","), strings.Join(cols, ","))
		}
		for _, k := range keys {
			var stored *string
			q := fmt.Sprintf("SELECT toString(`%s`) FROM `%s`.`%s` LIMIT 1", k, e.cfg.Database, table)
			if err := e.ch.Conn().QueryRow(ctx, q).Scan(&stored); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			want := printedAsStored(vals[k], types[k])
			if (stored == nil) != (want == nil) || stored != nil && *stored != *want {
				t.Errorf("%s.%s: printed %v (%s), stored %s", table, k, vals[k], show(want), show(stored))
			}
		}
	}
}

// printedAsStored is ClickHouse's toString of the column value a printed
// value stands for; nil for NULL.
func printedAsStored(v any, typ string) *string {
	var s string
	switch v := v.(type) {
	case nil:
		return nil
	case json.Number:
		s = v.String()
	case string:
		s = v
		if strings.HasPrefix(typ, "DateTime") {
			s = strings.Replace(strings.TrimSuffix(s, "Z"), "T", " ", 1)
		}
	case []any:
		items := make([]string, len(v))
		for i, it := range v {
			items[i] = "'" + fmt.Sprint(it) + "'"
		}
		s = "[" + strings.Join(items, ",") + "]"
	default:
		s = fmt.Sprint(v)
	}
	return &s
}

func show(s *string) string {
	if s == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *s)
}
