package e2e

// The rest of an issue's data (issue "The rest of the data"): comments,
// worklogs, links, sprints and boards land once each with the emulator's
// values; edits and removals between passes are reflected; a deleted or
// hidden issue gets a tombstone and leaves the views; a replay into a new
// database reproduces every table.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

// rowsOf reads a query's rows as text (every column converted with
// toString by the query itself), one string per row, joined by "|".
func (f *fixture) rowsOf(q string) []string {
	f.t.Helper()
	rows, err := f.ch.Conn().Query(context.Background(), q)
	if err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		cols := rows.Columns()
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(string)
		}
		if err := rows.Scan(vals...); err != nil {
			f.t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = *v.(*string)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

// byKey indexes rows whose first field is a key.
func byKey(rows []string) map[string][]string {
	out := map[string][]string{}
	for _, r := range rows {
		k, _, _ := strings.Cut(r, "|")
		out[k] = append(out[k], r)
	}
	return out
}

func ts(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// person is who a user is in the tables: the email, else the login.
func person(u trackertest.UserInfo) []string {
	return []string{strings.ToLower(u.Email), strings.ToLower(u.Login), u.Display}
}

// verifyEntities compares the entity views with the emulator's ground truth.
func (f *fixture) verifyEntities() {
	t := f.t
	db := "`" + f.db + "`."
	comments := byKey(f.rowsOf("SELECT concat(issue_key, ':', comment_id), text, toString(text_length), toString(toUInt32(created_at)), author, type, transport FROM " + db + "issue_comments_view WHERE is_deleted = 0"))
	worklogs := byKey(f.rowsOf("SELECT concat(issue_key, ':', worklog_id), duration, toString(duration_seconds), toString(toUInt32(start)), author, comment FROM " + db + "issue_worklogs_view"))
	links := byKey(f.rowsOf("SELECT concat(issue_key, ':', link_id), linked_issue_key, linked_issue_id, toString(type_id), toString(direction), toString(relationship) FROM " + db + "issue_links_view"))
	spent := byKey(f.rowsOf("SELECT issue_key, toString(spent) FROM " + db + "issues_view"))
	var nc, nw, nl int
	check := func(what string, rows []string, want []string, who trackertest.UserInfo, authorCol int) {
		if len(rows) != 1 {
			t.Errorf("%s: %d rows, want 1", what, len(rows))
			return
		}
		got := strings.Split(rows[0], "|")
		if authorCol > 0 {
			if !slices.Contains(person(who), got[authorCol]) {
				t.Errorf("%s: author %q, want one of %q", what, got[authorCol], person(who))
			}
			got = append(got[:authorCol], got[authorCol+1:]...)
		}
		if !slices.Equal(got[1:], want) {
			t.Errorf("%s:\n got %q\nwant %q", what, got[1:], want)
		}
	}
	for _, k := range f.em.IssueKeys() {
		for _, c := range f.em.Comments(k) {
			nc++
			check("comment "+k+":"+strconv.FormatInt(c.ID, 10), comments[k+":"+strconv.FormatInt(c.ID, 10)],
				[]string{c.Text, strconv.Itoa(utf8.RuneCountInString(c.Text)), ts(c.CreatedAt), c.Type, c.Transport}, c.CreatedBy, 4)
		}
		for _, w := range f.em.Worklogs(k) {
			nw++
			check("worklog "+k+":"+strconv.FormatInt(w.ID, 10), worklogs[k+":"+strconv.FormatInt(w.ID, 10)],
				[]string{w.Duration, strconv.FormatInt(w.Seconds, 10), ts(w.Start), w.Comment}, w.CreatedBy, 4)
		}
		for _, l := range f.em.Links(k) {
			nl++
			rel := l.Outward
			if l.Direction == "inward" {
				rel = l.Inward
			}
			check("link "+k+":"+strconv.FormatInt(l.ID, 10), links[k+":"+strconv.FormatInt(l.ID, 10)],
				[]string{l.ObjectKey, l.ObjectID, l.Type, l.Direction, rel}, trackertest.UserInfo{}, 0)
		}
		info, _ := f.em.Issue(k)
		if got := spent[k]; len(got) != 1 || got[0] != k+"|"+strconv.FormatInt(info.SpentSeconds, 10) {
			t.Errorf("issue %s spent %v, want %d s (%s)", k, got, info.SpentSeconds, info.Spent)
		}
	}
	for what, c := range map[string][2]int{"comments": {nc, len(comments)}, "worklogs": {nw, len(worklogs)}, "links": {nl, len(links)}} {
		if c[0] != c[1] {
			t.Errorf("%s: %d in the emulator, %d in ClickHouse", what, c[0], c[1])
		}
		if c[0] == 0 {
			t.Errorf("no %s in the emulator: nothing was checked", what)
		}
	}
	// Boards and sprints: exactly the emulator's.
	var wantBoards, wantSprints []string
	for _, b := range f.em.Boards() {
		wantBoards = append(wantBoards, fmt.Sprintf("%d|%s", b.ID, b.Name))
	}
	for _, s := range f.em.Sprints() {
		wantSprints = append(wantSprints, fmt.Sprintf("%d|%s|%d|%s|%s|%s", s.ID, s.Name, s.BoardID, s.Status, s.StartDate, s.EndDate))
	}
	gotBoards := f.rowsOf("SELECT board_id, name FROM " + db + "boards_view ORDER BY toUInt64(board_id)")
	gotSprints := f.rowsOf("SELECT sprint_id, name, board_id, toString(status), toString(start_date), toString(end_date) FROM " + db + "sprints_view ORDER BY toUInt64(sprint_id)")
	if !slices.Equal(gotBoards, wantBoards) {
		t.Errorf("boards_view %q, want %q", gotBoards, wantBoards)
	}
	if !slices.Equal(gotSprints, wantSprints) {
		t.Errorf("sprints_view %q, want %q", gotSprints, wantSprints)
	}
	// The issue's current sprints are its open stays.
	stays := f.count("SELECT count() FROM " + db + "issue_sprints_view WHERE is_current = 1")
	inSprints := f.count("SELECT sum(length(sprints)) FROM " + db + "issues_view")
	if stays != inSprints || stays == 0 {
		t.Errorf("%d current sprint stays, %d sprints on issues", stays, inSprints)
	}
}

func TestEntities(t *testing.T) {
	f := newFixture(t, 400)
	f.oneProcess()
	f.set("EXPORTER_COMMENTS_EXPORT_ENABLED", "true")
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("run-once exit %d:\n%s", code, out)
	}
	f.verifyEntities()
	if t.Failed() {
		return
	}

	// Between two passes: a comment edited, one removed, a worklog added
	// and one removed, a link removed (on both of its issues).
	now := time.Now().UTC()
	var withComments, withWorklogs, withLinks string
	for _, k := range f.em.IssueKeys() {
		switch {
		case withComments == "" && len(f.em.Comments(k)) >= 2:
			withComments = k
		case withWorklogs == "" && len(f.em.Worklogs(k)) >= 2:
			withWorklogs = k
		case withLinks == "" && len(f.em.Links(k)) >= 1:
			withLinks = k
		}
	}
	cs := f.em.Comments(withComments)
	must(t, f.em.EditComment(withComments, cs[0].ID, "edited «again»", now))
	must(t, f.em.RemoveComment(withComments, cs[1].ID, now.Add(time.Second)))
	ws := f.em.Worklogs(withWorklogs)
	must(t, f.em.RemoveWorklog(withWorklogs, ws[0].ID, now))
	_, err := f.em.AddWorklog(withWorklogs, "PT2H15M", now.Add(-time.Hour), now.Add(time.Second))
	must(t, err)
	link := f.em.Links(withLinks)[0]
	must(t, f.em.Unlink(withLinks, link.ID, now))
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("second run exit %d:\n%s", code, out)
	}
	f.verifyEntities()
	db := "`" + f.db + "`."
	removed := f.rowsOf(fmt.Sprintf("SELECT toString(is_deleted) FROM %sissue_comments_view WHERE issue_key = '%s' AND comment_id = '%d'", db, withComments, cs[1].ID))
	if !slices.Equal(removed, []string{"1"}) {
		t.Errorf("the removed comment shows as %q, want one row with is_deleted = 1", removed)
	}
	if n := f.count(fmt.Sprintf("SELECT count() FROM %sissue_links_view WHERE link_id = '%d'", db, link.ID)); n != 0 {
		t.Errorf("the removed link still has %d rows", n)
	}

	// A deleted and a hidden issue: tombstones after a reconciliation.
	keys := f.em.IssueKeys()
	del, hid := keys[5], keys[6]
	delInfo, _ := f.em.Issue(del)
	hidInfo, _ := f.em.Issue(hid)
	must(t, f.em.DeleteIssue(del))
	must(t, f.em.HideIssue(hid))
	f.em.ResetCounters()
	code, out := f.run("tracker-exporter", "reconcile")
	if code != 0 {
		t.Fatalf("reconcile exit %d:\n%s", code, out)
	}
	if n := f.em.Requests(trackertest.EpSearch); n > int64((len(keys)-2+999)/1000)+1 || !strings.Contains(out, "tombstoned: 2") {
		t.Errorf("reconcile: %d search requests for %d issues; output:\n%s", n, len(keys)-2, out)
	}
	for _, id := range []string{delInfo.ID, hidInfo.ID} {
		if got := f.rowsOf("SELECT toString(is_deleted) FROM " + db + "issues_all_view WHERE issue_id = '" + id + "' AND toUInt32(deleted_detected_at) > 0"); !slices.Equal(got, []string{"1"}) {
			t.Errorf("issue %s in issues_all_view: %q, want a tombstone", id, got)
		}
		for _, view := range []string{"issues_view", "issue_metrics_view", "issue_status_intervals_view", "issues_changelog_view", "issue_comments_view", "issue_worklogs_view", "issue_links_view", "issue_sprints_view", "issue_worklogs_by_issue"} {
			if n := f.count("SELECT count() FROM " + db + view + " WHERE issue_id = '" + id + "'"); n != 0 {
				t.Errorf("%s shows %d rows of the gone issue %s", view, n, id)
			}
		}
	}
	if n := f.count("SELECT count() FROM " + db + "issues_view"); n != uint64(len(keys)-2) {
		t.Errorf("issues_view has %d issues, want %d", n, len(keys)-2)
	}

	// A replay into another database reproduces every table.
	other := f.db + "_replay"
	t.Cleanup(func() { _ = f.ch.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+other+"`") })
	requests := f.em.TotalRequests()
	f.set("EXPORTER_CLICKHOUSE__DATABASE", other)
	if code, out := f.run("tracker-exporter", "replay"); code != 0 {
		t.Fatalf("replay exit %d:\n%s", code, out)
	}
	if n := f.em.TotalRequests() - requests; n != 0 {
		t.Errorf("replay made %d Tracker requests", n)
	}
	for _, q := range []string{
		"SELECT issue_id, toString(is_deleted), toString(deleted_detected_at), toString(spent), toString(_version) FROM %s.issues_all_view ORDER BY issue_id",
		"SELECT issue_id, comment_id, text, author, toString(is_deleted), toString(updated_at) FROM %s.issue_comments_view ORDER BY issue_id, comment_id",
		"SELECT issue_id, worklog_id, duration, toString(duration_seconds), author FROM %s.issue_worklogs_view ORDER BY issue_id, worklog_id",
		"SELECT issue_id, link_id, linked_issue_key, toString(relationship) FROM %s.issue_links_view ORDER BY issue_id, link_id",
		"SELECT issue_id, sprint_id, toString(added_at), toString(removed_at), toString(is_current) FROM %s.issue_sprints_view ORDER BY issue_id, sprint_id, added_at",
		"SELECT board_id, name FROM %s.boards_view ORDER BY board_id",
		"SELECT sprint_id, name, toString(status) FROM %s.sprints_view ORDER BY sprint_id",
		"SELECT issue_id, entry_id, toString(field_index), changed_to FROM %s.issues_changelog_view ORDER BY issue_id, entry_id, field_index",
	} {
		a, b := f.rowsOf(fmt.Sprintf(q, "`"+f.db+"`")), f.rowsOf(fmt.Sprintf(q, "`"+other+"`"))
		if !slices.Equal(a, b) || len(a) == 0 {
			t.Errorf("replay differs (%d rows loaded, %d replayed): %s", len(a), len(b), q)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
