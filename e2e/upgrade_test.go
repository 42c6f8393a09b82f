package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// oldTables is the old tool 2.0.0's schema (its migrations/clickhouse), with
// DateTime for its DateTime64 columns, which ClickHouse 18.16 lacks.
var oldTables = []string{
	"CREATE TABLE DB.issues (version DateTime DEFAULT now(), queue LowCardinality(String), title String DEFAULT '', issue_key String, " +
		"issue_type LowCardinality(String), priority LowCardinality(String), status LowCardinality(String), resolution LowCardinality(String) DEFAULT '', " +
		"assignee String DEFAULT '', author String DEFAULT '', qa_engineer String DEFAULT '', tags Array(String), components Array(String), " +
		"project LowCardinality(String) DEFAULT '', created_at DateTime, updated_at DateTime, deadline Date DEFAULT 0, closed_at DateTime DEFAULT 0, " +
		"resolved_at DateTime DEFAULT 0, start_date Date DEFAULT 0, end_date Date DEFAULT 0, is_subtask UInt8 DEFAULT 0, is_closed UInt8 DEFAULT 0, " +
		"is_resolved UInt8 DEFAULT 0, story_points Float32 DEFAULT 0.0, sprints Array(String), parent_issue_key String DEFAULT '', " +
		"epic_issue_key String DEFAULT '', aliases Array(String), was_moved UInt8 DEFAULT 0, moved_at DateTime DEFAULT 0, moved_by String DEFAULT '') " +
		"ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(updated_at) ORDER BY issue_key",
	"CREATE TABLE DB.issue_metrics (version DateTime DEFAULT now(), last_seen DateTime, issue_key String, status_name LowCardinality(String), " +
		"status_transitions_count UInt8, duration UInt32, human_readable_duration String DEFAULT '', busdays_duration UInt32, " +
		"human_readable_busdays_duration String DEFAULT '') ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(last_seen) " +
		"ORDER BY (issue_key, status_name, last_seen)",
	"CREATE TABLE DB.issues_changelog (version DateTime DEFAULT now(), event_time DateTime, issue_key String, queue LowCardinality(String), " +
		"event_type LowCardinality(String), transport LowCardinality(String), actor String DEFAULT '', changed_field String, " +
		"changed_from String DEFAULT '', changed_to String) ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(event_time) " +
		"ORDER BY (issue_key, event_time, event_type, changed_field)",
	"CREATE VIEW DB.issues_view AS SELECT * FROM DB.issues FINAL",
	"CREATE VIEW DB.issue_metrics_view AS SELECT * FROM DB.issue_metrics FINAL",
	"CREATE VIEW DB.issues_changelog_view AS SELECT * FROM DB.issues_changelog FINAL",
	"INSERT INTO DB.issues (queue, title, issue_key, issue_type, priority, status, created_at, updated_at, tags, components, sprints, aliases) " +
		"SELECT 'GONE', 'an issue Tracker no longer has', 'GONE-1', 'task', 'normal', 'closed', toDateTime('2023-01-10 10:00:00'), toDateTime('2023-02-01 10:00:00'), [], [], [], []",
	"INSERT INTO DB.issues_changelog (event_time, issue_key, queue, event_type, transport, actor, changed_field, changed_from, changed_to) " +
		"SELECT toDateTime('2023-01-11 10:00:00'), 'GONE-1', 'GONE', 'IssueWorkflow', 'front', 'someone@example.com', 'status', 'open', 'closed'",
}

