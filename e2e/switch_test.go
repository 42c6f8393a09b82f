package e2e

// What a user of the old tool meets when switching: errors at start, the
// log levels, Sentry, --version.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// sentryInbox is a local Sentry endpoint keeping the envelopes it gets.
type sentryInbox struct {
	srv  *httptest.Server
	mu   sync.Mutex
	body []string
}

func newSentryInbox(t *testing.T) *sentryInbox {
	in := &sentryInbox{}
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		in.mu.Lock()
		in.body = append(in.body, string(b))
		in.mu.Unlock()
		_, _ = io.WriteString(w, `{"id":"00000000000000000000000000000000"}`)
	}))
	t.Cleanup(in.srv.Close)
	return in
}

func (in *sentryInbox) dsn() string {
	return "http://publickey@" + strings.TrimPrefix(in.srv.URL, "http://") + "/7"
}

func (in *sentryInbox) all() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return strings.Join(in.body, "\n")
}

// checkJSONLines fails t for each line of out that is not JSON (the
// output of a process run with EXPORTER_LOG_FORMAT=json).
func checkJSONLines(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("a line is not JSON with EXPORTER_LOG_FORMAT=json: %q", line)
		}
	}
}

// A fatal error (here a token Tracker refuses) is one line in the chosen
// log format and one Sentry event, with no secret in either.
func TestFatalErrorIsLoggedInFormatAndSentToSentry(t *testing.T) {
	f := newFixtureWith(t, trackertest.Options{Issues: 5, Seed: 7, Token: "the-right-token"})
	f.oneProcess()
	inbox := newSentryInbox(t)
	f.set("EXPORTER_TRACKER__TOKEN", "wrong-secret-token")
	f.set("EXPORTER_LOG_FORMAT", "json")
	f.set("EXPORTER_MONITORING__SENTRY_ENABLED", "true")
	f.set("EXPORTER_MONITORING__SENTRY_DSN", inbox.dsn())
	code, out := f.run("tracker-exporter", "--run-once")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	checkJSONLines(t, out)
	if !strings.Contains(out, "401") {
		t.Errorf("the output does not say Tracker refused the token:\n%s", out)
	}
	events := inbox.all()
	if !strings.Contains(events, "401") {
		t.Errorf("Sentry got no event of the fatal error: %q", events)
	}
	for _, s := range []string{out, events} {
		if strings.Contains(s, "wrong-secret-token") || strings.Contains(s, "the-right-token") {
			t.Errorf("a token leaked: %s", s)
		}
	}

	// ClickHouse and Redis unreachable at start: one event each, after the
	// start timeout, with no password in it.
	for _, c := range []struct {
		name, want string
		env        []string
	}{
		{"clickhouse", "ClickHouse", []string{"EXPORTER_CLICKHOUSE__PORT=1", "EXPORTER_CLICKHOUSE__PASSWORD=ch-secret-password"}},
		{"redis", "the state store (redis)", []string{"EXPORTER_STATEFUL=true", "EXPORTER_STATE__STORAGE=redis",
			"EXPORTER_STATE__REDIS_DSN=redis://:redis-secret-password@127.0.0.1:1/0"}},
	} {
		inbox := newSentryInbox(t)
		// Stateful from the watermark: the custom query goes.
		env := slices.DeleteFunc(withEnv(f.env, append([]string{"EXPORTER_TRACKER__TOKEN=the-right-token", "EXPORTER_START_TIMEOUT=1s",
			"EXPORTER_MONITORING__SENTRY_DSN=" + inbox.dsn()}, c.env...)...),
			func(kv string) bool {
				return c.name == "redis" && strings.HasPrefix(kv, "EXPORTER_TRACKER__SEARCH__QUERY=")
			})
		code, out := f.runEnv(env, "tracker-exporter", "--run-once")
		if code != 1 {
			t.Errorf("%s down: exit %d, want 1:\n%s", c.name, code, lastLines(out, 10))
			continue
		}
		events := inbox.all()
		if !strings.Contains(events, c.want) {
			t.Errorf("%s down: Sentry got no event naming it: %q", c.name, events)
		}
		for _, s := range []string{out, events} {
			if strings.Contains(s, "secret-password") {
				t.Errorf("%s down: a password leaked: %s", c.name, s)
			}
		}
	}
}

