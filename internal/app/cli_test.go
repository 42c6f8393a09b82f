package app

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/tracker-exporter/tracker-exporter/pkg/config"
)

// Loading the configuration leaves the collector alone, whatever the
// role: the one-process binary's commands load it for a stage's role but
// run the NATS server and several stages, for which the split stages'
// soft memory limit (set by their own main) made a replay six times
// slower.
func TestLoadConfigLeavesTheCollectorAlone(t *testing.T) {
	t.Setenv("EXPORTER_TRACKER__TOKEN", "token")
	t.Setenv("EXPORTER_TRACKER__ORG_ID", "42")
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, role := range []config.Role{config.RoleAll, config.RoleExtractor, config.RoleTransformer, config.RoleLoader} {
		a := &cli.App{Flags: config.Flags(), Action: func(c *cli.Context) error {
			_, err := LoadConfig(c, role)
			return err
		}}
		if err := a.Run([]string{"test"}); err != nil {
			t.Fatalf("role %v: %v", role, err)
		}
		if l, p := debug.SetMemoryLimit(math.MaxInt64), debug.SetGCPercent(100); l != math.MaxInt64 || p != 100 {
			t.Errorf("role %v: memory limit %d, GOGC %d after LoadConfig; want Go's defaults", role, l, p)
		}
	}
}
