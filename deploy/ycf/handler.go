// Package ycf runs tracker-exporter as a Yandex Cloud Functions function.
// Its Handler runs one pass of the one-process pipeline per invocation,
// normally from a timer trigger, exactly as `tracker-exporter --run-once`
// does, with the embedded NATS store under the function's writable
// temporary folder.
//
// The function's entry point is the package main in ./function, which
// build.sh copies to the root of the uploaded archive (entry point
// index.Handler); docs/yandex-cloud-functions.md is the deployment guide.
// The package holds no pipeline logic: it reads the configuration from the
// environment, adapts three settings to the platform (see Handler) and
// calls app.RunPass.
package ycf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tracker-exporter/tracker-exporter/internal/app"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
)

// Variables the handler gives a value when the function's environment
// does not set them.
const (
	varDataDir       = "EXPORTER_NATS__DATA_DIR"
	varStartTimeout  = "EXPORTER_START_TIMEOUT"
	varRunTimeBudget = "EXPORTER_RUN_TIME_BUDGET"
)

// Response is what Handler returns, in the shape of an HTTP function's
// response so that an HTTP invocation shows it as such. The runtime
// ignores it when Handler also returns an error.
type Response struct {
	StatusCode int    `json:"statusCode"`
	Body       string `json:"body"`
}

// TimerEventType is the event_type of a timer trigger's messages.
const TimerEventType = "yandex.cloud.events.serverless.triggers.TimerMessage"

// TimerEvent is the request body a timer trigger sends
// (https://yandex.cloud/en/docs/functions/concepts/trigger/timer#format).
// Handler reads it only to log which trigger invoked it.
type TimerEvent struct {
	Messages []TimerMessage `json:"messages"`
}

// TimerMessage is one message of a TimerEvent.
type TimerMessage struct {
	EventMetadata struct {
		EventID   string `json:"event_id"`
		EventType string `json:"event_type"`
		CreatedAt string `json:"created_at"`
		CloudID   string `json:"cloud_id"`
		FolderID  string `json:"folder_id"`
	} `json:"event_metadata"`
	Details struct {
		TriggerID string `json:"trigger_id"`
		Payload   string `json:"payload"`
	} `json:"details"`
}

// running lets one pass at a time run in a function instance: a version
// with concurrency above 1 would otherwise start two embedded NATS servers
// over one store.
var running sync.Mutex

// Handler runs one pass of the pipeline. Its signature is one the Go
// runtime of Yandex Cloud Functions accepts: the invocation context first,
// the raw request body, then a JSON response and an error. The request may
// be a timer trigger's event, any other JSON or nothing: a pass runs
// whatever it says.
//
// The configuration is the function's environment variables (the
// EXPORTER_* variables of the binary; no env file is read), adapted to the
// platform where the user left a setting unset:
//   - EXPORTER_NATS__DATA_DIR: a folder under os.TempDir() (/tmp in the
//     function), emptied before each pass, since only the temporary folder
//     is writable and it outlives an invocation only by chance;
//   - EXPORTER_RUN_TIME_BUDGET, when ctx has a deadline: the time left
//     before it, less a reserve for the last loads and the watermark;
//   - EXPORTER_START_TIMEOUT, likewise: at most half that reserve (see
//     passPlan).
//
// Handler blocks until the pass ends. It returns status 200 and a nil
// error when the pass ended well: every issue the search found is in
// ClickHouse, or the pass stopped at its time budget and left the rest to
// the next invocation (the run's last log line says which); otherwise
// status 400 (invalid configuration, nothing started), 409 (a pass is
// already running in this instance), 500 (the pass failed) or 504 (ctx
// ended before the pass finished), with a non-nil error so that the
// platform records the invocation as failed. The run's own log lines go to
// stderr, which the platform collects. Safe for concurrent use: a second
// call while a pass runs returns 409 at once.
func Handler(ctx context.Context, request []byte) (*Response, error) {
	if !running.TryLock() {
		return fail(http.StatusConflict, errors.New("a pass is already running in this function instance; set the version's concurrency to 1"))
	}
	defer running.Unlock()
	start := time.Now()

	cfg, loadErr := config.FromEnvironment()
	deadline, hasDeadline := ctx.Deadline()
	s := adapt(&cfg, os.TempDir(), start, deadline, hasDeadline)
	log := telemetry.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	log.Info("invocation", s.logArgs(ctx, request)...)
	if hasDeadline && s.left <= 0 {
		return fail(http.StatusGatewayTimeout, errors.New("the invocation's deadline has passed: no pass started"))
	}

	if s.ownDataDir {
		// A store left by an earlier invocation of this instance holds
		// nothing the next pass needs (the watermark and ClickHouse do),
		// and the temporary folder is small: start empty, as a new
		// instance does.
		if err := os.RemoveAll(cfg.NATS.DataDir); err != nil {
			return fail(http.StatusInternalServerError, fmt.Errorf("empty the data directory: %w", err))
		}
	}

	err := app.RunPass(ctx, cfg, loadErr)
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case errors.Is(err, app.ErrConfig):
		return fail(http.StatusBadRequest, err)
	case err != nil:
		return fail(http.StatusInternalServerError, fmt.Errorf("pass failed after %s: %w", took, err))
	case ctx.Err() != nil:
		// RunPass returns nil for a pass stopped by the end of ctx, as
		// the binary exits 0 on a signal: the watermark keeps what it did
		// not do for the next invocation, but this one did not finish.
		return fail(http.StatusGatewayTimeout, fmt.Errorf("pass stopped after %s before it finished: %w", took, context.Cause(ctx)))
	}
	return &Response{StatusCode: http.StatusOK, Body: fmt.Sprintf("pass finished in %s", took)}, nil
}

