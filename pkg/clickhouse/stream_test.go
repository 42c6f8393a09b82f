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
