package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tracker-exporter/tracker-exporter/migrations"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// testConfig returns a configuration for the test server with a fresh
// random database.
func testConfig(t testing.TB) Config {
	t.Helper()
	addr := testenv.Require(t, "TEST_CLICKHOUSE_ADDR")
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.Host, cfg.Port, cfg.Proto = addr, 9000, ProtoNative
	cfg.Database = "test_" + hex.EncodeToString(b[:])
	cfg.DialTimeout = 5 * time.Second
	cfg.ReadTimeout = 60 * time.Second
	cfg.MaxExecutionTime = 60 * time.Second
	return cfg
}

// openTest opens a client on cfg and drops its database when the test ends.
func openTest(t testing.TB, cfg Config) *Client {
	t.Helper()
	ctx := context.Background()
	c, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(%v): %v", cfg.Host, err)
	}
	t.Cleanup(func() {
		if err := c.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+cfg.Database+"`"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		_ = c.Close()
	})
	return c
}

// newMigrated opens a client on a fresh database and migrates it.
func newMigrated(t testing.TB) *Client {
	t.Helper()
	c := openTest(t, testConfig(t))
	if _, err := c.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return c
}

var (
	t0  = time.Date(2024, 3, 4, 7, 0, 0, 0, time.UTC)
	i64 = func(v int64) *int64 { return &v }
	f64 = func(v float64) *float64 { return &v }
)

// sample builds the rows of one snapshot of an issue with every field set.
// statuses lists the metric rows (one per status key); intervals and
// changelog rows are numbered.
func sample(id, key string, version uint64, transformedAt time.Time, gen string, statuses []string, intervals, changelog int) *wire.IssueRows {
	title := fmt.Sprintf("%s title v%d «юникод»", key, version)
	r := &wire.IssueRows{
		IssueID: id, IssueKey: key, SourceVersion: version, TransformedAt: transformedAt, Generation: gen,
		Issue: wire.IssueRow{
			IssueID: id, IssueKey: key, Queue: strings.Split(key, "-")[0], Title: title,
			IssueType: "bug", Priority: "critical", Status: "in_progress", StatusKey: "inProgress", StatusType: "inProgress",
			Resolution: "fixed", Assignee: "a@example.com", Author: "b@example.com", QAEngineer: "q@example.com",
			Tags: []string{"t1", "t2"}, Components: []string{"backend"}, Project: "Apollo",
			CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(version) * time.Millisecond),
			Deadline: time.Date(2024, 3, 30, 0, 0, 0, 0, time.UTC), ClosedAt: t0.Add(48 * time.Hour),
			ResolvedAt: t0.Add(47 * time.Hour), StartDate: time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC),
			EndDate: time.Date(2024, 3, 29, 0, 0, 0, 0, time.UTC), IsSubtask: true, IsClosed: true, IsResolved: true,
			StoryPoints: 2.5, Sprints: []string{"S1", "S2"}, ParentIssueKey: "P-1", EpicIssueKey: "E-1",
			Aliases: []string{"OLD-1"}, WasMoved: true, MovedAt: t0.Add(time.Hour), MovedBy: "m@example.com",
			StartedAt: t0.Add(2 * time.Hour), DoneAt: t0.Add(48 * time.Hour),
			LeadTime: i64(172800), LeadTimeBusiness: i64(90000), CycleTime: i64(165600), CycleTimeBusiness: i64(82800),
			ActiveTime: 100000, PausedTime: 5000, FlowEfficiency: f64(0.4398), ReopenCount: 2,
			CurrentStatusSince: t0.Add(48 * time.Hour), CurrentStatusAge: 3600, Anomalies: 1,
			Raw:   `{"key":"` + key + `","summary":"x; y 'z'"}`,
			Spent: 36000, Estimation: 1800, OriginalEstimation: 57600,
		},
	}
	for i, s := range statuses {
		r.Metrics = append(r.Metrics, wire.MetricRow{
			IssueID: id, IssueKey: key, StatusName: strings.ToLower(s), StatusKey: s, StatusType: "inProgress",
			StatusTransitionsCount: uint32(i + 1), Duration: int64(1000*(i+1)) + int64(version), HumanReadableDuration: "16m 40s",
			BusdaysDuration: int64(500 * (i + 1)), HumanReadableBusdaysDuration: "8m 20s",
			LastSeen: t0.Add(time.Duration(i) * time.Hour), IsCurrent: i == len(statuses)-1,
		})
	}
	for i := range intervals {
		r.Intervals = append(r.Intervals, wire.IntervalRow{
			IssueID: id, IssueKey: key, Queue: r.Issue.Queue, StatusName: "testing", StatusKey: "testing", StatusType: "inProgress",
			VisitNumber: uint32(i + 1), EnteredAt: t0.Add(time.Duration(i) * time.Hour), LeftAt: t0.Add(time.Duration(i+1) * time.Hour),
			Duration: 3600, BusdaysDuration: 1800, IsCurrent: false,
		})
	}
	for i := range changelog {
		r.Changelog = append(r.Changelog, wire.ChangelogRow{
			IssueID: id, IssueKey: key, Queue: r.Issue.Queue, EntryID: fmt.Sprintf("e%03d", i/2), FieldIndex: uint16(i % 2),
			EventTime: t0.Add(time.Duration(i) * time.Minute), EventType: "IssueWorkflow", Transport: "front",
			Actor: "a@example.com", ChangedField: "status", FieldDisplay: "Status",
			ChangedFrom: "open", ChangedTo: strings.Repeat("long value ", 20),
		})
	}
	return r
}

