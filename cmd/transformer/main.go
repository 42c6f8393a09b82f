// Command transformer turns raw issue snapshots from NATS JetStream into
// table rows (issues, status metrics, status intervals, changelog) and
// publishes them for the loaders. `transformer replay` re-transforms the
// latest snapshot of every issue with the current configuration.
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
		Version: app.Version(),
		Name:    "transformer",
		Usage:   "compute rows and flow metrics from raw snapshots",
		Flags:   config.Flags(),
		Action: func(c *cli.Context) error {
			cfg, err := app.LoadConfig(c, config.RoleTransformer)
			if err != nil {
				return err
			}
			return app.RunErr(app.RunTransformer(c.Context, cfg))
		},
		Commands: []*cli.Command{{
			Name:  "replay",
			Usage: "re-transform the raw stream with the current configuration (no Tracker calls), then exit",
			Action: func(c *cli.Context) error {
				cfg, err := app.LoadConfig(c, config.RoleTransformer)
				if err != nil {
					return err
				}
				return app.RunErr(app.ReplayTransformer(c.Context, cfg))
			},
		}},
	}
	ctx, cancel := app.SignalContext(context.Background())
	defer cancel()
	app.Exit(a.RunContext(ctx, os.Args))
}