// Problems found in files and values the configuration names are refused
// at start, exit 2, one config: line each, with the variable.
func TestConfigurationRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "holidays.txt")
	if err := os.WriteFile(bad, []byte("2024-01-01 holiday\nnot a date\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"PATH=" + os.Getenv("PATH"), "EXPORTER_TRACKER__TOKEN=t", "EXPORTER_TRACKER__ORG_ID=1",
		`EXPORTER_TRACKER__SEARCH__QUERY=Queue: DEV`}
	cases := []struct {
		name string
		bin  string
		env  []string
		want []string
	}{
		{"holiday file contents and a missing one, with the rest", "tracker-exporter",
			[]string{"EXPORTER_HOLIDAYS_FILE=" + bad, "EXPORTER_TRACKER__CONCURRENCY=0"},
			[]string{"config: EXPORTER_HOLIDAYS_FILE=", "holidays.txt:2", "config: EXPORTER_TRACKER__CONCURRENCY"}},
		{"missing holiday file", "transformer", []string{"EXPORTER_HOLIDAYS_FILE=" + filepath.Join(dir, "nope.txt")},
			[]string{"config: EXPORTER_HOLIDAYS_FILE="}},
		{"custom field without a type, transformer", "transformer", []string{"EXPORTER_CUSTOM_FIELDS=team:team"},
			[]string{"config: EXPORTER_CUSTOM_FIELDS", "the column type is missing"}},
		{"custom field without a type, loader", "loader", []string{"EXPORTER_CUSTOM_FIELDS=team:team"},
			[]string{"config: EXPORTER_CUSTOM_FIELDS", "the column type is missing"}},
		{"business hours with a fraction", "tracker-exporter", []string{"EXPORTER_BUSINESS_HOURS_START=09:00:00.5"},
			[]string{"config: EXPORTER_BUSINESS_HOURS_START"}},
		{"json format", "tracker-exporter", []string{"EXPORTER_LOG_FORMAT=json", "EXPORTER_TRACKER__CONCURRENCY=0"},
			[]string{`"msg":"config: EXPORTER_TRACKER__CONCURRENCY`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(binaries(t), c.bin))
			cmd.Env = append(append([]string(nil), base...), c.env...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want 2:\n%s", err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestVersionOnEveryBinary(t *testing.T) {
	for _, bin := range []string{"tracker-exporter", "extractor", "transformer", "loader"} {
		out, err := exec.Command(filepath.Join(binaries(t), bin), "--version").CombinedOutput()
		if err != nil || !strings.Contains(string(out), bin+" version ") {
			t.Errorf("%s --version: %v %q", bin, err, out)
		}
	}
}

// A working folder the process cannot write is named, with the cause.
func TestReadOnlyDataDirIsNamed(t *testing.T) {
	// root writes anywhere, so the folder is a path under a regular file,
	// which fails for everyone.
	f := newFixture(t, 5)
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f.set("EXPORTER_NATS__URL", "")
	f.set("EXPORTER_NATS__DATA_DIR", filepath.Join(file, "nats"))
	code, out := f.run("tracker-exporter", "--run-once")
	if code != 1 || !strings.Contains(out, "EXPORTER_NATS__DATA_DIR="+filepath.Join(file, "nats")) || !strings.Contains(out, "not a directory") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// EXPORTER_TRACKER__LOGLEVEL=debug shows every Tracker request;
// EXPORTER_LOGLEVEL=debug our own debug lines; a status without a type is
// named once.
func TestDebugLevels(t *testing.T) {
	f := newFixture(t, 30)
	f.oneProcess()
	f.set("EXPORTER_TRACKER__LOGLEVEL", "debug")
	code, out := f.run("tracker-exporter", "--run-once")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if n := strings.Count(out, `msg="tracker request"`); int64(n) != f.em.TotalRequests() {
		t.Errorf("%d request lines for %d requests", n, f.em.TotalRequests())
	}
	for _, w := range []string{"method=POST", "path=\"/v2/issues/_search?", "status=200", "retry=0", "duration="} {
		if !strings.Contains(out, w) {
			t.Errorf("request lines lack %q", w)
		}
	}
	// The stages' own debug lines follow EXPORTER_LOGLEVEL: one per
	// published snapshot, per transformed batch, per insert.
	stageLines := []string{`msg="issue snapshot published"`, `msg="snapshots transformed"`, `msg="rows inserted"`}
	for _, w := range stageLines {
		if strings.Contains(out, w) {
			t.Errorf("EXPORTER_LOGLEVEL is info, yet the output has %s", w)
		}
	}
	f.set("EXPORTER_TRACKER__LOGLEVEL", "warning")
	f.set("EXPORTER_LOGLEVEL", "debug")
	// New versions of a few issues, so that the second run has rows to make.
	for _, k := range f.em.IssueKeys()[:5] {
		if err := f.em.Touch(k, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	code, out = f.run("tracker-exporter", "--run-once")
	if code != 0 || strings.Contains(out, `msg="tracker request"`) {
		t.Errorf("with EXPORTER_TRACKER__LOGLEVEL=warning: exit %d, request lines:\n%s", code, lastLines(out, 5))
	}
	if n := strings.Count(out, `msg="issue snapshot published"`); n != f.em.IssueCount() {
		t.Errorf("EXPORTER_LOGLEVEL=debug: %d snapshot lines for %d issues", n, f.em.IssueCount())
	}
	for _, w := range append(stageLines, "issue=", "changelog_entries=", "table=", "rows=") {
		if !strings.Contains(out, w) {
			t.Errorf("EXPORTER_LOGLEVEL=debug: no %s in the output:\n%s", w, lastLines(out, 10))
		}
	}
}

// A pass with a time budget (a serverless function's limit) stops taking
// issues at it, loads those in hand, saves the watermark before the first
// one left, and exits 0; the next runs continue until everything is in.
func TestTimeBudgetContinuesNextRun(t *testing.T) {
	f := newFixtureWith(t, trackertest.Options{Issues: 1200, Seed: 7, Latency: 20 * time.Millisecond})
	f.oneProcess()
	state := f.stateful()
	f.set("EXPORTER_TRACKER__CONCURRENCY", "4")
	f.set("EXPORTER_RUN_TIME_BUDGET", "3s")
	code, out := f.run("tracker-exporter", "--run-once")
	if code != 0 || !strings.Contains(out, "run stopped at its time budget") {
		t.Fatalf("first run: exit %d:\n%s", code, lastLines(out, 20))
	}
	loaded := f.count("SELECT count() FROM `" + f.db + "`.issues_view")
	wm := f.watermark(state)
	if loaded == 0 || loaded >= uint64(f.em.IssueCount()) || wm.IsZero() {
		t.Fatalf("after the budget: %d issues loaded, watermark %s", loaded, wm)
	}
	// Everything up to the watermark is in.
	var below uint64
	for _, k := range f.em.IssueKeys() {
		if is, _ := f.em.Issue(k); is.UpdatedAt.Before(wm) {
			below++
		}
	}
	if got := f.count("SELECT count() FROM `" + f.db + "`.issues_view WHERE updated_at < toDateTime(" + fmt.Sprint(wm.Unix()) + ")"); got < below {
		t.Errorf("the watermark %s passed issues not loaded: %d of %d below it", wm, got, below)
	}
	for run := 2; ; run++ {
		code, out = f.run("tracker-exporter", "--run-once")
		if code != 0 {
			t.Fatalf("run %d: exit %d:\n%s", run, code, lastLines(out, 20))
		}
		if !strings.Contains(out, "run stopped at its time budget") {
			break
		}
		if run > 10 {
			t.Fatal("not finished after 10 runs")
		}
	}
	f.verify()
	t.Logf("%d issues in the first 3 s run", loaded)
}

// The interval process (no --run-once) sends every metric of the old tool
// after each pass, with the old tool's kind and tags, the base labels on
// every one, and the new pass account next to them.
func TestOldMetricsFromTheIntervalProcess(t *testing.T) {
	f := newFixture(t, 40)
	f.oneProcess()
	metrics := f.statsd()
	f.set("EXPORTER_MONITORING__METRICS_BASE_LABELS", `["project:internal",]`)
	f.set("EXPORTER_COMMENTS_EXPORT_ENABLED", "true")
	f.set("EXPORTER_CLICKHOUSE__AUTO_DEDUPLICATE", "true")
	f.set("EXPORTER_ETL_INTERVAL_MINUTES", "60")
	stop := f.start("tracker-exporter")
	deadline := time.Now().Add(90 * time.Second)
	for !metrics.has("tracker_exporter_etl_upload_status:") {
		if time.Now().After(deadline) {
			_, out := stop()
			t.Fatalf("no pass ended within 90 s:\n%s", lastLines(out, 20))
		}
	}
	if code, out := stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, lastLines(out, 20))
	}
	db := f.db
	want := []struct {
		name, kind, value string
		tags              []string
	}{
		{"issues_search_time_seconds", "ms", "", nil},
		{"issue_prefetch_seconds", "ms", "", nil},
		{"comments_fetch_seconds", "ms", "", nil},
		{"issues_total_processed_count", "c", "", []string{"source:issues"}},
		{"export_and_transform_time_seconds", "ms", "", nil},
		{"issue_transform_time_seconds", "ms", "", nil},
		{"issues_without_metrics", "g", "", nil},
		{"upload_to_storage_time_seconds", "ms", "", nil},
		{"last_update_timestamp", "g", "", nil},
		{"clickhouse_insert_time_seconds", "ms", "", []string{"database:" + db, "table:issues"}},
		{"clickhouse_inserted_rows", "g", "", []string{"database:" + db, "table:issues"}},
		{"clickhouse_deduplicate_time_seconds", "ms", "", []string{"database:" + db, "table:issues"}},
		{"etl_duration_seconds", "ms", "", nil},
		{"etl_upload_status", "g", "1", nil},
		{"pass_issues_found", "g", fmt.Sprint(f.em.IssueCount()), nil},
		{"pass_issues_missing", "g", "0", nil},
	}
	metrics.mu.Lock()
	lines := append([]string(nil), metrics.lines...)
	metrics.mu.Unlock()
	for _, w := range want {
		found := false
		for _, l := range lines {
			// name:value|kind|#tag,tag
			head, tagPart, _ := strings.Cut(l, "|#")
			nv, kind, ok := strings.Cut(head, "|")
			name, value, _ := strings.Cut(nv, ":")
			if !ok || name != "tracker_exporter_"+w.name {
				continue
			}
			tags := strings.Split(tagPart, ",")
			if kind != w.kind || w.value != "" && value != w.value || !slices.Contains(tags, "project:internal") {
				t.Errorf("%s: got %q, want kind %s, value %q and the base label", w.name, l, w.kind, w.value)
			}
			has := true
			for _, tag := range w.tags {
				has = has && slices.Contains(tags, tag)
			}
			found = found || has
		}
		if !found {
			t.Errorf("%s with tags %v was not sent", w.name, w.tags)
		}
	}
	if t.Failed() {
		t.Logf("sent: %q", lines)
	}
}

// An old .env that reaches ClickHouse 18.x over HTTP (port 8123) fails in
// one line that says what to set instead.
func TestHTTPOnOldClickHouseSaysUseNative(t *testing.T) {
	httpAddr := testenv.Require(t, "TEST_CLICKHOUSE_HTTP_ADDR")
	f := newFixture(t, 5)
	f.oneProcess()
	host, port, _ := strings.Cut(httpAddr, ":")
	f.set("EXPORTER_CLICKHOUSE__HOST", host)
	f.set("EXPORTER_CLICKHOUSE__PORT", port)
	f.set("EXPORTER_CLICKHOUSE__PROTO", "http")
	f.set("EXPORTER_START_TIMEOUT", "5s")
	code, out := f.run("tracker-exporter", "--run-once")
	if code == 0 {
		t.Fatalf("exit 0 over HTTP on 18.16:\n%s", out)
	}
	var hints int
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "EXPORTER_CLICKHOUSE__PROTO=native") && strings.Contains(l, "EXPORTER_CLICKHOUSE__PORT=9000") {
			hints++
		}
	}
	if hints != 1 {
		t.Errorf("%d lines name PROTO=native and port 9000, want 1:\n%s", hints, lastLines(out, 10))
	}
}
