package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	flowreport "github.com/tracker-exporter/tracker-exporter/internal/report"
	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// chromium returns the path of Debian's chromium (CHROMIUM overrides it).
// Outside CI a machine without it skips the browser test; in CI it fails;
// in short mode the test is skipped.
func chromium(t *testing.T) string {
	t.Helper()
	testenv.Integration(t, "runs chromium")
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testenv.InCI() {
		t.Fatal("chromium is not installed and CI is true: .ci/run installs Debian's chromium (apt-get install chromium)")
	}
	t.Skip("chromium is not installed: skipping the browser test (apt-get install chromium; in CI it would fail)")
	return ""
}

// artefactDir is where the browser test leaves the report and its
// screenshot (REPORT_ARTEFACTS, else a fixed folder under the temp dir).
func artefactDir(t *testing.T) string {
	dir := os.Getenv("REPORT_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "tracker-exporter-report-test")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// loadEmulatorData runs the real one-process pipeline once against the
// emulator, whose data end today, into a fresh database.
func loadEmulatorData(t *testing.T, addr string, now time.Time) config.Config {
	t.Helper()
	em := trackertest.New(trackertest.Options{Issues: 800, Seed: 3, Now: now.Truncate(time.Hour)})
	url := em.Start()
	t.Cleanup(em.Close)
	host, port, _ := strings.Cut(addr, ":")
	envFile := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(envFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]string{
		"EXPORTER_TRACKER__API_URL=" + url, "EXPORTER_TRACKER__TOKEN=report-test", "EXPORTER_TRACKER__ORG_ID=1",
		`EXPORTER_TRACKER__SEARCH__QUERY=Updated: >= "2000-01-01 00:00:00"`, "EXPORTER_TRACKER__RATE_LIMIT=0",
		"EXPORTER_NATS__DATA_DIR=" + t.TempDir(), "EXPORTER_CHANGELOG_EXPORT_ENABLED=true", "EXPORTER_LOGLEVEL=warn",
		"EXPORTER_CLICKHOUSE__HOST=" + host, "EXPORTER_CLICKHOUSE__PORT=" + port, "EXPORTER_CLICKHOUSE__PROTO=native",
		"EXPORTER_CLICKHOUSE__DATABASE=" + testDatabase(t, addr), "EXPORTER_CLICKHOUSE__MIGRATE_ON_START=true",
	}, envFile)
	if err = config.Check(cfg, err, config.RoleAll); err != nil {
		t.Fatal(err)
	}
	if err := RunOneProcess(context.Background(), cfg, true); err != nil {
		t.Fatalf("pipeline run: %v", err)
	}
	return cfg
}

// TestReportInBrowser loads emulator data through the real pipeline,
// stores the forecasts, writes the report and opens it in headless
// Chromium: no console error, no request, every chart drawn with marks,
// an accessible name on every chart, and the tables under the charts
// holding the numbers ClickHouse gives.
func TestReportInBrowser(t *testing.T) {
	addr := testenv.Require(t, "TEST_CLICKHOUSE_ADDR")
	browser := chromium(t)
	now := time.Now().UTC().Truncate(time.Second)
	cfg := loadEmulatorData(t, addr, now)
	ctx := context.Background()
	ch, err := clickhouse.Open(ctx, ClickHouseConfig(cfg, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := Forecast(ctx, quietEnv(), ch, now); err != nil {
		t.Fatal(err)
	}
	dir := artefactDir(t)
	opts := flowreport.Options{Now: now}
	path, err := WriteReport(ctx, ch, opts, filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	t.Logf("report: %s (%d bytes)", path, st.Size())

	page := openInBrowser(t, browser, path, filepath.Join(dir, "report.png"))
	checkCharts(t, page)
	want := expectedTables(t, ch, now)
	t.Logf("comparing %d tables with the SQL", len(want))
	for id, rows := range want {
		got, ok := page.Tables[id]
		if !ok {
			t.Errorf("no table %s in the page", id)
			continue
		}
		if id == "wip-table" { // the page orders statuses along the flow: compare status and count
			got, rows = sortedColumns(got, 0, 2), sortedColumns(rows, 0, 1)
		}
		if strings.Join(flatten(got), "|") != strings.Join(flatten(rows), "|") {
			t.Errorf("table %s:\nthe page shows %q\nthe SQL gives  %q", id, got, rows)
		}
	}
}

func flatten(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Join(r, ","))
	}
	return out
}

// browserPage is what the test reads from the rendered page.
type browserPage struct {
	Charts []struct {
		ID          string  `json:"id"`
		Marks       int     `json:"marks"`
		Visible     int     `json:"visible"`
		Title       string  `json:"title"`
		Desc        string  `json:"desc"`
		LabelledBy  string  `json:"labelledby"`
		DescribedBy string  `json:"describedby"`
		Width       float64 `json:"width"`
		Height      float64 `json:"height"`
	} `json:"charts"`
	Tables   map[string][][]string `json:"tables"`
	Problems []string              `json:"-"`
}

const readPageJS = `(() => ({
  charts: Array.from(document.querySelectorAll('figure[data-chart]')).map(f => {
    const svg = f.querySelector('svg');
    const marks = Array.from(svg.querySelectorAll('.mark'));
    const box = svg.getBoundingClientRect();
    return {
      id: f.dataset.chart,
      marks: marks.length,
      visible: marks.filter(m => { const b = m.getBBox(); return b.width > 0 && b.height > 0; }).length,
      title: (svg.querySelector(':scope > title') || {}).textContent || '',
      desc: (svg.querySelector(':scope > desc') || {}).textContent || '',
      labelledby: svg.getAttribute('aria-labelledby') || '',
      describedby: svg.getAttribute('aria-describedby') || '',
      width: box.width, height: box.height,
    };
  }),
  tables: Object.fromEntries(Array.from(document.querySelectorAll('table[data-table]')).map(t =>
    [t.id, Array.from(t.tBodies[0].rows).map(r => Array.from(r.cells).map(c => c.textContent.trim()))])),
}))()`

// openInBrowser opens the file in headless Chromium, reads the page and
// saves a full-page screenshot. Console errors and warnings, exceptions,
// error log entries and any request that is not the file itself are
// failures.
func openInBrowser(t *testing.T, browser, path, shot string) browserPage {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	var (
		mu       sync.Mutex
		problems []string
	)
	fileURL := "file://" + path
	// The first Run starts the browser (with no deadline: it would stop
	// the browser); the work below has one.
	enableNetwork := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return err
	})
	if err := chromedp.Do(bctx, enableNetwork); err != nil {
		t.Fatalf("chromium %s: %v", browser, err)
	}
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, browserProblem(ev, fileURL)...)
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(fileURL), chromedp.WaitReady(chromedp.CSS("footer"))); err != nil {
		t.Fatalf("open %s: %v", fileURL, err)
	}
	page, err := chromedp.Run(ctx, chromedp.Evaluate[browserPage](readPageJS))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser: %s", p)
	}
	return page
}

