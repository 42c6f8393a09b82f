package grafana

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
)

// demoIssues is the size of the demo the queries run on: every queue,
// type and status of the emulator appears.
const demoIssues = 300

// TestDashboardQueriesOnClickHouse loads the demo (the emulator through
// the whole pipeline, as `tracker-exporter demo` does) into a fresh
// database of the test ClickHouse (18.16 in CI), then runs every variable
// query and every panel query of every dashboard, expanded as Grafana and
// the plugin expand them, with three selections: every variable All over
// the demo's whole history (each query must return rows), two values of
// each variable over one year, and a range without data (no query may
// fail on empty input).
func TestDashboardQueriesOnClickHouse(t *testing.T) {
	addr := testenv.Require(t, "TEST_CLICKHOUSE_ADDR")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := fmt.Sprintf("grafana_dashboards_%d", time.Now().UnixNano())
	loadDemo(ctx, t, addr, db)
	conn := openClickHouse(ctx, t, addr, db)
	ensureForecasts(ctx, t, conn)

	now := time.Now()
	for _, b := range boards(t) {
		t.Run(strings.TrimSuffix(b.File, ".json"), func(t *testing.T) {
			all := grafanaContext{from: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), to: now, vars: map[string]selection{}}
			picked := grafanaContext{from: now.AddDate(-1, 0, 0), to: now, vars: map[string]selection{}}
			empty := grafanaContext{from: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), to: time.Date(2001, 1, 2, 0, 0, 0, 0, time.UTC), vars: map[string]selection{}}
			// Variables in their order: a later one may use an earlier one.
			for _, v := range b.Templating.List {
				sql, err := all.expand(v.sql())
				if err != nil {
					t.Fatalf("variable %s: %v", v.Name, err)
				}
				options := runQuery(ctx, t, conn, "variable "+v.Name, sql)
				if len(options) == 0 {
					t.Fatalf("variable %s: no options:\n%s", v.Name, sql)
				}
				var values []string
				for _, row := range options {
					values = append(values, fmt.Sprint(row[0]))
				}
				all.vars[v.Name] = selection{all: true, values: values}
				empty.vars[v.Name] = selection{all: true, values: values}
				picked.vars[v.Name] = selection{values: values[:min(2, len(values))]}
			}
			for _, q := range b.queries() {
				rows := runExpanded(ctx, t, conn, q, all)
				if len(rows) == 0 {
					t.Errorf("%s: no rows with every variable All over the demo's history", q)
				}
				if check, ok := sameAsViews[q.Panel]; ok && q.RefID == "A" {
					checkTotal(ctx, t, conn, q, rows, check, all)
				}
				runExpanded(ctx, t, conn, q, picked)
				runExpanded(ctx, t, conn, q, empty)
			}
		})
	}
}

// sameAsViews are panels that must agree with the analytic views of the
// migrations when every variable is All: the total of the panel's last
// column is what the SQL gives ({from} and {to} are the range's dates).
var sameAsViews = map[string]string{
	"Throughput per week":     "SELECT sum(throughput) FROM issues_throughput_weekly",
	"WIP now":                 "SELECT sum(wip) FROM issues_wip",
	"Cumulative flow per day": "SELECT sum(issue_count) FROM issues_cfd_daily WHERE day >= toDate('{from}') AND day <= toDate('{to}')",
}

func checkTotal(ctx context.Context, t *testing.T, conn driver.Conn, q query, rows [][]any, sql string, c grafanaContext) {
	t.Helper()
	sql = strings.NewReplacer("{from}", c.from.UTC().Format(time.DateOnly), "{to}", c.to.UTC().Format(time.DateOnly)).Replace(sql)
	var got float64
	for _, r := range rows {
		got += toFloat(r[len(r)-1])
	}
	want := runQuery(ctx, t, conn, "view total", sql)
	if len(want) != 1 || toFloat(want[0][0]) != got || got == 0 {
		t.Errorf("%s: total %v, the views say %v (%s)", q, got, want, sql)
	}
}

func toFloat(v any) float64 {
	rv := reflect.Indirect(reflect.ValueOf(v))
	switch {
	case rv.CanInt():
		return float64(rv.Int())
	case rv.CanUint():
		return float64(rv.Uint())
	case rv.CanFloat():
		return rv.Float()
	}
	return 0
}

// runExpanded expands a panel query in a context and runs it; a time
// series query must return its time first.
func runExpanded(ctx context.Context, t *testing.T, conn driver.Conn, q query, c grafanaContext) [][]any {
	t.Helper()
	sql, err := c.expand(q.SQL)
	if err != nil {
		t.Errorf("%s: %v", q, err)
		return nil
	}
	return runQuery(ctx, t, conn, q.String(), sql)
}

