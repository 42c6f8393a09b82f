//go:build unix

package jsonfile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/jsonfile"
)

// TestLockWaitHonoursContext holds the lock file as another process would
// (flock(2) locks belong to open files: one opened here conflicts with the
// store's like another process's) for 5 s, and checks that Save gives up
// when its context ends after 150 ms, on the bubble's fake clock.
func TestLockWaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.json")
		holder, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close()
		if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatalf("take the lock: %v", err)
		}
		release := time.AfterFunc(5*time.Second, func() { _ = syscall.Flock(int(holder.Fd()), syscall.LOCK_UN) })
		defer release.Stop()

		s := mustNew(t, path, jsonfile.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = s.Save(ctx, "k", state.State{Watermark: time.Now()})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Save while another holder has the lock: err=%v, want context.DeadlineExceeded", err)
		}
		if waited := time.Since(start); waited > 200*time.Millisecond {
			t.Errorf("Save waited %v, past its deadline of 150ms", waited)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Save wrote the file without the lock (stat err=%v)", err)
		}
	})
}
