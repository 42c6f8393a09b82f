package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/tracker-exporter/tracker-exporter/pkg/config"
)

// ErrConfig marks the error RunPass returns when the configuration is
// invalid and nothing was started.
var ErrConfig = errors.New("invalid configuration")

// RunPass runs one pass of the one-process pipeline, as
// `tracker-exporter --run-once` does, for a caller that has no command
// line: a serverless function handler. cfg and loadErr are what
// config.Load or config.FromEnvironment returned.
//
// RunPass first checks the configuration for config.RoleAll as the
// binary does at start (Load's problems, Validate's, and the holidays
// file's); when it is invalid it starts nothing and returns an error that
// wraps ErrConfig and lists every problem, one per line. Otherwise it
// blocks until the pass has ended: nil when every issue the search found
// is in ClickHouse, an error naming what is not otherwise (the run's last
// log line says the same). Like the binary, a pass stopped by the end of
// ctx returns nil: callers that must tell a stopped pass from a complete
// one check ctx.Err() too. It must not run twice at once over one
// EXPORTER_NATS__DATA_DIR.
func RunPass(ctx context.Context, cfg config.Config, loadErr error) error {
	if err := errors.Join(config.Check(cfg, loadErr, config.RoleAll), checkFiles(cfg, config.RoleAll)); err != nil {
		return fmt.Errorf("%w:\n%s", ErrConfig, config.FormatError(err))
	}
	return RunOneProcess(ctx, cfg, true)
}
