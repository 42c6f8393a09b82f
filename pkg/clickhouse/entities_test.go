package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// withEntities adds comments, worklogs, links and sprint stays to rows.
func withEntities(r *wire.IssueRows, tag string) *wire.IssueRows {
	r.Comments = []wire.CommentRow{
		{CommentID: "c1-" + tag, Author: "a@example.com", CreatedAt: t0, UpdatedAt: t0, Text: "текст " + tag, TextLength: 6 + uint32(len(tag)), Type: "standard", Transport: "internal"},
		{CommentID: "c0", UpdatedAt: t0, Deleted: true},
	}
	r.Worklogs = []wire.WorklogRow{
		{WorklogID: "w1", Author: "a@example.com", Start: t0, Duration: "PT1H30M", Seconds: 5400},
		{WorklogID: "w2", Author: "b@example.com", Start: t0.Add(24 * time.Hour), Duration: "P1D", Seconds: 28800},
	}
	r.Links = []wire.LinkRow{
		{LinkID: "l1", LinkedIssueKey: "DEV-9", LinkedIssueID: "900", TypeID: "depends", Direction: "outward", Relationship: "depends on"},
	}
	r.Sprints = []wire.IssueSprintRow{{SprintID: "s1", SprintName: "Sprint 1", AddedAt: t0, Current: true}}
	r.Parts = wire.PartComments | wire.PartWorklogs | wire.PartLinks
	return r
}

func count(t *testing.T, c *Client, query string) uint64 {
	t.Helper()
	var n uint64
	if err := c.Conn().QueryRow(context.Background(), "SELECT toUInt64(count()) FROM "+query).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", query, err)
	}
	return n
}

