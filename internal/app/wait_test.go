package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestWaitFor(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	down := errors.New("connection refused")
	t.Run("up after a while", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			tries := 0
			err := waitFor(context.Background(), log, "NATS", time.Minute, func(context.Context) error {
				tries++
				if time.Since(start) < 20*time.Second {
					return down
				}
				return nil
			})
			if err != nil || tries < 4 {
				t.Fatalf("err %v after %d tries", err, tries)
			}
			if took := time.Since(start); took > 31*time.Second {
				t.Errorf("up after 20 s but waited %s: backoff above 10 s", took)
			}
		})
	})
	t.Run("gives up at the timeout naming what", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			err := waitFor(context.Background(), log, "ClickHouse", 45*time.Second, func(context.Context) error { return down })
			if err == nil || !strings.Contains(err.Error(), "ClickHouse not reachable after 45s") || !errors.Is(err, down) {
				t.Fatalf("err %v", err)
			}
			if took := time.Since(start); took != 45*time.Second {
				t.Errorf("gave up after %s, want exactly the timeout", took)
			}
		})
	})
	t.Run("zero waits forever, until ctx ends", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Hour)
			defer cancel()
			tries := 0
			err := waitFor(ctx, log, "NATS", 0, func(context.Context) error { tries++; return down })
			if !errors.Is(err, context.DeadlineExceeded) || tries < 1000 {
				t.Fatalf("err %v after %d tries", err, tries)
			}
		})
	})
	t.Run("a permanent error stops at once", func(t *testing.T) {
		tries := 0
		bad := errors.New("authentication failed")
		err := waitFor(context.Background(), log, "NATS", time.Minute, func(context.Context) error { tries++; return permanent(bad) })
		if err != bad || tries != 1 {
			t.Fatalf("err %v after %d tries", err, tries)
		}
	})
}
