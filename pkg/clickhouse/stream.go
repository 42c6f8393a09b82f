package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Insert is one INSERT per table fed with the rows of several batches, so
// that a loader pays ClickHouse's cost of an INSERT once for many of them:
// over the native protocol each batch's rows go to the server as a block
// when they are added, and the server squashes the blocks into parts. On
// ClickHouse 18.16, 200 000 rows of a 42-column table took 2.2-3.3 s as 40
// blocks of one INSERT and 6.0-8.4 s as 40 INSERTs. Over HTTP the client
// holds the rows until Commit (clickhouse-go streams only natively; see
// StreamsBlocks).
//
// Commit ends the statuses' and the issue-derived tables' INSERTs first
// and the issues table's last: once an issue's row is in, its other rows
// are (the views' slots rely on it). The issue rows are sent block by
// block like the others, but their INSERT asks the server to squash all
// of its blocks into one part, written when the INSERT ends
// (issuesInsertSettings), so they become visible only then, whatever the
// server's min_insert_block_size_* are; the loader's memory does not hold
// them (an Insert may span thousands of a replay's issues, whose rows
// with their JSON took it past 64 MB). On several shards they are sent
// at Commit, after the other tables' INSERTs ended. An issue may appear
// in one batch of an Insert only (Contains), so that no table has to
// choose between two versions of one issue. An Insert holds a connection
// per table it writes; it is not safe for concurrent use.
type Insert struct {
	c      *Client
	open   map[string]*openTable // by table
	opened []string              // the tables, in the order they were opened
	issues map[string]bool
	rows   int
	// holding is about the bytes of the rows held until Commit.
	holding int
	// ahead is the look-up of generation slots started by Expect (nil:
	// none).
	ahead *slotLookup
}

// slotLookup is a look-up of the generation slots of some issues that
// runs in the background (Insert.Expect).
type slotLookup struct {
	ids    map[string]bool // the issues looked up
	cancel context.CancelFunc
	done   chan struct{} // closed when slots and err are set
	slots  map[string]uint8
	err    error
}

