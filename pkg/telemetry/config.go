package telemetry

import (
	"net"
	"net/url"
	"strconv"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

// Config configures metrics and error reports, a plain value built with
// Default and checked with Validate. The env tag of a field names the
// variable that sets it (pkg/config maps it; Validate's problems name
// fields, which pkg/config turns into these names).
type Config struct {
	Metrics MetricsConfig
	Sentry  SentryConfig
}

// MetricsConfig configures the DogStatsD client (NewMetrics).
type MetricsConfig struct {
	// Enabled sends metrics; NewMetrics does not look at it.
	Enabled bool   `env:"EXPORTER_MONITORING__METRICS_ENABLED"`
	Host    string `env:"EXPORTER_MONITORING__METRICS_HOST"`
	Port    int    `env:"EXPORTER_MONITORING__METRICS_PORT"`
	// Prefix goes before every name, e.g. tracker_exporter.
	Prefix string `env:"EXPORTER_MONITORING__METRICS_BASE_PREFIX"`
	// Tags are DogStatsD tags added to every metric, e.g.
	// "project:internal".
	Tags []string `env:"EXPORTER_MONITORING__METRICS_BASE_LABELS"`
}

// Addr returns "host:port" of the DogStatsD agent.
func (c MetricsConfig) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// SentryConfig configures the error reports (InitSentry).
type SentryConfig struct {
	Enabled bool           `env:"EXPORTER_MONITORING__SENTRY_ENABLED"`
	DSN     setting.Secret `env:"EXPORTER_MONITORING__SENTRY_DSN"`
}

// Default returns the old tool's defaults: both off, a local agent.
func Default() Config {
	return Config{
		Metrics: MetricsConfig{
			Host:   "localhost",
			Port:   8125,
			Prefix: "tracker_exporter",
			Tags:   []string{},
		},
	}
}

// Validate returns every problem at once (errors.Join of *setting.Problem,
// each naming a field by its path, e.g. "Metrics.Port"), or nil. The
// agent is checked only when metrics are enabled.
func (c Config) Validate() error {
	var p setting.Problems
	if m := c.Metrics; m.Enabled {
		p.NonEmpty("Metrics.Host", m.Host)
		p.IntRange("Metrics.Port", m.Port, 1, 65535)
	}
	s := c.Sentry
	if s.Enabled && !s.DSN.IsSet() {
		p.Add("Sentry.DSN", nil, "must be set when %s is true", setting.Ref("Sentry.Enabled"))
	}
	if s.DSN.IsSet() {
		if u, err := url.Parse(s.DSN.Reveal()); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			p.AddSecret("Sentry.DSN", "want a Sentry DSN like https://KEY@HOST/PROJECT")
		}
	}
	return p.Err()
}
