package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	flowreport "github.com/tracker-exporter/tracker-exporter/internal/report"
	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
)

// DefaultReportPath is where the report subcommand writes by default.
const DefaultReportPath = "tracker-report.html"

// ReportOptions are the report subcommand's flags.
type ReportOptions struct {
	// Queue limits the report to one queue ("": all).
	Queue string
	// From and To bound the period (dates, inclusive; zero: the last 12
	// weeks and the current one).
	From, To time.Time
	// Out is the HTML file to write (default DefaultReportPath).
	Out string
}

// ParseReportDates parses the --from and --to flags (YYYY-MM-DD, empty for
// the default).
func ParseReportDates(from, to string) (time.Time, time.Time, error) {
	parse := func(flag, s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return t, fmt.Errorf("--%s %q: want a date like 2026-01-31", flag, s)
		}
		return t, nil
	}
	f, err1 := parse("from", from)
	t, err2 := parse("to", to)
	if err1 != nil {
		return f, t, err1
	}
	return f, t, err2
}

// RunReport is the report subcommand: it reads ClickHouse and writes the
// flow report to o.Out, then prints its path.
func RunReport(ctx context.Context, cfg config.Config, o ReportOptions) error {
	ro := flowreport.Options{Queue: o.Queue, From: o.From, To: o.To}
	if err := ro.Validate(); err != nil {
		return ConfigExitAs(cfg.LogFormat, err)
	}
	return runStage(ctx, cfg, "report", natsNone, func(env *Env, _ *stream.Conn) error {
		ch, err := openChecked(ctx, env)
		if err != nil {
			return err
		}
		defer ch.Close()
		path, err := WriteReport(ctx, ch, ro, o.Out)
		if err != nil {
			return err
		}
		fmt.Println(path)
		return nil
	})
}

// WriteReport writes the flow report of ch to path (default
// DefaultReportPath) through a temporary file, and returns the absolute
// path written.
func WriteReport(ctx context.Context, ch *clickhouse.Client, o flowreport.Options, path string) (string, error) {
	if path == "" {
		path = DefaultReportPath
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(abs), ".tracker-report-*.html")
	if err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	defer os.Remove(f.Name()) // once renamed, there is nothing left to remove
	if _, err := flowreport.Write(ctx, ch, o, f); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(f.Name(), abs); err != nil {
		return "", fmt.Errorf("write report: %w", err)
	}
	return abs, nil
}

// demoFlowReport ends the demo: it computes the forecasts, writes the flow
// report of all queues to DefaultReportPath and prints its path.
func demoFlowReport(ctx context.Context, cfg config.Config, ch *clickhouse.Client, out io.Writer) error {
	env, err := newQuietEnv(cfg)
	if err != nil {
		return err
	}
	defer env.Close()
	if err := Forecast(ctx, env, ch, time.Now()); err != nil {
		return err
	}
	path, err := WriteReport(ctx, ch, flowreport.Options{}, DefaultReportPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nflow report (open it in a browser): %s\n", path)
	return nil
}
