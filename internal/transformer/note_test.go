package transformer

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// TestUntypedStatusLoggedOncePerRun: METRICS.md §2 — a status without a
// type is logged once per run, however many issues pass through it, and
// again in the next run.
func TestUntypedStatusLoggedOncePerRun(t *testing.T) {
	var buf bytes.Buffer
	tr := &Transformer{deps: Deps{Log: slog.New(slog.NewTextHandler(&buf, nil))}}
	snap := &wire.IssueSnapshot{IssueKey: "Q-1"}
	res := Result{Rows: &wire.IssueRows{}, UnknownStatuses: []string{"triage", "limbo"}}
	lines := func() int { return strings.Count(buf.String(), "status without a type") }
	for range 3 {
		tr.note(snap, res)
	}
	tr.note(snap, Result{Rows: &wire.IssueRows{}, UnknownStatuses: []string{"triage"}})
	if n := lines(); n != 2 {
		t.Fatalf("first run: %d lines, want one per status (2):\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "EXPORTER_STATUS_TYPES=limbo:") {
		t.Errorf("the line does not say how to give the status a type:\n%s", buf.String())
	}
	tr.EndPass()
	tr.note(snap, res)
	tr.note(snap, res)
	if n := lines(); n != 4 {
		t.Fatalf("after the next run: %d lines, want 4 (each status once more)", n)
	}
}