func TestMigrate(t *testing.T) {
	cfg := testConfig(t)
	c := openTest(t, cfg)
	ctx := context.Background()

	applied, err := c.Migrate(ctx)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	ms, _ := loadMigrations(migrations.FS, c.templateData())
	if len(applied) != len(ms) {
		t.Fatalf("first Migrate applied %q, want all %d migrations", applied, len(ms))
	}
	again, err := c.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %q, %v; want nothing applied, no error", again, err)
	}
	n, err := c.Count(ctx, migrationsTable)
	if err != nil || n != uint64(len(ms)) {
		t.Errorf("%s has %d rows (%v), want %d", migrationsTable, n, err, len(ms))
	}
	for _, view := range []string{"issues_view", "issue_metrics_view", "issues_changelog_view", "issue_status_intervals_view", "statuses_view"} {
		if n, err := c.Count(ctx, view); err != nil || n != 0 {
			t.Errorf("Count(%s) = %d, %v; want 0, nil", view, n, err)
		}
	}

	// Every table is deduplicated by the key the design asks for (plus,
	// for the derived tables, the generation slot), and one partition holds
	// all versions of an issue.
	wantKeys := map[string]string{
		"issues":                 "issue_id",
		"issue_metrics":          "issue_id, status_key, _slot",
		"issues_changelog":       "issue_id, entry_id, field_index, _slot",
		"issue_status_intervals": "issue_id, status_key, visit_number, _slot",
		"statuses":               "key",
	}
	for table, key := range wantKeys {
		var engineFull, partitionKey, sortingKey string
		err := c.Conn().QueryRow(ctx, "SELECT engine_full, partition_key, sorting_key FROM system.tables WHERE database = ? AND name = ?",
			cfg.Database, table).Scan(&engineFull, &partitionKey, &sortingKey)
		if err != nil {
			t.Fatalf("system.tables %s: %v", table, err)
		}
		if !strings.HasPrefix(engineFull, "ReplacingMergeTree(_version)") || (partitionKey != "" && partitionKey != "tuple()") || sortingKey != key {
			t.Errorf("%s: engine %q, partition key %q, sorting key %q; want ReplacingMergeTree(_version), no partition key, sorting key %q",
				table, engineFull, partitionKey, sortingKey, key)
		}
	}
}

func TestMigrateChecksumMismatch(t *testing.T) {
	c := openTest(t, testConfig(t))
	ctx := context.Background()
	fsys := fstest.MapFS{
		"0001_one.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS `{{.Database}}`.`one` (x UInt8) ENGINE = MergeTree ORDER BY x")},
	}
	if applied, err := c.migrate(ctx, fsys); err != nil || len(applied) != 1 {
		t.Fatalf("migrate = %q, %v", applied, err)
	}
	fsys["0001_one.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS `{{.Database}}`.`one` (x UInt16) ENGINE = MergeTree ORDER BY x")}
	fsys["0002_two.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS `{{.Database}}`.`two` (x UInt8) ENGINE = MergeTree ORDER BY x")}
	applied, err := c.migrate(ctx, fsys)
	if !errors.Is(err, ErrChecksumMismatch) || !IsPermanent(err) || !strings.Contains(err.Error(), "0001_one") {
		t.Fatalf("migrate after editing 0001 = %q, %v; want a permanent ErrChecksumMismatch naming 0001_one", applied, err)
	}
	if n, _ := c.tableEngine(ctx, "two"); n != "" {
		t.Error("migration 0002 ran although 0001 changed")
	}
	// Out of order: 0002 applied, then a file 0001 appears in another database's history.
	delete(fsys, "0001_one.sql")
	fsys["0001_one.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS `{{.Database}}`.`one` (x UInt8) ENGINE = MergeTree ORDER BY x")}
	if _, err := c.migrate(ctx, fsys); err != nil {
		t.Fatalf("migrate with the original 0001: %v", err)
	}
	fsys["0003_three.sql"] = &fstest.MapFile{Data: []byte("SELECT 1")}
	fsys["0004_four.sql"] = &fstest.MapFile{Data: []byte("SELECT 1")}
	if _, err := c.migrate(ctx, fsys); err != nil {
		t.Fatal(err)
	}
	delete(fsys, "0003_three.sql")
	fsys["0003_late.sql"] = &fstest.MapFile{Data: []byte("SELECT 2")}
	if _, err := c.migrate(ctx, fsys); err == nil || !strings.Contains(err.Error(), "0003") {
		t.Errorf("migrate with a changed 0003 = %v, want an error", err)
	}
}

func TestMigrateGuardsAddColumn(t *testing.T) {
	c := openTest(t, testConfig(t))
	ctx := context.Background()
	fsys := fstest.MapFS{
		"0001_t.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS `{{.Database}}`.`t` (x UInt8, y String) ENGINE = MergeTree ORDER BY x")},
		// y exists already (say, a newer CREATE made it): guarded, skipped.
		"0002_add_y.sql": {Data: []byte("ALTER TABLE `{{.Database}}`.`t` ADD COLUMN `y` String")},
		"0003_add_z.sql": {Data: []byte("-- new column\nALTER TABLE `{{.Database}}`.`t` ADD COLUMN z UInt32 DEFAULT 7 COMMENT 'z, the 7th'")},
	}
	applied, err := c.migrate(ctx, fsys)
	if err != nil || len(applied) != 3 {
		t.Fatalf("migrate = %q, %v; want 3 applied", applied, err)
	}
	for col, want := range map[string]bool{"y": true, "z": true, "w": false} {
		if has, err := c.hasColumn(ctx, "t", col); err != nil || has != want {
			t.Errorf("hasColumn(t, %s) = %v, %v; want %v", col, has, err, want)
		}
	}
	added, err := c.AddColumnIfMissing(ctx, "t", "z", "UInt32")
	if err != nil || added {
		t.Errorf("AddColumnIfMissing(existing z) = %v, %v; want false, nil", added, err)
	}
	added, err = c.AddColumnIfMissing(ctx, "t", "w", "Array(String)")
	if err != nil || !added {
		t.Errorf("AddColumnIfMissing(new w) = %v, %v; want true, nil", added, err)
	}
	if _, err := c.AddColumnIfMissing(ctx, "t", "bad name", "UInt8"); !IsPermanent(err) {
		t.Errorf("AddColumnIfMissing(bad name) = %v, want a permanent error", err)
	}
}

