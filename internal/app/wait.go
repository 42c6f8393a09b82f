package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// errPermanent marks a start failure that waiting cannot fix (bad
// credentials, an invalid setting): waitFor gives up at once.
type errPermanent struct{ error }

func (e errPermanent) Unwrap() error { return e.error }

// permanent wraps err so that waitFor stops retrying it.
func permanent(err error) error {
	if err == nil {
		return nil
	}
	return errPermanent{err}
}

// waitFor runs try until it succeeds, retrying with exponential backoff
// (200 ms doubling to 10 s, with jitter) while the dependency is down: a
// stage started before NATS or ClickHouse waits for them instead of
// crash-looping. It gives up after timeout (0: never), when ctx ends, or at
// once on an error marked permanent, returning an error that names what it
// waited for. Each failed try is logged at warning level.
func waitFor(ctx context.Context, log *slog.Logger, what string, timeout time.Duration, try func(context.Context) error) error {
	start := time.Now()
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := try(ctx)
		if err == nil {
			if attempt > 1 {
				log.Info(what+" is up", "after", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		var perm errPermanent
		if errors.As(err, &perm) {
			return perm.error
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), err)
		}
		waited := time.Since(start)
		if timeout > 0 && waited >= timeout {
			return fmt.Errorf("%s not reachable after %s (EXPORTER_START_TIMEOUT): %w", what, waited.Round(time.Second), err)
		}
		wait := delay/2 + rand.N(delay/2+1)
		if timeout > 0 {
			wait = min(wait, timeout-waited)
		}
		log.Warn("waiting for "+what, "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, 10*time.Second)
	}
}
