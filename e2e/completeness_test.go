package e2e

// Each test here reproduces one way a run used to lose data silently with
// exit 0 (issue "No silent loss"), and checks that the run now either
// delivers every issue it found or says what it did not and exits non-zero,
// with the watermark and etl_upload_status following that account.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// oneProcess switches the fixture to the one-process form with its own
// embedded NATS data directory.
func (f *fixture) oneProcess() {
	f.set("EXPORTER_NATS__URL", "")
	f.set("EXPORTER_NATS__DATA_DIR", f.t.TempDir())
}

// stateful switches the fixture from its custom query to stateful mode
// with a local state file whose path it returns; the first run looks back
// further than the emulator's history.
func (f *fixture) stateful() string {
	f.setenv("EXPORTER_TRACKER__SEARCH__QUERY", nil)
	path := filepath.Join(f.t.TempDir(), "state.json")
	f.set("EXPORTER_STATEFUL", "true")
	f.set("EXPORTER_STATEFUL_INITIAL_RANGE", "200w")
	f.set("EXPORTER_STATE__JSONFILE_PATH", path)
	f.set("EXPORTER_STATE__KEY", "e2e")
	return path
}

// watermark reads the saved watermark (zero when none was saved).
func (f *fixture) watermark(path string) time.Time {
	f.t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return time.Time{}
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var doc map[string]struct {
		Watermark time.Time `json:"watermark"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		f.t.Fatalf("state file: %v\n%s", err, b)
	}
	return doc["e2e"].Watermark
}

// lastUpdate is the update time of the emulator's most recently updated
// issue: the watermark of a complete stateful pass.
func (f *fixture) lastUpdate() time.Time {
	keys := f.em.IssueKeys()
	var last time.Time
	for _, k := range keys {
		if is, _ := f.em.Issue(k); is.UpdatedAt.After(last) {
			last = is.UpdatedAt
		}
	}
	return last
}

// firstUpdate is the update time of the emulator's least recently updated
// issue.
func (f *fixture) firstUpdate() time.Time {
	var first time.Time
	for _, k := range f.em.IssueKeys() {
		if is, _ := f.em.Issue(k); first.IsZero() || is.UpdatedAt.Before(first) {
			first = is.UpdatedAt
		}
	}
	return first
}

// statsd listens for DogStatsD packets and points the fixture at it.
type statsd struct {
	mu    sync.Mutex
	lines []string
}

func (f *fixture) statsd() *statsd {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { pc.Close() })
	s := &statsd{}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.lines = append(s.lines, strings.Split(string(buf[:n]), "\n")...)
			s.mu.Unlock()
		}
	}()
	f.set("EXPORTER_MONITORING__METRICS_ENABLED", "true")
	f.set("EXPORTER_MONITORING__METRICS_HOST", "127.0.0.1")
	f.set("EXPORTER_MONITORING__METRICS_PORT", fmt.Sprint(pc.LocalAddr().(*net.UDPAddr).Port))
	return s
}

// has reports whether a packet line starts with prefix (the client flushes
// on close, so lines are there once the process exited).
func (s *statsd) has(prefix string) bool {
	deadline := time.Now().Add(2 * time.Second)
	for {
		s.mu.Lock()
		for _, l := range s.lines {
			if strings.HasPrefix(l, prefix) {
				s.mu.Unlock()
				return true
			}
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) exec(q string) {
	f.t.Helper()
	if err := f.ch.Conn().Exec(context.Background(), q); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

// Loss 1: a scroll whose id is a cursor advancing on every request, and
// responses lost after the server answered. A retry of the lost request
// would get the next page; the client restarts the search instead.
func TestLostScrollResponsesLoseNoIssue(t *testing.T) {
	f := newFixtureWith(t, trackertest.Options{Issues: 1000, Seed: 7, ScrollCursor: true})
	f.oneProcess()
	state := f.stateful()
	f.set("EXPORTER_TRACKER__SEARCH__SCROLL_PAGE_SIZE", "50")
	f.em.InjectFaults(trackertest.Faults{LostEndpoint: trackertest.EpSearch, LostRate: 0.25})
	code, out := f.run("tracker-exporter", "--run-once")
	f.em.InjectFaults(trackertest.Faults{})
	if f.em.Lost() == 0 {
		t.Fatal("no search response was lost: the test does not exercise the fault")
	}
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	f.verify()
	if got, want := f.watermark(state), f.lastUpdate(); !got.Equal(want) {
		t.Errorf("watermark %s, want the last issue's update %s", got, want)
	}
	t.Logf("%d search responses lost; %d search requests for %d issues", f.em.Lost(), f.em.Requests(trackertest.EpSearch), f.em.IssueCount())
}

// Loss 2: a server that caps changelog pages below the size asked, in the
// hardest reading: its links echo the size asked and it links past the
// last page.
func TestChangelogPageCapTruncatesNothing(t *testing.T) {
	const pageCap = 20
	f := newFixtureWith(t, trackertest.Options{Issues: 300, Seed: 7, ChangelogPageCap: pageCap, ChangelogCapEchoesRequest: true, Realistic: true})
	f.oneProcess()
	code, out := f.run("tracker-exporter", "--run-once")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	f.verify()
	// Requests: a client that knows the cap needs ⌈n/cap⌉ pages per issue,
	// plus the empty page after a full last one (the server links to it).
	var least int64
	for _, k := range f.em.IssueKeys() {
		least += int64(f.em.ChangelogLen(k)/pageCap + 1)
	}
	got := f.em.Requests(trackertest.EpChangelog)
	t.Logf("changelog requests %d, least possible %d (%.3f×)", got, least, float64(got)/float64(least))
	if float64(got) > 1.05*float64(least) {
		t.Errorf("changelog requests %d > 1.05 × the least possible %d", got, least)
	}
}

// Loss 3: the tables do not exist (binaries switched, migrate not run):
// the loader refuses at start instead of dead-lettering every row.
func TestUnmigratedDatabaseIsRefusedAtStart(t *testing.T) {
	f := newFixture(t, 20)
	f.set("EXPORTER_CLICKHOUSE__MIGRATE_ON_START", "false")
	f.oneProcess()
	for _, bin := range []string{"tracker-exporter", "loader"} {
		args := []string{"--run-once"}
		if bin == "loader" {
			args = nil
			f.set("EXPORTER_NATS__URL", f.nats)
		}
		code, out := f.run(bin, args...)
		if code != 2 {
			t.Fatalf("%s: exit %d, want 2:\n%s", bin, code, out)
		}
		for _, want := range []string{"config: ", "tracker-exporter migrate", "EXPORTER_CLICKHOUSE__MIGRATE_ON_START"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", bin, want, out)
			}
		}
	}
}

// Loss 3 and 4: rows ClickHouse rejects are dead-lettered. The run says
// so and exits non-zero with etl_upload_status 2, the watermark stays; the
// dead letters can be sent back once the cause is fixed; a rerun loads
// what the duplicate window would have dropped.
func TestDeadLettersFailTheRunAndHoldTheWatermark(t *testing.T) {
	f := newFixture(t, 200)
	f.oneProcess()
	state := f.stateful()
	metrics := f.statsd()
	inbox := newSentryInbox(t)
	f.set("EXPORTER_MONITORING__SENTRY_ENABLED", "true")
	f.set("EXPORTER_MONITORING__SENTRY_DSN", inbox.dsn())
	f.set("EXPORTER_CLICKHOUSE__MAX_DELIVERIES", "1")
	if code, out := f.run("tracker-exporter", "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d:\n%s", code, out)
	}
	// A column the loader writes is gone: every issues insert is rejected.
	f.exec("ALTER TABLE `" + f.db + "`.issues DROP COLUMN anomalies")
	code, out := f.run("tracker-exporter", "--run-once")
	if code == 0 {
		t.Fatalf("exit 0 although no issue loaded:\n%s", out)
	}
	for _, want := range []string{"run finished incomplete", "dead-lettered by loader", "failed=201"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, m := range []string{"tracker_exporter_etl_upload_status:2|g", "tracker_exporter_pass_issues_found:201|g",
		"tracker_exporter_pass_issues_missing:201|g", "tracker_exporter_pass_issues_dead_lettered:201|g",
		"tracker_exporter_pass_issues_missing_by_reason:201|g|#reason:dead-lettered by loader", "tracker_exporter_issues_missing_count:201|c"} {
		if !metrics.has(m) {
			t.Errorf("%s was not sent; got %q", m, metrics.lines)
		}
	}
	// Sentry hears of the incomplete pass, not only of fatal errors.
	if events := inbox.all(); !strings.Contains(events, "pass incomplete") {
		t.Errorf("Sentry got no event of the incomplete pass: %q", events)
	}
	// The watermark may move up to the first issue not loaded, never past
	// it: the next run reads every issue again.
	if wm, first := f.watermark(state), f.firstUpdate(); wm.After(first) {
		t.Errorf("the watermark moved to %s, past the first issue not loaded (%s)", wm, first)
	}

	// The cause fixed, the dead letters go back and load.
	f.exec("ALTER TABLE `" + f.db + "`.issues ADD COLUMN anomalies UInt32")
	code, out = f.run("tracker-exporter", "dlq", "list")
	if code != 0 || !strings.Contains(out, "201 dead letters") {
		t.Fatalf("dlq list: exit %d:\n%s", code, out)
	}
	if code, out = f.run("tracker-exporter", "dlq", "retry", "--stage", "loader"); code != 0 || !strings.Contains(out, "sent 201") {
		t.Fatalf("dlq retry: exit %d:\n%s", code, out)
	}
	// A run whose search finds nothing still runs the stages: they load
	// the dead letters sent back.
	f.set("EXPORTER_STATEFUL", "false")
	f.set("EXPORTER_TRACKER__SEARCH__QUERY", `Key: NOPE-1`)
	if code, out = f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("run after dlq retry: exit %d:\n%s", code, out)
	}
	f.verify()

	// A rerun within the duplicate window publishes nothing new, yet
	// reconciles: everything is current, the watermark moves.
	f.set("EXPORTER_STATEFUL", "true")
	f.setenv("EXPORTER_TRACKER__SEARCH__QUERY", nil)
	code, out = f.run("tracker-exporter", "--run-once")
	if code != 0 || !strings.Contains(out, "already_current=201") {
		t.Fatalf("rerun: exit %d:\n%s", code, out)
	}
	if got, want := f.watermark(state), f.lastUpdate(); !got.Equal(want) {
		t.Errorf("watermark %s, want %s", got, want)
	}
}

// Loss 4: a new database with the same NATS data directory: every
// snapshot is a duplicate, yet every issue lands (re-driven from the raw
// stream).
func TestRerunIntoNewDatabaseLoadsEverything(t *testing.T) {
	f := newFixture(t, 150)
	f.oneProcess()
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("first run: exit %d:\n%s", code, out)
	}
	f.verify()
	db2 := f.db + "_new"
	t.Cleanup(func() { _ = f.ch.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db2+"`") })
	f.set("EXPORTER_CLICKHOUSE__DATABASE", db2)
	code, out := f.run("tracker-exporter", "--run-once")
	if code != 0 {
		t.Fatalf("rerun into %s: exit %d:\n%s", db2, code, out)
	}
	if !strings.Contains(out, "loaded=151") {
		t.Errorf("the run line does not account for the re-driven issues:\n%s", out)
	}
	f.db = db2
	f.verify()
}

// Loss 5: an empty range means no time filter.
func TestEmptyRangeExportsEveryIssueOfTheQueues(t *testing.T) {
	f := newFixture(t, 300)
	f.oneProcess()
	f.setenv("EXPORTER_TRACKER__SEARCH__QUERY", nil)
	f.set("EXPORTER_TRACKER__SEARCH__RANGE", "")
	f.set("EXPORTER_TRACKER__SEARCH__QUEUES", "DEV,SRE")
	code, out := f.run("tracker-exporter", "--run-once")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	want := 0
	for _, k := range f.em.IssueKeys() {
		if strings.HasPrefix(k, "DEV-") || strings.HasPrefix(k, "SRE-") {
			want++
		}
	}
	got := f.count("SELECT count() FROM `" + f.db + "`.issues_view")
	if want == 0 || got != uint64(want) {
		t.Errorf("%d issues loaded, want the %d of DEV and SRE", got, want)
	}
}

// Loss 6: a dry run (printing rows) never moves the watermark.
func TestDryRunKeepsTheWatermark(t *testing.T) {
	f := newFixture(t, 120)
	f.oneProcess()
	state := f.stateful()
	f.set("EXPORTER_CLICKHOUSE__ENABLE_UPLOAD", "false")
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("dry run: exit %d:\n%s", code, out[:min(len(out), 4000)])
	}
	if wm := f.watermark(state); !wm.IsZero() {
		t.Fatalf("a dry run saved the watermark %s", wm)
	}
	f.set("EXPORTER_CLICKHOUSE__ENABLE_UPLOAD", "true")
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("real run: exit %d:\n%s", code, out)
	}
	f.verify()
}

