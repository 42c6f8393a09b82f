package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tracker-exporter/tracker-exporter/internal/extractor"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
)

// Reconcile runs one reconciliation on demand (the `reconcile` command):
// the issues of the configured scope that Tracker no longer returns get a
// tombstone, those that are back lose it. The one-process binary
// (embedded true) then transforms and loads the changes before it exits;
// the extractor binary leaves them to the running transformer and loaders.
func Reconcile(ctx context.Context, cfg config.Config, embedded bool, o extractor.ReconcileOptions, out io.Writer) error {
	mode, name := natsExternal, "extractor-reconcile"
	if embedded {
		mode, name = natsEmbedded, "tracker-exporter-reconcile"
	}
	return runStage(ctx, cfg, name, mode, func(env *Env, conn *stream.Conn) error {
		ex, closeEx, err := distributedExtractor(ctx, env, conn)
		if err != nil {
			return err
		}
		defer closeEx()
		rec, err := ex.Reconcile(ctx, o)
		printReconciliation(out, rec)
		if err != nil {
			return err
		}
		env.Log.Info("reconciliation finished", rec.LogAttrs()...)
		if !embedded || len(rec.Gone)+len(rec.Restored) == 0 {
			return nil
		}
		return withStages(ctx, env, conn, cfg.NATS.URL == "", func(w *stageWatch) error {
			return Drain(ctx, conn, env.Log, w)
		})
	})
}

func printReconciliation(out io.Writer, r extractor.Reconciliation) {
	least := 0
	if r.PageSize > 0 {
		least = (r.Listed + r.PageSize - 1) / r.PageSize
	}
	fmt.Fprintf(out, "scope:      %s\n", r.Query)
	fmt.Fprintf(out, "listed:     %d issues in %d search requests (least: %d, pages of %d)\n", r.Listed, r.Requests, least, r.PageSize)
	fmt.Fprintf(out, "known:      %d issues in the raw stream\n", r.Known)
	fmt.Fprintf(out, "tombstoned: %d%s\n", len(r.Gone), someIDs(r.Gone))
	fmt.Fprintf(out, "restored:   %d%s\n", len(r.Restored), someIDs(r.Restored))
	if r.Unexported > 0 {
		fmt.Fprintf(out, "not yet exported: %d listed issues have no snapshot (a later pass or a wider search range brings them)\n", r.Unexported)
	}
}

// ReconcileCommand is the `reconcile` subcommand of the one-process binary
// (embedded true) and of the extractor.
func ReconcileCommand(embedded bool) *cli.Command {
	return &cli.Command{
		Name:  "reconcile",
		Usage: "list the issues of the configured scope and tombstone those Tracker no longer returns (deleted or hidden); bring back those that returned",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Usage: "tombstone even when more than half of the known issues look gone"}},
		Action: func(c *cli.Context) error {
			cfg, err := LoadConfig(c, config.RoleExtractor)
			if err == nil && embedded {
				err = ValidateRole(cfg, config.RoleLoader)
			}
			if err != nil {
				return err
			}
			return RunErr(Reconcile(c.Context, cfg, embedded, extractor.ReconcileOptions{Force: c.Bool("force")}, os.Stdout))
		},
	}
}

// someIDs lists the first ids of a list for a person.
func someIDs(ids []string) string {
	const most = 20
	switch {
	case len(ids) == 0:
		return ""
	case len(ids) > most:
		return fmt.Sprintf(" (ids %s, …)", strings.Join(ids[:most], ", "))
	}
	return fmt.Sprintf(" (ids %s)", strings.Join(ids, ", "))
}
