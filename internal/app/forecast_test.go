package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/forecast"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// testDatabase returns a fresh database name, dropped when the test ends.
func testDatabase(t *testing.T, addr string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	db := "test_app_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		cfg := clickhouse.Default()
		cfg.Host, cfg.Port, cfg.Proto, cfg.Database = addr, 9000, clickhouse.ProtoNative, "system"
		if c, err := clickhouse.Open(context.Background(), cfg); err == nil {
			_ = c.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`")
			_ = c.Close()
		}
	})
	return db
}

// migratedClickHouse opens a fresh, migrated test database.
func migratedClickHouse(t *testing.T) *clickhouse.Client {
	t.Helper()
	addr := testenv.Require(t, "TEST_CLICKHOUSE_ADDR")
	cfg := clickhouse.Default()
	cfg.Host, cfg.Port, cfg.Proto = addr, 9000, clickhouse.ProtoNative
	cfg.Database = testDatabase(t, addr)
	ctx := context.Background()
	c, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// fcIssue is one issue of the forecast test.
type fcIssue struct {
	key, queue, epic string
	done             time.Time // zero: open
	cancelled        bool
}

func (f fcIssue) rows(version uint64) *wire.IssueRows {
	created := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	r := &wire.IssueRows{IssueID: "id-" + f.key, IssueKey: f.key, SourceVersion: version, TransformedAt: created, Generation: "g",
		Issue: wire.IssueRow{IssueKey: f.key, Queue: f.queue, EpicIssueKey: f.epic, CreatedAt: created, UpdatedAt: created,
			StatusKey: "inProgress", StatusType: "inProgress", Status: "in_progress", StartedAt: created}}
	if !f.done.IsZero() {
		r.Issue.DoneAt, r.Issue.IsClosed, r.Issue.StatusKey, r.Issue.StatusType = f.done, true, "closed", "done"
		if f.cancelled {
			r.Issue.StatusKey, r.Issue.StatusType = "cancelled", "cancelled"
		}
	}
	return r
}

// fcNow is a Wednesday: the window is the 12 weeks from Monday
// 2026-09-14 to Sunday 2026-12-06.
var fcNow = time.Date(2026, 12, 9, 12, 0, 0, 0, time.UTC)

// fcIssues: queue A finishes week w of the window w%4 issues (A's weekly
// history 0,1,2,3,0,1,...), plus issues outside the window and cancelled
// ones that must not count; queue B has open issues and no throughput;
// epic A-EPIC has 3 open issues in A and 1 in B.
func fcIssues() []fcIssue {
	var out []fcIssue
	from, _ := forecast.Window(fcNow, 12)
	n := 0
	add := func(f fcIssue) {
		n++
		f.key = fmt.Sprintf("%s-%d", f.queue, n)
		out = append(out, f)
	}
	for w := range 12 {
		for i := range w % 4 {
			add(fcIssue{queue: "A", done: from.AddDate(0, 0, 7*w+i).Add(13 * time.Hour)})
		}
	}
	add(fcIssue{queue: "A", done: from.Add(-time.Hour)})  // the week before the window
	add(fcIssue{queue: "A", done: fcNow.Add(-time.Hour)}) // the current week
	add(fcIssue{queue: "A", done: from.Add(time.Hour), cancelled: true})
	for range 5 {
		add(fcIssue{queue: "A"})
	}
	for range 3 {
		add(fcIssue{queue: "A", epic: "A-EPIC"})
	}
	add(fcIssue{queue: "B", epic: "A-EPIC"})
	for range 2 {
		add(fcIssue{queue: "B"})
	}
	return out
}

func insertFC(t *testing.T, ch *clickhouse.Client, issues []fcIssue, version uint64) {
	t.Helper()
	rows := make([]*wire.IssueRows, len(issues))
	for i, f := range issues {
		rows[i] = f.rows(version)
	}
	if err := ch.InsertRows(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
}

func quietEnv() *Env { return &Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil))} }

func TestForecastStoresWhatTheSimulationSays(t *testing.T) {
	ch := migratedClickHouse(t)
	ctx := context.Background()
	issues := fcIssues()
	insertFC(t, ch, issues, 1)
	if err := Forecast(ctx, quietEnv(), ch, fcNow); err != nil {
		t.Fatal(err)
	}
	latest, err := ch.LatestForecasts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	histA := []uint32{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}
	zero := make([]uint32, 12)
	from, _ := forecast.Window(fcNow, 12)
	o := DefaultForecastOptions()
	// Every series of all, A and B: how many per horizon, and when.
	want := map[clickhouse.ForecastKey]clickhouse.ForecastRow{}
	for _, s := range []struct {
		kind, scope, tscope string
		hist                []uint32
		open                int
	}{{ScopeAll, "", "", histA, 11}, {ScopeQueue, "A", "A", histA, 8}, {ScopeQueue, "B", "B", zero, 3}} {
		base := clickhouse.ForecastRow{ScopeKind: s.kind, Scope: s.scope, Trials: 10000, WindowWeeks: 12, WeeklyThroughput: s.hist,
			WindowStart: from, ThroughputScope: s.tscope}
		for _, h := range o.Horizons {
			r, _ := forecast.HowMany(s.hist, h, forecast.Options{})
			row := howManyRow(base, r)
			want[clickhouse.ForecastKey{ScopeKind: s.kind, Scope: s.scope, Question: "how_many", HorizonWeeks: uint16(h)}] = row
		}
		r, _ := forecast.When(s.hist, s.open, fcNow, forecast.Options{})
		want[clickhouse.ForecastKey{ScopeKind: s.kind, Scope: s.scope, Question: "when"}] = whenRow(base, r)
	}
	// The epic, at the pace of A (3 of its 4 open issues).
	r, _ := forecast.When(histA, 4, fcNow, forecast.Options{})
	want[clickhouse.ForecastKey{ScopeKind: ScopeEpic, Scope: "A-EPIC", Question: "when"}] = whenRow(
		clickhouse.ForecastRow{ScopeKind: ScopeEpic, Scope: "A-EPIC", Trials: 10000, WindowWeeks: 12, WeeklyThroughput: histA, WindowStart: from, ThroughputScope: "A"}, r)
	compareForecasts(t, latest, want)
	if b := latest[clickhouse.ForecastKey{ScopeKind: ScopeQueue, Scope: "B", Question: "when"}]; b.Note != forecast.NoThroughput || !b.DateP85.IsZero() {
		t.Errorf("queue B without throughput: %+v", b)
	}

	// The same inputs on the same day: nothing new is written.
	before, _ := ch.Count(ctx, clickhouse.ForecastsTable)
	if err := Forecast(ctx, quietEnv(), ch, fcNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if after, _ := ch.Count(ctx, clickhouse.ForecastsTable); after != before {
		t.Errorf("an unchanged forecast wrote %d rows", after-before)
	}

	// The epic's issues are all done: its latest row says nothing is open.
	for i, f := range issues {
		if f.epic != "" {
			issues[i].done = fcNow.Add(-30 * time.Minute)
		}
	}
	insertFC(t, ch, issues, 2)
	if err := Forecast(ctx, quietEnv(), ch, fcNow.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	latest, _ = ch.LatestForecasts(ctx)
	epic := latest[clickhouse.ForecastKey{ScopeKind: ScopeEpic, Scope: "A-EPIC", Question: "when"}]
	if epic.Remaining != 0 || epic.Note != forecast.NothingOpen || !epic.ComputedAt.Equal(fcNow.Add(2*time.Hour)) {
		t.Errorf("closed epic: %+v, want remaining 0 and %q", epic, forecast.NothingOpen)
	}
	if a := latest[clickhouse.ForecastKey{ScopeKind: ScopeQueue, Scope: "A", Question: "when"}]; a.Remaining != 5 {
		t.Errorf("queue A open = %d, want 5", a.Remaining)
	}
}

// A --filter scope forecasts the issues matching its condition at their
// own pace: here queue A's issues outside the epic, whose history is A's
// and whose open issues are A's minus the epic's 3; a condition
// ClickHouse refuses names the filter.
func TestForecastFilterScope(t *testing.T) {
	ch := migratedClickHouse(t)
	ctx := context.Background()
	insertFC(t, ch, fcIssues(), 1)
	o := DefaultForecastOptions()
	var out strings.Builder
	o.Out = &out
	o.Filters = []ForecastFilter{{Name: "a-no-epic", Where: "queue = 'A' AND epic_issue_key = ''"}}
	if err := forecastWith(ctx, quietEnv(), ch, fcNow, o); err != nil {
		t.Fatal(err)
	}
	latest, err := ch.LatestForecasts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	histA := []uint32{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}
	from, _ := forecast.Window(fcNow, 12)
	base := clickhouse.ForecastRow{ScopeKind: ScopeFilter, Scope: "a-no-epic", Trials: 10000, WindowWeeks: 12, WeeklyThroughput: histA,
		WindowStart: from, ThroughputScope: o.Filters[0].Where}
	want := map[clickhouse.ForecastKey]clickhouse.ForecastRow{}
	for _, h := range o.Horizons {
		r, _ := forecast.HowMany(histA, h, forecast.Options{})
		want[clickhouse.ForecastKey{ScopeKind: ScopeFilter, Scope: "a-no-epic", Question: "how_many", HorizonWeeks: uint16(h)}] = howManyRow(base, r)
	}
	r, _ := forecast.When(histA, 5, fcNow, forecast.Options{})
	want[clickhouse.ForecastKey{ScopeKind: ScopeFilter, Scope: "a-no-epic", Question: "when"}] = whenRow(base, r)
	for k := range latest {
		if k.ScopeKind != ScopeFilter {
			delete(latest, k)
		}
	}
	compareForecasts(t, latest, want)
	if !strings.Contains(out.String(), "filter a-no-epic") || !strings.Contains(out.String(), "5 open done by") {
		t.Errorf("the printed table lacks the filter:\n%s", out.String())
	}

	o.Filters = []ForecastFilter{{Name: "broken", Where: "no_such_column = 1"}}
	if err := forecastWith(ctx, quietEnv(), ch, fcNow, o); err == nil || !strings.Contains(err.Error(), "--filter broken") {
		t.Errorf("a condition ClickHouse refuses: %v, want an error naming the filter", err)
	}
	o.Filters = []ForecastFilter{{Name: "x", Where: "1"}, {Name: "x", Where: "1"}}
	if err := o.Validate(); err == nil {
		t.Error("a name given twice was accepted")
	}
	if err := ForecastOptionsFrom(12, nil, 10, 1, []string{"ok=1", "bad"}).Validate(); err == nil || !strings.Contains(err.Error(), `--filter "bad"`) {
		t.Errorf("a --filter value without NAME=: %v", err)
	}
	for _, v := range []string{"bugs", "=issue_type = 'bug'", "two words=1", "bugs="} {
		if _, err := ParseForecastFilter(v); err == nil {
			t.Errorf("--filter %q accepted", v)
		}
	}
	if f, err := ParseForecastFilter("bugs=issue_type = 'bug', x"); err != nil || f.Name != "bugs" || f.Where != "issue_type = 'bug', x" {
		t.Errorf("--filter with = and , in the condition: %+v %v", f, err)
	}
}

// compareForecasts checks the stored rows against the expected ones,
// ignoring the computation time and version.
func compareForecasts(t *testing.T, got, want map[clickhouse.ForecastKey]clickhouse.ForecastRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d series stored, want %d", len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("no series %+v", k)
			continue
		}
		if g.ComputedAt.IsZero() || g.Version == 0 {
			t.Errorf("%+v: no computation time or version", k)
		}
		g.ComputedAt, g.Version = time.Time{}, 0
		if !reflect.DeepEqual(g, w) {
			t.Errorf("series %+v:\ngot  %+v\nwant %+v", k, g, w)
		}
	}
}

// The forecasts table keeps the schema the dashboards read.
func TestForecastsSchema(t *testing.T) {
	ch := migratedClickHouse(t)
	ctx := context.Background()
	var engine, sorting string
	err := ch.Conn().QueryRow(ctx, "SELECT engine_full, sorting_key FROM system.tables WHERE database = ? AND name = ?", ch.Database(), clickhouse.ForecastsTable).Scan(&engine, &sorting)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(engine, "ReplacingMergeTree(_version)") {
		t.Errorf("engine %q, want ReplacingMergeTree(_version)", engine)
	}
	if want := "scope_kind, scope, question, horizon_weeks, computed_at"; sorting != want {
		t.Errorf("sorting key %q, want %q", sorting, want)
	}
	rows, err := ch.Conn().Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", ch.Database(), clickhouse.ForecastsTable)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		got = append(got, name+" "+typ)
	}
	want := []string{"computed_at DateTime('UTC')", "scope_kind LowCardinality(String)", "scope String", "question LowCardinality(String)",
		"horizon_weeks UInt16", "remaining UInt32", "p50 Float64", "p85 Float64", "p95 Float64", "date_p50 Date", "date_p85 Date", "date_p95 Date",
		"trials UInt32", "window_weeks UInt16", "weekly_throughput Array(UInt32)", "fingerprint String", "note String", "_version UInt64",
		"window_start Date", "throughput_scope String"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("columns\ngot  %q\nwant %q", got, want)
	}
}

// After a pass of the one-process form the forecasts are computed when
// rows go to ClickHouse, and nothing happens otherwise.
func TestForecastAfterPass(t *testing.T) {
	(&Stages{}).ForecastAfterPass(context.Background()) // printing rows: no ClickHouse
	ch := migratedClickHouse(t)
	insertFC(t, ch, fcIssues(), 1)
	st := &Stages{settler: &settler{ch: ch, log: quietEnv().Log}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st.ForecastAfterPass(ctx) // shutting down: skipped
	if n, _ := ch.Count(context.Background(), clickhouse.ForecastsTable); n != 0 {
		t.Errorf("%d forecast rows after a cancelled pass, want 0", n)
	}
	st.ForecastAfterPass(context.Background())
	if n, _ := ch.Count(context.Background(), clickhouse.ForecastsTable); n != 3*(4+1)+1 {
		t.Errorf("%d forecast rows, want %d (all, A and B: 4 horizons and when; the epic: when)", n, 3*(4+1)+1)
	}
}
