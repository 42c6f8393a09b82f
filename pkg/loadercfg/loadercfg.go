// Package loadercfg holds the settings of the load stage (internal/loader):
// batches, insert retries, OPTIMIZE and dead-lettering. It is a leaf (it
// imports only pkg/setting), so that pkg/config can map variables onto
// these fields without importing the stage, and the stage embeds the same
// type: one home for each setting.
package loadercfg

import (
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

// Config is what the operator sets of the loader, a plain value built
// with Default and checked with Validate. The env tag of a field names the
// variable that sets it (pkg/config maps it; Validate's problems name
// fields, which pkg/config turns into these names).
type Config struct {
	// BatchRows is the largest number of table rows (all tables together)
	// per insert batch; a message whose rows alone exceed it is inserted
	// alone. Over the native protocol one INSERT per table streams up to
	// 32 batches (internal/loader's streamBatches), across fetches while
	// a backlog waits.
	BatchRows int `env:"EXPORTER_CLICKHOUSE__BATCH_ROWS"`
	// BatchBytes is the largest sum of message sizes (as received) per
	// insert batch; a larger message is inserted alone.
	BatchBytes int `env:"EXPORTER_CLICKHOUSE__BATCH_BYTES"`
	// BatchAge is how long a fetched batch may wait to fill.
	BatchAge time.Duration `env:"EXPORTER_CLICKHOUSE__BATCH_AGE"`
	// MaxDeliveries is how many deliveries a message that the sink rejects
	// as permanently invalid gets before it is dead-lettered.
	MaxDeliveries int `env:"EXPORTER_CLICKHOUSE__MAX_DELIVERIES"`
	// Backoff is the retry schedule of inserts that failed transiently.
	Backoff Backoff
	// AutoDeduplicate runs OPTIMIZE TABLE ... FINAL on the tables that got
	// rows, once the loader is caught up, at most once per OptimizeEvery
	// per table.
	AutoDeduplicate bool `env:"EXPORTER_CLICKHOUSE__AUTO_DEDUPLICATE"`
	// OptimizeEvery is the least time between two OPTIMIZE of one table
	// (pkg/config's default: the ETL interval, that is once per run).
	OptimizeEvery time.Duration `env:"EXPORTER_CLICKHOUSE__OPTIMIZE_EVERY"`
}

// Backoff is the retry schedule of inserts: MaxTries attempts, the first
// delay BaseDelay, each next one ExpoFactor times longer, randomized when
// Jitter is set.
type Backoff struct {
	BaseDelay  time.Duration `env:"EXPORTER_CLICKHOUSE__BACKOFF_BASE_DELAY"`
	ExpoFactor float64       `env:"EXPORTER_CLICKHOUSE__BACKOFF_EXPO_FACTOR"`
	// MaxTries counts the first try.
	MaxTries int  `env:"EXPORTER_CLICKHOUSE__BACKOFF_MAX_TRIES"`
	Jitter   bool `env:"EXPORTER_CLICKHOUSE__BACKOFF_JITTER"`
}

// Default returns the defaults of the old tool and of the new settings.
func Default() Config {
	return Config{
		BatchRows:     10000,
		BatchBytes:    16 << 20,
		BatchAge:      5 * time.Second,
		MaxDeliveries: 5,
		Backoff: Backoff{
			BaseDelay:  500 * time.Millisecond,
			ExpoFactor: 2.5,
			MaxTries:   3,
			Jitter:     true,
		},
		AutoDeduplicate: true,
		OptimizeEvery:   30 * time.Minute,
	}
}

// WithDefaults returns c with its zero numbers and durations replaced by
// Default's; the switches (AutoDeduplicate, Backoff.Jitter) stay as given.
func (c Config) WithDefaults() Config {
	d := Default()
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.BatchRows, d.BatchRows)
	set(&c.BatchBytes, d.BatchBytes)
	set(&c.MaxDeliveries, d.MaxDeliveries)
	set(&c.Backoff.MaxTries, d.Backoff.MaxTries)
	setDur(&c.BatchAge, d.BatchAge)
	setDur(&c.Backoff.BaseDelay, d.Backoff.BaseDelay)
	setDur(&c.OptimizeEvery, d.OptimizeEvery)
	if c.Backoff.ExpoFactor == 0 {
		c.Backoff.ExpoFactor = d.Backoff.ExpoFactor
	}
	return c
}

// Validate returns every problem at once (errors.Join of *setting.Problem,
// each naming a field by its path, e.g. "Backoff.MaxTries"), or nil.
func (c Config) Validate() error {
	var p setting.Problems
	if c.AutoDeduplicate {
		p.Positive("OptimizeEvery", c.OptimizeEvery)
	}
	p.Positive("Backoff.BaseDelay", c.Backoff.BaseDelay)
	if c.Backoff.ExpoFactor < 1 || c.Backoff.ExpoFactor > 100 {
		p.Add("Backoff.ExpoFactor", c.Backoff.ExpoFactor, "want 1..100")
	}
	p.IntRange("Backoff.MaxTries", c.Backoff.MaxTries, 1, 100)
	p.IntRange("BatchRows", c.BatchRows, 1, 10_000_000)
	if c.BatchBytes < 1<<10 {
		p.Add("BatchBytes", c.BatchBytes, "want 1KiB or more")
	}
	p.Positive("BatchAge", c.BatchAge)
	p.IntRange("MaxDeliveries", c.MaxDeliveries, 1, 1000)
	return p.Err()
}
