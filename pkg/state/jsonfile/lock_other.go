//go:build !unix

package jsonfile

import (
	"context"
	"sync"
)

// processLocks serializes writers of one file within the process where
// flock(2) is not available.
var processLocks sync.Map // lock file name → *sync.Mutex

// lockFile takes a process-wide lock for the file name. Without flock(2),
// writers in other processes are not excluded.
func lockFile(ctx context.Context, name string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, _ := processLocks.LoadOrStore(name, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock, nil
}

// syncDir is a no-op where directories cannot be synced.
func syncDir(string) error { return nil }
