// Package jsonfile is the state backend that keeps every key in one local
// JSON file, the old tool's default storage.
//
// The file is a JSON object mapping each state key to its value; it reads
// the old tool's file as it is (see package state). Save is a
// read-modify-write of the whole file under an exclusive lock on a sidecar
// file (path + ".lock", flock(2), left in place between runs), so several
// Stores in one or several processes can share a file with different keys.
// The new content goes to a temporary file in the same directory
// ("." + name + ".tmp-*"), which is synced and renamed over the file, and
// the directory is synced: a crash leaves either the old or the new file,
// never a torn one. Temporary files left by a crash are ignored by Load and
// removed by the next Save. Load takes no lock: a rename is atomic.
//
// On systems without flock(2) the lock only covers Stores of one process.
package jsonfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/state/internal/statecore"
)

// DefaultPath is the old tool's default file, "state.json" (its README says
// "./state.json", the same file; the difference matters only as an S3 object
// key, where the old code used "state.json").
const DefaultPath = "state.json"

// newFileMode is the mode of a state file created by Save; an existing
// file keeps its mode.
const newFileMode fs.FileMode = 0o644

// Options tunes a Store. The zero value is ready to use.
type Options struct {
	// LegacyLocation is the zone of the old tool's watermark strings (its
	// EXPORTER_TRACKER__TIMEZONE); nil means Europe/Moscow, its default.
	LegacyLocation *time.Location
	// LegacyLayout is the Go layout of the old tool's
	// EXPORTER_DATETIME_QUERY_FORMAT, in which it wrote its watermark
	// strings; tried before the fixed layouts. Empty: the fixed layouts
	// only, which read the default format.
	LegacyLayout string
}

// Store keeps state in one JSON file. It is safe for concurrent use.
type Store struct {
	path   string
	dir    string
	base   string
	legacy statecore.Legacy
	mu     sync.Mutex // serializes the Saves of this Store before the file lock
	closed atomic.Bool
}

// New returns a Store over the file at path, which need not exist yet
// (Save creates it and its directory). It does no I/O.
func New(path string, o Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("jsonfile: empty path")
	}
	clean := filepath.Clean(path)
	return &Store{
		path:   clean,
		dir:    filepath.Dir(clean),
		base:   filepath.Base(clean),
		legacy: statecore.Legacy{Location: statecore.LegacyLocation(o.LegacyLocation), Layout: o.LegacyLayout},
	}, nil
}

// Path returns the path of the state file.
func (s *Store) Path() string { return s.path }

func (s *Store) check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return fmt.Errorf("jsonfile %s: %w", s.path, fs.ErrClosed)
	}
	return statecore.CheckKey(key)
}

// Load returns the state saved under key. A missing file or key returns
// ok=false; a file that is not a JSON object, or a value that cannot be
// read, returns an error wrapping state.ErrCorrupt; other read errors (such
// as fs.ErrPermission) are returned wrapped.
func (s *Store) Load(ctx context.Context, key string) (statecore.State, bool, error) {
	if err := s.check(ctx, key); err != nil {
		return statecore.State{}, false, fmt.Errorf("load state %q: %w", key, err)
	}
	doc, err := s.read()
	if err != nil {
		return statecore.State{}, false, fmt.Errorf("load state %q: %w", key, err)
	}
	st, ok, err := statecore.LoadFromDocument(doc, key, s.legacy)
	if err != nil {
		return statecore.State{}, false, fmt.Errorf("load state from %s: %w", s.path, err)
	}
	return st, ok, nil
}

// read returns the document in the file; a missing file is an empty one.
func (s *Store) read() (map[string]json.RawMessage, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]json.RawMessage{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	doc, err := statecore.DecodeDocument(data)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", s.path, err)
	}
	return doc, nil
}

// Save stores st under key, keeping the other keys of the file. It blocks
// while another Store holds the file lock, until ctx ends. A file that is
// not a JSON object is left alone and Save returns an error wrapping
// state.ErrCorrupt, since rewriting it would drop the other keys.
func (s *Store) Save(ctx context.Context, key string, st statecore.State) error {
	if err := s.check(ctx, key); err != nil {
		return fmt.Errorf("save state %q: %w", key, err)
	}
	val, err := statecore.EncodeValue(st, time.Now())
	if err != nil {
		return fmt.Errorf("save state %q: %w", key, err)
	}
	if err := s.update(ctx, key, val); err != nil {
		return fmt.Errorf("save state %q to %s: %w", key, s.path, err)
	}
	return nil
}

func (s *Store) update(ctx context.Context, key string, val json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	unlock, err := lockFile(ctx, s.path+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	s.removeTemps()

	mode := newFileMode
	if fi, err := os.Stat(s.path); err == nil {
		mode = fi.Mode().Perm()
	}
	doc, err := s.read()
	if err != nil {
		if errors.Is(err, statecore.ErrCorrupt) {
			return fmt.Errorf("not overwriting the other keys of a corrupt file (fix or remove it): %w", err)
		}
		return err
	}
	doc[key] = val
	data, err := statecore.EncodeDocument(doc)
	if err != nil {
		return err
	}
	return s.replace(data, mode)
}

func (s *Store) tempPrefix() string { return "." + s.base + ".tmp-" }

// removeTemps deletes temporary files left by a writer that crashed. It is
// called under the file lock, when no other writer can own one.
func (s *Store) removeTemps() {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), s.tempPrefix()) && e.Type().IsRegular() {
			_ = os.Remove(filepath.Join(s.dir, e.Name()))
		}
	}
}

// replace writes data to a synced temporary file and renames it over the
// state file, then syncs the directory so that the rename is durable.
func (s *Store) replace(data []byte, mode fs.FileMode) (err error) {
	f, err := os.CreateTemp(s.dir, s.tempPrefix()+"*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", s.dir, err)
	}
	return nil
}

// Close marks the Store closed; later calls fail with fs.ErrClosed. The
// file stays as it is.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
