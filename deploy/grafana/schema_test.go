package grafana

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

var registerPlugins sync.Once

// validateSchema decodes a dashboard with the foundation SDK's strict
// decoders (generated from Grafana's dashboard schema and the schemas of
// the core panels: a missing required field, a wrong type or an unknown
// field anywhere, panel options and field config included, is an error)
// and runs its validation.
func validateSchema(raw []byte) error {
	registerPlugins.Do(plugins.RegisterDefaultPlugins)
	var d dashboard.Dashboard
	if err := d.UnmarshalJSONStrict(raw); !isNil(err) {
		return err
	}
	if err := d.Validate(); !isNil(err) {
		return err
	}
	return nil
}

// isNil: the SDK returns an empty cog.BuildErrors for no error.
func isNil(err error) bool {
	var b cog.BuildErrors
	return err == nil || errors.As(err, &b) && len(b) == 0
}

func TestDashboardsMatchGrafanaSchema(t *testing.T) {
	for _, f := range dashboardFiles(t) {
		if err := validateSchema(readFile(t, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestSchemaValidationIsStrict: the validation above catches what Grafana
// would refuse or silently drop.
func TestSchemaValidationIsStrict(t *testing.T) {
	raw := readFile(t, filepath.Join("dashboards", "flow-overview.json"))
	for name, mutate := range map[string]func(map[string]any){
		"unknown dashboard field": func(d map[string]any) { d["refreshEvery"] = "1m" },
		"unknown panel field":     func(d map[string]any) { panelOf(d, "timeseries")["query"] = "SELECT 1" },
		"bad option type":         func(d map[string]any) { panelOf(d, "barchart")["options"].(map[string]any)["barWidth"] = "wide" },
		"unknown panel option":    func(d map[string]any) { panelOf(d, "stat")["options"].(map[string]any)["sparkline"] = true },
		"missing panel type":      func(d map[string]any) { delete(panelOf(d, "table"), "type") },
		"unknown field config":    func(d map[string]any) { custom(panelOf(d, "timeseries"))["drawStyles"] = "bars" },
	} {
		var d map[string]any
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		mutate(d)
		b, _ := json.Marshal(d)
		if err := validateSchema(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func panelOf(d map[string]any, typ string) map[string]any {
	for _, p := range d["panels"].([]any) {
		if p := p.(map[string]any); p["type"] == typ {
			return p
		}
	}
	panic("no " + typ + " panel")
}

func custom(p map[string]any) map[string]any {
	return p["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["custom"].(map[string]any)
}

// chQuery is the ClickHouse plugin's query model in SQL mode (CHSqlQuery
// of grafana-clickhouse-datasource): the fields a provisioned panel sets.
type chQuery struct {
	Datasource    dsRef  `json:"datasource"`
	EditorType    string `json:"editorType"`
	Format        *int   `json:"format"`
	PluginVersion string `json:"pluginVersion"`
	QueryType     string `json:"queryType"`
	RawSQL        string `json:"rawSql"`
	RefID         string `json:"refId"`
}

// The plugin's formats (sqlds): 0 time series (long series widened), 1 table.
var formatOf = map[string]int{"timeseries": 0, "table": 1}

// TestPanelQueries: every query is the plugin's SQL query on the
// provisioned data source, in the format its panel needs, over one dataset.
func TestPanelQueries(t *testing.T) {
	for _, f := range dashboardFiles(t) {
		var raw struct {
			Panels []struct {
				Title      string            `json:"title"`
				Type       string            `json:"type"`
				Datasource *dsRef            `json:"datasource"`
				Targets    []json.RawMessage `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(readFile(t, f), &raw); err != nil {
			t.Fatal(err)
		}
		for _, p := range raw.Panels {
			if p.Type == "row" || p.Type == "text" {
				if len(p.Targets) > 0 || p.Datasource != nil {
					t.Errorf("%s: %s %q has a query", f, p.Type, p.Title)
				}
				continue
			}
			if p.Datasource == nil || *p.Datasource != (dsRef{datasourceType, datasourceUID}) || len(p.Targets) == 0 {
				t.Errorf("%s: %q: datasource %v with %d queries, want the provisioned %s", f, p.Title, p.Datasource, len(p.Targets), datasourceUID)
			}
			for _, rawTarget := range p.Targets {
				checkTarget(t, fmt.Sprintf("%s: %q", f, p.Title), p.Type, rawTarget)
			}
		}
	}
}

func checkTarget(t *testing.T, where, panelType string, raw json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var q chQuery
	if err := dec.Decode(&q); err != nil {
		t.Errorf("%s: query: %v", where, err)
		return
	}
	where += " " + q.RefID
	if q.Datasource != (dsRef{datasourceType, datasourceUID}) || q.EditorType != "sql" || q.RefID == "" || q.PluginVersion == "" {
		t.Errorf("%s: %+v: want the SQL editor on the provisioned data source, a refId and a pluginVersion", where, q)
	}
	format, ok := formatOf[q.QueryType]
	if !ok || q.Format == nil || *q.Format != format {
		t.Errorf("%s: queryType %q with format %v: want timeseries 0 or table 1", where, q.QueryType, q.Format)
	}
	if (panelType == "timeseries") != (q.QueryType == "timeseries") {
		t.Errorf("%s: a %s panel with a %s query", where, panelType, q.QueryType)
	}
	if q.QueryType == "timeseries" && !regexp.MustCompile(`^SELECT\n    \S.* AS time,\n`).MatchString(q.RawSQL) {
		t.Errorf("%s: a time series query must select its time first, as time", where)
	}
	if _, _, err := dataset(q.RawSQL); err != nil {
		t.Errorf("%s: %v", where, err)
	}
}

// readable are the tables and views the dashboards may read: the
// deduplicated *_view views, the analytic views and forecasts_latest.
// Raw tables would show duplicates and tombstones.
var readable = []string{
	"issues_view", "issue_metrics_view", "issue_status_intervals_view", "issues_changelog_view", "statuses_view",
	"issue_worklogs_view", "issue_links_view",
	"issues_flow_times_monthly", "issues_throughput_weekly", "issues_wip", "issues_wip_ageing", "issues_cfd_daily",
	"issue_worklogs_by_issue", "issue_worklogs_by_person_day", "issue_worklogs_by_queue_week", "issue_links_blocking",
	"forecasts_latest",
}

// TestDashboardsReadOnlyTheViews: every FROM and JOIN names one of the
// readable views.
func TestDashboardsReadOnlyTheViews(t *testing.T) {
	sourceRE := regexp.MustCompile(`\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)`)
	for _, b := range boards(t) {
		sqls := b.queries()
		for _, v := range b.Templating.List {
			sqls = append(sqls, query{Board: b.File, Panel: "variable " + v.Name, SQL: v.sql()})
		}
		for _, q := range sqls {
			for _, m := range sourceRE.FindAllStringSubmatch(q.SQL, -1) {
				if !slices.Contains(readable, m[1]) {
					t.Errorf("%s reads %s: want one of %v", q, m[1], readable)
				}
			}
		}
	}
}

// filterVariables are the template variables of the issue dashboards:
// the SQL that lists the options, and the column each filters.
var filterVariables = map[string]struct{ sql, column string }{
	"queue": {"SELECT DISTINCT toString(queue) AS queue\nFROM issues_view\nORDER BY queue", "queue"},
	"type": {"SELECT DISTINCT toString(issue_type) AS issue_type\nFROM issues_view\n" +
		"WHERE $__conditionalAll(queue IN (${queue:singlequote}), $queue)\nORDER BY issue_type", "issue_type"},
	"assignee": {"SELECT DISTINCT if(assignee = '', '(unassigned)', assignee) AS assignee\nFROM issues_view\n" +
		"WHERE $__conditionalAll(queue IN (${queue:singlequote}), $queue)\nORDER BY assignee", "assignee"},
}

// TestVariables: the variables are multi-value query variables of the
// provisioned data source with All; a dashboard defines every variable its
// SQL uses and uses every variable it defines, always through
// $__conditionalAll(column IN (${v:singlequote}), $v), so that All costs
// nothing and values with quotes stay literals.
func TestVariables(t *testing.T) {
	useRE := regexp.MustCompile(`\$\{?(\w+)`)
	for _, b := range boards(t) {
		defined := map[string]bool{}
		for _, v := range b.Templating.List {
			defined[v.Name] = true
			want, known := filterVariables[v.Name]
			if !known {
				t.Errorf("%s: variable %s is not one of the filter variables", b.File, v.Name)
				continue
			}
			if v.Type != "query" || !v.Multi || !v.IncludeAll || v.Datasource == nil || *v.Datasource != (dsRef{datasourceType, datasourceUID}) {
				t.Errorf("%s: variable %s: want a multi-value query variable with All on %s", b.File, v.Name, datasourceUID)
			}
			if v.sql() != want.sql || v.Definition != want.sql {
				t.Errorf("%s: variable %s query %q (definition %q), want %q", b.File, v.Name, v.sql(), v.Definition, want.sql)
			}
		}
		used := map[string]bool{}
		for _, q := range b.queries() {
			for _, m := range useRE.FindAllStringSubmatch(q.SQL, -1) {
				if strings.HasPrefix(m[1], "__") {
					continue
				}
				used[m[1]] = true
				if !defined[m[1]] {
					t.Errorf("%s uses $%s, which the dashboard does not define", q, m[1])
				}
			}
			for name := range defined {
				col := filterVariables[name].column
				if name == "queue" && strings.Contains(q.SQL, "scope IN (${queue:singlequote})") {
					col = "scope"
				}
				filter := fmt.Sprintf("$__conditionalAll(%s IN (${%s:singlequote}), $%s)", col, name, name)
				if used[name] && !strings.Contains(q.SQL, filter) && strings.Contains(q.SQL, "$"+name) {
					t.Errorf("%s uses $%s other than as %s", q, name, filter)
				}
			}
		}
		for name := range defined {
			if !used[name] {
				t.Errorf("%s: variable %s filters no panel", b.File, name)
			}
		}
	}
}

// TestDashboardLayout: unique uids and ids, the files docs/dashboards.md
// lists, panels that fit the 24-column grid without overlapping.
func TestDashboardLayout(t *testing.T) {
	uids := map[string]string{}
	var files []string
	for _, b := range boards(t) {
		files = append(files, b.File)
		if prev, dup := uids[b.UID]; dup || !strings.HasPrefix(b.UID, "tracker-") || !strings.HasPrefix(b.Title, "Tracker: ") {
			t.Errorf("%s: uid %q (also %s), title %q: want unique tracker-* uids and \"Tracker: \" titles", b.File, b.UID, prev, b.Title)
		}
		uids[b.UID] = b.File
		checkGrid(t, b.File, readFile(t, filepath.Join("dashboards", b.File)))
	}
	slices.Sort(files)
	want := slices.Clone(dashboardOrder)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("dashboards %v, want %v (dashboardOrder)", files, want)
	}
}

func checkGrid(t *testing.T, file string, raw []byte) {
	t.Helper()
	var d struct {
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			GridPos struct{ H, W, X, Y int }
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	ids := map[int]bool{}
	cells := map[[2]int]string{}
	for _, p := range d.Panels {
		g := p.GridPos
		if ids[p.ID] || p.ID == 0 || g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: panel %d %q: duplicate or zero id, or gridPos %+v off the grid", file, p.ID, p.Title, g)
		}
		ids[p.ID] = true
		for y := g.Y; y < g.Y+g.H; y++ {
			for x := g.X; x < g.X+g.W; x++ {
				if other, taken := cells[[2]int{x, y}]; taken {
					t.Errorf("%s: %q overlaps %q at (%d, %d)", file, p.Title, other, x, y)
					return
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
	}
}
