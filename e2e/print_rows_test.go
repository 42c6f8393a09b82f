package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUploadDisabledPrintsRows: EXPORTER_CLICKHOUSE__ENABLE_UPLOAD=false
// prints every row as a JSON line instead of loading, as the old tool did.
func TestUploadDisabledPrintsRows(t *testing.T) {
	f := newFixture(t, 80)
	env := []string{}
	for _, kv := range f.env {
		if !strings.HasPrefix(kv, "EXPORTER_NATS__URL=") {
			env = append(env, kv)
		}
	}
	env = append(env, "EXPORTER_CLICKHOUSE__ENABLE_UPLOAD=false")
	cmd := exec.Command(filepath.Join(binaries(t), "tracker-exporter"), "--run-once")
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run-once: %v\n%s", err, stderr.String())
	}
	tables := map[string]int{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var line struct {
			Table string          `json:"table"`
			Row   json.RawMessage `json:"row"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON row line: %.200s", sc.Text())
		}
		tables[line.Table]++
	}
	if tables["issues"] != f.em.IssueCount() || tables["issues_changelog"] != int(f.wantChanges()) || tables["issue_metrics"] == 0 {
		t.Errorf("printed rows per table %v; want %d issues and %d changelog rows", tables, f.em.IssueCount(), f.wantChanges())
	}
	if f.tableExists("issues") {
		t.Errorf("with upload disabled nothing may be written to ClickHouse")
	}
}
