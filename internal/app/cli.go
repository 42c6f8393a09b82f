package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/tracker-exporter/tracker-exporter/pkg/calendar"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
)

// ExitConfig is the exit code for invalid configuration.
const ExitConfig = 2

// LoadConfig reads the configuration from the environment, the env file
// and the flags, and validates it for role. Problems are printed one per
// line and turned into a cli exit error with code 2.
func LoadConfig(c *cli.Context, role config.Role) (config.Config, error) {
	cfg, err := config.FromCLI(c)
	signalLogFormat.Store(cfg.LogFormat)
	if err = errors.Join(config.Check(cfg, err, role), checkFiles(cfg, role)); err != nil {
		return cfg, ConfigExitAs(cfg.LogFormat, err)
	}
	return cfg, nil
}

// checkFiles reads the files the configuration names whose contents are
// configuration too (the holidays file), so that their problems are
// refused at start with the others, one line each.
func checkFiles(cfg config.Config, role config.Role) error {
	path := cfg.Calendar.HolidaysFile
	if path == "" || (role != config.RoleAll && role != config.RoleTransformer) {
		return nil
	}
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		return nil // Validate said so already
	}
	if _, err := calendar.LoadHolidayFile(path); err != nil {
		return &config.Error{Var: "EXPORTER_HOLIDAYS_FILE", Value: path, Reason: err.Error()}
	}
	return nil
}

// ConfigExit prints every problem of a (joined) configuration error on its
// own line and returns an exit error with code 2.
func ConfigExit(err error) error { return ConfigExitAs("text", err) }

// ConfigExitAs is ConfigExit in a log format: with "json" each problem is
// a JSON log record (level ERROR, msg "config: ..."), like every other
// line of the process.
func ConfigExitAs(format string, err error) error {
	text := strings.TrimRight(config.FormatError(err), "\n")
	if strings.EqualFold(format, "json") {
		log := telemetry.NewLogger(os.Stderr, "error", "json")
		for _, line := range strings.Split(text, "\n") {
			log.Error(line)
		}
	} else {
		fmt.Fprintln(os.Stderr, text)
	}
	return cli.Exit("", ExitConfig)
}

// SignalContext is cancelled by the first SIGINT or SIGTERM; a second one
// exits the process at once.
func SignalContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
			signalNotice("shutting down (send the signal again to exit at once)")
			cancel()
		case <-ctx.Done():
			signal.Stop(ch)
			return
		}
		<-ch
		signalNotice("second signal: exiting now")
		os.Exit(130)
	}()
	return ctx, cancel
}

// signalLogFormat is the log format of the configuration read, for the
// lines SignalContext prints.
var signalLogFormat atomic.Value

// signalNotice prints a line about a signal in the process's log format.
func signalNotice(msg string) {
	if f, _ := signalLogFormat.Load().(string); strings.EqualFold(f, "json") {
		telemetry.NewLogger(os.Stderr, "info", "json").Warn(msg)
		return
	}
	fmt.Fprintln(os.Stderr, msg)
}

// RunErr turns a stage error into the process exit: nil → 0, else 1 with
// the error printed.
func RunErr(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(cli.ExitCoder); ok {
		return err
	}
	var done reported
	if errors.As(err, &done) {
		return cli.Exit("", 1) // logged already, in the chosen format
	}
	return cli.Exit("error: "+err.Error(), 1)
}

// Exit ends the process for the error a cli.App returned: 0 for nil, the
// exit code of a cli exit error (its message printed), 1 otherwise.
func Exit(err error) {
	if err == nil {
		os.Exit(0)
	}
	code := 1
	if ec, ok := err.(cli.ExitCoder); ok {
		code = ec.ExitCode()
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(os.Stderr, msg)
	}
	os.Exit(code)
}
