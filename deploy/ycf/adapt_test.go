package ycf

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/config"
)

func TestPassPlan(t *testing.T) {
	tests := []struct {
		left                  time.Duration
		wantBudget, wantStart time.Duration
	}{
		{10 * time.Minute, 8 * time.Minute, time.Minute},                     // reserve: a fifth
		{time.Hour, 58 * time.Minute, time.Minute},                           // reserve capped at 2 min
		{time.Minute, 48 * time.Second, 6 * time.Second},                     // a fifth: 12 s
		{30 * time.Second, 20 * time.Second, 5 * time.Second},                // reserve raised to 10 s
		{15 * time.Second, 7500 * time.Millisecond, 3750 * time.Millisecond}, // under twice the reserve: half
		{0, 0, 0},
		{-time.Second, 0, 0},
	}
	for _, tt := range tests {
		budget, start := passPlan(tt.left)
		if budget != tt.wantBudget || start != tt.wantStart {
			t.Errorf("passPlan(%s) = %s, %s; want %s, %s", tt.left, budget, start, tt.wantBudget, tt.wantStart)
		}
		// A start that waits its longest still leaves time to finish.
		if tt.left > 0 && start+budget >= tt.left {
			t.Errorf("passPlan(%s): start %s + budget %s leaves nothing for the last loads", tt.left, start, budget)
		}
	}
}

func TestAdapt(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tmp := filepath.Join("/", "tmp")
	own := filepath.Join(tmp, "tracker-exporter", "nats")
	tests := []struct {
		name       string
		environ    []string
		left       time.Duration // 0: no deadline
		wantDir    string
		wantOwn    bool
		wantStart  time.Duration
		wantBudget time.Duration
	}{
		{name: "defaults, no deadline", wantDir: own, wantOwn: true, wantStart: 5 * time.Minute},
		{name: "defaults, 10 min left", left: 10 * time.Minute, wantDir: own, wantOwn: true,
			wantStart: time.Minute, wantBudget: 8 * time.Minute},
		{name: "the user's data directory", environ: []string{"EXPORTER_NATS__DATA_DIR=/mnt/bucket/nats"},
			wantDir: "/mnt/bucket/nats", wantStart: 5 * time.Minute},
		{name: "an external NATS needs no directory", environ: []string{"EXPORTER_NATS__URL=nats://10.0.0.1:4222"},
			wantDir: "./data/nats", wantStart: 5 * time.Minute},
		{name: "the user's start timeout", environ: []string{"EXPORTER_START_TIMEOUT=3m"}, left: 10 * time.Minute,
			wantDir: own, wantOwn: true, wantStart: 3 * time.Minute, wantBudget: 8 * time.Minute},
		{name: "the user's start timeout 0 (wait forever)", environ: []string{"EXPORTER_START_TIMEOUT=0"}, left: 10 * time.Minute,
			wantDir: own, wantOwn: true, wantStart: 0, wantBudget: 8 * time.Minute},
		{name: "the user's budget", environ: []string{"EXPORTER_RUN_TIME_BUDGET=5m"}, left: 10 * time.Minute,
			wantDir: own, wantOwn: true, wantStart: time.Minute, wantBudget: 5 * time.Minute},
		{name: "the user's budget 0 (no bound)", environ: []string{"EXPORTER_RUN_TIME_BUDGET=0"}, left: 10 * time.Minute,
			wantDir: own, wantOwn: true, wantStart: time.Minute, wantBudget: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(tt.environ, os.DevNull)
			if err != nil {
				t.Fatalf("Load(%q): %v", tt.environ, err)
			}
			s := adapt(&cfg, tmp, now, now.Add(tt.left), tt.left != 0)
			if cfg.NATS.DataDir != tt.wantDir || s.ownDataDir != tt.wantOwn {
				t.Errorf("data dir %q (own %v), want %q (own %v)", cfg.NATS.DataDir, s.ownDataDir, tt.wantDir, tt.wantOwn)
			}
			if cfg.StartTimeout != tt.wantStart {
				t.Errorf("start timeout %s, want %s", cfg.StartTimeout, tt.wantStart)
			}
			if cfg.RunTimeBudget != tt.wantBudget {
				t.Errorf("run time budget %s, want %s", cfg.RunTimeBudget, tt.wantBudget)
			}
		})
	}
}

func TestHandlerRunsOnePassAtATime(t *testing.T) {
	running.Lock()
	defer running.Unlock()
	resp, err := Handler(context.Background(), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("while a pass runs: response %+v, error %v; want status 409 and an error", resp, err)
	}
}