// verify finds and names a row deleted behind the pipeline's back, and
// --redrive puts it back.
func TestVerifyNamesADeletedIssue(t *testing.T) {
	f := newFixture(t, 100)
	f.oneProcess()
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("run: exit %d:\n%s", code, out)
	}
	if code, out := f.run("tracker-exporter", "verify"); code != 0 || !strings.Contains(out, "missing 0") {
		t.Fatalf("verify after a complete run: exit %d:\n%s", code, out)
	}
	key := f.em.IssueKeys()[42]
	is, _ := f.em.Issue(key)
	f.exec(fmt.Sprintf("ALTER TABLE `%s`.issues DELETE WHERE issue_id = '%s'", f.db, is.ID))
	deadline := time.Now().Add(30 * time.Second)
	for f.count(fmt.Sprintf("SELECT count() FROM `%s`.issues WHERE issue_id = '%s'", f.db, is.ID)) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the delete mutation did not finish")
		}
		time.Sleep(100 * time.Millisecond)
	}
	code, out := f.run("tracker-exporter", "verify")
	if code == 0 || !strings.Contains(out, key) || !strings.Contains(out, "not in ClickHouse") || !strings.Contains(out, "missing 1") {
		t.Fatalf("verify after deleting %s: exit %d:\n%s", key, code, out)
	}
	code, out = f.run("tracker-exporter", "verify", "--redrive")
	if code != 0 {
		t.Fatalf("verify --redrive: exit %d:\n%s", code, out)
	}
	f.verify()
}
