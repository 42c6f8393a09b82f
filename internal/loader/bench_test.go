package loader

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/loadercfg"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Rows per benchmark message: an issue with 5 metric, 8 interval and 30
// changelog rows (as pkg/clickhouse's BenchmarkInsertRows).
const (
	benchMetrics   = 5
	benchIntervals = 8
	benchChangelog = 30
)

func benchRowsOf(i int) *wire.IssueRows {
	r := sampleRowsOf(i, 1000)
	r.Issue.Raw = `{"key":"` + r.IssueKey + `","summary":"` + strings.Repeat("s", 200) + `"}`
	r.Issue.Assignee, r.Issue.Author = "a@example.com", "b@example.com"
	r.Issue.DoneAt, r.Issue.StartedAt = t0.Add(48*time.Hour), t0.Add(time.Hour)
	r.Metrics, r.Intervals, r.Changelog = nil, nil, nil
	for s := range benchMetrics {
		r.Metrics = append(r.Metrics, wire.MetricRow{IssueKey: r.IssueKey, StatusKey: fmt.Sprint("s", s), StatusName: fmt.Sprint("s", s),
			StatusType: "inProgress", Duration: int64(i * s), HumanReadableDuration: "1h", LastSeen: t0})
	}
	for v := range benchIntervals {
		r.Intervals = append(r.Intervals, wire.IntervalRow{IssueKey: r.IssueKey, Queue: "LOAD", StatusKey: fmt.Sprint("s", v%benchMetrics), VisitNumber: uint32(v + 1),
			EnteredAt: t0.Add(time.Duration(v) * time.Hour), LeftAt: t0.Add(time.Duration(v+1) * time.Hour), Duration: 3600})
	}
	for c := range benchChangelog {
		r.Changelog = append(r.Changelog, wire.ChangelogRow{IssueKey: r.IssueKey, Queue: "LOAD", EntryID: fmt.Sprint("e", c/2), FieldIndex: uint16(c % 2),
			EventTime: t0.Add(time.Duration(c) * time.Minute), EventType: "IssueWorkflow", Actor: "a@example.com",
			ChangedField: "status", FieldDisplay: "Status", ChangedFrom: "open", ChangedTo: strings.Repeat("long value ", 5)})
	}
	return r
}

// BenchmarkLoad measures the loader from a pre-filled stream (in-process
// NATS) into ClickHouse, next to plain clickhouse-go batch inserts
// (PrepareBatch, Append row by row, Send) of the same rows in the same
// batches. Each iteration loads 2 000 issues (88 000 rows); publishing is
// not timed. Reported: rows/s of the loader and of the plain inserts, in
// all and per table (for the loader, a table's rows over the whole load
// time, since it writes the four tables together), and their ratio
// loader/plain (1 means no overhead).
func BenchmarkLoad(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	const n = 2000
	msgs := make([]*wire.IssueRows, n)
	payloads := make([][]byte, n)
	encodings := make([]string, n)
	for i := range msgs {
		msgs[i] = benchRowsOf(i)
		p, enc, err := wire.Marshal(msgs[i])
		if err != nil {
			b.Fatal(err)
		}
		payloads[i], encodings[i] = p, enc
	}
	d := wire.DefaultTables()
	tables := [numTables]string{d.Issues, d.IssueMetrics, d.StatusIntervals, d.IssuesChangelog}
	perTable := [numTables]int{n, n * benchMetrics, n * benchIntervals, n * benchChangelog}
	totalRows := n * (1 + benchMetrics + benchIntervals + benchChangelog)
	cfg := Config{Config: loadercfg.Config{BatchRows: 10000, BatchAge: time.Second}}
	probe, err := New(cfg, Deps{JS: e.js, Sink: e.ch})
	if err != nil {
		b.Fatal(err)
	}
	// The plain inserts use the loader's batches.
	var items []*item
	for i, r := range msgs {
		items = append(items, &item{rows: r, size: len(payloads[i]), nrows: 1 + len(r.Metrics) + len(r.Intervals) + len(r.Changelog)})
	}
	chunks := probe.chunks(items)

	var loaderTime time.Duration
	var plainTime [numTables]time.Duration
	iter := 0
	for b.Loop() {
		b.StopTimer()
		for i := range msgs {
			m := &nats.Msg{Subject: wire.RowsSubject(msgs[i].IssueID), Data: payloads[i], Header: nats.Header{}}
			m.Header.Set(wire.SchemaHeader, "1")
			if encodings[i] != "" {
				m.Header.Set(wire.EncodingHeader, encodings[i])
			}
			if _, err := e.js.PublishMsgAsync(m); err != nil {
				b.Fatal(err)
			}
		}
		<-e.js.PublishAsyncComplete()
		b.StartTimer()

		load := func() {
			start := time.Now()
			l, err := New(cfg, Deps{JS: e.js, Sink: e.ch, IsPermanent: clickhouse.IsPermanent})
			if err != nil {
				b.Fatal(err)
			}
			stop := runLoader(b, l)
			waitFor(b, "loaded", 5*time.Minute, func() bool { return l.Loaded() >= n && e.pending() == 0 })
			loaderTime += time.Since(start)
			if err := stop(); err != nil {
				b.Fatal(err)
			}
		}
		plain := func() {
			for _, c := range chunks {
				for t := range numTables {
					start := time.Now()
					if err := plainInsert(ctx, e.ch.Conn(), e.cfg.Database, tables[t], t, c); err != nil {
						b.Fatalf("plain insert %s: %v", tables[t], err)
					}
					plainTime[t] += time.Since(start)
				}
			}
		}
		// Alternate the order: the server's background merges after one
		// load slow down whatever comes next.
		if iter++; iter%2 == 1 {
			load()
			plain()
		} else {
			plain()
			load()
		}
	}
	var plainAll time.Duration
	for t := range numTables {
		plainAll += plainTime[t]
		b.ReportMetric(float64(perTable[t]*b.N)/loaderTime.Seconds(), "loader_"+tables[t]+"_rows/s")
		b.ReportMetric(float64(perTable[t]*b.N)/plainTime[t].Seconds(), "plain_"+tables[t]+"_rows/s")
	}
	loaderRate := float64(totalRows*b.N) / loaderTime.Seconds()
	plainRate := float64(totalRows*b.N) / plainAll.Seconds()
	b.ReportMetric(loaderRate, "loader_rows/s")
	b.ReportMetric(plainRate, "plain_rows/s")
	b.ReportMetric(loaderRate/plainRate, "loader/plain")
	b.ReportMetric(0, "ns/op") // dominated by the two loads together: meaningless
}