// Expect tells the Insert which issues the next Adds will bring (those of
// a fetch not added yet), so that it looks up their generation slots at
// once, in the background, while the caller decodes them: on a loaded
// machine each look-up took about 10 ms, one per Add. Issues already in
// the Insert are left out (they cannot be added again). Add uses the
// look-up for the issues it covers and looks up the others itself. The
// look-up belongs to this Insert: the slots it read stay true until an
// INSERT of these issues ends, which no Add of this Insert can be (see
// Contains).
func (in *Insert) Expect(ctx context.Context, issueIDs []string) {
	in.stopAhead()
	ids := make([]string, 0, len(issueIDs))
	lk := &slotLookup{ids: make(map[string]bool, len(issueIDs)), done: make(chan struct{})}
	for _, id := range issueIDs {
		if !in.issues[id] && !lk.ids[id] {
			lk.ids[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	ctx, lk.cancel = context.WithCancel(ctx)
	go func() {
		defer close(lk.done)
		lk.slots, lk.err = in.c.currentSlots(ctx, ids)
	}()
	in.ahead = lk
}

// stopAhead ends the look-up started by Expect, if any.
func (in *Insert) stopAhead() {
	if in.ahead != nil {
		in.ahead.cancel()
		<-in.ahead.done
		in.ahead = nil
	}
}

// slots returns the generation slots of the current rows of ids (see
// currentSlots): from the look-up of Expect for those it covers, from the
// server for the others.
func (in *Insert) slots(ctx context.Context, ids []string) (map[string]uint8, error) {
	lk := in.ahead
	if lk == nil {
		return in.c.currentSlots(ctx, ids)
	}
	select {
	case <-lk.done:
	case <-ctx.Done():
		return nil, newError("insert", in.c.tables.Issues, ctx.Err())
	}
	if lk.err != nil {
		in.ahead = nil
		return nil, lk.err
	}
	var missing []string
	for _, id := range ids {
		if !lk.ids[id] {
			missing = append(missing, id)
		}
	}
	out := make(map[string]uint8, len(ids))
	if len(missing) > 0 {
		got, err := in.c.currentSlots(ctx, missing)
		if err != nil {
			return nil, err
		}
		out = got
	}
	for _, id := range ids {
		if slot, ok := lk.slots[id]; ok {
			out[id] = slot
		}
	}
	return out, nil
}

// openTable is the INSERT of one table.
type openTable struct {
	batch driver.Batch
	rows  int
	start time.Time
}

// BeginInsert starts an Insert; nothing is sent before the first Add.
func (c *Client) BeginInsert() *Insert {
	return &Insert{c: c, open: map[string]*openTable{}, issues: map[string]bool{}}
}

// StreamsBlocks reports whether an Insert sends each batch as it is added
// (native protocol) rather than holding all of them until Commit (HTTP).
func (c *Client) StreamsBlocks() bool { return c.opts.Protocol == ch.Native }

// Contains reports whether a batch added had rows of the issue.
func (in *Insert) Contains(issueID string) bool { return in.issues[issueID] }

// Rows is the number of rows added, all tables.
func (in *Insert) Rows() int { return in.rows }

// Holding is about how many bytes of the rows added the client holds until
// Commit: the issue rows on several shards, else nothing.
func (in *Insert) Holding() int { return in.holding }

// Add appends one batch: of several messages of an issue the latest wins
// (latestPerIssue), its rows go to the generation slot the issue's
// current row does not use. On an error the Insert is aborted.
func (in *Insert) Add(ctx context.Context, rows []*wire.IssueRows) (err error) {
	defer func() {
		if err != nil {
			in.Abort()
		}
	}()
	c := in.c
	rows, err = latestPerIssue(rows)
	if err != nil {
		return err
	}
	sets := childSets()
	ids := make([]string, len(rows))
	for i, env := range rows {
		if err := validIssueIDs(env, sets); err != nil {
			return err
		}
		if in.issues[env.IssueID] {
			return fmt.Errorf("issue %s is already in this insert", env.IssueID)
		}
		ids[i] = env.IssueID
	}
	current, err := in.slots(ctx, ids)
	if err != nil {
		return err
	}
	issues := make([]issueRec, 0, len(rows))
	for _, env := range rows {
		slot := freeSlot(current, env.IssueID)
		issues = append(issues, issueRec{env: env, row: &env.Issue, id: env.IssueID, slot: slot})
		for _, s := range sets {
			s.add(env, env.IssueID, slot)
		}
	}
	if err := addTable(ctx, in, c.tables.Statuses, statusColumns(), statusRecs(rows), true); err != nil {
		return err
	}
	for _, s := range sets {
		if err := s.addTo(ctx, in); err != nil {
			return err
		}
	}
	// The issues table's part is written at Commit (see Insert). An
	// INSERT into a Distributed table (several shards) does not squash
	// (insert_distributed_sync): there the issue rows wait in memory.
	if err := addTable(ctx, in, c.tables.Issues, customIssueColumns(issueColumns(), c.custom), issues, !c.cluster.sharded); err != nil {
		return err
	}
	in.hold(issues)
	for _, id := range ids {
		in.issues[id] = true
	}
	return nil
}

// hold counts the issue rows the client keeps until Commit (on several
// shards; see Add): about their JSON and a few hundred bytes for the
// other columns.
func (in *Insert) hold(issues []issueRec) {
	if !in.c.cluster.sharded {
		return
	}
	for _, r := range issues {
		in.holding += len(r.row.Raw) + len(r.row.Title) + 512
	}
}

// freeSlot is the generation slot that the current row of the issue id
// does not use: 1 when it is in slot 0, else 0 (also when current, the
// slots of the issues that have a current row, lacks id).
func freeSlot(current map[string]uint8, id string) uint8 {
	if cur, ok := current[id]; ok && cur == 0 {
		return 1
	}
	return 0
}

// Commit ends every INSERT in the order they were opened (statuses, then
// the issue-derived tables as Add opens them), the issues table's last. On an error the
// Insert is aborted; some tables may hold the rows already, which a
// repeated insert replaces (ReplacingMergeTree).
func (in *Insert) Commit(ctx context.Context) error {
	defer in.Abort()
	c := in.c
	order := make([]string, 0, len(in.opened))
	for _, table := range in.opened {
		if table != c.tables.Issues {
			order = append(order, table)
		}
	}
	for _, table := range append(order, c.tables.Issues) {
		t := in.open[table]
		if t == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return newError("insert", table, err)
		}
		if err := t.batch.Send(); err != nil {
			return newError("insert", table, fmt.Errorf("send %d rows: %w", t.rows, err))
		}
		if c.onInsert != nil {
			c.onInsert(table, t.rows, time.Since(t.start))
		}
		delete(in.open, table)
	}
	return nil
}

// Abort drops the INSERTs not ended yet.
func (in *Insert) Abort() {
	in.stopAhead()
	for table, t := range in.open {
		if !t.batch.IsSent() {
			_ = t.batch.Abort()
		}
		delete(in.open, table)
	}
	in.opened = in.opened[:0]
}

// addTable appends rows to table's INSERT, opening it on first use, and
// sends them as a block when flush is set.
func addTable[R any](ctx context.Context, in *Insert, table string, cols []column[R], rows []R, flush bool) error {
	if len(rows) == 0 {
		return nil
	}
	t, err := in.table(ctx, table, len(cols), func() string {
		names := make([]string, len(cols))
		for i, cl := range cols {
			names[i] = "`" + cl.name + "`"
		}
		return strings.Join(names, ", ")
	})
	if err != nil {
		return err
	}
	in.rows += len(rows)
	if !flush {
		return appendColumns(t, table, cols, rows)
	}
	// Blocks of at most blockRows rows: a connection's buffers grow to
	// its largest block and an Insert holds one connection per table.
	for len(rows) > 0 {
		n := min(len(rows), blockRows)
		if err := appendColumns(t, table, cols, rows[:n]); err != nil {
			return err
		}
		if err := t.batch.Flush(); err != nil {
			return newError("insert", table, fmt.Errorf("send a block of %d rows: %w", n, err))
		}
		rows = rows[n:]
	}
	return nil
}

// issuesInsertSettings make the server squash every block of an INSERT
// into the issues table into one part, written when the INSERT ends (see
// Insert): a block is written as soon as the rows or the bytes squashed
// reach these (ClickHouse's defaults: 1 048 576 rows, 256 MiB), far more
// than an Insert sends (streamBatches × BatchRows rows of all tables).
var issuesInsertSettings = ch.Settings{
	"min_insert_block_size_rows":  1 << 40,
	"min_insert_block_size_bytes": 1 << 50,
}

// blockRows is the most rows sent as one block by Add. The column
// buffers of each table's connection, which an Insert keeps for its life,
// grow to its largest block: at 2 048 rows (1 024 too) they held the
// loader's heap so near the stages' soft memory limit (stagegc) that it
// collected garbage all the time, 0.58-0.66 CPU-ms per issue in
// BenchmarkReplayProcesses; 0.37 at 512 (256 and 128 gained nothing
// more). The server squashes the blocks of an INSERT anyway; the
// one-process replay (BenchmarkReplay) measured the same at 512 and
// 2 048.
const blockRows = 512

// appendColumns appends rows to the INSERT's block, column by column.
func appendColumns[R any](t *openTable, table string, cols []column[R], rows []R) error {
	for i, cl := range cols {
		if err := t.batch.Column(i).Append(cl.values(rows)); err != nil {
			return newError("insert", table, fmt.Errorf("column %s: %w", cl.name, err))
		}
	}
	t.rows += len(rows)
	return nil
}

// table returns table's INSERT, opening it with the column names that
// names returns, checked against the server's count of columns.
func (in *Insert) table(ctx context.Context, table string, ncols int, names func() string) (*openTable, error) {
	if t := in.open[table]; t != nil {
		return t, nil
	}
	c := in.c
	query := "INSERT INTO " + c.qualified(c.writeTable(table)) + " (" + names() + ")"
	start := time.Now()
	if table == c.tables.Issues {
		ctx = ch.Context(ctx, ch.WithSettings(issuesInsertSettings))
	}
	batch, err := c.conn.PrepareBatch(ctx, query)
	if err != nil {
		return nil, newError("insert", table, fmt.Errorf("prepare: %w", err))
	}
	if got := len(batch.Columns()); got != ncols {
		_ = batch.Abort()
		return nil, &Error{Op: "insert", Table: table, Permanent: true,
			Err: fmt.Errorf("server expects %d columns, the client sends %d", got, ncols)}
	}
	t := &openTable{batch: batch, start: start}
	in.open[table] = t
	in.opened = append(in.opened, table)
	return t, nil
}

// insertTable sends rows to table in one INSERT.
func insertTable[R any](ctx context.Context, c *Client, table string, cols []column[R], rows []R) error {
	in := c.BeginInsert()
	if err := addTable(ctx, in, table, cols, rows, false); err != nil {
		in.Abort()
		return err
	}
	return in.Commit(ctx)
}
