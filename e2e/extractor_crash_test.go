package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// TestExtractorKill9ThenRestart kills the extractor mid-run and restarts
// it: every issue ends up in the raw stream, and the raw stream holds one
// snapshot per issue (duplicates were dropped by message id).
func TestExtractorKill9ThenRestart(t *testing.T) {
	f := newFixture(t, 1500)
	statePath := filepath.Join(t.TempDir(), "state.json")
	for i, kv := range f.env {
		if strings.HasPrefix(kv, "EXPORTER_TRACKER__SEARCH__QUERY=") {
			f.env[i] = "EXPORTER_TRACKER__SEARCH__QUERY="
		}
	}
	f.env = append(f.env,
		"EXPORTER_STATEFUL=true",
		"EXPORTER_STATEFUL_INITIAL_RANGE=1500d",
		"EXPORTER_STATE__JSONFILE_PATH="+statePath,
		"EXPORTER_TRACKER__CONCURRENCY=4",
		"EXPORTER_TRACKER__RATE_LIMIT=150",
	)
	ctx := context.Background()
	conn, err := stream.Connect(ctx, f.nats, "crash-test")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rawCount := func() uint64 {
		n, err := stream.CountUnder(ctx, conn.JS, wire.RawStream, wire.RawIssuePrefix)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	cmd := f.command("extractor", "--run-once")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	// Kill it once it has checkpointed a watermark (every 5 s) mid-run.
	for rawCount() < 400 || !fileExists(statePath) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("extractor published only %d snapshots in 2 minutes", rawCount())
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	killedAt := rawCount()
	if killedAt >= uint64(f.em.IssueCount()) {
		t.Fatalf("the extractor finished before it was killed (%d snapshots)", killedAt)
	}
	requests := f.em.Requests("changelog")

	code, out := f.run("extractor", "--run-once")
	if code != 0 {
		t.Fatalf("restarted extractor exit %d:\n%s", code, out)
	}
	if got, want := rawCount(), uint64(f.em.IssueCount()); got != want {
		t.Fatalf("raw stream holds %d snapshots after the restart, want one per issue: %d", got, want)
	}
	again := f.em.Requests("changelog") - requests
	t.Logf("killed after %d snapshots; the restart fetched %d changelogs for %d issues (watermark checkpoints)", killedAt, again, f.em.IssueCount())
	if again >= int64(f.em.IssueCount()) {
		t.Errorf("the restart refetched everything (%d changelog requests): the watermark was not checkpointed", again)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
