package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// Demo runs the pipeline once against an in-process emulator and prints
// what landed in ClickHouse next to the emulator's own counts. ClickHouse
// is the configured one; when none is configured it is the private
// instance of scripts/services.sh (TEST_CLICKHOUSE_ADDR, else
// 127.0.0.1:19000, native protocol).
func Demo(ctx context.Context, cfg config.Config, o EmulatorOptions, out io.Writer) error {
	em := trackertest.New(trackertest.Options{Issues: o.Issues, Seed: o.Seed, Latency: o.Latency})
	url := em.Start()
	defer em.Close()

	cfg, err := demoConfig(ctx, cfg, url, o)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tracker-exporter-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg.NATS.URL, cfg.NATS.Replicas = "", 1 // the demo embeds its own one-node server
	cfg.NATS.DataDir = dir
	if err := cfg.Validate(config.RoleAll); err != nil {
		return ConfigExit(err)
	}

	fmt.Fprintf(out, "demo: emulator with %d issues at %s, ClickHouse %s (database %s)\n",
		em.IssueCount(), url, cfg.ClickHouse.Addr(), cfg.ClickHouse.Database)
	start := time.Now()
	if err := RunOneProcess(ctx, cfg, true); err != nil {
		return err
	}
	elapsed := time.Since(start)

	ch, err := openQuietly(ctx, cfg)
	if err != nil {
		return err
	}
	defer ch.Close()
	var wantChanges int64
	for _, k := range em.IssueKeys() {
		wantChanges += int64(em.ChangelogFieldChanges(k))
	}
	err = Report(ctx, ch, out, ReportExpect{Issues: int64(em.IssueCount()), ChangelogRows: wantChanges,
		Elapsed: elapsed, TrackerRequests: em.TotalRequests()})
	return errors.Join(err, demoFlowReport(ctx, cfg, ch, out))
}

// demoConfig points the configuration at the emulator and, unless the user
// set them, at the private ClickHouse and the demo's own database, emptied
// first so that the counts are the emulator's alone.
func demoConfig(ctx context.Context, cfg config.Config, url string, o EmulatorOptions) (config.Config, error) {
	cfg.Tracker.BaseURL = url
	if !cfg.Tracker.Token.IsSet() && !cfg.Tracker.IAMToken.IsSet() {
		cfg.Tracker.Token = "demo-token"
	}
	if cfg.Tracker.OrgID == "" && cfg.Tracker.CloudOrgID == "" {
		cfg.Tracker.OrgID = "demo-org"
	}
	if !cfg.IsSet("EXPORTER_TRACKER__RATE_LIMIT") {
		cfg.Tracker.RateLimit = 0 // the emulator has no limit unless asked
	}
	cfg.Extractor.Query.Custom = `Updated: >= "2000-01-01 00:00:00"`
	cfg.Extractor.Query.Stateful = false
	cfg.ChangelogExportEnabled = true
	cfg.ClickHouse.EnableUpload = true
	cfg.ClickHouse.MigrateOnStart = true
	if !cfg.IsSet("EXPORTER_CLICKHOUSE__HOST") && !cfg.IsSet("EXPORTER_CLICKHOUSE__PORT") {
		// The private instance of scripts/services.sh.
		host, port, err := net.SplitHostPort(o.ClickHouseAddr)
		if err != nil {
			return cfg, ConfigExit(fmt.Errorf("--clickhouse %q: %w", o.ClickHouseAddr, err))
		}
		cfg.ClickHouse.Host = host
		cfg.ClickHouse.Port, _ = strconv.Atoi(port)
		cfg.ClickHouse.Proto = clickhouse.ProtoNative
	}
	if cfg.IsSet("EXPORTER_CLICKHOUSE__DATABASE") {
		return cfg, nil
	}
	cfg.ClickHouse.Database = "tracker_demo"
	return cfg, dropDatabase(ctx, cfg, "tracker_demo")
}

