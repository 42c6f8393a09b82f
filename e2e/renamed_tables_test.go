package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// A user who names every table (EXPORTER_CLICKHOUSE__*_TABLE, the old
// tool's and the new ones alike) gets every table and view under those
// names and none under the defaults: the migrations, the loader, the
// run's own check against ClickHouse, verify, replay, the forecasts and
// the report all follow the names.
func TestRenamedTables(t *testing.T) {
	f := newFixture(t, 150)
	f.oneProcess()
	f.set("EXPORTER_COMMENTS_EXPORT_ENABLED", "true")
	defaults := wire.DefaultTables()
	names := map[string]string{} // default name -> the user's
	for _, ref := range defaults.Refs() {
		names[*ref.Name] = "my_" + *ref.Name
	}
	for _, v := range []struct{ env, table string }{
		{"ISSUES_TABLE", defaults.Issues},
		{"ISSUE_METRICS_TABLE", defaults.IssueMetrics},
		{"ISSUES_CHANGELOG_TABLE", defaults.IssuesChangelog},
		{"STATUS_INTERVALS_TABLE", defaults.StatusIntervals},
		{"STATUSES_TABLE", defaults.Statuses},
		{"ISSUE_COMMENTS_TABLE", defaults.Comments},
		{"ISSUE_WORKLOGS_TABLE", defaults.Worklogs},
		{"ISSUE_LINKS_TABLE", defaults.Links},
		{"ISSUE_SPRINTS_TABLE", defaults.IssueSprints},
		{"BOARDS_TABLE", defaults.Boards},
		{"SPRINTS_TABLE", defaults.Sprints},
	} {
		f.set("EXPORTER_CLICKHOUSE__"+v.env, names[v.table])
	}
	if len(names) != 11 {
		t.Fatalf("%d tables, the test names 11: a table was added; name it here too", len(names))
	}
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("run: exit %d:\n%s", code, lastLines(out, 30))
	}
	if code, out := f.run("tracker-exporter", "verify"); code != 0 || !strings.Contains(out, "missing 0") {
		t.Fatalf("verify: exit %d:\n%s", code, lastLines(out, 30))
	}
	report := filepath.Join(t.TempDir(), "report.html")
	for _, args := range [][]string{{"replay"}, {"forecast", "--trials", "200"}, {"report", "--out", report}} {
		if code, out := f.run("tracker-exporter", args...); code != 0 {
			t.Fatalf("%s: exit %d:\n%s", args[0], code, lastLines(out, 30))
		}
	}
	if n := f.count(fmt.Sprintf("SELECT count() FROM `%s`.forecasts", f.db)); n == 0 {
		t.Error("forecast stored nothing")
	}
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(f.em.IssueKeys(), func(k string) bool { return strings.Contains(string(html), ">"+k+"<") }) {
		t.Errorf("the report (%d bytes) names none of the issues (its ageing WIP lists them)", len(html))
	}

	for def, mine := range names {
		for _, suffix := range []string{"", "_view"} {
			if !f.tableExists(mine + suffix) {
				t.Errorf("%s%s does not exist", mine, suffix)
			}
			if f.tableExists(def + suffix) {
				t.Errorf("%s%s exists under its default name", def, suffix)
			}
		}
	}
	for _, derived := range []string{"_flow_times_monthly", "_throughput_weekly", "_wip", "_wip_ageing", "_cfd_daily"} {
		if !f.tableExists(names[defaults.Issues] + derived) {
			t.Errorf("view %s%s does not exist", names[defaults.Issues], derived)
		}
		f.count(fmt.Sprintf("SELECT count() FROM `%s`.`%s%s`", f.db, names[defaults.Issues], derived)) // it can be read
	}

	view := func(table string) string { return fmt.Sprintf("`%s`.`%s_view`", f.db, names[table]) }
	if got, want := f.count("SELECT count() FROM "+view(defaults.Issues)), uint64(f.em.IssueCount()); got != want {
		t.Errorf("%s holds %d issues, the emulator %d", view(defaults.Issues), got, want)
	}
	if got, want := f.count("SELECT count() FROM "+view(defaults.IssuesChangelog)), f.wantChanges(); got != want {
		t.Errorf("%s holds %d rows, the emulator has %d field changes", view(defaults.IssuesChangelog), got, want)
	}
	for _, table := range []string{defaults.IssueMetrics, defaults.StatusIntervals, defaults.Statuses, defaults.Comments,
		defaults.Worklogs, defaults.Links, defaults.IssueSprints, defaults.Boards, defaults.Sprints} {
		if n := f.count("SELECT count() FROM " + view(table)); n == 0 {
			t.Errorf("%s is empty", view(table))
		}
	}
}
