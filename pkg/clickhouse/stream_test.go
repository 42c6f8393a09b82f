package clickhouse

import (
	"context"
	"fmt"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// The issue rows of an Insert are sent block by block as they are added,
// yet none is in the issues table before Commit, even when the session
// asks the server to write every block at once (min_insert_block_size_*
// of 1): their INSERT squashes its blocks into one part written at its
// end (issuesInsertSettings), after the other tables' rows.
func TestIssueRowsLandAtCommit(t *testing.T) {
	c := newMigrated(t)
	ctx := ch.Context(context.Background(), ch.WithSettings(ch.Settings{
		"min_insert_block_size_rows": 1, "min_insert_block_size_bytes": 1}))
	in := c.BeginInsert()
	defer in.Abort()
	const batches, perBatch = 3, 1500 // more issues than one block (blockRows)
	for b := range batches {
		var rows []*wire.IssueRows
		for i := range perBatch {
			n := b*perBatch + i
			rows = append(rows, sample(fmt.Sprint(1000+n), fmt.Sprintf("DEV-%d", n), 1709535600123, t0, "gen-a", []string{"open"}, 1, 1))
		}
		if err := in.Add(ctx, rows); err != nil {
			t.Fatalf("Add batch %d: %v", b, err)
		}
	}
	count := func(table string) uint64 {
		t.Helper()
		n, err := c.Count(context.Background(), table)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The session's settings reach the other tables: their blocks are
	// written as they come, the issues table's would be too. Wait until
	// the server has written all of them.
	deadline := time.Now().Add(20 * time.Second)
	for count(c.tables.IssuesChangelog) < batches*perBatch {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d changelog rows in the table before Commit: the session's min_insert_block_size_rows did not apply, the test proves nothing",
				count(c.tables.IssuesChangelog), batches*perBatch)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(c.tables.Issues); n != 0 {
		t.Fatalf("%d issue rows in the table before Commit, want 0", n)
	}
	if err := in.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(c.tables.Issues); n != batches*perBatch {
		t.Errorf("%d issue rows after Commit, want %d", n, batches*perBatch)
	}
}

// The generation slots looked up ahead (Expect) put each new version in
// the slot its issue's current row does not use, like a look-up at Add:
// for the issues expected with and without a current row, and for one not
// expected (looked up by Add itself). Each issue then shows its new
// version, with its own child rows only.
func TestExpectedSlots(t *testing.T) {
	c := newMigrated(t)
	ctx := context.Background()
	v1 := []*wire.IssueRows{
		sample("1", "DEV-1", 10, t0, "gen-a", []string{"open"}, 1, 1),
		sample("2", "DEV-2", 10, t0, "gen-a", []string{"open"}, 1, 1),
	}
	if err := c.InsertRows(ctx, v1); err != nil {
		t.Fatal(err)
	}
	in := c.BeginInsert()
	defer in.Abort()
	in.Expect(ctx, []string{"1", "3", "1"})
	v2 := []*wire.IssueRows{
		sample("1", "DEV-1", 20, t0, "gen-a", []string{"open", "done"}, 1, 1),
		sample("2", "DEV-2", 20, t0, "gen-a", []string{"open", "done"}, 1, 1),
		sample("3", "DEV-3", 20, t0, "gen-a", []string{"open", "done"}, 1, 1),
	}
	if err := in.Add(ctx, v2); err != nil {
		t.Fatal(err)
	}
	if err := in.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint8{"1": 1, "2": 1, "3": 0}
	got, err := c.currentSlots(ctx, []string{"1", "2", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("current slots %v, want %v", got, want)
	}
	rows, err := c.conn.Query(ctx, "SELECT issue_id, count() FROM "+c.qualified(c.tables.IssueMetrics+"_view")+" GROUP BY issue_id ORDER BY issue_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var metrics []string
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		metrics = append(metrics, fmt.Sprintf("%s:%d", id, n))
	}
	if fmt.Sprint(metrics) != "[1:2 2:2 3:2]" {
		t.Errorf("metric rows per issue in the view %v, want [1:2 2:2 3:2] (the new versions' only)", metrics)
	}
}