// plainInsert inserts table t's rows of the items with clickhouse-go:
// PrepareBatch with the column list, Append row by row, Send.
// numTables is the tables the benchmark's messages fill.
const numTables = 4

func plainInsert(ctx context.Context, conn driver.Conn, db, table string, t int, items []*item) error {
	var cols string
	switch t {
	case 0:
		cols = "version, _version, _transformed_at, _generation, issue_id, queue, title, issue_key, issue_type, priority, status, status_key, status_type, resolution, assignee, author, qa_engineer, tags, components, project, created_at, updated_at, deadline, closed_at, resolved_at, start_date, end_date, is_subtask, is_closed, is_resolved, story_points, sprints, parent_issue_key, epic_issue_key, aliases, was_moved, moved_at, moved_by, started_at, done_at, lead_time, lead_time_business, cycle_time, cycle_time_business, active_time, paused_time, flow_efficiency, reopen_count, current_status_since, current_status_age, anomalies, raw"
	case 1:
		cols = "version, _version, _transformed_at, _generation, last_seen, issue_id, issue_key, status_name, status_key, status_type, status_transitions_count, duration, human_readable_duration, busdays_duration, human_readable_busdays_duration, is_current"
	case 2:
		cols = "_version, _transformed_at, _generation, issue_id, issue_key, queue, status_name, status_key, status_type, visit_number, entered_at, left_at, duration, busdays_duration, is_current"
	case 3:
		cols = "version, _version, _transformed_at, _generation, event_time, issue_id, issue_key, queue, entry_id, field_index, event_type, transport, actor, changed_field, field_display, changed_from, changed_to"
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO `"+db+"`.`"+table+"` ("+cols+")")
	if err != nil {
		return err
	}
	defer func() { _ = batch.Abort() }()
	for _, it := range items {
		r := it.rows
		ver, at, gen := r.SourceVersion, ts(r.TransformedAt), r.Generation
		switch t {
		case 0:
			i := &r.Issue
			err = batch.Append(at, ver, at, gen, r.IssueID, i.Queue, i.Title, i.IssueKey, i.IssueType, i.Priority, i.Status, i.StatusKey, i.StatusType, i.Resolution,
				i.Assignee, i.Author, i.QAEngineer, strs(i.Tags), strs(i.Components), i.Project, ts(i.CreatedAt), ts(i.UpdatedAt), ts(i.Deadline), ts(i.ClosedAt), ts(i.ResolvedAt),
				ts(i.StartDate), ts(i.EndDate), u8(i.IsSubtask), u8(i.IsClosed), u8(i.IsResolved), float32(i.StoryPoints), strs(i.Sprints), i.ParentIssueKey, i.EpicIssueKey,
				strs(i.Aliases), u8(i.WasMoved), ts(i.MovedAt), i.MovedBy, ts(i.StartedAt), ts(i.DoneAt), i.LeadTime, i.LeadTimeBusiness, i.CycleTime, i.CycleTimeBusiness,
				i.ActiveTime, i.PausedTime, i.FlowEfficiency, i.ReopenCount, ts(i.CurrentStatusSince), i.CurrentStatusAge, i.Anomalies, i.Raw)
		case 1:
			for _, m := range r.Metrics {
				if err = batch.Append(at, ver, at, gen, ts(m.LastSeen), r.IssueID, m.IssueKey, m.StatusName, m.StatusKey, m.StatusType, m.StatusTransitionsCount,
					m.Duration, m.HumanReadableDuration, m.BusdaysDuration, m.HumanReadableBusdaysDuration, u8(m.IsCurrent)); err != nil {
					break
				}
			}
		case 2:
			for _, v := range r.Intervals {
				if err = batch.Append(ver, at, gen, r.IssueID, v.IssueKey, v.Queue, v.StatusName, v.StatusKey, v.StatusType, v.VisitNumber,
					ts(v.EnteredAt), ts(v.LeftAt), v.Duration, v.BusdaysDuration, u8(v.IsCurrent)); err != nil {
					break
				}
			}
		case 3:
			for _, c := range r.Changelog {
				if err = batch.Append(at, ver, at, gen, ts(c.EventTime), r.IssueID, c.IssueKey, c.Queue, c.EntryID, c.FieldIndex, c.EventType, c.Transport,
					c.Actor, c.ChangedField, c.FieldDisplay, c.ChangedFrom, c.ChangedTo); err != nil {
					break
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return batch.Send()
}

// ts maps the zero time to the epoch, as the sink does.
func ts(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}

func u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
