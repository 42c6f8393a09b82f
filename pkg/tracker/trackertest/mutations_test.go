package trackertest

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lastEntry returns the last changelog entry of an issue.
func lastEntry(t *testing.T, c *client, key string) fullEntry {
	t.Helper()
	var entries []fullEntry
	for url := c.base + "/v2/issues/" + key + "/changelog?perPage=1000"; url != ""; {
		r := c.mustOK("GET", url, "")
		entries = append(entries, decode[[]fullEntry](t, r.body)...)
		url = links(r.header)["next"]
	}
	return entries[len(entries)-1]
}

func TestMutations(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 700, Seed: 12})
	if err := s.AddFixture(Fixture73()); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s)
	withComments := findKey(t, s, func(k string) bool { return len(s.Comments(k)) >= 3 })
	withWorklogs := findKey(t, s, func(k string) bool { return len(s.Worklogs(k)) >= 2 })
	withLink := findKey(t, s, func(k string) bool { return len(s.Links(k)) > 0 })
	longText := strings.Repeat("Длинный комментарий 🚀 \"quoted\" <b>x</b>\n", 300) + "конец"
	at := DefaultNow.Add(-30 * time.Minute)

	type mutation struct {
		name  string
		key   string
		do    func(key string, at time.Time) error
		check func(t *testing.T, key string, at time.Time, e fullEntry)
	}
	var addedComment, addedWorklog int64
	cases := []mutation{
		{"AddComment", withComments, func(key string, at time.Time) (err error) {
			addedComment, err = s.AddComment(key, longText, at)
			return err
		}, func(t *testing.T, key string, at time.Time, e fullEntry) {
			cs := s.Comments(key)
			last := cs[len(cs)-1]
			got, _ := listAll[wireComment](c, "/v2/issues/"+key+"/comments?perPage=100")
			if last.ID != addedComment || last.Text != longText || *got[len(got)-1].Text != longText || last.CreatedBy.Login != s.Users()[0].Login {
				t.Errorf("added comment %+v", last)
			}
			if e.Type != "IssueCommentAdded" || len(e.Comments.Added) != 1 || numID(t, e.Comments.Added[0].ID) != addedComment ||
				e.Comments.Added[0].Display != "Длинный комментарий 🚀 \"quoted\" <b>x</b>" || e.Transport != "api" {
				t.Errorf("entry %+v", e)
			}
		}},
		{"EditComment", withComments, func(key string, at time.Time) error {
			return s.EditComment(key, s.Comments(key)[0].ID, "поправил ✅", at)
		}, func(t *testing.T, key string, at time.Time, e fullEntry) {
			first := s.Comments(key)[0]
			if first.Text != "поправил ✅" || first.Version < 2 || !first.UpdatedAt.Equal(at) || first.UpdatedBy.UID != s.Users()[0].UID {
				t.Errorf("edited comment %+v", first)
			}
			if e.Type != "IssueCommentUpdated" || len(e.Comments.Updated) != 1 || numID(t, e.Comments.Updated[0].Comment.ID) != first.ID ||
				e.Comments.Updated[0].To != "поправил ✅" || e.Comments.Updated[0].From == "" {
				t.Errorf("entry %+v", e.Comments)
			}
		}},
		{"RemoveComment", withComments, func(key string, at time.Time) error {
			return s.RemoveComment(key, s.Comments(key)[1].ID, at)
		}, func(t *testing.T, key string, at time.Time, e fullEntry) {
			id := numID(t, e.Comments.Removed[0].ID)
			for _, x := range s.Comments(key) {
				if x.ID == id {
					t.Errorf("removed comment %d still listed", id)
				}
			}
			if e.Type != "IssueCommentRemoved" {
				t.Errorf("entry %+v", e)
			}
		}},
		{"AddWorklog", withWorklogs, func(key string, at time.Time) (err error) {
			addedWorklog, err = s.AddWorklog(key, "PT90M", at.Add(-2*time.Hour), at)
			return err
		}, func(t *testing.T, key string, at time.Time, e fullEntry) {
			ws := s.Worklogs(key)
			last := ws[len(ws)-1]
			if last.ID != addedWorklog || last.Duration != "PT1H30M" || last.Seconds != 5400 || !last.Start.Equal(at.Add(-2*time.Hour)) {
				t.Errorf("added record %+v", last)
			}
			if e.Type != "IssueWorklogAdded" || len(e.Worklog) != 1 || e.Worklog[0].From != nil || e.Worklog[0].To.Duration != "PT1H30M" ||
				len(e.Fields) != 1 || e.Fields[0].Field.ID != "spent" {
				t.Errorf("entry %+v", e)
			}
		}},
		{"EditWorklog", withWorklogs, func(key string, at time.Time) error {
			return s.EditWorklog(key, addedWorklog, "P1D", at)
		}, func(t *testing.T, key string, at time.Time, e fullEntry) {
			ws := s.Worklogs(key)
			if last := ws[len(ws)-1]; last.Duration != "P1D" || last.Seconds != 8*3600 || last.Version != 2 {
				t.Errorf("edited record %+v", last)
			}
			if e.Type != "IssueWorklogUpdated" || e.Worklog[0].From.Duration != "PT1H30M" || e.Worklog[0].To.Duration != "P1D" {
				t.Errorf("entry %+v", e.Worklog)
			}
		}},
		{"RemoveWorklog", withWorklogs, func(key string, at time.Time) error {
			return s.RemoveWorklog(key, s.Worklogs(key)[0].ID, at)
		}, func(t *testing.T, key string, at time.Time, e fullEntry) {
			if e.Type != "IssueWorklogRemoved" || e.Worklog[0].To != nil {
				t.Errorf("entry %+v", e.Worklog)
			}
			for _, w := range s.Worklogs(key) {
				if w.ID == numID(t, e.Worklog[0].Record.ID) {
					t.Error("removed record still listed")
				}
			}
		}},
		{"AddCommentToFixture", "METRICS-1", func(key string, at time.Time) (err error) {
			addedComment, err = s.AddComment(key, "fixture comment", at)
			return err
		}, func(t *testing.T, key string, at time.Time, e fullEntry) {
			if cs := s.Comments(key); len(cs) != 1 || cs[0].ID != addedComment {
				t.Errorf("fixture comments %+v", cs)
			}
		}},
	}
	for i, m := range cases {
		t.Run(m.name, func(t *testing.T) {
			before, _ := s.Issue(m.key)
			n := s.ChangelogLen(m.key)
			when := at.Add(time.Duration(i) * time.Second)
			if err := m.do(m.key, when); err != nil {
				t.Fatal(err)
			}
			after, _ := s.Issue(m.key)
			if after.Version != before.Version+1 || s.ChangelogLen(m.key) != n+1 || !after.UpdatedAt.Equal(when) {
				t.Errorf("version %d→%d, entries %d→%d, updatedAt %s", before.Version, after.Version, n, s.ChangelogLen(m.key), after.UpdatedAt)
			}
			if keys := s.IssueKeys(); keys[len(keys)-1] != m.key {
				t.Errorf("IssueKeys ends with %s", keys[len(keys)-1])
			}
			found, _ := c.scrollAll(`Updated: >= "`+when.In(moscow()).Format("2006-01-02 15:04:05")+`"`, "")
			if len(found) != 1 || found[0].Key != m.key || found[0].UpdatedAt != when.UTC().Format(dateTimeLayout) {
				t.Errorf("search by the new updatedAt finds %d issues", len(found))
			}
			e := lastEntry(t, c, m.key)
			if !parseTime(t, e.UpdatedAt).Equal(when) || e.UpdatedBy.ID != strconv.FormatInt(s.Users()[0].UID, 10) {
				t.Errorf("last entry at %s by %s", e.UpdatedAt, e.UpdatedBy.ID)
			}
			m.check(t, m.key, when, e)
		})
	}
	t.Run("Unlink", func(t *testing.T) {
		l := s.Links(withLink)[0]
		other := l.ObjectKey
		b1, _ := s.Issue(withLink)
		b2, _ := s.Issue(other)
		when := at.Add(time.Minute)
		if err := s.Unlink(withLink, l.ID, when); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{withLink, other} {
			for _, x := range s.Links(k) {
				if x.ID == l.ID {
					t.Errorf("%s still lists link %d", k, l.ID)
				}
			}
			if got := decode[[]wireLink](t, c.mustOK("GET", "/v2/issues/"+k+"/links", "").body); len(got) != len(s.Links(k)) {
				t.Errorf("%s: endpoint lists %d links", k, len(got))
			}
			e := lastEntry(t, c, k)
			if e.Type != "IssueUnlinked" || len(e.Links) != 1 || e.Links[0].To != nil || e.Links[0].From.Type.ID != l.Type || !parseTime(t, e.UpdatedAt).Equal(when) {
				t.Errorf("%s: last entry %+v", k, e)
			}
		}
		a1, _ := s.Issue(withLink)
		a2, _ := s.Issue(other)
		if a1.Version != b1.Version+1 || a2.Version != b2.Version+1 || !a1.UpdatedAt.Equal(when) || !a2.UpdatedAt.Equal(when) {
			t.Errorf("versions %d→%d, %d→%d; updatedAt %s %s", b1.Version, a1.Version, b2.Version, a2.Version, a1.UpdatedAt, a2.UpdatedAt)
		}
		keys := s.IssueKeys()
		if last := keys[len(keys)-2:]; !slices.Contains(last, withLink) || !slices.Contains(last, other) {
			t.Errorf("IssueKeys ends with %v", last)
		}
		if err := s.Unlink(withLink, l.ID, when); err == nil {
			t.Error("unlinking twice succeeded")
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for name, err := range map[string]error{
			"unknown comment":   s.EditComment(withComments, 42, "x", at),
			"empty text":        s.EditComment(withComments, s.Comments(withComments)[0].ID, "", at),
			"remove unknown":    s.RemoveComment(withComments, 42, at),
			"bad duration":      s.EditWorklog(withWorklogs, s.Worklogs(withWorklogs)[0].ID, "1h", at),
			"unknown worklog":   s.RemoveWorklog(withWorklogs, 42, at),
			"unknown issue":     s.Touch("NOPE-1", at),
			"unknown link":      s.Unlink(withLink, 42, at),
			"worklog of nobody": func() error { _, err := s.AddWorklog("NOPE-1", "PT1H", at, at); return err }(),
		} {
			if err == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})
	// The ground truth still adds up.
	var total int64
	for _, k := range s.IssueKeys() {
		total += int64(s.ChangelogLen(k))
	}
	if total != s.TotalChangelogEntries() {
		t.Errorf("sum of ChangelogLen %d, TotalChangelogEntries %d", total, s.TotalChangelogEntries())
	}
}

func TestDeleteAndHide(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 400, Seed: 6})
	c := newClient(t, s)
	keys := s.IssueKeys()
	deleted, hidden := keys[10], keys[20]
	movedKey := findKey(t, s, func(k string) bool { i, _ := s.Issue(k); return len(i.Aliases) > 0 })
	moved, _ := s.Issue(movedKey)
	otherMoved := findKey(t, s, func(k string) bool { i, _ := s.Issue(k); return len(i.Aliases) > 0 && k != movedKey })
	otherInfo, _ := s.Issue(otherMoved)

	// A scroll started before the changes.
	body := `{"query":"Updated: >= now()-3000d"}`
	first := c.mustOK("POST", "/v2/issues/_search?scrollType=sorted&perScroll=100", body)

	total := s.TotalChangelogEntries()
	lost := s.ChangelogLen(deleted) + s.ChangelogLen(hidden) + s.ChangelogLen(movedKey)
	if err := s.DeleteIssue(deleted); err != nil {
		t.Fatal(err)
	}
	if err := s.HideIssue(hidden); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteIssue(moved.Aliases[0]); err != nil { // by its old key
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key    string
		status int
		msg    string
	}{
		{deleted, http.StatusNotFound, "Issue does not exist."},
		{movedKey, http.StatusNotFound, "Issue does not exist."},
		{moved.Aliases[0], http.StatusNotFound, "Issue does not exist."},
		{moved.ID, http.StatusNotFound, "Issue does not exist."},
		{hidden, http.StatusForbidden, msgForbidden},
	} {
		for _, sub := range []string{"", "/changelog", "/comments", "/worklog", "/links"} {
			for _, v := range []string{"/v2", "/v3"} {
				if msg := errorBody(t, c.do("GET", v+"/issues/"+tc.key+sub, ""), tc.status); msg != tc.msg {
					t.Errorf("%s%s: %q", tc.key, sub, msg)
				}
			}
		}
	}
	// Other moved issues still resolve by their old keys.
	if got := decode[wireIssue](t, c.mustOK("GET", "/v2/issues/"+otherInfo.Aliases[0], "").body); got.Key != otherMoved {
		t.Errorf("old key %s resolves to %s", otherInfo.Aliases[0], got.Key)
	}
	// Search omits them, in every mode.
	gone := map[string]bool{deleted: true, hidden: true, movedKey: true}
	if n := string(c.mustOK("POST", "/v2/issues/_count", `{}`).body); n != "397" {
		t.Errorf("_count = %s, want 397", n)
	}
	all, scrollTotal := c.scrollAll("", "perScroll=1000")
	paged := decode[[]wireIssue](t, c.mustOK("POST", "/v2/issues/_search?perPage=1000", `{}`).body)
	byKeys := decode[[]wireIssue](t, c.mustOK("POST", "/v2/issues/_search", `{"keys":["`+deleted+`","`+hidden+`","`+keys[30]+`"]}`).body)
	if scrollTotal != 397 || len(all) != 397 || len(paged) != 397 || len(byKeys) != 1 || byKeys[0].Key != keys[30] {
		t.Errorf("scroll %d/%d, page %d, keys %d", len(all), scrollTotal, len(paged), len(byKeys))
	}
	for _, is := range append(all, paged...) {
		if gone[is.Key] {
			t.Errorf("search returned %s", is.Key)
		}
	}
	// The scroll started before skips them on later pages.
	n := len(decode[[]wireIssue](t, first.body))
	for id := first.header.Get("X-Scroll-Id"); id != ""; {
		r := c.mustOK("POST", "/v2/issues/_search?scrollId="+id, body)
		for _, is := range decode[[]wireIssue](t, r.body) {
			n++
			if gone[is.Key] {
				t.Errorf("old scroll returned %s", is.Key)
			}
		}
		id = r.header.Get("X-Scroll-Id")
	}
	if n != 400-2 && n != 400-3 { // the first page was served before the changes
		t.Errorf("old scroll returned %d issues", n)
	}
	// Ground truth.
	if s.IssueCount() != 397 || len(s.IssueKeys()) != 397 || slices.Contains(s.IssueKeys(), hidden) {
		t.Errorf("IssueCount %d, IssueKeys %d", s.IssueCount(), len(s.IssueKeys()))
	}
	if got := s.TotalChangelogEntries(); got != total-int64(lost) {
		t.Errorf("TotalChangelogEntries %d → %d, want −%d", total, got, lost)
	}
	if _, ok := s.Issue(deleted); ok || s.ChangelogLen(deleted) != 0 || s.Comments(deleted) != nil {
		t.Error("ground truth still knows the deleted issue")
	}
	if info, ok := s.Issue(hidden); !ok || !info.Hidden || s.ChangelogLen(hidden) == 0 {
		t.Error("ground truth forgot the hidden issue")
	}
	// Errors and reversal.
	if s.DeleteIssue(deleted) == nil || s.HideIssue(deleted) == nil || s.Touch(deleted, DefaultNow) == nil {
		t.Error("deleting, hiding or touching a deleted issue succeeded")
	}
	if _, err := s.AddComment(deleted, "x", DefaultNow); err == nil {
		t.Error("commenting a deleted issue succeeded")
	}
	if err := s.Touch(hidden, DefaultNow.Add(-time.Minute)); err != nil {
		t.Errorf("touching a hidden issue: %v", err)
	}
	if err := s.UnhideIssue(hidden); err != nil {
		t.Fatal(err)
	}
	c.mustOK("GET", "/v2/issues/"+hidden+"/comments", "")
	if keys := s.IssueKeys(); len(keys) != 398 || keys[len(keys)-1] != hidden {
		t.Errorf("after unhide: %d keys, last %s", len(keys), keys[len(keys)-1])
	}
	if n := string(c.mustOK("POST", "/v2/issues/_count", `{}`).body); n != "398" {
		t.Errorf("_count after unhide = %s", n)
	}
}