// TestMigrateMovesLegacyTables: a database of the old tool (0.1.x layout,
// the one that runs on 18.16) gets its tables renamed, not silently kept.
func TestMigrateMovesLegacyTables(t *testing.T) {
	cfg := testConfig(t)
	c := openTest(t, cfg)
	ctx := context.Background()
	db := "`" + cfg.Database + "`"
	for _, q := range []string{
		"CREATE DATABASE " + db,
		"CREATE TABLE " + db + ".issues (version DateTime DEFAULT now(), issue_key String, updated_at Date) ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(updated_at) ORDER BY issue_key",
		"CREATE VIEW " + db + ".issues_view AS SELECT * FROM " + db + ".issues FINAL",
	} {
		if err := c.Conn().Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	b, err := c.Conn().PrepareBatch(ctx, "INSERT INTO "+db+".issues (version, issue_key, updated_at)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(t0, "OLD-1", t0); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	applied, err := c.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if len(applied) < 2 || !strings.Contains(applied[0], "issues_legacy") || !strings.Contains(applied[1], "issues_view") {
		t.Errorf("Migrate = %q, want notes on the renamed table and dropped view first", applied)
	}
	if n, err := c.Count(ctx, "issues_legacy"); err != nil || n != 1 {
		t.Errorf("issues_legacy has %d rows (%v), want the old row", n, err)
	}
	if has, _ := c.hasColumn(ctx, "issues", "_version"); !has {
		t.Error("new issues table lacks _version")
	}
	if err := c.InsertRows(ctx, []*wire.IssueRows{sample("1", "NEW-1", 10, t0, "g", []string{"open"}, 1, 1)}); err != nil {
		t.Fatalf("InsertRows after legacy move: %v", err)
	}
	if n, err := c.Count(ctx, "issues_view"); err != nil || n != 1 {
		t.Errorf("issues_view has %d rows (%v), want 1", n, err)
	}
}

// Read-back types, one field per column (tags are the column names).
type issueOut struct {
	Slot               uint8     `ch:"_slot"`
	Version            time.Time `ch:"version"`
	IssueID            string    `ch:"issue_id"`
	Queue              string    `ch:"queue"`
	Title              string    `ch:"title"`
	IssueKey           string    `ch:"issue_key"`
	IssueType          string    `ch:"issue_type"`
	Priority           string    `ch:"priority"`
	Status             string    `ch:"status"`
	StatusKey          string    `ch:"status_key"`
	StatusType         string    `ch:"status_type"`
	Resolution         string    `ch:"resolution"`
	Assignee           string    `ch:"assignee"`
	Author             string    `ch:"author"`
	QAEngineer         string    `ch:"qa_engineer"`
	Tags               []string  `ch:"tags"`
	Components         []string  `ch:"components"`
	Project            string    `ch:"project"`
	CreatedAt          time.Time `ch:"created_at"`
	UpdatedAt          time.Time `ch:"updated_at"`
	Deadline           time.Time `ch:"deadline"`
	ClosedAt           time.Time `ch:"closed_at"`
	ResolvedAt         time.Time `ch:"resolved_at"`
	StartDate          time.Time `ch:"start_date"`
	EndDate            time.Time `ch:"end_date"`
	IsSubtask          uint8     `ch:"is_subtask"`
	IsClosed           uint8     `ch:"is_closed"`
	IsResolved         uint8     `ch:"is_resolved"`
	StoryPoints        float32   `ch:"story_points"`
	Sprints            []string  `ch:"sprints"`
	ParentIssueKey     string    `ch:"parent_issue_key"`
	EpicIssueKey       string    `ch:"epic_issue_key"`
	Aliases            []string  `ch:"aliases"`
	WasMoved           uint8     `ch:"was_moved"`
	MovedAt            time.Time `ch:"moved_at"`
	MovedBy            string    `ch:"moved_by"`
	StartedAt          time.Time `ch:"started_at"`
	DoneAt             time.Time `ch:"done_at"`
	LeadTime           *int64    `ch:"lead_time"`
	LeadTimeBusiness   *int64    `ch:"lead_time_business"`
	CycleTime          *int64    `ch:"cycle_time"`
	CycleTimeBusiness  *int64    `ch:"cycle_time_business"`
	ActiveTime         int64     `ch:"active_time"`
	PausedTime         int64     `ch:"paused_time"`
	FlowEfficiency     *float64  `ch:"flow_efficiency"`
	ReopenCount        uint32    `ch:"reopen_count"`
	CurrentStatusSince time.Time `ch:"current_status_since"`
	CurrentStatusAge   int64     `ch:"current_status_age"`
	Anomalies          uint32    `ch:"anomalies"`
	Raw                string    `ch:"raw"`
	Spent              int64     `ch:"spent"`
	Estimation         int64     `ch:"estimation"`
	OriginalEstimation int64     `ch:"original_estimation"`
	IsDeleted          uint8     `ch:"is_deleted"`
	DeletedDetectedAt  time.Time `ch:"deleted_detected_at"`
	XVersion           uint64    `ch:"_version"`
	XTransformedAt     time.Time `ch:"_transformed_at"`
	XGeneration        string    `ch:"_generation"`
}

type metricOut struct {
	Slot                         uint8     `ch:"_slot"`
	Version                      time.Time `ch:"version"`
	LastSeen                     time.Time `ch:"last_seen"`
	IssueID                      string    `ch:"issue_id"`
	IssueKey                     string    `ch:"issue_key"`
	StatusName                   string    `ch:"status_name"`
	StatusKey                    string    `ch:"status_key"`
	StatusType                   string    `ch:"status_type"`
	StatusTransitionsCount       uint32    `ch:"status_transitions_count"`
	Duration                     int64     `ch:"duration"`
	HumanReadableDuration        string    `ch:"human_readable_duration"`
	BusdaysDuration              int64     `ch:"busdays_duration"`
	HumanReadableBusdaysDuration string    `ch:"human_readable_busdays_duration"`
	IsCurrent                    uint8     `ch:"is_current"`
	XVersion                     uint64    `ch:"_version"`
	XTransformedAt               time.Time `ch:"_transformed_at"`
	XGeneration                  string    `ch:"_generation"`
}

type intervalOut struct {
	Slot            uint8     `ch:"_slot"`
	IssueID         string    `ch:"issue_id"`
	IssueKey        string    `ch:"issue_key"`
	Queue           string    `ch:"queue"`
	StatusName      string    `ch:"status_name"`
	StatusKey       string    `ch:"status_key"`
	StatusType      string    `ch:"status_type"`
	VisitNumber     uint32    `ch:"visit_number"`
	EnteredAt       time.Time `ch:"entered_at"`
	LeftAt          time.Time `ch:"left_at"`
	Duration        int64     `ch:"duration"`
	BusdaysDuration int64     `ch:"busdays_duration"`
	IsCurrent       uint8     `ch:"is_current"`
	XVersion        uint64    `ch:"_version"`
	XTransformedAt  time.Time `ch:"_transformed_at"`
	XGeneration     string    `ch:"_generation"`
}

type changelogOut struct {
	Slot           uint8     `ch:"_slot"`
	Version        time.Time `ch:"version"`
	EventTime      time.Time `ch:"event_time"`
	IssueID        string    `ch:"issue_id"`
	IssueKey       string    `ch:"issue_key"`
	Queue          string    `ch:"queue"`
	EntryID        string    `ch:"entry_id"`
	FieldIndex     uint16    `ch:"field_index"`
	EventType      string    `ch:"event_type"`
	Transport      string    `ch:"transport"`
	Actor          string    `ch:"actor"`
	ChangedField   string    `ch:"changed_field"`
	FieldDisplay   string    `ch:"field_display"`
	ChangedFrom    string    `ch:"changed_from"`
	ChangedTo      string    `ch:"changed_to"`
	XVersion       uint64    `ch:"_version"`
	XTransformedAt time.Time `ch:"_transformed_at"`
	XGeneration    string    `ch:"_generation"`
}

type statusOut struct {
	Key      string `ch:"key"`
	Name     string `ch:"name"`
	Type     string `ch:"type"`
	XVersion uint64 `ch:"_version"`
}

// selectAll reads every column of a table or view, ordered.
func selectAll[T any](t *testing.T, c *Client, table, orderBy string) []T {
	t.Helper()
	var out []T
	if err := c.Conn().Select(context.Background(), &out, "SELECT * FROM "+c.qualified(table)+" ORDER BY "+orderBy); err != nil {
		t.Fatalf("select %s: %v", table, err)
	}
	return out
}

// utc makes every time.Time field of a struct UTC, so that DeepEqual
// compares instants.
func utc[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	for i := range rv.NumField() {
		if f, ok := rv.Field(i).Interface().(time.Time); ok {
			rv.Field(i).Set(reflect.ValueOf(f.UTC()))
		}
	}
	return v
}

func sec(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// TestColumnsMatchTables checks that every insert names every column of its
// table with the DDL's type: nothing is left to a default, nothing drifts.
func TestColumnsMatchTables(t *testing.T) {
	c := newMigrated(t)
	type colInfo struct{ name, typ string }
	goCols := map[string][]colInfo{}
	add := func(table string, names, types []string) {
		for i := range names {
			goCols[table] = append(goCols[table], colInfo{names[i], types[i]})
		}
	}
	n, ty := colNames(issueColumns())
	add("issues", n, ty)
	n, ty = colNames(metricColumns())
	add("issue_metrics", n, ty)
	n, ty = colNames(intervalColumns())
	add("issue_status_intervals", n, ty)
	n, ty = colNames(changelogColumns())
	add("issues_changelog", n, ty)
	n, ty = colNames(statusColumns())
	add("statuses", n, ty)
	n, ty = colNames(commentColumns())
	add("issue_comments", n, ty)
	n, ty = colNames(worklogColumns())
	add("issue_worklogs", n, ty)
	n, ty = colNames(linkColumns())
	add("issue_links", n, ty)
	n, ty = colNames(issueSprintColumns())
	add("issue_sprints", n, ty)
	n, ty = colNames(boardColumns())
	add("boards", n, ty)
	n, ty = colNames(sprintColumns())
	add("sprints", n, ty)
	for table, want := range goCols {
		rows, err := c.Conn().Query(context.Background(), "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", c.db, table)
		if err != nil {
			t.Fatal(err)
		}
		var got []colInfo
		for rows.Next() {
			var ci colInfo
			if err := rows.Scan(&ci.name, &ci.typ); err != nil {
				t.Fatal(err)
			}
			got = append(got, ci)
		}
		_ = rows.Close()
		sortCols := func(s []colInfo) { sort.Slice(s, func(i, j int) bool { return s[i].name < s[j].name }) }
		sortCols(got)
		sortCols(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: table columns\n%v\ninsert columns\n%v", table, got, want)
		}
	}
}

func colNames[R any](cols []column[R]) (names, types []string) {
	for _, c := range cols {
		names = append(names, c.name)
		types = append(types, c.typ)
	}
	return names, types
}

// TestInsertRoundTrip writes one issue with every field set, and one with
// every field zero, and reads every column back through the views.
func TestInsertRoundTrip(t *testing.T) {
	c := newMigrated(t)
	ctx := context.Background()
	tr := time.Date(2024, 3, 12, 7, 0, 0, 987654321, time.FixedZone("MSK", 3*3600))
	full := sample("100", "DEV-1", 1709535600123, tr, "gen-a", []string{"open", "inProgress"}, 2, 3)
	empty := &wire.IssueRows{IssueID: "200", IssueKey: "DEV-2", SourceVersion: 5, Generation: "gen-a",
		Metrics: []wire.MetricRow{{StatusKey: "open"}}} // zero values everywhere, ids from the message
	if err := c.InsertRows(ctx, []*wire.IssueRows{full, empty}); err != nil {
		t.Fatalf("InsertRows: %v", err)
	}

	iss := selectAll[issueOut](t, c, "issues_view", "issue_id")
	if len(iss) != 2 {
		t.Fatalf("issues_view has %d rows, want 2", len(iss))
	}
	f := full.Issue
	wantFull := issueOut{
		Version: sec(tr), IssueID: "100", Queue: "DEV", Title: f.Title, IssueKey: "DEV-1", IssueType: "bug", Priority: "critical",
		Status: "in_progress", StatusKey: "inProgress", StatusType: "inProgress", Resolution: "fixed",
		Assignee: "a@example.com", Author: "b@example.com", QAEngineer: "q@example.com",
		Tags: []string{"t1", "t2"}, Components: []string{"backend"}, Project: "Apollo",
		CreatedAt: f.CreatedAt, UpdatedAt: sec(f.UpdatedAt), Deadline: f.Deadline, ClosedAt: f.ClosedAt, ResolvedAt: f.ResolvedAt,
		StartDate: f.StartDate, EndDate: f.EndDate, IsSubtask: 1, IsClosed: 1, IsResolved: 1, StoryPoints: 2.5,
		Sprints: []string{"S1", "S2"}, ParentIssueKey: "P-1", EpicIssueKey: "E-1", Aliases: []string{"OLD-1"},
		WasMoved: 1, MovedAt: f.MovedAt, MovedBy: "m@example.com", StartedAt: f.StartedAt, DoneAt: f.DoneAt,
		LeadTime: i64(172800), LeadTimeBusiness: i64(90000), CycleTime: i64(165600), CycleTimeBusiness: i64(82800),
		ActiveTime: 100000, PausedTime: 5000, FlowEfficiency: f64(0.4398), ReopenCount: 2,
		CurrentStatusSince: f.CurrentStatusSince, CurrentStatusAge: 3600, Anomalies: 1, Raw: f.Raw,
		Spent: 36000, Estimation: 1800, OriginalEstimation: 57600,
		XVersion: 1709535600123, XTransformedAt: sec(tr), XGeneration: "gen-a",
	}
	zero := time.Unix(0, 0).UTC()
	wantFull.DeletedDetectedAt = zero
	wantEmpty := issueOut{
		Version: zero, IssueID: "200", Tags: []string{}, Components: []string{}, Sprints: []string{}, Aliases: []string{},
		DeletedDetectedAt: zero, CreatedAt: zero, UpdatedAt: zero, Deadline: zero, ClosedAt: zero, ResolvedAt: zero, StartDate: zero, EndDate: zero,
		MovedAt: zero, StartedAt: zero, DoneAt: zero, CurrentStatusSince: zero,
		XVersion: 5, XTransformedAt: zero, XGeneration: "gen-a",
	}
	for i, want := range []issueOut{wantFull, wantEmpty} {
		if got := utc(iss[i]); !reflect.DeepEqual(got, utc(want)) {
			t.Errorf("issues_view row %d:\n got %+v\nwant %+v", i, got, utc(want))
		}
	}

	met := selectAll[metricOut](t, c, "issue_metrics_view", "issue_id, status_key")
	wantMet := []metricOut{
		{Version: sec(tr), LastSeen: t0.Add(time.Hour), IssueID: "100", IssueKey: "DEV-1", StatusName: "inprogress", StatusKey: "inProgress",
			StatusType: "inProgress", StatusTransitionsCount: 2, Duration: 2000 + 1709535600123, HumanReadableDuration: "16m 40s",
			BusdaysDuration: 1000, HumanReadableBusdaysDuration: "8m 20s", IsCurrent: 1, XVersion: 1709535600123, XTransformedAt: sec(tr), XGeneration: "gen-a"},
		{Version: sec(tr), LastSeen: t0, IssueID: "100", IssueKey: "DEV-1", StatusName: "open", StatusKey: "open",
			StatusType: "inProgress", StatusTransitionsCount: 1, Duration: 1000 + 1709535600123, HumanReadableDuration: "16m 40s",
			BusdaysDuration: 500, HumanReadableBusdaysDuration: "8m 20s", IsCurrent: 0, XVersion: 1709535600123, XTransformedAt: sec(tr), XGeneration: "gen-a"},
		{Version: zero, LastSeen: zero, IssueID: "200", StatusKey: "open", XVersion: 5, XTransformedAt: zero, XGeneration: "gen-a"},
	}
	checkRows(t, "issue_metrics_view", met, wantMet)

	ivl := selectAll[intervalOut](t, c, "issue_status_intervals_view", "issue_id, status_key, visit_number")
	var wantIvl []intervalOut
	for i, v := range full.Intervals {
		wantIvl = append(wantIvl, intervalOut{IssueID: "100", IssueKey: "DEV-1", Queue: "DEV", StatusName: "testing", StatusKey: "testing",
			StatusType: "inProgress", VisitNumber: uint32(i + 1), EnteredAt: v.EnteredAt, LeftAt: v.LeftAt, Duration: 3600, BusdaysDuration: 1800,
			XVersion: 1709535600123, XTransformedAt: sec(tr), XGeneration: "gen-a"})
	}
	checkRows(t, "issue_status_intervals_view", ivl, wantIvl)

	chl := selectAll[changelogOut](t, c, "issues_changelog_view", "issue_id, entry_id, field_index")
	var wantChl []changelogOut
	for _, e := range full.Changelog {
		wantChl = append(wantChl, changelogOut{Version: sec(tr), EventTime: e.EventTime, IssueID: "100", IssueKey: "DEV-1", Queue: "DEV",
			EntryID: e.EntryID, FieldIndex: e.FieldIndex, EventType: "IssueWorkflow", Transport: "front", Actor: "a@example.com",
			ChangedField: "status", FieldDisplay: "Status", ChangedFrom: "open", ChangedTo: e.ChangedTo,
			XVersion: 1709535600123, XTransformedAt: sec(tr), XGeneration: "gen-a"})
	}
	checkRows(t, "issues_changelog_view", chl, wantChl)
	if len(wantChl[0].ChangedTo) <= 100 {
		t.Fatal("sample changelog value should be over 100 characters (the old tool truncated those)")
	}

	// Statuses: the newest load wins.
	if err := c.InsertStatuses(ctx, []wire.Status{{Key: "open", Name: "Open", Type: "new"}, {Key: "closed", Name: "Closed", Type: "done"}}); err != nil {
		t.Fatalf("InsertStatuses: %v", err)
	}
	// A load's version is the millisecond it was made in: the second is
	// made once the clock has passed the first's.
	for first := time.Now().UnixMilli(); time.Now().UnixMilli() <= first; {
		runtime.Gosched()
	}
	if err := c.InsertStatuses(ctx, []wire.Status{{Key: "open", Name: "Открыт", Type: "new"}}); err != nil {
		t.Fatalf("InsertStatuses: %v", err)
	}
	st := selectAll[statusOut](t, c, "statuses_view", "key")
	if len(st) != 2 || st[0].Key != "closed" || st[1].Name != "Открыт" || st[1].XVersion <= st[0].XVersion {
		t.Errorf("statuses_view = %+v, want closed and the newer open", st)
	}
}

func checkRows[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d:\n%+v", what, len(got), len(want), got)
	}
	for i := range want {
		if g, w := utc(got[i]), utc(want[i]); !reflect.DeepEqual(g, w) {
			t.Errorf("%s row %d:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

// viewState summarizes what the views show for the dedup scenarios.
type viewState struct {
	issues    []string // issue_id:key:title-version
	metrics   []string // issue_id:key:status_key:_version
	intervals []string // issue_id:status_key:visit
	changelog []string // issue_id:key:entry:field
}

func readViews(t *testing.T, c *Client) viewState {
	t.Helper()
	var s viewState
	for _, r := range selectAll[issueOut](t, c, "issues_view", "issue_id") {
		s.issues = append(s.issues, fmt.Sprintf("%s:%s:%d:%s", r.IssueID, r.IssueKey, r.XVersion, r.XGeneration))
	}
	for _, r := range selectAll[metricOut](t, c, "issue_metrics_view", "issue_id, status_key") {
		s.metrics = append(s.metrics, fmt.Sprintf("%s:%s:%s:%d", r.IssueID, r.IssueKey, r.StatusKey, r.XVersion))
	}
	for _, r := range selectAll[intervalOut](t, c, "issue_status_intervals_view", "issue_id, status_key, visit_number") {
		s.intervals = append(s.intervals, fmt.Sprintf("%s:%s:%d", r.IssueID, r.StatusKey, r.VisitNumber))
	}
	for _, r := range selectAll[changelogOut](t, c, "issues_changelog_view", "issue_id, entry_id, field_index") {
		s.changelog = append(s.changelog, fmt.Sprintf("%s:%s:%s:%d", r.IssueID, r.IssueKey, r.EntryID, r.FieldIndex))
	}
	return s
}

func TestDedup(t *testing.T) {
	tA := time.Date(2024, 3, 12, 7, 0, 0, 0, time.UTC)
	tB := tA.Add(time.Minute)
	v1 := func() *wire.IssueRows {
		return sample("1", "OLD-1", 1000, tA, "g1", []string{"open", "inProgress", "testing"}, 3, 4)
	}
	v2 := func() *wire.IssueRows {
		return sample("1", "OLD-1", 2000, tB, "g1", []string{"open", "inProgress"}, 2, 2)
	}
	other := func() *wire.IssueRows { return sample("9", "OTHER-9", 500, tA, "g1", []string{"open"}, 1, 1) }
	tests := []struct {
		name    string
		batches [][]*wire.IssueRows
		want    viewState
	}{
		{
			name:    "(a) same rows twice",
			batches: [][]*wire.IssueRows{{v1(), other()}, {v1(), other()}},
			want: viewState{
				issues:    []string{"1:OLD-1:1000:g1", "9:OTHER-9:500:g1"},
				metrics:   []string{"1:OLD-1:inProgress:1000", "1:OLD-1:open:1000", "1:OLD-1:testing:1000", "9:OTHER-9:open:500"},
				intervals: []string{"1:testing:1", "1:testing:2", "1:testing:3", "9:testing:1"},
				changelog: []string{"1:OLD-1:e000:0", "1:OLD-1:e000:1", "1:OLD-1:e001:0", "1:OLD-1:e001:1", "9:OTHER-9:e000:0"},
			},
		},
		{
			name:    "(b) older snapshot after newer: newer wins",
			batches: [][]*wire.IssueRows{{v2()}, {v1()}},
			want: viewState{
				issues:    []string{"1:OLD-1:2000:g1"},
				metrics:   []string{"1:OLD-1:inProgress:2000", "1:OLD-1:open:2000"},
				intervals: []string{"1:testing:1", "1:testing:2"},
				changelog: []string{"1:OLD-1:e000:0", "1:OLD-1:e000:1"},
			},
		},
		{
			name: "(c) moved issue: one issue under the new key",
			batches: [][]*wire.IssueRows{{v1()}, {func() *wire.IssueRows {
				r := sample("1", "NEW-7", 3000, tB, "g1", []string{"open"}, 1, 1)
				r.Issue.Aliases = []string{"OLD-1"}
				return r
			}()}},
			want: viewState{
				issues:    []string{"1:NEW-7:3000:g1"},
				metrics:   []string{"1:NEW-7:open:3000"},
				intervals: []string{"1:testing:1"},
				changelog: []string{"1:NEW-7:e000:0"},
			},
		},
		{
			name:    "(d) derived rows absent from the newer snapshot are hidden",
			batches: [][]*wire.IssueRows{{v1()}, {v2()}},
			want: viewState{
				issues:    []string{"1:OLD-1:2000:g1"},
				metrics:   []string{"1:OLD-1:inProgress:2000", "1:OLD-1:open:2000"},
				intervals: []string{"1:testing:1", "1:testing:2"},
				changelog: []string{"1:OLD-1:e000:0", "1:OLD-1:e000:1"},
			},
		},
		{
			name: "(d) replay with a new generation, same snapshot and second: the replay wins",
			batches: [][]*wire.IssueRows{{v1()}, {func() *wire.IssueRows {
				r := sample("1", "OLD-1", 1000, tA, "g2", []string{"open"}, 1, 4)
				return r
			}()}},
			want: viewState{
				issues:    []string{"1:OLD-1:1000:g2"},
				metrics:   []string{"1:OLD-1:open:1000"},
				intervals: []string{"1:testing:1"},
				changelog: []string{"1:OLD-1:e000:0", "1:OLD-1:e000:1", "1:OLD-1:e001:0", "1:OLD-1:e001:1"},
			},
		},
		{
			name: "two generations of one version in one batch: the later wins",
			batches: [][]*wire.IssueRows{{v1(), func() *wire.IssueRows {
				return sample("1", "OLD-1", 1000, tA, "g2", []string{"open"}, 1, 1)
			}(), other()}},
			want: viewState{
				issues:    []string{"1:OLD-1:1000:g2", "9:OTHER-9:500:g1"},
				metrics:   []string{"1:OLD-1:open:1000", "9:OTHER-9:open:500"},
				intervals: []string{"1:testing:1", "9:testing:1"},
				changelog: []string{"1:OLD-1:e000:0", "9:OTHER-9:e000:0"},
			},
		},
		{
			name:    "both versions in one batch",
			batches: [][]*wire.IssueRows{{v2(), v1()}},
			want: viewState{
				issues:    []string{"1:OLD-1:2000:g1"},
				metrics:   []string{"1:OLD-1:inProgress:2000", "1:OLD-1:open:2000"},
				intervals: []string{"1:testing:1", "1:testing:2"},
				changelog: []string{"1:OLD-1:e000:0", "1:OLD-1:e000:1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newMigrated(t)
			ctx := context.Background()
			for _, b := range tt.batches {
				if err := c.InsertRows(ctx, b); err != nil {
					t.Fatalf("InsertRows: %v", err)
				}
			}
			check := func(when string) {
				t.Helper()
				if got := readViews(t, c); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s:\n got %+v\nwant %+v", when, got, tt.want)
				}
			}
			check("before OPTIMIZE")
			for _, table := range []string{"issues", "issue_metrics", "issue_status_intervals", "issues_changelog"} {
				if err := c.Optimize(ctx, table); err != nil {
					t.Fatalf("Optimize(%s): %v", table, err)
				}
			}
			check("after OPTIMIZE")
			// After the merge the issues table itself holds one row per issue.
			if n, err := c.Count(ctx, "issues"); err != nil || n != uint64(len(tt.want.issues)) {
				t.Errorf("issues table has %d rows after OPTIMIZE (%v), want %d", n, err, len(tt.want.issues))
			}
		})
	}
}

// TestVersionsShareAPartition: (e) versions of one issue inserted at
// different times land in the same partition, so a merge can replace one
// with another: the issues table keeps one row, the derived tables one per
// generation slot (the current generation and the one before).
func TestVersionsShareAPartition(t *testing.T) {
	c := newMigrated(t)
	ctx := context.Background()
	old := sample("1", "A-1", 1000, t0, "g", []string{"open"}, 1, 1)
	old.Issue.UpdatedAt = time.Date(2023, 1, 15, 0, 0, 0, 0, time.UTC) // months apart: the old tool partitioned by update month
	mid := sample("1", "A-1", 1500, t0.Add(time.Minute), "g", []string{"open"}, 1, 1)
	mid.Issue.UpdatedAt = time.Date(2023, 9, 15, 0, 0, 0, 0, time.UTC)
	newer := sample("1", "A-1", 2000, t0.Add(time.Hour), "g", []string{"open"}, 1, 1)
	newer.Issue.UpdatedAt = time.Date(2024, 6, 15, 0, 0, 0, 0, time.UTC)
	for _, r := range []*wire.IssueRows{old, mid, newer} {
		if err := c.InsertRows(ctx, []*wire.IssueRows{r}); err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range []string{"issues", "issue_metrics", "issue_status_intervals", "issues_changelog"} {
		var parts, partitions uint64
		if err := c.Conn().QueryRow(ctx, "SELECT count(), uniqExact(partition) FROM system.parts WHERE database = ? AND table = ? AND active",
			c.db, table).Scan(&parts, &partitions); err != nil {
			t.Fatal(err)
		}
		if parts != 3 || partitions != 1 {
			t.Errorf("%s: %d active parts in %d partitions, want 3 parts in 1 partition", table, parts, partitions)
		}
		if err := c.Optimize(ctx, table); err != nil {
			t.Fatal(err)
		}
		want := uint64(2)
		if table == "issues" {
			want = 1
		}
		if n, err := c.Count(ctx, table); err != nil || n != want {
			t.Errorf("%s: %d rows after OPTIMIZE (%v), want %d", table, n, err, want)
		}
	}
	var v uint64
	if err := c.Conn().QueryRow(ctx, "SELECT _version FROM "+c.qualified("issues")).Scan(&v); err != nil || v != 2000 {
		t.Errorf("issues keeps _version %d (%v), want 2000", v, err)
	}
}

func TestInsertErrors(t *testing.T) {
	cfg := testConfig(t)
	c := openTest(t, cfg)
	ctx := context.Background()
	if _, err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	// A table without the expected columns: permanent.
	if err := c.Conn().Exec(ctx, "CREATE TABLE "+c.qualified("other_statuses")+" (key String, title String) ENGINE = MergeTree ORDER BY key"); err != nil {
		t.Fatal(err)
	}
	wrong := cfg
	wrong.Tables.Statuses = "other_statuses"
	wc, err := Open(ctx, wrong)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = wc.Close() }()
	err = wc.InsertStatuses(ctx, []wire.Status{{Key: "open"}})
	var e *Error
	if err == nil || !IsPermanent(err) || !errors.As(err, &e) || e.Table != "other_statuses" {
		t.Errorf("insert into a table without the columns = %v, want a permanent *Error for other_statuses", err)
	}

	// A missing table: permanent.
	missing := cfg
	missing.Tables.Issues = "no_such_table"
	mc, err := Open(ctx, missing)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = mc.Close() }()
	if err := mc.InsertRows(ctx, []*wire.IssueRows{sample("1", "A-1", 1, t0, "g", nil, 0, 0)}); !IsPermanent(err) {
		t.Errorf("insert into a missing table = %v, want permanent", err)
	}

	// A cancelled context: retryable.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.InsertRows(cctx, []*wire.IssueRows{sample("1", "A-1", 1, t0, "g", []string{"open"}, 1, 1)}); err == nil || IsPermanent(err) {
		t.Errorf("insert with a cancelled context = %v, want a retryable error", err)
	}

	// Nothing listens: retryable, and quick.
	down := cfg
	down.Host = "127.0.0.1:1"
	down.DialTimeout = time.Second
	start := time.Now()
	if _, err := Open(ctx, down); err == nil || IsPermanent(err) {
		t.Errorf("Open(closed port) = %v, want a retryable error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open(closed port) took %s", d)
	}

	// The client still works after the failures.
	if err := c.InsertRows(ctx, []*wire.IssueRows{sample("1", "A-1", 1, t0, "g", []string{"open"}, 1, 1)}); err != nil {
		t.Errorf("InsertRows after errors: %v", err)
	}
	if err := c.InsertRows(ctx, nil); err != nil {
		t.Errorf("InsertRows(nil) = %v", err)
	}
	if err := c.Optimize(ctx, "x; DROP"); !IsPermanent(err) {
		t.Errorf("Optimize(bad name) = %v, want permanent", err)
	}
}

// TestMaxExecutionTime: the server stops a query that runs too long.
func TestMaxExecutionTime(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxExecutionTime = time.Second
	c := openTest(t, cfg)
	start := time.Now()
	var n uint64
	err := c.Conn().QueryRow(context.Background(), "SELECT count() FROM numbers(100000000000) WHERE NOT ignore(sipHash64(number))").Scan(&n)
	var ex *ch.Exception
	if !errors.As(err, &ex) || ex.Code != 159 {
		t.Fatalf("a query of minutes under max_execution_time 1s = %d, %v; want exception 159 TIMEOUT_EXCEEDED", n, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("query stopped after %s, want about 1s", d)
	}
	if IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = true, want a retryable timeout", err)
	}
}

// TestHTTP runs the basic cycle over HTTP where the server supports
// clickhouse-go's HTTP mode (not 18.16).
func TestHTTP(t *testing.T) {
	addr := testenv.Require(t, "TEST_CLICKHOUSE_HTTP_ADDR")
	native := newMigrated(t)
	v, err := native.ServerVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Host, cfg.Port, cfg.Proto, cfg.Database = addr, 8123, ProtoHTTP, native.db
	c, err := Open(context.Background(), cfg)
	if strings.HasPrefix(v, "18.") {
		// Documented limitation: clickhouse-go's HTTP mode sends the
		// setting client_protocol_version, which 18.x does not know. The
		// test pins that behaviour so the docs stay true.
		if err == nil {
			_ = c.Close()
			t.Fatalf("HTTP mode worked against ClickHouse %s: update docs/operations.md and this test", v)
		}
		if !strings.Contains(err.Error(), "client_protocol_version") {
			t.Fatalf("HTTP mode against ClickHouse %s failed otherwise than documented: %v", v, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Open over HTTP: %v", err)
	}
	defer func() { _ = c.Close() }()
	if err := c.InsertRows(context.Background(), []*wire.IssueRows{sample("1", "A-1", 1, t0, "g", []string{"open"}, 1, 1)}); err != nil {
		t.Fatalf("InsertRows over HTTP: %v", err)
	}
	if n, err := c.Count(context.Background(), "issue_metrics_view"); err != nil || n != 1 {
		t.Errorf("Count over HTTP = %d, %v", n, err)
	}
}

// TestNativeTLS connects over the native protocol with TLS, trusting the
// private CA of scripts/services.sh through a CA file, and refuses a server
// the configured CA did not sign.
func TestNativeTLS(t *testing.T) {
	addr := testenv.Require(t, "TEST_CLICKHOUSE_TLS_ADDR")
	ca := testenv.Require(t, "TEST_CLICKHOUSE_CA_CERT")
	cfg := testConfig(t)
	cfg.Host, cfg.Port, cfg.Proto, cfg.CACertPath = addr, 9440, ProtoNativeTLS, ca
	c := openTest(t, cfg)
	ctx := context.Background()
	if _, err := c.Migrate(ctx); err != nil {
		t.Fatalf("Migrate over TLS: %v", err)
	}
	if err := c.InsertRows(ctx, []*wire.IssueRows{sample("1", "A-1", 1, t0, "g", []string{"open"}, 1, 1)}); err != nil {
		t.Fatalf("InsertRows over TLS: %v", err)
	}
	if n, err := c.Count(ctx, "issues_view"); err != nil || n != 1 {
		t.Errorf("Count over TLS = %d, %v", n, err)
	}
	// Without the CA file the system pool does not trust the server.
	untrusted := cfg
	untrusted.CACertPath = ""
	if c2, err := Open(ctx, untrusted); err == nil {
		_ = c2.Close()
		t.Fatal("a server signed by an unknown CA was trusted")
	}
}

// BenchmarkInsertRows inserts issues with 5 metric, 8 interval and 30
// changelog rows each (44 rows an issue): 10 000 issues per operation, and
// 227 (10 000 rows: one loader batch at the default
// EXPORTER_CLICKHOUSE__BATCH_ROWS), and reports rows/s.
func BenchmarkInsertRows(b *testing.B) {
	c := newMigrated(b)
	for _, issues := range []int{10000, 227} {
		b.Run(fmt.Sprintf("issues=%d", issues), func(b *testing.B) {
			ctx := context.Background()
			batch := make([]*wire.IssueRows, issues)
			statuses := []string{"open", "inProgress", "testing", "readyForRelease", "closed"}
			for i := range batch {
				batch[i] = sample(fmt.Sprint(i), fmt.Sprintf("BENCH-%d", i), uint64(1000+i), t0, "g", statuses, 8, 30)
			}
			rowsPerOp := issues * (1 + 5 + 8 + 30)
			ops := 0
			start := time.Now()
			for b.Loop() {
				if err := c.InsertRows(ctx, batch); err != nil {
					b.Fatal(err)
				}
				ops++
			}
			b.ReportMetric(float64(rowsPerOp*ops)/time.Since(start).Seconds(), "rows/s")
			b.ReportMetric(float64(issues*ops)/time.Since(start).Seconds(), "issues/s")
		})
	}
}

// TestMigrateConcurrently: a migrate job and loaders starting together.
func TestMigrateConcurrently(t *testing.T) {
	cfg := testConfig(t)
	c := openTest(t, cfg)
	ctx := context.Background()
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			other, err := Open(ctx, cfg)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = other.Close() }()
			_, err = other.Migrate(ctx)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	if applied, err := c.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Errorf("Migrate after the concurrent ones = %q, %v; want nothing to do", applied, err)
	}
	// Every re-created view has its latest definition.
	for _, view := range []string{"issues_view", "issue_metrics_view", "issue_status_intervals_view", "issues_changelog_view"} {
		var ddl string
		if err := c.Conn().QueryRow(ctx, "SHOW CREATE TABLE "+c.qualified(view)).Scan(&ddl); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ddl, "is_deleted") {
			t.Errorf("%s after concurrent migrations is not the latest definition: %s", view, ddl)
		}
	}
}