func strs(t *testing.T, c *Client, query string) []string {
	t.Helper()
	rows, err := c.Conn().Query(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestEntityTables loads the rest of an issue's data, replaces it with a
// newer snapshot, hides a tombstoned issue and reads the analytic views.
func TestEntityTables(t *testing.T) {
	c := newMigrated(t)
	ctx := context.Background()
	db := "`" + c.db + "`."
	a := withEntities(sample("100", "DEV-1", 1000, t0, "g", []string{"open"}, 1, 1), "v1")
	b := withEntities(sample("200", "DEV-2", 1000, t0, "g", []string{"open"}, 1, 1), "v1")
	b.Links = append(b.Links, wire.LinkRow{LinkID: "l2", LinkedIssueKey: "DEV-1", LinkedIssueID: "100", TypeID: "depends", Direction: "inward", Relationship: "is dependent by"})
	if err := c.InsertRows(ctx, []*wire.IssueRows{a, b}); err != nil {
		t.Fatal(err)
	}
	for view, want := range map[string]uint64{"issue_comments_view": 4, "issue_worklogs_view": 4, "issue_links_view": 3, "issue_sprints_view": 2} {
		if n := count(t, c, db+view); n != want {
			t.Errorf("%s: %d rows, want %d", view, n, want)
		}
	}
	// A newer snapshot of DEV-1 without the worklog w2 and another comment
	// text: the views show only the new rows.
	a2 := withEntities(sample("100", "DEV-1", 2000, t0, "g", []string{"open"}, 1, 1), "v2")
	a2.Worklogs = a2.Worklogs[:1]
	if err := c.InsertRows(ctx, []*wire.IssueRows{a2}); err != nil {
		t.Fatal(err)
	}
	if got := strs(t, c, "SELECT comment_id FROM "+db+"issue_comments_view WHERE issue_id = '100' ORDER BY comment_id"); !slices.Equal(got, []string{"c0", "c1-v2"}) {
		t.Errorf("comments of DEV-1 after the update: %v", got)
	}
	if got := strs(t, c, "SELECT concat(issue_key, ':', toString(spent_seconds)) FROM "+db+"issue_worklogs_by_issue ORDER BY issue_key"); !slices.Equal(got, []string{"DEV-1:5400", "DEV-2:34200"}) {
		t.Errorf("spent per issue: %v", got)
	}
	if got := strs(t, c, "SELECT concat(author, ':', toString(day), ':', toString(spent_seconds)) FROM "+db+"issue_worklogs_by_person_day ORDER BY author, day"); !slices.Equal(got, []string{
		"a@example.com:2024-03-04:10800", "b@example.com:2024-03-05:28800"}) {
		t.Errorf("spent per person and day: %v", got)
	}
	if got := strs(t, c, "SELECT concat(queue, ':', toString(week), ':', toString(spent_seconds)) FROM "+db+"issue_worklogs_by_queue_week"); !slices.Equal(got, []string{"DEV:2024-03-04:39600"}) {
		t.Errorf("spent per queue and week: %v", got)
	}
	// DEV-2 is blocked by DEV-9 (its own link) and DEV-1 by DEV-9; DEV-2's
	// inward link says DEV-1 depends on DEV-2.
	if got := strs(t, c, "SELECT concat(blocked_issue_key, '<', blocking_issue_key) FROM "+db+"issue_links_blocking ORDER BY blocked_issue_key, blocking_issue_key"); !slices.Equal(got, []string{
		"DEV-1<DEV-2", "DEV-1<DEV-9", "DEV-2<DEV-9"}) {
		t.Errorf("blocking pairs: %v", got)
	}

	// A tombstone: the same snapshot marked deleted.
	gone := withEntities(sample("200", "DEV-2", 1000, t0.Add(time.Hour), "g", []string{"open"}, 1, 1), "v1")
	gone.Issue.IsDeleted, gone.Issue.DeletedDetectedAt = true, t0.Add(time.Hour)
	if err := c.InsertRows(ctx, []*wire.IssueRows{gone}); err != nil {
		t.Fatal(err)
	}
	if got := strs(t, c, "SELECT issue_key FROM "+db+"issues_view ORDER BY issue_key"); !slices.Equal(got, []string{"DEV-1"}) {
		t.Errorf("issues_view after the tombstone: %v", got)
	}
	if got := strs(t, c, "SELECT concat(issue_key, ':', toString(is_deleted), ':', toString(toUInt32(deleted_detected_at))) FROM "+db+"issues_all_view ORDER BY issue_key"); !slices.Equal(got, []string{
		"DEV-1:0:0", fmt.Sprintf("DEV-2:1:%d", t0.Add(time.Hour).Unix())}) {
		t.Errorf("issues_all_view: %v", got)
	}
	for _, view := range []string{"issue_metrics_view", "issue_status_intervals_view", "issues_changelog_view", "issue_comments_view", "issue_worklogs_view", "issue_links_view", "issue_sprints_view"} {
		if n := count(t, c, db+view+" WHERE issue_id = '200'"); n != 0 {
			t.Errorf("%s shows %d rows of the deleted issue", view, n)
		}
	}
	if n := count(t, c, db+"issue_links_blocking WHERE blocked_issue_key = 'DEV-2'"); n != 0 {
		t.Errorf("the deleted issue is still blocked in issue_links_blocking")
	}
}

func TestInsertDirectory(t *testing.T) {
	c := newMigrated(t)
	ctx := context.Background()
	db := "`" + c.db + "`."
	first := &wire.DirectoryRows{SourceVersion: 1,
		Boards:  []wire.BoardRow{{BoardID: "1", Name: "Team"}, {BoardID: "2", Name: "Old"}},
		Sprints: []wire.SprintRow{{SprintID: "10", Name: "S1", BoardID: "1", BoardName: "Team", Status: "released", StartDate: t0, EndDate: t0.Add(14 * 24 * time.Hour)}, {SprintID: "20", BoardID: "2"}}}
	if err := c.InsertDirectory(ctx, first); err != nil {
		t.Fatal(err)
	}
	// The board 2 and its sprint were deleted: the next directory lacks them.
	second := &wire.DirectoryRows{SourceVersion: 2,
		Boards:  []wire.BoardRow{{BoardID: "1", Name: "Team A"}},
		Sprints: []wire.SprintRow{{SprintID: "10", Name: "S1", BoardID: "1", BoardName: "Team A", Status: "released"}, {SprintID: "11", Name: "S2", BoardID: "1", Status: "in_progress"}}}
	if err := c.InsertDirectory(ctx, second); err != nil {
		t.Fatal(err)
	}
	if got := strs(t, c, "SELECT concat(board_id, ':', name) FROM "+db+"boards_view ORDER BY board_id"); !slices.Equal(got, []string{"1:Team A"}) {
		t.Errorf("boards_view: %v", got)
	}
	if got := strs(t, c, "SELECT concat(sprint_id, ':', board_name, ':', toString(status)) FROM "+db+"sprints_view ORDER BY sprint_id"); !slices.Equal(got, []string{"10:Team A:released", "11::in_progress"}) {
		t.Errorf("sprints_view: %v", got)
	}
}