// runQuery runs a query and reads every value of every row into the Go
// type the driver reports, as the plugin does (it uses clickhouse-go too).
func runQuery(ctx context.Context, t *testing.T, conn driver.Conn, what, sql string) [][]any {
	t.Helper()
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Errorf("%s: %v\n%s", what, err, sql)
		return nil
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out [][]any
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Errorf("%s: scan: %v\n%s", what, err, sql)
			return nil
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Errorf("%s: %v\n%s", what, err, sql)
	}
	return out
}

// loadDemo builds the one-process binary and runs its demo into db.
func loadDemo(ctx context.Context, t *testing.T, addr, db string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "tracker-exporter")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/tracker-exporter")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/tracker-exporter: %v\n%s", err, out)
	}
	demo := exec.CommandContext(ctx, bin, "demo", "--issues", fmt.Sprint(demoIssues), "--latency", "0", "--clickhouse", addr)
	demo.Dir = dir // no ./.env
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EXPORTER_") {
			demo.Env = append(demo.Env, kv)
		}
	}
	demo.Env = append(demo.Env, "EXPORTER_CLICKHOUSE__DATABASE="+db, "EXPORTER_CHANGELOG_EXPORT_ENABLED=true", "EXPORTER_LOGLEVEL=error")
	if out, err := demo.CombinedOutput(); err != nil {
		t.Fatalf("tracker-exporter demo: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		c := openClickHouse(context.Background(), t, addr, "system")
		if err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
			t.Errorf("drop %s: %v", db, err)
		}
	})
}

// openClickHouse connects over the native protocol with db as the
// connection's database, as the provisioned data source does: the
// dashboards name their tables without a database.
func openClickHouse(ctx context.Context, t *testing.T, addr, db string) driver.Conn {
	t.Helper()
	conn, err := ch.Open(&ch.Options{
		Addr: []string{addr},
		Auth: ch.Auth{Database: db, Username: "default"},
		Settings: ch.Settings{
			// ClickHouse 18.16 reads LowCardinality columns only with it.
			"allow_experimental_low_cardinality_type": 1,
			"max_execution_time":                      60,
		},
		DialTimeout: 10 * time.Second,
	})
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		t.Fatalf("ClickHouse %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// forecastsDDL is the forecasts table and its view as the forecasting
// migration makes them, for a tree where that migration has not landed.
var forecastsDDL = []string{
	"CREATE TABLE IF NOT EXISTS forecasts (computed_at DateTime('UTC'), scope_kind LowCardinality(String), scope String, " +
		"question LowCardinality(String), horizon_weeks UInt16, remaining UInt32, p50 Float64, p85 Float64, p95 Float64, " +
		"date_p50 Date, date_p85 Date, date_p95 Date, trials UInt32, window_weeks UInt16, weekly_throughput Array(UInt32), " +
		"fingerprint String, note String, _version UInt64) " +
		"ENGINE = ReplacingMergeTree(_version) PARTITION BY tuple() ORDER BY (scope_kind, scope, question, horizon_weeks, computed_at)",
	"CREATE VIEW IF NOT EXISTS forecasts_latest AS SELECT * FROM forecasts FINAL " +
		"WHERE (scope_kind, scope, question, horizon_weeks, computed_at) IN " +
		"(SELECT scope_kind, scope, question, horizon_weeks, max(computed_at) FROM forecasts GROUP BY scope_kind, scope, question, horizon_weeks)",
}

// ensureForecasts makes sure forecasts_latest exists and has a forecast of
// each question for all queues and for one queue: the latest, whatever
// the demo computed.
func ensureForecasts(ctx context.Context, t *testing.T, conn driver.Conn) {
	t.Helper()
	for _, ddl := range forecastsDDL {
		if err := conn.Exec(ctx, ddl); err != nil {
			t.Fatalf("%v\n%s", err, ddl)
		}
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO forecasts (computed_at, scope_kind, scope, question, horizon_weeks, remaining, "+
		"p50, p85, p95, date_p50, date_p85, date_p95, trials, window_weeks, weekly_throughput, fingerprint, note, _version)")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second)
	day := func(weeks int) time.Time {
		return time.Date(at.Year(), at.Month(), at.Day()+7*weeks, 0, 0, 0, 0, time.UTC)
	}
	history := []uint32{3, 5, 0, 4, 6, 2, 5, 4, 3, 7, 1, 4}
	for _, scope := range [][2]string{{"all", ""}, {"queue", "DEV"}} {
		for _, h := range []uint16{2, 4, 8} {
			f := float64(h)
			if err := batch.Append(at, scope[0], scope[1], "how_many", h, uint32(0), 4*f, 3*f, 2*f,
				time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC(), uint32(10000), uint16(12), history, "test", "", uint64(at.UnixMilli())); err != nil {
				t.Fatal(err)
			}
		}
		if err := batch.Append(at, scope[0], scope[1], "when", uint16(0), uint32(40), 0.0, 0.0, 0.0,
			day(10), day(13), day(15), uint32(10000), uint16(12), history, "test", "", uint64(at.UnixMilli())); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}
