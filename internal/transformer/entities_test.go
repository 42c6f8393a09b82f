package transformer

import (
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// entitySnapshot is an issue with two comments (one more was removed),
// worklogs (one with a duration that does not parse), links both ways and
// a sprint history.
func entitySnapshot() *wire.IssueSnapshot {
	ref := func(kind, id, display string) string {
		return `{"self":"https://api/v2/` + kind + `/` + id + `","id":"` + id + `","display":"` + display + `"}`
	}
	ann, bob := ref("users", "1", "Ann"), ref("users", "2", "Bob")
	s1, s2 := ref("sprints", "11", "Sprint 1"), ref("sprints", "12", "Sprint 2")
	return &wire.IssueSnapshot{
		IssueID: "i1", IssueKey: "Q-1", UpdatedAt: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
		Issue: []byte(`{"id":"i1","key":"Q-1","queue":{"self":"x","id":"1","key":"Q","display":"Q"},
			"status":{"self":"x","id":"1","key":"open","display":"Open"},"statusStartTime":"2025-01-01T10:00:00.000+0000",
			"createdAt":"2025-01-01T10:00:00.000+0000","updatedAt":"2025-03-01T00:00:00.000+0000",
			"sprint":[` + s2 + `],"spent":"P1DT2H","estimation":"PT30M","originalEstimation":"bogus"}`),
		Changelog: [][]byte{
			[]byte(`{"id":"e1","updatedAt":"2025-01-02T10:00:00.000+0000","updatedBy":` + ann + `,"type":"IssueCommentAdded","comments":{"added":[{"id":"100"}]}}`),
			[]byte(`{"id":"e2","updatedAt":"2025-01-03T10:00:00.000+0000","updatedBy":` + bob + `,"type":"IssueCommentRemoved","comments":{"removed":[{"id":"100"}]}}`),
			[]byte(`{"id":"e3","updatedAt":"2025-01-04T10:00:00.000+0000","updatedBy":` + ann + `,"type":"IssueUpdated","fields":[{"field":{"id":"sprint"},"from":null,"to":[` + s1 + `]}]}`),
			[]byte(`{"id":"e4","updatedAt":"2025-01-20T10:00:00.000+0000","updatedBy":` + ann + `,"type":"IssueUpdated","fields":[{"field":{"id":"sprint"},"from":[` + s1 + `],"to":[` + s2 + `]}]}`),
		},
		Users: map[string]wire.User{"1": {Login: "ann", Email: "Ann@x.org"}},
		Comments: [][]byte{
			[]byte(`{"id":101,"longId":"abc","text":"Привет, мир","createdBy":` + ann + `,"createdAt":"2025-01-05T10:00:00.000+0000","updatedAt":"2025-01-06T10:00:00.000+0000","type":"standard","transport":"internal"}`),
			[]byte(`{"id":102,"text":"by a deleted user","createdBy":` + ref("users", "9", "Gone User") + `}`),
		},
		Worklogs: [][]byte{
			[]byte(`{"id":7,"createdBy":` + bob + `,"start":"2025-01-07T09:00:00.000+0000","duration":"PT1H30M","comment":"review"}`),
			[]byte(`{"id":8,"createdBy":` + ann + `,"start":"2025-01-08T09:00:00.000+0000","duration":"P1W"}`),
			[]byte(`{"id":9,"duration":"soon"}`),
			[]byte(`not json`),
		},
		Links: [][]byte{
			[]byte(`{"id":5,"type":{"id":"depends","inward":"is dependent by","outward":"depends on"},"direction":"outward","object":{"self":"x","id":"i2","key":"Q-2"},"createdBy":` + ann + `}`),
			[]byte(`{"id":6,"type":{"id":"depends","inward":"is dependent by","outward":"depends on"},"direction":"inward","object":{"self":"x","id":"i3","key":"Q-3"}}`),
		},
		Parts: wire.PartComments | wire.PartWorklogs | wire.PartLinks,
	}
}

func TestEntityRows(t *testing.T) {
	res, err := Transform(entitySnapshot(), &Rules{Sprints: true}, time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	rows := res.Rows
	if len(rows.Comments) != 3 {
		t.Fatalf("%d comment rows, want 2 comments and 1 removed: %+v", len(rows.Comments), rows.Comments)
	}
	c := rows.Comments[0]
	if c.CommentID != "101" || c.Author != "ann@x.org" || c.Text != "Привет, мир" || c.TextLength != 11 || c.Deleted || c.Type != "standard" {
		t.Errorf("comment 101: %+v", c)
	}
	if rows.Comments[1].Author != "Gone User" {
		t.Errorf("a comment by a user the directory does not know is by %q, want the display name", rows.Comments[1].Author)
	}
	removed := rows.Comments[2]
	if removed.CommentID != "100" || !removed.Deleted || removed.Author != "ann@x.org" ||
		!removed.CreatedAt.Equal(time.Date(2025, 1, 2, 10, 0, 0, 0, time.UTC)) || !removed.UpdatedAt.Equal(time.Date(2025, 1, 3, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("removed comment: %+v", removed)
	}

	if len(rows.Worklogs) != 3 {
		t.Fatalf("%d worklog rows, want 3 (the undecodable one skipped)", len(rows.Worklogs))
	}
	for i, want := range []int64{90 * 60, 40 * 3600, 0} {
		if rows.Worklogs[i].Seconds != want {
			t.Errorf("worklog %s: %d s, want %d", rows.Worklogs[i].WorklogID, rows.Worklogs[i].Seconds, want)
		}
	}
	if rows.Worklogs[2].Duration != "soon" {
		t.Errorf("a duration that does not parse keeps its text, got %q", rows.Worklogs[2].Duration)
	}

	if len(rows.Links) != 2 || rows.Links[0].Relationship != "depends on" || rows.Links[1].Relationship != "is dependent by" ||
		rows.Links[0].LinkedIssueKey != "Q-2" || rows.Links[0].LinkedIssueID != "i2" || rows.Links[0].Author != "ann@x.org" {
		t.Errorf("links: %+v", rows.Links)
	}

	if len(rows.Sprints) != 2 {
		t.Fatalf("sprint stays: %+v", rows.Sprints)
	}
	s1, s2 := rows.Sprints[0], rows.Sprints[1]
	if s1.SprintID != "11" || s1.Current || !s1.AddedAt.Equal(time.Date(2025, 1, 4, 10, 0, 0, 0, time.UTC)) || !s1.RemovedAt.Equal(time.Date(2025, 1, 20, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("sprint 1 stay: %+v", s1)
	}
	if s2.SprintID != "12" || !s2.Current || !s2.RemovedAt.IsZero() || s2.SprintName != "Sprint 2" {
		t.Errorf("sprint 2 stay: %+v", s2)
	}

	is := rows.Issue
	if is.Spent != 10*3600 || is.Estimation != 1800 || is.OriginalEstimation != 0 {
		t.Errorf("time tracking: spent %d, estimation %d, original %d", is.Spent, is.Estimation, is.OriginalEstimation)
	}
	// Anomalies: the worklog that is not JSON, the duration "soon", the
	// original estimation "bogus".
	if is.Anomalies != 3 {
		t.Errorf("%d anomalies, want 3", is.Anomalies)
	}
}

// A part the snapshot does not carry (switched off) has no rows, and
// sprints can be switched off too.
func TestEntityRowsSwitchedOff(t *testing.T) {
	snap := entitySnapshot()
	snap.Parts = wire.PartWorklogs
	res, err := Transform(snap, &Rules{}, time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Rows; len(r.Comments)+len(r.Links)+len(r.Sprints) != 0 || len(r.Worklogs) != 3 || r.Parts != wire.PartWorklogs {
		t.Errorf("comments %d, links %d, sprints %d, worklogs %d, parts %d", len(r.Comments), len(r.Links), len(r.Sprints), len(r.Worklogs), r.Parts)
	}
}

func TestTombstoneRows(t *testing.T) {
	snap := entitySnapshot()
	at := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	snap.Deleted, snap.DeletedAt = true, at
	res, err := Transform(snap, &Rules{}, at)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Rows.Issue.IsDeleted || !res.Rows.Issue.DeletedDetectedAt.Equal(at) || res.Rows.SourceVersion != snap.SourceVersion() {
		t.Errorf("tombstone: deleted %v at %s, version %d", res.Rows.Issue.IsDeleted, res.Rows.Issue.DeletedDetectedAt, res.Rows.SourceVersion)
	}
}

func TestDirectoryRows(t *testing.T) {
	snap := &wire.DirectorySnapshot{
		FetchedAt: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC),
		Boards:    [][]byte{[]byte(`{"id":3,"version":2,"name":"Team board"}`), []byte(`{}`)},
		Sprints: [][]byte{[]byte(`{"id":11,"name":"Sprint 1","board":{"self":"x","id":"3","display":"Team"},"status":"in_progress",
			"startDate":"2025-04-28","endDate":"2025-05-09","createdBy":{"self":"x","id":"1","display":"Ann"},"createdAt":"2025-04-01T10:00:00.000+0000"}`)},
	}
	rows, bad := DirectoryRows(snap)
	if bad != 1 || len(rows.Boards) != 1 || len(rows.Sprints) != 1 {
		t.Fatalf("%d bad, %d boards, %d sprints", bad, len(rows.Boards), len(rows.Sprints))
	}
	s := rows.Sprints[0]
	if s.BoardName != "Team board" || s.Status != "in_progress" || s.StartDate != time.Date(2025, 4, 28, 0, 0, 0, 0, time.UTC) || s.CreatedBy != "Ann" {
		t.Errorf("sprint: %+v", s)
	}
	if rows.SourceVersion != wire.VersionOf(snap.FetchedAt) {
		t.Errorf("version %d", rows.SourceVersion)
	}
}
