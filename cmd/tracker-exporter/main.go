// Command tracker-exporter is the one-process form of the pipeline: an
// embedded NATS JetStream server and the extractor, transformer and loader
// in one process. It keeps the old tool's command line
// (tracker-exporter [--env-file F] [--run-once]) and hosts the helper
// subcommands: migrate, replay, emulator and demo.
package main

import (
	"context"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tracker-exporter/tracker-exporter/internal/app"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
)

func main() {
	a := &cli.App{
		Version: app.Version(),
		Name:    "tracker-exporter",
		Usage:   "export Yandex Tracker issues, changelogs and flow metrics to ClickHouse",
		Flags:   append(config.Flags(), &cli.BoolFlag{Name: "run-once", Usage: "run one export, drain transform and load, then exit"}),
		Action: func(c *cli.Context) error {
			cfg, err := app.LoadConfig(c, config.RoleAll)
			if err != nil {
				return err
			}
			return app.RunErr(app.RunOneProcess(c.Context, cfg, c.Bool("run-once")))
		},
		Commands: []*cli.Command{
			{
				Name:  "migrate",
				Usage: "apply the embedded ClickHouse migrations and exit",
				Action: func(c *cli.Context) error {
					cfg, err := app.LoadConfig(c, config.RoleLoader)
					if err != nil {
						return err
					}
					return app.RunErr(app.Migrate(c.Context, cfg))
				},
			},
			{
				Name:  "replay",
				Usage: "re-transform the latest snapshot of every issue in the raw stream with the current configuration and load the rows (no Tracker calls)",
				Action: func(c *cli.Context) error {
					cfg, err := app.LoadConfig(c, config.RoleTransformer)
					if err == nil {
						err = app.ValidateRole(cfg, config.RoleLoader)
					}
					if err != nil {
						return err
					}
					return app.RunErr(app.ReplayOneProcess(c.Context, cfg))
				},
			},
			{
				Name:  "verify",
				Usage: "reconcile an extraction pass with ClickHouse: every issue it found must be there at the version found; exit 1 naming what is missing",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "pass", Usage: "pass id (default: the latest pass of EXPORTER_STATE__KEY)"},
					&cli.BoolFlag{Name: "redrive", Usage: "publish the missing issues again from the raw stream and wait for them to load"},
				},
				Action: func(c *cli.Context) error {
					cfg, err := app.LoadConfig(c, config.RoleLoader)
					if err != nil {
						return err
					}
					return app.RunErr(app.Verify(c.Context, cfg, app.VerifyOptions{PassID: c.String("pass"), Redrive: c.Bool("redrive")}, os.Stdout))
				},
			},
			app.ReconcileCommand(true),
			{
				Name:  "forecast",
				Usage: "compute the Monte Carlo forecasts (how many issues in the next weeks, when the open ones will be done) from ClickHouse and store them in the forecasts table",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "window", Value: 12, Usage: "complete weeks of throughput history to sample"},
					&cli.IntSliceFlag{Name: "horizons", Value: cli.NewIntSlice(2, 4, 8, 12), Usage: "horizons in weeks of the how-many forecasts"},
					&cli.IntFlag{Name: "trials", Value: 10000, Usage: "simulated futures per forecast"},
					&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the random draws (the same inputs and seed give the same forecast)"},
					&cli.GenericFlag{Name: "filter", Value: &app.FilterValues{}, Usage: "NAME=CONDITION (repeatable): also forecast the issues of issues_view matching a ClickHouse condition, at their own pace, e.g. --filter \"bugs=issue_type = 'bug' AND has(tags, 'backend')\""},
				},
				Action: func(c *cli.Context) error {
					cfg, err := app.LoadConfig(c, config.RoleLoader)
					if err != nil {
						return err
					}
					filters := *c.Generic("filter").(*app.FilterValues)
					return app.RunErr(app.RunForecast(c.Context, cfg, app.ForecastOptionsFrom(c.Int("window"), c.IntSlice("horizons"), c.Int("trials"), c.Uint64("seed"), filters)))
				},
			},
			{
				Name:  "report",
				Usage: "write the flow report: one self-contained HTML file with throughput, WIP, ageing WIP, cumulative flow, cycle and lead time, time in status and the forecasts",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "queue", Usage: "only this queue (default: all queues)"},
					&cli.StringFlag{Name: "from", Usage: "first day of the period, YYYY-MM-DD (default: 12 weeks before the current week)"},
					&cli.StringFlag{Name: "to", Usage: "last day of the period, YYYY-MM-DD (default: today)"},
					&cli.StringFlag{Name: "out", Value: app.DefaultReportPath, Usage: "the HTML file to write"},
				},
				Action: func(c *cli.Context) error {
					cfg, err := app.LoadConfig(c, config.RoleLoader)
					if err != nil {
						return err
					}
					from, to, err := app.ParseReportDates(c.String("from"), c.String("to"))
					if err != nil {
						return app.ConfigExitAs(cfg.LogFormat, err)
					}
					return app.RunErr(app.RunReport(c.Context, cfg, app.ReportOptions{Queue: c.String("queue"), From: from, To: to, Out: c.String("out")}))
				},
			},
			{
				Name:  "dlq",
				Usage: "list the dead letters, or send them back to be processed again",
				Subcommands: []*cli.Command{
					dlqCommand("list", "list the dead letters with their reasons", false),
					dlqCommand("retry", "send the dead letters back (snapshots re-driven from the raw stream, rows published again) and remove them from the dead-letter stream", true),
				},
			},
			{
				Name:  "emulator",
				Usage: "serve the built-in Tracker emulator (for demos and benchmarks)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080"},
					&cli.IntFlag{Name: "issues", Value: 1000},
					&cli.Int64Flag{Name: "seed", Value: 1},
					&cli.DurationFlag{Name: "latency"},
					&cli.Float64Flag{Name: "rate-limit", Usage: "requests per second (0: unlimited)"},
				},
				Action: func(c *cli.Context) error {
					return app.RunErr(app.ServeEmulator(c.Context, app.EmulatorOptions{
						Listen: c.String("listen"), Issues: c.Int("issues"), Seed: c.Int64("seed"),
						Latency: c.Duration("latency"), RateLimit: c.Float64("rate-limit"),
					}))
				},
			},
			{
				Name:  "demo",
				Usage: "run the whole pipeline once against the built-in emulator and report what landed in ClickHouse",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "issues", Value: 2000},
					&cli.Int64Flag{Name: "seed", Value: 1},
					&cli.DurationFlag{Name: "latency", Value: 20 * time.Millisecond},
					&cli.StringFlag{Name: "clickhouse", Value: "127.0.0.1:19000", EnvVars: []string{"TEST_CLICKHOUSE_ADDR"},
						Usage: "ClickHouse (native protocol) when EXPORTER_CLICKHOUSE__HOST and __PORT are not set: the private instance of scripts/services.sh"},
				},
				Action: func(c *cli.Context) error {
					cfg, err := config.FromCLI(c)
					if err != nil {
						return app.ConfigExitAs(cfg.LogFormat, err)
					}
					return app.RunErr(app.Demo(c.Context, cfg, app.EmulatorOptions{
						Issues: c.Int("issues"), Seed: c.Int64("seed"), Latency: c.Duration("latency"), ClickHouseAddr: c.String("clickhouse"),
					}, os.Stdout))
				},
			},
		},
	}
	ctx, cancel := app.SignalContext(context.Background())
	defer cancel()
	app.Exit(a.RunContext(ctx, os.Args))
}

// dlqCommand is a subcommand of dlq: list, or retry.
func dlqCommand(name, usage string, retry bool) *cli.Command {
	return &cli.Command{
		Name:  name,
		Usage: usage,
		Flags: []cli.Flag{&cli.StringFlag{Name: "stage", Usage: "transformer or loader (default: both)"}},
		Action: func(c *cli.Context) error {
			cfg, err := app.LoadConfig(c, config.RoleTransformer)
			if err != nil {
				return err
			}
			return app.RunErr(app.DeadLetters(c.Context, cfg, app.DeadLetterOptions{Stage: c.String("stage"), Retry: retry}, os.Stdout))
		},
	}
}