// browserProblem describes an event that must not happen, or returns nil.
func browserProblem(ev any, fileURL string) []string {
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning || e.Type == runtime.ConsoleAPICalledTypeAssert {
			return []string{fmt.Sprintf("console %s: %v", e.Type, e.Args)}
		}
	case *runtime.EventExceptionThrown:
		return []string{"exception: " + e.ExceptionDetails.Text}
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
			return []string{fmt.Sprintf("log %s: %s %s", e.Entry.Level, e.Entry.Text, e.Entry.URL)}
		}
	case *network.EventRequestWillBeSent:
		if e.Request.URL != fileURL && !strings.HasPrefix(e.Request.URL, "data:") {
			return []string{"request to " + e.Request.URL}
		}
	}
	return nil
}

// checkCharts: every chart is there, drawn, named and described.
func checkCharts(t *testing.T, page browserPage) {
	t.Helper()
	ids := []string{"throughput", "wip", "ageing", "cfd", "cycle-time", "lead-time", "time-in-status", "forecast"}
	if len(page.Charts) != len(ids) {
		t.Fatalf("%d charts in the page, want %d", len(page.Charts), len(ids))
	}
	for i, c := range page.Charts {
		if c.ID != ids[i] {
			t.Errorf("chart %d is %q, want %q", i, c.ID, ids[i])
		}
		if c.Visible == 0 || c.Width < 300 || c.Height < 100 {
			t.Errorf("chart %s: %d marks (%d visible), %.0f×%.0f px: empty or not drawn", c.ID, c.Marks, c.Visible, c.Width, c.Height)
		}
		if c.Title == "" || len(c.Desc) < 40 || c.LabelledBy != c.ID+"-title" || c.DescribedBy != c.ID+"-desc" {
			t.Errorf("chart %s lacks an accessible name or description: %+v", c.ID, c)
		}
		t.Logf("chart %-15s %4d marks (%d visible)", c.ID, c.Marks, c.Visible)
	}
}

