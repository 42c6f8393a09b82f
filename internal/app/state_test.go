package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/state"
)

// TestOpenStateReadsOldQueryFormat starts from the old tool's .env and
// state: its watermark was written with EXPORTER_DATETIME_QUERY_FORMAT in
// EXPORTER_TRACKER__TIMEZONE (default Europe/Moscow), so a custom format
// must reach the store, which reads "30.01.2024 10:00:00" as the instant
// the default format writes "2024-01-30 10:00:00".
func TestOpenStateReadsOldQueryFormat(t *testing.T) {
	t.Chdir(t.TempDir())
	want := time.Date(2024, 1, 30, 7, 0, 0, 0, time.UTC)
	tests := []struct{ format, stored string }{
		{"%d.%m.%Y %H:%M:%S", "30.01.2024 10:00:00"},
		{"", "2024-01-30 10:00:00"}, // the default format
		{"%d.%m.%Y %H:%M:%S", "2024-01-30 10:00:00"},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, []byte(`{"tracker_etl_default": "`+tt.stored+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		env := []string{"EXPORTER_STATEFUL=true", "EXPORTER_STATE__JSONFILE_PATH=" + path}
		if tt.format != "" {
			env = append(env, "EXPORTER_DATETIME_QUERY_FORMAT="+tt.format)
		}
		cfg, err := config.Load(env, "")
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		s, err := OpenState(ctx, cfg)
		if err != nil {
			t.Fatalf("OpenState(%q): %v", env, err)
		}
		got, ok, err := s.Load(ctx, state.DefaultKey)
		_ = s.Close()
		if err != nil || !ok || !got.Watermark.Equal(want) {
			t.Errorf("old state %q with format %q: Load = %v, ok=%v, err=%v; want %v", tt.stored, tt.format, got.Watermark, ok, err, want)
		}
	}
}
