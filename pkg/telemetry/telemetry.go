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
	c statsd.ClientInterface
	// prefix goes before every name: "tracker_exporter_" as the old tool
	// wrote it.
	prefix string
	tags   []string
}

// NewMetrics creates a UDP DogStatsD client (no I/O until the first send).
//
// Names are sent as the old tool sent them: the prefix, an underscore and
// the name (tracker_exporter_etl_duration_seconds); a prefix that already
// ends in "_" or "." is used as is. Timers are in milliseconds, as the old
// tool's were despite their _seconds names. The client's own telemetry
// metrics (datadog.dogstatsd.client.*) are off, as they were in the old
// tool.
func NewMetrics(cfg MetricsConfig) (*Metrics, error) {
	c, err := statsd.New(cfg.Addr(), statsd.WithTags(cfg.Tags), statsd.WithoutTelemetry())
	if err != nil {
		return nil, fmt.Errorf("statsd: %w", err)
	}
	return &Metrics{c: c, prefix: metricPrefix(cfg.Prefix)}, nil
}

// metricPrefix returns what goes before every metric name: the prefix and
// an underscore, always, as the old tool wrote f"{prefix}_{name}" (an
// empty prefix gave "_name", "a_" gave "a__name"), so that the names an
// old setup's dashboards query stay the same.
func metricPrefix(p string) string { return p + "_" }

// WithTags returns metrics that add tags to every metric (e.g. stage:loader).
func (m *Metrics) WithTags(tags ...string) *Metrics {
	if m == nil {
		return nil
	}
	return &Metrics{c: m.c, prefix: m.prefix, tags: append(append([]string(nil), m.tags...), tags...)}
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
		_ = m.c.Count(m.prefix+name, n, m.merge(tags), 1)
	}
}

// Gauge sets a gauge.
func (m *Metrics) Gauge(name string, v float64, tags ...string) {
	if m != nil {
		_ = m.c.Gauge(m.prefix+name, v, m.merge(tags), 1)
	}
}

// Timing records a duration; it is sent in milliseconds, as the old tool's
// *_seconds timers were.
func (m *Metrics) Timing(name string, d time.Duration, tags ...string) {
	if m != nil {
		_ = m.c.Timing(m.prefix+name, d, m.merge(tags), 1)
	}
}

// Close flushes and closes the client.
func (m *Metrics) Close() error {
	if m == nil {
		return nil
	}
	return m.c.Close()
}
