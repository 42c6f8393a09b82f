// Command loader inserts transformed rows from NATS JetStream into
// ClickHouse in batches. Any number of loaders share one durable consumer.
// `loader migrate` applies the embedded migrations.
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
		Name:    "loader",
		Usage:   "load rows into ClickHouse",
		Flags:   config.Flags(),
		Action: func(c *cli.Context) error {
			cfg, err := app.LoadConfig(c, config.RoleLoader)
			if err != nil {
				return err
			}
			return app.RunErr(app.RunLoader(c.Context, cfg))
		},
		Commands: []*cli.Command{{
			Name:  "migrate",
			Usage: "apply the embedded ClickHouse migrations and exit",
			Action: func(c *cli.Context) error {
				cfg, err := app.LoadConfig(c, config.RoleLoader)
				if err != nil {
					return err
				}
				return app.RunErr(app.Migrate(c.Context, cfg))
			},
		}},
	}
	ctx, cancel := app.SignalContext(context.Background())
	defer cancel()
	app.Exit(a.RunContext(ctx, os.Args))
}
