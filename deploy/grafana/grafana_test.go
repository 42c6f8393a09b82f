// Package grafana holds the Grafana provisioning of the docker compose
// deployment: the ClickHouse data source (provisioning/datasources), the
// dashboard provider (provisioning/dashboards), the dashboards as JSON
// (dashboards/*.json) and entrypoint.sh, which maps the exporter's
// EXPORTER_CLICKHOUSE__* settings to the data source's.
//
// Its tests check, without a Grafana server:
//   - every dashboard against Grafana's dashboard schema (the strict decoders
//     of github.com/grafana/grafana-foundation-sdk, panel options included)
//     and the ClickHouse plugin's query model (schema_test.go);
//   - every panel's SQL on ClickHouse (18.16 in CI) holding the demo's data,
//     after the substitutions Grafana and the plugin make: template
//     variables, $__conditionalAll, $__timeFilter and the other macros
//     (macros_test.go, clickhouse_test.go);
//   - that docs/dashboards.md shows the dashboards' SQL as it is in the JSON
//     (docs_test.go; go test ./deploy/grafana -update rewrites it);
//   - the data source provisioning and entrypoint.sh (provisioning_test.go).
package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The provisioned data source: every panel and variable names it.
const (
	datasourceType = "grafana-clickhouse-datasource"
	datasourceUID  = "tracker-clickhouse"
)

// board is what the tests read of a dashboard JSON.
type board struct {
	File        string  `json:"-"`
	UID         string  `json:"uid"`
	Title       string  `json:"title"`
	Description string  `json:"description"`
	Panels      []panel `json:"panels"`
	Templating  struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int      `json:"id"`
	Type        string   `json:"type"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Datasource  *dsRef   `json:"datasource"`
	Targets     []target `json:"targets"`
	Panels      []panel  `json:"panels"` // a collapsed row's panels
}

// target is a query of the ClickHouse plugin in SQL mode.
type target struct {
	RefID      string `json:"refId"`
	RawSQL     string `json:"rawSql"`
	Format     *int   `json:"format"`
	QueryType  string `json:"queryType"`
	EditorType string `json:"editorType"`
	Datasource *dsRef `json:"datasource"`
}

type variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      any    `json:"query"`
	Definition string `json:"definition"`
	Multi      bool   `json:"multi"`
	IncludeAll bool   `json:"includeAll"`
	Datasource *dsRef `json:"datasource"`
}

// sql returns a query variable's SQL (the plugin accepts a string or a
// query object with rawSql).
func (v variable) sql() string {
	switch q := v.Query.(type) {
	case string:
		return q
	case map[string]any:
		s, _ := q["rawSql"].(string)
		return s
	}
	return ""
}

// query is one SQL statement of a dashboard, where it comes from.
type query struct {
	Board, Panel, RefID string
	SQL                 string
}

func (q query) String() string { return fmt.Sprintf("%s: %q %s", q.Board, q.Panel, q.RefID) }

func dashboardFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards/*.json: %v", err)
	}
	slices.Sort(files)
	return files
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// boards returns every dashboard, in the order of dashboardOrder.
func boards(t testing.TB) []board {
	t.Helper()
	var out []board
	for _, f := range dashboardFiles(t) {
		var b board
		if err := json.Unmarshal(readFile(t, f), &b); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		b.File = filepath.Base(f)
		out = append(out, b)
	}
	slices.SortStableFunc(out, func(a, b board) int { return order(a.File) - order(b.File) })
	return out
}

// dashboardOrder is the order of the dashboards in docs/dashboards.md.
var dashboardOrder = []string{
	"flow-overview.json", "cycle-lead-time.json", "time-in-status.json",
	"worklogs-links.json", "forecasts.json", "pipeline-health.json",
}

func order(file string) int {
	if i := slices.Index(dashboardOrder, file); i >= 0 {
		return i
	}
	return len(dashboardOrder)
}

// allPanels returns the panels of a dashboard, those of collapsed rows
// included, rows left out.
func (b board) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" {
				out = append(out, p)
			}
			walk(p.Panels)
		}
	}
	walk(b.Panels)
	return out
}

// queries returns the SQL of every panel target of a dashboard.
func (b board) queries() []query {
	var out []query
	for _, p := range b.allPanels() {
		for _, tg := range p.Targets {
			out = append(out, query{Board: b.File, Panel: p.Title, RefID: tg.RefID, SQL: tg.RawSQL})
		}
	}
	return out
}

// datasetRE finds the dataset of a panel query: the row-level subquery
// written as
//
//	FROM
//	(
//	    SELECT ...
//	) AS name
//
// at the top level of the statement, its body indented by four spaces.
// It is what a DataLens dataset holds (docs/dashboards.md).
var datasetRE = regexp.MustCompile(`(?s)(?:^|\n)FROM\n\(\n(.*?)\n\) AS ([a-z_]+)(?:\n|$)`)

// dataset returns the name and the SQL of the dataset of a panel query.
func dataset(sql string) (name, body string, err error) {
	m := datasetRE.FindAllStringSubmatch(sql, -1)
	if len(m) != 1 {
		return "", "", fmt.Errorf("%d datasets (want exactly one top-level \"FROM\\n(\\n    ...\\n) AS name\")", len(m))
	}
	lines := strings.Split(m[0][1], "\n")
	for i, l := range lines {
		if l == "" {
			continue
		}
		rest, ok := strings.CutPrefix(l, "    ")
		if !ok {
			return "", "", fmt.Errorf("dataset %s: line %q is not indented by four spaces", m[0][2], l)
		}
		lines[i] = rest
	}
	return m[0][2], strings.Join(lines, "\n"), nil
}

// datasets returns every dataset of the dashboards by name; the same name
// must hold the same SQL everywhere.
func datasets(t testing.TB, bs []board) (map[string]string, []string) {
	t.Helper()
	sqls := map[string]string{}
	var names []string
	for _, b := range bs {
		for _, q := range b.queries() {
			name, body, err := dataset(q.SQL)
			if err != nil {
				t.Errorf("%s: %v", q, err)
				continue
			}
			prev, seen := sqls[name]
			switch {
			case !seen:
				sqls[name] = body
				names = append(names, name)
			case prev != body:
				t.Errorf("%s: dataset %s differs from its first use:\n%s\nfirst:\n%s", q, name, body, prev)
			}
		}
	}
	return sqls, names
}
