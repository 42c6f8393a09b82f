package transformer

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ (snapshots from the emulator, rows from Transform)")

// goldenSnapshot is a snapshot as a person reads it: the issue and the
// changelog entries as JSON objects rather than escaped strings.
type goldenSnapshot struct {
	IssueID   string                 `json:"issue_id"`
	IssueKey  string                 `json:"issue_key"`
	UpdatedAt time.Time              `json:"updated_at"`
	Version   int64                  `json:"version"`
	Issue     json.RawMessage        `json:"issue"`
	Changelog []json.RawMessage      `json:"changelog"`
	Users     map[string]wire.User   `json:"users"`
	Statuses  map[string]wire.Status `json:"statuses"`
	Comments  []json.RawMessage      `json:"comments,omitempty"`
	Worklogs  []json.RawMessage      `json:"worklogs,omitempty"`
	Links     []json.RawMessage      `json:"links,omitempty"`
	Parts     wire.Part              `json:"parts,omitempty"`
}

// goldenCases are emulator issues of every shape Transform meets, by
// case name: the worked example of METRICS.md §7, a long history, moves,
// reopen loops, deleted users, unicode, a cancelled issue, comments,
// worklogs and links.
var goldenCases = map[string]func(em *trackertest.Server) string{
	"metrics_example": func(*trackertest.Server) string { return "METRICS-1" },
	"long_history":    func(em *trackertest.Server) string { return em.IssueKeys()[50] },
	"moved": func(em *trackertest.Server) string {
		return pick(em, func(i trackertest.IssueInfo) bool { return len(i.Aliases) > 0 })
	},
	"reopened": func(em *trackertest.Server) string {
		return pick(em, func(i trackertest.IssueInfo) bool { return i.StatusType == "inProgress" })
	},
	"cancelled": func(em *trackertest.Server) string {
		return pick(em, func(i trackertest.IssueInfo) bool { return i.StatusType == "cancelled" })
	},
	"open_new": func(em *trackertest.Server) string {
		return pick(em, func(i trackertest.IssueInfo) bool { return i.StatusType == "new" })
	},
	"comments_worklogs": func(em *trackertest.Server) string {
		return pick(em, func(i trackertest.IssueInfo) bool { return len(em.Comments(i.Key)) > 1 && len(em.Worklogs(i.Key)) > 1 })
	},
	"comments_links": func(em *trackertest.Server) string {
		return pick(em, func(i trackertest.IssueInfo) bool { return len(em.Comments(i.Key)) > 0 && len(em.Links(i.Key)) > 0 })
	},
}

// pick is the first emulator issue that matches.
func pick(em *trackertest.Server, ok func(trackertest.IssueInfo) bool) string {
	for _, k := range em.IssueKeys() {
		if info, _ := em.Issue(k); ok(info) {
			return k
		}
	}
	panic("no emulator issue matches")
}

var goldenAsOf = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// TestTransformGolden compares Transform's rows for each snapshot of
// testdata/<case>/snapshot.json with testdata/<case>/rows.json. With
// -update the snapshots are taken again from the emulator and the rows
// rewritten: review the diff.
func TestTransformGolden(t *testing.T) {
	if *update {
		em, c := emulator(t, 120)
		for name, key := range goldenCases {
			writeGolden(t, name, snapshot(t, em, c, key(em)))
		}
	}
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "snapshot.json"))
	if err != nil || len(dirs) < len(goldenCases) {
		t.Fatalf("%d golden cases in testdata (%v): run go test -run TestTransformGolden -update", len(dirs), err)
	}
	r := rules(t, 9*time.Hour, 22*time.Hour)
	for _, path := range dirs {
		name := filepath.Base(filepath.Dir(path))
		t.Run(name, func(t *testing.T) {
			snap := readGolden(t, path)
			res, err := Transform(snap, r, goldenAsOf)
			if err != nil {
				t.Fatal(err)
			}
			got := renderRows(t, res)
			want := filepath.Join(filepath.Dir(path), "rows.json")
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, b) {
				t.Errorf("rows of %s differ from %s (go test -run TestTransformGolden -update, then review the diff):\n%s", name, want, firstDiff(string(b), string(got)))
			}
		})
	}
}

func writeGolden(t *testing.T, name string, s *wire.IssueSnapshot) {
	t.Helper()
	g := goldenSnapshot{IssueID: s.IssueID, IssueKey: s.IssueKey, UpdatedAt: s.UpdatedAt, Version: s.Version,
		Issue: s.Issue, Users: s.Users, Statuses: s.Statuses}
	for _, e := range s.Changelog {
		g.Changelog = append(g.Changelog, e)
	}
	for _, part := range []struct {
		from [][]byte
		into *[]json.RawMessage
	}{{s.Comments, &g.Comments}, {s.Worklogs, &g.Worklogs}, {s.Links, &g.Links}} {
		for _, it := range part.from {
			*part.into = append(*part.into, it)
		}
	}
	g.Parts = s.Parts
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "snapshot.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGolden(t *testing.T, path string) *wire.IssueSnapshot {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenSnapshot
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	s := &wire.IssueSnapshot{IssueID: g.IssueID, IssueKey: g.IssueKey, UpdatedAt: g.UpdatedAt, Version: g.Version,
		Users: g.Users, Statuses: g.Statuses}
	var compact bytes.Buffer
	if err := json.Compact(&compact, g.Issue); err != nil {
		t.Fatal(err)
	}
	s.Issue = compact.Bytes()
	s.Changelog = compactAll(t, g.Changelog)
	s.Comments, s.Worklogs, s.Links, s.Parts = compactAll(t, g.Comments), compactAll(t, g.Worklogs), compactAll(t, g.Links), g.Parts
	return s
}

// compactAll is the items as compact JSON.
func compactAll(t *testing.T, items []json.RawMessage) [][]byte {
	t.Helper()
	var out [][]byte
	for _, e := range items {
		var c bytes.Buffer
		if err := json.Compact(&c, e); err != nil {
			t.Fatal(err)
		}
		out = append(out, c.Bytes())
	}
	return out
}

// renderRows is the stable, diff-friendly form of a result: indented JSON
// in struct order, times in RFC 3339 UTC, the raw issue by its length.
func renderRows(t *testing.T, res Result) []byte {
	t.Helper()
	rows := *res.Rows
	rows.Issue.Raw = fmt.Sprintf("<%d bytes of issue JSON>", len(rows.Issue.Raw))
	out := struct {
		Anomalies       int            `json:"anomalies"`
		UnknownUsers    int            `json:"unknown_users"`
		UnknownStatuses []string       `json:"unknown_statuses"`
		Rows            wire.IssueRows `json:"rows"`
	}{res.Anomalies, res.UnknownUsers, res.UnknownStatuses, rows}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// firstDiff shows the first line where two texts differ, with context.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n want %s\n  got %s", i+1, wl, gl)
		}
	}
	return "(identical lines, different endings)"
}