func fail(status int, err error) (*Response, error) {
	return &Response{StatusCode: status, Body: err.Error()}, err
}

// setup records what adapt changed, for the invocation's log line.
type setup struct {
	// ownDataDir is true when the handler chose the data directory.
	ownDataDir bool
	dataDir    string
	// left is the time before the invocation's deadline (0: none).
	left time.Duration
	// budget is the run time budget set from the deadline (0: none, or
	// the user's EXPORTER_RUN_TIME_BUDGET stands).
	budget time.Duration
}

// adapt fills in the settings the platform decides when the user left them
// unset (cfg.Explicit): the data directory under tmp, and with a deadline
// the run time budget and the start timeout (see passPlan).
func adapt(cfg *config.Config, tmp string, now, deadline time.Time, hasDeadline bool) setup {
	var s setup
	if cfg.NATS.URL == "" && !cfg.Explicit[varDataDir] {
		cfg.NATS.DataDir = filepath.Join(tmp, "tracker-exporter", "nats")
		s.ownDataDir, s.dataDir = true, cfg.NATS.DataDir
	}
	if !hasDeadline {
		return s
	}
	s.left = deadline.Sub(now)
	budget, startLimit := passPlan(s.left)
	if !cfg.Explicit[varStartTimeout] && (cfg.StartTimeout == 0 || cfg.StartTimeout > startLimit) {
		cfg.StartTimeout = startLimit
	}
	if !cfg.Explicit[varRunTimeBudget] {
		cfg.RunTimeBudget = budget
		s.budget = budget
	}
	return s
}

// passPlan divides the time left before the deadline: the pass takes new
// issues for budget (EXPORTER_RUN_TIME_BUDGET, counted from the start of
// the pass), and the rest, the reserve, is for the issues in flight to load
// and the watermark to be saved. The reserve is a fifth of left, between
// 10 s and 2 min, and half of left when that is less than twice the
// reserve. startLimit bounds how long the start may wait for ClickHouse
// (EXPORTER_START_TIMEOUT) to half the reserve, so that a pass whose start
// waited its longest still keeps half the reserve. Both are 0 when nothing
// is left.
func passPlan(left time.Duration) (budget, startLimit time.Duration) {
	if left <= 0 {
		return 0, 0
	}
	reserve := min(max(left/5, 10*time.Second), 2*time.Minute)
	if left < 2*reserve {
		reserve = left / 2
	}
	return left - reserve, reserve / 2
}

// logArgs describes the invocation: who called, what was adapted.
func (s setup) logArgs(ctx context.Context, request []byte) []any {
	args := []any{}
	if id, ok := ctx.Value("lambdaRuntimeRequestID").(string); ok {
		args = append(args, "request_id", id)
	}
	var ev TimerEvent
	if json.Unmarshal(request, &ev) == nil {
		for _, m := range ev.Messages {
			if m.EventMetadata.EventType == TimerEventType {
				args = append(args, "trigger_id", m.Details.TriggerID, "event_id", m.EventMetadata.EventID)
				break
			}
		}
	}
	if s.ownDataDir {
		args = append(args, "data_dir", s.dataDir)
	}
	if s.left != 0 {
		args = append(args, "deadline_in", s.left.Round(time.Second))
	}
	if s.budget > 0 {
		args = append(args, "run_time_budget", s.budget.Round(time.Second))
	}
	return args
}
