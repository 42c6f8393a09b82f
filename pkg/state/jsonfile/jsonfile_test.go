package jsonfile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/jsonfile"
	"github.com/tracker-exporter/tracker-exporter/pkg/state/statetest"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func mustNew(t *testing.T, path string, o jsonfile.Options) *jsonfile.Store {
	t.Helper()
	s, err := jsonfile.New(path, o)
	if err != nil {
		t.Fatalf("New(%q): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	pathFor := func(t *testing.T) string {
		return filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_"), "state.json")
	}
	statetest.Run(t,
		func(t *testing.T) state.Store {
			s, err := jsonfile.New(pathFor(t), jsonfile.Options{})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			return s
		},
		statetest.WithCorrupt(func(t *testing.T, key string) {
			if err := os.WriteFile(pathFor(t), []byte(`{"`+key+`": {"version": 1, "waterm`), 0o644); err != nil {
				t.Fatal(err)
			}
		}),
		statetest.WithOldValues(func(t *testing.T, loc *time.Location, layout string) state.Store {
			s, err := jsonfile.New(pathFor(t), jsonfile.Options{LegacyLocation: loc, LegacyLayout: layout})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			return s
		}, func(t *testing.T, key, value string) {
			doc, err := json.Marshal(map[string]string{key: value})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(pathFor(t)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(pathFor(t), doc, 0o644); err != nil {
				t.Fatal(err)
			}
		}),
	)
}

// copyCase copies testdata/<name>/state.json into a temporary directory.
func copyCase(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOldToolFile reads state files of the old tool, saves over them and
// compares the result with testdata/<case>/saved.json (-update rewrites it).
func TestOldToolFile(t *testing.T) {
	yekt, err := time.LoadLocation("Asia/Yekaterinburg")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		zone   *time.Location
		key    string
		want   time.Time
		others []string // keys that must survive the save untouched
	}{
		{name: "old-tool", key: state.DefaultKey, want: time.Date(2024, 3, 5, 11, 7, 33, 0, time.UTC)},
		{name: "old-tool", zone: time.UTC, key: state.DefaultKey, want: time.Date(2024, 3, 5, 14, 7, 33, 0, time.UTC)},
		{name: "old-tool", zone: yekt, key: state.DefaultKey, want: time.Date(2024, 3, 5, 9, 7, 33, 0, time.UTC)},
		{name: "shared-keys", key: "queue_dev", want: time.Date(2024, 2, 1, 6, 0, 0, 0, time.UTC),
			others: []string{state.DefaultKey, "someone_else"}},
	}
	for _, tt := range tests {
		zone := "default zone"
		if tt.zone != nil {
			zone = tt.zone.String()
		}
		t.Run(fmt.Sprintf("%s/%s/%s", tt.name, tt.key, zone), func(t *testing.T) {
			path := copyCase(t, tt.name)
			s := mustNew(t, path, jsonfile.Options{LegacyLocation: tt.zone})
			ctx := context.Background()
			got, ok, err := s.Load(ctx, tt.key)
			if err != nil || !ok || !got.Watermark.Equal(tt.want) || got.Watermark.Location() != time.UTC {
				t.Fatalf("Load(%q) in zone %v = %v, ok=%v, err=%v; want %v", tt.key, tt.zone, got.Watermark, ok, err, tt.want)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			next := state.State{
				Watermark:  time.Date(2024, 3, 5, 12, 37, 33, 500000000, time.UTC),
				UpdatedAt:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
				FailedKeys: []string{"DEV-7"},
				RunID:      "golden",
			}
			if err := s.Save(ctx, tt.key, next); err != nil {
				t.Fatalf("Save: %v", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.name, "saved-"+tt.key+".json")
			if *update {
				if err := os.WriteFile(golden, after, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(after, want) {
				t.Errorf("file after Save:\n%s\nwant (%s):\n%s", after, golden, want)
			}
			// The other keys read as they did before the save.
			for _, other := range tt.others {
				if !bytes.Contains(after, []byte(fmt.Sprintf("%q", other))) {
					t.Errorf("key %q was dropped by Save; file before:\n%s\nafter:\n%s", other, before, after)
				}
			}
			if tt.name == "shared-keys" {
				old, ok, err := s.Load(ctx, state.DefaultKey)
				if err != nil || !ok || !old.Watermark.Equal(time.Date(2024, 3, 5, 11, 7, 33, 0, time.UTC)) {
					t.Errorf("untouched old key reads %v, ok=%v, err=%v after saving %q", old.Watermark, ok, err, tt.key)
				}
			}
			reread, ok, err := s.Load(ctx, tt.key)
			if err != nil || !ok || !reread.Watermark.Equal(next.Watermark) || reread.RunID != "golden" {
				t.Errorf("Load after Save = %+v, ok=%v, err=%v; want %+v", reread, ok, err, next)
			}
		})
	}
}

// TestLeftoverTempFiles checks crash safety: the temporary files a crashed
// writer leaves next to the state file do not disturb Load, and the next
// Save removes them.
func TestLeftoverTempFiles(t *testing.T) {
	tests := []struct {
		name      string
		withState bool
	}{
		{name: "beside a state file", withState: true},
		{name: "before any state file", withState: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			ctx := context.Background()
			want := state.State{Watermark: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), RunID: "kept"}
			if tt.withState {
				if err := mustNew(t, path, jsonfile.Options{}).Save(ctx, "k", want); err != nil {
					t.Fatal(err)
				}
			}
			// A writer killed between creating and renaming its file.
			leftovers := []string{".state.json.tmp-123456", ".state.json.tmp-999"}
			for _, name := range leftovers {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"k": {"version":1,"wat`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			unrelated := filepath.Join(dir, "state.json.bak")
			if err := os.WriteFile(unrelated, []byte("keep me"), 0o644); err != nil {
				t.Fatal(err)
			}
			s := mustNew(t, path, jsonfile.Options{})
			got, ok, err := s.Load(ctx, "k")
			if err != nil || ok != tt.withState || (ok && got.RunID != want.RunID) {
				t.Fatalf("Load with leftover temp files = %+v, ok=%v, err=%v; want ok=%v", got, ok, err, tt.withState)
			}
			if err := s.Save(ctx, "k2", want); err != nil {
				t.Fatalf("Save with leftover temp files: %v", err)
			}
			for _, name := range leftovers {
				if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("leftover %s still there after Save (stat err=%v)", name, err)
				}
			}
			if _, err := os.Stat(unrelated); err != nil {
				t.Errorf("Save removed an unrelated file: %v", err)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("Save left its own temporary file %s", e.Name())
				}
			}
		})
	}
}

// TestCorruptFileIsNotOverwritten checks that Save refuses to replace a
// file it cannot read, which would lose the other keys in it.
func TestCorruptFileIsNotOverwritten(t *testing.T) {
	tests := []struct{ name, content string }{
		{"truncated by the old tool's non-atomic write", `{"tracker_etl_default": "2024-03`},
		{"empty", ``},
		{"not an object", `["2024-03-05 14:07:33"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			s := mustNew(t, path, jsonfile.Options{})
			ctx := context.Background()
			if _, ok, err := s.Load(ctx, "k"); !errors.Is(err, state.ErrCorrupt) || ok {
				t.Errorf("Load of %q: ok=%v, err=%v; want ErrCorrupt", tt.content, ok, err)
			}
			err := s.Save(ctx, "k", state.State{Watermark: time.Now()})
			if !errors.Is(err, state.ErrCorrupt) {
				t.Errorf("Save over %q: err=%v, want ErrCorrupt", tt.content, err)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.content {
				t.Errorf("Save changed a corrupt file: %q, want %q", got, tt.content)
			}
		})
	}
}

func TestSaveCreatesDirectoryAndKeepsMode(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a", "b", "state.json")
	s := mustNew(t, path, jsonfile.Options{})
	if err := s.Save(ctx, "k", state.State{Watermark: time.Now()}); err != nil {
		t.Fatalf("Save into a missing directory: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("new state file: %v, err=%v; want mode 0644", fi.Mode(), err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "k", state.State{Watermark: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("after Save the mode is %v, err=%v; want the file's own 0600 kept", fi.Mode(), err)
	}
}

func TestNewRefusesEmptyPath(t *testing.T) {
	if _, err := jsonfile.New("", jsonfile.Options{}); err == nil {
		t.Fatal("New(\"\") = nil error, want one")
	}
}

const (
	helperPath  = "JSONFILE_TEST_HELPER_PATH"
	helperKey   = "JSONFILE_TEST_HELPER_KEY"
	helperSaves = "JSONFILE_TEST_HELPER_SAVES"
)

// TestCrossProcessSaves runs writers in separate processes (this test
// binary re-executed) that save their own keys into one file many times;
// without the file lock their read-modify-writes lose each other's keys.
func TestCrossProcessSaves(t *testing.T) {
	testenv.Integration(t, "re-executes the test binary")
	const procs, saves = 4, 30
	path := filepath.Join(t.TempDir(), "state.json")
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(),
			helperPath+"="+path,
			fmt.Sprintf("%s=proc-%d", helperKey, i),
			fmt.Sprintf("%s=%d", helperSaves, saves))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("writer %d output:\n%s", i, out.String())
			}
		})
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer process %d: %v", i, err)
		}
	}
	s := mustNew(t, path, jsonfile.Options{})
	for i := range procs {
		key := fmt.Sprintf("proc-%d", i)
		got, ok, err := s.Load(context.Background(), key)
		want := fmt.Sprintf("save-%d", saves-1)
		if err != nil || !ok || got.RunID != want {
			t.Errorf("Load(%q) after %d processes saved concurrently = %+v, ok=%v, err=%v; want RunID %q", key, procs, got, ok, err, want)
		}
	}
}

// TestMain turns this test binary into a writer process of
// TestCrossProcessSaves when re-executed with the helper variables set.
func TestMain(m *testing.M) {
	if path := os.Getenv(helperPath); path != "" {
		if err := runWriter(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runWriter saves its own key into the shared file many times.
func runWriter(path string) error {
	n, err := strconv.Atoi(os.Getenv(helperSaves))
	if err != nil {
		return err
	}
	s, err := jsonfile.New(path, jsonfile.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	for i := range n {
		st := state.State{Watermark: time.Now(), RunID: fmt.Sprintf("save-%d", i)}
		if err := s.Save(context.Background(), os.Getenv(helperKey), st); err != nil {
			return err
		}
	}
	return nil
}