// TestUpgradeFromThePythonTool walks docs/operations.md "Upgrading from the
// Python tool" on a database and a state file the old tool left: the
// commands and SQL of the guide are taken from the guide itself.
func TestUpgradeFromThePythonTool(t *testing.T) {
	f := newFixture(t, 150)
	ctx := context.Background()
	if err := f.ch.Conn().Exec(ctx, "CREATE DATABASE `"+f.db+"`"); err != nil {
		t.Fatal(err)
	}
	for _, q := range oldTables {
		if err := f.ch.Conn().Exec(ctx, strings.ReplaceAll(q, "DB.", "`"+f.db+"`.")); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	guide, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(guide)[strings.Index(string(guide), "## Upgrading from the Python tool"):]
	// The old tool's .env, kept, plus what the guide says to change and
	// what points at the emulator; its state: a local time string.
	dir := t.TempDir()
	var env []string
	for _, kv := range f.env {
		if strings.HasPrefix(kv, "EXPORTER_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+binaries(t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	dotenv := strings.Join([]string{
		"EXPORTER_TRACKER__TOKEN=old-token", "EXPORTER_TRACKER__ORG_ID=42",
		"EXPORTER_TRACKER__API_URL=" + f.em.URL(),
		"EXPORTER_STATEFUL=true", "EXPORTER_STATEFUL_INITIAL_RANGE=1w",
		"EXPORTER_STATE__STORAGE=jsonfile", "EXPORTER_STATE__JSONFILE_STRATEGY=local", "EXPORTER_STATE__JSONFILE_PATH=./state.json",
		"EXPORTER_CHANGELOG_EXPORT_ENABLED=true", "EXPORTER_LOGLEVEL=info", "EXPORTER_ETL_INTERVAL_MINUTES=30",
		"EXPORTER_TRACKER__SEARCH__PER_PAGE_LIMIT=100", "EXPORTER_TRACKER__TIMEZONE=Europe/Moscow",
		"EXPORTER_CLICKHOUSE__HOST=" + strings.Split(f.chAdr, ":")[0], "EXPORTER_CLICKHOUSE__PORT=" + strings.Split(f.chAdr, ":")[1],
		"EXPORTER_CLICKHOUSE__PROTO=native", // step 1: 18.x needs native
		"EXPORTER_CLICKHOUSE__DATABASE=" + f.db, "EXPORTER_CLICKHOUSE__AUTO_DEDUPLICATE=true",
		"EXPORTER_DATETIME_RESPONSE_FORMAT=%Y-%m-%dT%H:%M:%S%z",
		"EXPORTER_NATS__DATA_DIR=" + filepath.Join(dir, "nats"),
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	oldState := `{"tracker_etl_default": "2026-10-01 03:00:00"}`
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(oldState), 0o600); err != nil {
		t.Fatal(err)
	}
	sh := func(cmd string) string {
		t.Helper()
		c := exec.Command("bash", "-c", cmd)
		c.Dir, c.Env = dir, env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, lastLines(string(out), 30))
		}
		return string(out)
	}

	// Step 1: start once and read the warnings.
	out := sh("tracker-exporter --run-once --tracker-search-query 'Key: NOPE-1' 2>&1 || true")
	if !strings.Contains(out, "EXPORTER_DATETIME_RESPONSE_FORMAT: accepted for compatibility, no effect") {
		t.Errorf("the start does not name the variable without effect:\n%s", lastLines(out, 30))
	}
	// Step 3: the migrations move the old tables out of the way.
	if !strings.Contains(section, "`tracker-exporter migrate`") {
		t.Fatal("the guide no longer says tracker-exporter migrate")
	}
	sh("tracker-exporter migrate")
	if n := f.count("SELECT count() FROM `" + f.db + "`.issues_legacy"); n != 1 {
		t.Fatalf("issues_legacy holds %d rows, want the old one", n)
	}
	// Step 4: the backfill, as the guide writes it.
	backfill := regexp.MustCompile("`(tracker-exporter --run-once --tracker-search-query [^`]+)`").FindStringSubmatch(section)
	if backfill == nil {
		t.Fatal("no backfill command in the guide")
	}
	sh(backfill[1])
	if n := f.count("SELECT count() FROM `" + f.db + "`.issues_view WHERE _generation != 'legacy'"); n != uint64(f.em.IssueCount()) {
		t.Fatalf("after the backfill %d issues, want %d", n, f.em.IssueCount())
	}
	// Step 5: the guide's SQL keeps the issue Tracker no longer has.
	block := regexp.MustCompile("(?s)```sql\n(.*?)```").FindStringSubmatch(section)
	if block == nil {
		t.Fatal("no SQL block in the guide")
	}
	for _, stmt := range strings.Split(block[1], ";") {
		var lines []string
		for _, l := range strings.Split(stmt, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
				lines = append(lines, l)
			}
		}
		if len(lines) == 0 {
			continue
		}
		q := strings.ReplaceAll(strings.Join(lines, "\n"), "agile.", "`"+f.db+"`.")
		if err := f.ch.Conn().Exec(ctx, q); err != nil {
			t.Fatalf("the guide's SQL failed: %v\n%s", err, q)
		}
	}
	if n := f.count("SELECT count() FROM `" + f.db + "`.issues_view WHERE issue_key = 'GONE-1'"); n != 1 {
		t.Errorf("the legacy issue is not in issues_view after the guide's SQL (%d)", n)
	}
	if n := f.count("SELECT count() FROM `" + f.db + "`.issues_changelog_view WHERE issue_key = 'GONE-1'"); n != 1 {
		t.Errorf("the legacy changelog row is not in issues_changelog_view (%d)", n)
	}
	// "then go back to your usual mode": the old .env, stateful from the
	// old watermark.
	before, _ := os.ReadFile(filepath.Join(dir, "state.json"))
	out = sh("tracker-exporter --run-once 2>&1")
	if !strings.Contains(out, `Updated: >= \"2026-10-01 02:55:00\"`) {
		t.Errorf("the stateful run did not continue from the old watermark (minus the overlap):\n%s", lastLines(out, 40))
	}
	after, _ := os.ReadFile(filepath.Join(dir, "state.json"))
	var doc map[string]struct {
		Watermark time.Time `json:"watermark"`
	}
	if err := json.Unmarshal(after, &doc); err != nil || doc["tracker_etl_default"].Watermark.IsZero() {
		t.Errorf("state after the run: %s (before: %s), %v", after, before, err)
	}
	if n := f.count("SELECT count() FROM `" + f.db + "`.issues_view WHERE _generation != 'legacy'"); n != uint64(f.em.IssueCount()) {
		t.Errorf("after the stateful run %d issues, want %d", n, f.em.IssueCount())
	}
}