func TestBoardsAndSprints(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 300, Seed: 2})
	c := newClient(t, s)
	type board struct {
		Self    string          `json:"self"`
		ID      json.RawMessage `json:"id"`
		Version int             `json:"version"`
		Name    string          `json:"name"`
		Columns []wireRef       `json:"columns"`
		Filter  map[string]any  `json:"filter"`
		OrderBy string          `json:"orderBy"`
		// pointers: the keys must be present
		OrderAsc   *bool    `json:"orderAsc"`
		Query      *string  `json:"query"`
		UseRanking *bool    `json:"useRanking"`
		Country    *wireRef `json:"country"`
	}
	type sprint struct {
		Self          string          `json:"self"`
		ID            json.RawMessage `json:"id"`
		Version       int             `json:"version"`
		Name          string          `json:"name"`
		Board         wireRef         `json:"board"`
		Status        string          `json:"status"`
		Archived      bool            `json:"archived"`
		CreatedBy     wireUser        `json:"createdBy"`
		CreatedAt     string          `json:"createdAt"`
		StartDate     string          `json:"startDate"`
		EndDate       string          `json:"endDate"`
		StartDateTime string          `json:"startDateTime"`
		EndDateTime   string          `json:"endDateTime"`
	}
	boards := decode[[]board](t, c.mustOK("GET", "/v2/boards", "").body)
	want := s.Boards()
	if len(boards) != len(want) || len(want) != 3 {
		t.Fatalf("%d boards", len(boards))
	}
	sprintsByID := map[int64]sprint{}
	statuses := map[string]bool{}
	for i, b := range boards {
		w := want[i]
		if numID(t, b.ID) != int64(w.ID) || b.Name != w.Name || len(b.Columns) != len(w.Columns) || b.Filter["queue"] == nil ||
			b.OrderAsc == nil || b.Query == nil || !strings.Contains(*b.Query, w.Queues[0]) || b.UseRanking == nil || b.Country == nil ||
			b.Columns[0].Display != w.Columns[0] || b.Columns[0].Self == "" || b.Version == 0 {
			t.Errorf("board %+v, want %+v", b, w)
		}
		if one := decode[board](t, c.mustOK("GET", "/v3/boards/"+itoa(w.ID), "").body); one.Name != w.Name {
			t.Errorf("/boards/%d = %+v", w.ID, one)
		}
		for _, sp := range decode[[]sprint](t, c.mustOK("GET", "/v2/boards/"+itoa(w.ID)+"/sprints", "").body) {
			id := numID(t, sp.ID)
			sprintsByID[id] = sp
			if sp.Board.ID != itoa(w.ID) || sp.Board.Display != w.Name {
				t.Errorf("sprint %d on board %+v, listed under %d", id, sp.Board, w.ID)
			}
			statuses[sp.Status] = true
			if one := decode[sprint](t, c.mustOK("GET", "/v2/sprints/"+strconv.FormatInt(id, 10), "").body); !reflect.DeepEqual(one, sp) {
				t.Errorf("/sprints/%d = %+v, list has %+v", id, one, sp)
			}
		}
	}
	truth := s.Sprints()
	if len(sprintsByID) != len(truth) {
		t.Fatalf("%d sprints listed, ground truth %d", len(sprintsByID), len(truth))
	}
	for _, w := range truth {
		sp := sprintsByID[int64(w.ID)]
		start, end := parseTime(t, sp.StartDateTime), parseTime(t, sp.EndDateTime)
		if sp.Name != w.Name || sp.Status != w.Status || sp.Archived != w.Archived || sp.StartDate != w.StartDate || sp.EndDate != w.EndDate ||
			!start.Equal(w.Start) || !end.Equal(w.End) || start.Format("2006-01-02") != sp.StartDate || !parseTime(t, sp.CreatedAt).Equal(w.CreatedAt) ||
			sp.CreatedBy.ID != strconv.FormatInt(w.CreatedBy.UID, 10) || sp.Archived != (sp.Status == "archived") {
			t.Errorf("sprint %+v, want %+v", sp, w)
		}
	}
	for _, st := range []string{"draft", "in_progress", "released", "archived"} {
		if !statuses[st] {
			t.Errorf("no %s sprint: %v", st, statuses)
		}
	}
	// The sprints issues reference are these, on board 1.
	issues := decode[[]struct {
		Key    string    `json:"key"`
		Sprint []wireRef `json:"sprint"`
		Boards []struct {
			ID int `json:"id"`
		} `json:"boards"`
	}](t, c.mustOK("POST", "/v2/issues/_search?perPage=300", `{}`).body)
	seen := 0
	for _, is := range issues {
		for _, ref := range is.Sprint {
			seen++
			id, _ := strconv.ParseInt(ref.ID, 10, 64)
			sp, ok := sprintsByID[id]
			if !ok || sp.Name != ref.Display || sp.Board.ID != "1" || len(is.Boards) != 1 || is.Boards[0].ID != 1 {
				t.Fatalf("%s: sprint ref %+v, boards %v; listed sprint %+v", is.Key, ref, is.Boards, sp)
			}
		}
	}
	if seen == 0 {
		t.Error("no issue has a sprint")
	}
	errorBody(t, c.do("GET", "/v2/boards/9", ""), http.StatusNotFound)
	errorBody(t, c.do("GET", "/v2/boards/9/sprints", ""), http.StatusNotFound)
	errorBody(t, c.do("GET", "/v2/sprints/99", ""), http.StatusNotFound)
	if s.Requests(EpBoards) < 4 || s.Requests(EpSprints) < 19 {
		t.Errorf("Requests(boards) %d, Requests(sprints) %d", s.Requests(EpBoards), s.Requests(EpSprints))
	}
}
