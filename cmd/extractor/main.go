// Command extractor pulls issues and changelogs from Tracker and publishes
// raw snapshots to NATS JetStream (EXPORTER_NATS__URL). It runs a pass
// every EXPORTER_ETL_INTERVAL_MINUTES, or once with --run-once.
package main

import (
	"context"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/tracker-exporter/tracker-exporter/internal/app"
	"github.com/tracker-exporter/tracker-exporter/internal/stagegc"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
)

func main() {
	// A stage alone in its process: a soft memory limit (see stagegc).
	stagegc.Apply()
	a := &cli.App{
		Version:  app.Version(),
		Name:     "extractor",
		Usage:    "publish Tracker issue snapshots to NATS JetStream",
		Flags:    append(config.Flags(), &cli.BoolFlag{Name: "run-once", Usage: "run one extraction pass and exit"}),
		Commands: []*cli.Command{app.ReconcileCommand(false)},
		Action: func(c *cli.Context) error {
			cfg, err := app.LoadConfig(c, config.RoleExtractor)
			if err != nil {
				return err
			}
			return app.RunErr(app.RunExtractor(c.Context, cfg, c.Bool("run-once")))
		},
	}
	ctx, cancel := app.SignalContext(context.Background())
	defer cancel()
	app.Exit(a.RunContext(ctx, os.Args))
}
