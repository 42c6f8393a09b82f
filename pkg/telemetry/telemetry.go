// Package telemetry sets up logging and DogStatsD metrics with the old
// tool's metric names and tags.
package telemetry

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"
)

// NewLogger returns a slog logger writing text or JSON at the given level
// (debug, info, warning/warn, error, critical).
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warning", "warn":
		lv = slog.LevelWarn
	case "error", "critical":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if strings.ToLower(format) == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Metrics sends DogStatsD metrics. A nil *Metrics is valid and sends
// nothing, so stages call it unconditionally. Safe for concurrent use.
type Metrics struct {
	c    statsd.ClientInterface
	tags []string
}

// MetricsConfig mirrors EXPORTER_MONITORING__METRICS_*.
type MetricsConfig struct {
	Host   string
	Port   int
	Prefix string   // e.g. tracker_exporter
	Tags   []string // base tags, e.g. project:internal
}

// NewMetrics creates a UDP DogStatsD client (no I/O until the first send).
func NewMetrics(cfg MetricsConfig) (*Metrics, error) {
	prefix := cfg.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, ".") {
		prefix += "."
	}
	c, err := statsd.New(fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), statsd.WithNamespace(prefix), statsd.WithTags(cfg.Tags))
	if err != nil {
		return nil, fmt.Errorf("statsd: %w", err)
	}
	return &Metrics{c: c}, nil
}

// WithTags returns metrics that add tags to every metric (e.g. stage:loader).
func (m *Metrics) WithTags(tags ...string) *Metrics {
	if m == nil {
		return nil
	}
	return &Metrics{c: m.c, tags: append(append([]string(nil), m.tags...), tags...)}
}

func (m *Metrics) merge(tags []string) []string {
	if len(tags) == 0 {
		return m.tags
	}
	return append(append([]string(nil), m.tags...), tags...)
}

// Count adds n to a counter.
func (m *Metrics) Count(name string, n int64, tags ...string) {
	if m != nil {
		_ = m.c.Count(name, n, m.merge(tags), 1)
	}
}

// Gauge sets a gauge.
func (m *Metrics) Gauge(name string, v float64, tags ...string) {
	if m != nil {
		_ = m.c.Gauge(name, v, m.merge(tags), 1)
	}
}

// Timing records a duration in seconds as the old tool's *_seconds timers.
func (m *Metrics) Timing(name string, d time.Duration, tags ...string) {
	if m != nil {
		_ = m.c.Timing(name, d, m.merge(tags), 1)
	}
}

// Close flushes and closes the client.
func (m *Metrics) Close() error {
	if m == nil {
		return nil
	}
	return m.c.Close()
}