// expectedTables computes, with SQL written independently of the report's
// queries, what some tables under the charts must show.
func expectedTables(t *testing.T, ch *clickhouse.Client, now time.Time) map[string][][]string {
	t.Helper()
	o := flowreport.Options{Now: now}
	from, to := reportPeriod(o, now)
	db := "`" + ch.Database() + "`."
	done := fmt.Sprintf("toUInt32(done_at) > 0 AND status_type != 'cancelled' AND toDate(done_at) BETWEEN toDate('%s') AND toDate('%s')",
		from.Format(time.DateOnly), to.Format(time.DateOnly))
	out := map[string][][]string{}
	q := func(id, query string, format func([]any) []string, dest ...any) {
		rows, err := ch.Conn().Query(context.Background(), query)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			out[id] = append(out[id], format(dest))
		}
	}
	var n uint64
	var p50, p85, p95 int64
	pct := func(v []any) []string {
		return []string{fmtU(*v[0].(*uint64)), fmtDays(*v[1].(*int64)), fmtDays(*v[2].(*int64)), fmtDays(*v[3].(*int64))}
	}
	q("cycle-time-percentiles", "SELECT count(cycle_time), quantileExact(0.5)(assumeNotNull(cycle_time)), quantileExact(0.85)(assumeNotNull(cycle_time)), quantileExact(0.95)(assumeNotNull(cycle_time)) FROM "+
		db+"issues_view WHERE cycle_time IS NOT NULL AND "+done, pct, &n, &p50, &p85, &p95)
	q("lead-time-percentiles", "SELECT count(lead_time), quantileExact(0.5)(assumeNotNull(lead_time)), quantileExact(0.85)(assumeNotNull(lead_time)), quantileExact(0.95)(assumeNotNull(lead_time)) FROM "+
		db+"issues_view WHERE lead_time IS NOT NULL AND "+done, pct, &n, &p50, &p85, &p95)
	var week time.Time
	var doneN, cancelled uint64
	weeks := map[string][]string{}
	rows := func(v []any) []string {
		w := v[0].(*time.Time).Format(time.DateOnly)
		weeks[w] = []string{w, fmtU(*v[1].(*uint64)), fmtU(*v[2].(*uint64))}
		return nil
	}
	q("weeks", fmt.Sprintf("SELECT toMonday(done_at) AS w, countIf(status_type != 'cancelled'), countIf(status_type = 'cancelled') FROM %sissues_view WHERE toUInt32(done_at) > 0 AND w >= toMonday(toDate('%s')) AND w <= toDate('%s') GROUP BY w",
		db, from.Format(time.DateOnly), to.Format(time.DateOnly)), rows, &week, &doneN, &cancelled)
	delete(out, "weeks")
	for w := mondayOf(from); !w.After(to); w = w.AddDate(0, 0, 7) {
		r, ok := weeks[w.Format(time.DateOnly)]
		if !ok {
			r = []string{w.Format(time.DateOnly), "0", "0"}
		}
		out["throughput-table"] = append(out["throughput-table"], r)
	}
	var h uint16
	var f50, f85, f95 float64
	q("forecast-how-many", "SELECT horizon_weeks, p50, p85, p95 FROM "+db+"forecasts FINAL WHERE scope_kind = 'all' AND question = 'how_many' AND computed_at = (SELECT max(computed_at) FROM "+db+"forecasts) ORDER BY horizon_weeks",
		func(v []any) []string {
			return []string{"all queues", fmt.Sprint(*v[0].(*uint16)), fmtF(*v[1].(*float64)), fmtF(*v[2].(*float64)), fmtF(*v[3].(*float64)), ""}
		}, &h, &f50, &f85, &f95)
	var status string
	var wip uint64
	q("wip-table", "SELECT any(toString(status)), count() FROM "+db+"issues_view WHERE toUInt32(started_at) > 0 AND toUInt32(done_at) = 0 GROUP BY status_key ORDER BY status_key",
		func(v []any) []string { return []string{*v[0].(*string), fmtU(*v[1].(*uint64))} }, &status, &wip)
	if len(out["forecast-how-many"]) != 4 || out["cycle-time-percentiles"][0][0] == "0" {
		t.Fatalf("the test data have no forecast or no done issue: %q", out)
	}
	return out
}

// reportPeriod is the report's default period, computed here again: the
// 12 weeks before the current one, and this week up to today.
func reportPeriod(_ flowreport.Options, now time.Time) (from, to time.Time) {
	to = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	return mondayOf(to).AddDate(0, 0, -7*12), to
}

func mondayOf(d time.Time) time.Time { return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)) }

func fmtU(v uint64) string   { return strconv.FormatUint(v, 10) }
func fmtDays(s int64) string { return strconv.FormatFloat(float64(s)/86400, 'f', 1, 64) }
func fmtF(v float64) string  { return strconv.FormatFloat(v, 'f', -1, 64) }

// sortedColumns keeps two columns of the rows, sorted.
func sortedColumns(rows [][]string, a, b int) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = []string{r[a], r[b]}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}