// openQuietly opens the configured ClickHouse without logging.
func openQuietly(ctx context.Context, cfg config.Config) (*clickhouse.Client, error) {
	env, err := newQuietEnv(cfg)
	if err != nil {
		return nil, err
	}
	return OpenClickHouse(ctx, env, false)
}

// dropDatabase drops a database of the configured ClickHouse.
func dropDatabase(ctx context.Context, cfg config.Config, db string) error {
	cfg.ClickHouse.Database = "system"
	ch, err := openQuietly(ctx, cfg)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.Conn().Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
		return fmt.Errorf("reset demo database: %w", err)
	}
	return nil
}

// ReportExpect is what the report compares ClickHouse against.
type ReportExpect struct {
	Issues, ChangelogRows int64
	Elapsed               time.Duration
	TrackerRequests       int64
}

// Report prints row counts of the views and the slowest statuses.
func Report(ctx context.Context, ch *clickhouse.Client, out io.Writer, want ReportExpect) error {
	t := ch.Tables()
	db := ch.Database()
	q := func(view string) (uint64, error) {
		var n uint64
		err := ch.Conn().QueryRow(ctx, fmt.Sprintf("SELECT count() FROM `%s`.`%s_view`", db, view)).Scan(&n)
		return n, err
	}
	issues, err := q(t.Issues)
	if err != nil {
		return fmt.Errorf("count issues: %w", err)
	}
	changes, err := q(t.IssuesChangelog)
	if err != nil {
		return fmt.Errorf("count changelog: %w", err)
	}
	metrics, err := q(t.IssueMetrics)
	if err != nil {
		return fmt.Errorf("count metrics: %w", err)
	}
	intervals, err := q(t.StatusIntervals)
	if err != nil {
		return fmt.Errorf("count intervals: %w", err)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nwhat landed\tin ClickHouse\tin the emulator\n")
	fmt.Fprintf(tw, "issues (%s_view)\t%d\t%d\n", t.Issues, issues, want.Issues)
	fmt.Fprintf(tw, "changelog rows (%s_view)\t%d\t%d\n", t.IssuesChangelog, changes, want.ChangelogRows)
	fmt.Fprintf(tw, "status metric rows (%s_view)\t%d\t\n", t.IssueMetrics, metrics)
	fmt.Fprintf(tw, "status visits (%s_view)\t%d\t\n", t.StatusIntervals, intervals)
	tw.Flush()
	if want.Elapsed > 0 {
		fmt.Fprintf(out, "\npipeline wall time %s (%.0f issues/s), %d Tracker requests (%.2f per issue)\n",
			want.Elapsed.Round(time.Millisecond), float64(want.Issues)/want.Elapsed.Seconds(),
			want.TrackerRequests, float64(want.TrackerRequests)/float64(max(want.Issues, 1)))
	}
	rows, err := ch.Conn().Query(ctx, fmt.Sprintf(
		"SELECT status_name, count() AS issues, toFloat64(avg(duration)) AS avg_s, toFloat64(avg(busdays_duration)) AS avg_bus_s "+
			"FROM `%s`.`%s_view` GROUP BY status_name ORDER BY avg_s DESC LIMIT 10", db, t.IssueMetrics))
	if err != nil {
		return fmt.Errorf("slowest statuses: %w", err)
	}
	defer rows.Close()
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nslowest statuses\tissues\tavg calendar\tavg business\n")
	for rows.Next() {
		var name string
		var n uint64
		var avg, bus float64
		if err := rows.Scan(&name, &n, &avg, &bus); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", name, n, time.Duration(avg)*time.Second, time.Duration(bus)*time.Second)
	}
	tw.Flush()
	if err := rows.Err(); err != nil {
		return err
	}
	if int64(issues) != want.Issues || int64(changes) != want.ChangelogRows {
		return fmt.Errorf("counts differ from the emulator's: issues %d/%d, changelog rows %d/%d",
			issues, want.Issues, changes, want.ChangelogRows)
	}
	fmt.Fprintln(out, "\nall counts match the emulator")
	return nil
}
