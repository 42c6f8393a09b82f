// Package e2e runs the real binaries as processes against the Tracker
// emulator, an in-process NATS server and the ClickHouse of
// scripts/services.sh, and checks what lands by querying ClickHouse.
package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream/streamtest"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the four commands once per test run, into a directory
// of this checkout's under the user cache: go build relinks a binary there
// only when it is not up to date (it compares build IDs), and linking the
// four takes most of 20 s. Two runs at once from one checkout would share
// it: run one at a time.
func binaries(t *testing.T) string {
	t.Helper()
	testenv.Integration(t, "builds and runs the binaries")
	buildOnce.Do(func() {
		binDir, buildErr = checkoutCacheDir("e2e-bin")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator), "./cmd/...")
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// checkoutCacheDir returns, creating it, the directory name of this
// checkout's under the user cache (the temporary directory without one).
func checkoutCacheDir(name string) (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(base, "tracker-exporter-test", name+"-"+hex.EncodeToString(sum[:8]))
	return dir, os.MkdirAll(dir, 0o755)
}

// fixture is one world: emulator, NATS, a fresh ClickHouse database.
type fixture struct {
	t     *testing.T
	em    *trackertest.Server
	nats  string
	chAdr string
	db    string
	ch    *clickhouse.Client
	env   []string
}

func newFixture(t *testing.T, issues int) *fixture {
	t.Helper()
	return newFixtureWith(t, trackertest.Options{Issues: issues, Seed: 7})
}

// newFixtureWith is newFixture with an emulator of the given options.
func newFixtureWith(t *testing.T, o trackertest.Options) *fixture {
	t.Helper()
	chAddr := testenv.Require(t, "TEST_CLICKHOUSE_ADDR")
	em := trackertest.New(o)
	if err := em.AddFixture(trackertest.Fixture73()); err != nil {
		t.Fatalf("add fixture: %v", err)
	}
	url := em.Start()
	t.Cleanup(em.Close)
	_, natsURL := streamtest.Start(t)
	db := fmt.Sprintf("e2e_%d", rand.Uint32())
	host, port, _ := strings.Cut(chAddr, ":")
	f := &fixture{t: t, em: em, nats: natsURL, chAdr: chAddr, db: db}
	f.env = append(os.Environ(),
		"EXPORTER_TRACKER__API_URL="+url,
		"EXPORTER_TRACKER__TOKEN=e2e-secret-token",
		"EXPORTER_TRACKER__ORG_ID=42",
		`EXPORTER_TRACKER__SEARCH__QUERY=Updated: >= "2000-01-01 00:00:00"`,
		"EXPORTER_TRACKER__CONCURRENCY=16",
		"EXPORTER_TRACKER__RATE_LIMIT=0",
		"EXPORTER_NATS__URL="+natsURL,
		"EXPORTER_NATS__DATA_DIR="+t.TempDir(),
		"EXPORTER_CLICKHOUSE__HOST="+host,
		"EXPORTER_CLICKHOUSE__PORT="+port,
		"EXPORTER_CLICKHOUSE__PROTO=native",
		"EXPORTER_CLICKHOUSE__DATABASE="+db,
		"EXPORTER_CLICKHOUSE__MIGRATE_ON_START=true",
		"EXPORTER_CHANGELOG_EXPORT_ENABLED=true",
		"EXPORTER_LOGLEVEL=info",
	)
	cfg := clickhouse.Default()
	cfg.Host, cfg.Port, cfg.Proto = chAddr, 9000, clickhouse.ProtoNative
	cfg.Database = db
	ch, err := clickhouse.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("clickhouse: %v", err)
	}
	f.ch = ch
	t.Cleanup(func() {
		_ = ch.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`")
		_ = ch.Close()
	})
	return f
}

// setenv sets (value non-nil) or removes a variable of the fixture's
// environment.
func (f *fixture) setenv(name string, value *string) {
	out := f.env[:0]
	for _, kv := range f.env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	if value != nil {
		out = append(out, name+"="+*value)
	}
	f.env = out
}

// set is setenv with a value.
func (f *fixture) set(name, value string) { f.setenv(name, &value) }

// command prepares a binary with the fixture's environment.
func (f *fixture) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binaries(f.t), name), args...)
	cmd.Env = f.env
	return cmd
}

// run runs a binary to completion and returns its exit code.
func (f *fixture) run(name string, args ...string) (int, string) {
	f.t.Helper()
	cmd := exec.Command(filepath.Join(binaries(f.t), name), args...)
	cmd.Env = f.env
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			f.t.Fatalf("%s: %v", name, err)
		}
		code = ee.ExitCode()
	}
	return code, string(out)
}

// start starts a long-running binary; stop sends SIGTERM and waits.
func (f *fixture) start(name string, args ...string) (stop func() (int, string)) {
	f.t.Helper()
	cmd := exec.Command(filepath.Join(binaries(f.t), name), args...)
	cmd.Env = f.env
	var buf strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) })
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		f.t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	stop = func() (int, string) {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case err := <-done:
			mu.Lock()
			defer mu.Unlock()
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode(), buf.String()
			}
			return 0, buf.String()
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			f.t.Fatalf("%s did not stop within 60s after SIGTERM", name)
			return -1, ""
		}
	}
	f.t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return stop
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

func (f *fixture) count(q string) uint64 {
	f.t.Helper()
	var n uint64
	if err := f.ch.Conn().QueryRow(context.Background(), q).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (f *fixture) wantChanges() uint64 {
	var n uint64
	for _, k := range f.em.IssueKeys() {
		n += uint64(f.em.ChangelogFieldChanges(k))
	}
	return n
}

// waitLoaded polls ClickHouse until every issue and changelog row landed.
func (f *fixture) waitLoaded(timeout time.Duration) {
	f.t.Helper()
	wantIssues, wantChanges := uint64(f.em.IssueCount()), f.wantChanges()
	deadline := time.Now().Add(timeout)
	for {
		issues, changes := f.viewCount("issues_view"), f.viewCount("issues_changelog_view")
		if issues == wantIssues && changes == wantChanges {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("after %s: issues %d/%d, changelog rows %d/%d", timeout, issues, wantIssues, changes, wantChanges)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (f *fixture) tableExists(name string) bool {
	return f.count(fmt.Sprintf("SELECT count() FROM system.tables WHERE database = '%s' AND name = '%s'", f.db, name)) == 1
}

// verify checks the loaded tables against the emulator.
func (f *fixture) verify() {
	t := f.t
	ctx := context.Background()
	// Every issue exactly once, under its current key.
	rows, err := f.ch.Conn().Query(ctx, "SELECT issue_key, count() FROM `"+f.db+"`.issues_view GROUP BY issue_key")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for rows.Next() {
		var k string
		var n uint64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got[k] = n
	}
	rows.Close()
	keys := f.em.IssueKeys()
	for _, k := range keys {
		if got[k] != 1 {
			t.Errorf("issue %s appears %d times in issues_view, want 1", k, got[k])
		}
	}
	if len(got) != len(keys) {
		t.Errorf("issues_view has %d keys, emulator %d", len(got), len(keys))
	}
	// Changelog rows per issue equal the emulator's field changes.
	rows, err = f.ch.Conn().Query(ctx, "SELECT issue_key, count() FROM `"+f.db+"`.issues_changelog_view GROUP BY issue_key")
	if err != nil {
		t.Fatal(err)
	}
	changes := map[string]uint64{}
	for rows.Next() {
		var k string
		var n uint64
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		changes[k] = n
	}
	rows.Close()
	long := 0
	for _, k := range keys {
		if want := uint64(f.em.ChangelogFieldChanges(k)); changes[k] != want {
			t.Errorf("issue %s: %d changelog rows, emulator has %d field changes", k, changes[k], want)
		}
		if f.em.ChangelogLen(k) > 200 {
			long++
		}
	}
	if long == 0 {
		t.Errorf("no issue with more than 200 changelog entries was exercised")
	}
	f.verifyMetricsExample()
	f.verifyStatuses()
}

// verifyStatuses checks the statuses dimension filled from the directory.
func (f *fixture) verifyStatuses() {
	for key, typ := range map[string]string{"open": "new", "inProgress": "inProgress", "readyForRelease": "paused", "closed": "done"} {
		var got string
		err := f.ch.Conn().QueryRow(context.Background(), "SELECT type FROM `"+f.db+"`.statuses_view WHERE key = ?", key).Scan(&got)
		if err != nil || got != typ {
			f.t.Errorf("statuses_view %s: type %q (%v), want %q", key, got, err, typ)
		}
	}
}

// verifyMetricsExample checks METRICS.md §7 on the fixture issue.
func (f *fixture) verifyMetricsExample() {
	t := f.t
	ctx := context.Background()
	type want struct {
		visits             uint32
		duration, business int64
	}
	wantRows := map[string]want{
		"open":            {1, 7200, 7200},
		"inProgress":      {2, 162000, 82800},
		"testing":         {2, 100800, 61200},
		"readyForRelease": {1, 334800, 36000},
		"closed":          {1, 0, 0},
	}
	rows, err := f.ch.Conn().Query(ctx, "SELECT status_key, toUInt32(status_transitions_count), toInt64(duration), toInt64(busdays_duration), toUInt8(is_current) FROM `"+f.db+"`.issue_metrics_view WHERE issue_key = 'METRICS-1'")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for rows.Next() {
		var key string
		var visits uint32
		var dur, bus int64
		var cur uint8
		if err := rows.Scan(&key, &visits, &dur, &bus, &cur); err != nil {
			t.Fatal(err)
		}
		seen[key] = true
		w, ok := wantRows[key]
		if !ok {
			t.Errorf("METRICS-1: unexpected status row %q", key)
			continue
		}
		if visits != w.visits || dur != w.duration || bus != w.business {
			t.Errorf("METRICS-1 %s: visits %d duration %d business %d, want %d %d %d", key, visits, dur, bus, w.visits, w.duration, w.business)
		}
		if (cur == 1) != (key == "closed") {
			t.Errorf("METRICS-1 %s: is_current %d", key, cur)
		}
	}
	rows.Close()
	var missing []string
	for k := range wantRows {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("METRICS-1: missing status rows %v", missing)
	}
	var lead, leadBus, cycle, cycleBus, active, paused int64
	var eff float64
	var reopens uint32
	var started, done time.Time
	err = f.ch.Conn().QueryRow(ctx, "SELECT assumeNotNull(lead_time), assumeNotNull(lead_time_business), assumeNotNull(cycle_time), assumeNotNull(cycle_time_business), active_time, paused_time, assumeNotNull(flow_efficiency), toUInt32(reopen_count), started_at, done_at FROM `"+f.db+"`.issues_view WHERE issue_key = 'METRICS-1'").
		Scan(&lead, &leadBus, &cycle, &cycleBus, &active, &paused, &eff, &reopens, &started, &done)
	if err != nil {
		t.Fatalf("METRICS-1 issue row: %v", err)
	}
	if lead != 604800 || leadBus != 187200 || cycle != 597600 || cycleBus != 180000 || active != 262800 || paused != 334800 || reopens != 0 {
		t.Errorf("METRICS-1 figures: lead %d/%d cycle %d/%d active %d paused %d reopens %d; want 604800/187200 597600/180000 262800 334800 0",
			lead, leadBus, cycle, cycleBus, active, paused, reopens)
	}
	if math.Abs(eff-0.4398) > 0.00005 {
		t.Errorf("METRICS-1 flow efficiency %.5f, want 0.4398", eff)
	}
	if !started.Equal(time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)) || !done.Equal(time.Date(2024, 3, 11, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("METRICS-1 started %s done %s", started.UTC(), done.UTC())
	}
}

// TestStagesAsProcesses runs extractor, transformer and loader as three
// processes over one NATS server.
func TestStagesAsProcesses(t *testing.T) {
	f := newFixture(t, 600)
	if code, out := f.run("loader", "migrate"); code != 0 {
		t.Fatalf("loader migrate exit %d:\n%s", code, out)
	}
	stopT := f.start("transformer")
	stopL := f.start("loader")
	start := time.Now()
	code, out := f.run("extractor", "--run-once")
	if code != 0 {
		t.Fatalf("extractor exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "e2e-secret-token") {
		t.Errorf("the token appears in the extractor's output")
	}
	f.waitLoaded(3 * time.Minute)
	t.Logf("600+1 issues extracted, transformed and loaded by three processes in %s", time.Since(start).Round(time.Millisecond))
	for name, stop := range map[string]func() (int, string){"transformer": stopT, "loader": stopL} {
		if code, out := stop(); code != 0 {
			t.Errorf("%s exit %d after SIGTERM:\n%s", name, code, out)
		}
	}
	f.verify()
}

// TestOneProcessRunOnce runs the same through tracker-exporter --run-once
// with its embedded NATS server.
func TestOneProcessRunOnce(t *testing.T) {
	f := newFixture(t, 600)
	// The one-process form embeds its own NATS server.
	for i, kv := range f.env {
		if strings.HasPrefix(kv, "EXPORTER_NATS__URL=") {
			f.env[i] = "EXPORTER_NATS__URL="
		}
	}
	start := time.Now()
	code, out := f.run("tracker-exporter", "--run-once")
	if code != 0 {
		t.Fatalf("tracker-exporter --run-once exit %d:\n%s", code, out)
	}
	t.Logf("tracker-exporter --run-once: %s", time.Since(start).Round(time.Millisecond))
	// --run-once returns only after everything is loaded.
	f.waitLoaded(5 * time.Second)
	f.verify()
}

// TestInvalidConfig checks the exit code 2 and one line per problem.
func TestInvalidConfig(t *testing.T) {
	cmd := exec.Command(filepath.Join(binaries(t), "tracker-exporter"), "--run-once")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"EXPORTER_TRACKER__TOKEN=secret-token-value",
		"EXPORTER_TRACKER__IAM_TOKEN=secret-iam-value",
		"EXPORTER_TRACKER__CONCURRENCY=zero",
		"EXPORTER_CLICKHOUSE__PORT=99999",
	}
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2; output:\n%s", err, out)
	}
	text := string(out)
	if strings.Contains(text, "secret-token-value") || strings.Contains(text, "secret-iam-value") {
		t.Errorf("a secret appears in the output:\n%s", text)
	}
	lines := 0
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(l, "config: ") {
			lines++
		}
	}
	if lines < 3 {
		t.Errorf("want one line per problem (≥3), got:\n%s", text)
	}
}
