package trackertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// pickIssues returns keys of issues with few, many (>200) and very many
// (>500) changelog entries, and a moved one.
func pickIssues(t *testing.T, s *Server) []string {
	t.Helper()
	var out []string
	var short, long, huge, moved bool
	for _, k := range s.IssueKeys() {
		n := s.ChangelogLen(k)
		info, _ := s.Issue(k)
		switch {
		case n > 500 && !huge:
			huge = true
		case n > 200 && n <= 500 && !long:
			long = true
		case len(info.Aliases) > 0 && !moved:
			moved = true
		case n < 30 && !short:
			short = true
		default:
			continue
		}
		out = append(out, k)
	}
	if !short || !long || !huge || !moved {
		t.Fatalf("could not find every kind of issue: short %v long %v huge %v moved %v", short, long, huge, moved)
	}
	return out
}

func TestChangelogPagination(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 1200, Seed: 21})
	c := newClient(t, s)
	for _, key := range pickIssues(t, s) {
		n := s.ChangelogLen(key)
		var reference []wireEntry
		for _, perPage := range []int{7, 50, 1000} {
			params := ""
			if perPage != 50 {
				params = "perPage=" + itoa(perPage)
			}
			entries, requests := c.changelogAll(key, params)
			if len(entries) != n {
				t.Fatalf("%s perPage %d: %d entries, ChangelogLen %d", key, perPage, len(entries), n)
			}
			if want := (n + perPage - 1) / perPage; requests != want {
				t.Errorf("%s perPage %d: %d requests, want %d (next only when more exist)", key, perPage, requests, want)
			}
			seen := map[string]bool{}
			for i, e := range entries {
				if len(e.ID) != 24 || seen[e.ID] {
					t.Fatalf("%s: entry %d id %q invalid or repeated", key, i, e.ID)
				}
				seen[e.ID] = true
				if i > 0 && e.UpdatedAt < entries[i-1].UpdatedAt {
					t.Fatalf("%s: entry %d older than its predecessor", key, i)
				}
			}
			if reference == nil {
				reference = entries
			} else {
				for i := range entries {
					if entries[i].ID != reference[i].ID {
						t.Fatalf("%s: perPage %d order differs at %d", key, perPage, i)
					}
				}
			}
		}
		checkChangelog(t, s, c, key, reference)
	}
	// A wrong cursor is refused.
	key := s.IssueKeys()[0]
	errorBody(t, c.do("GET", "/v2/issues/"+key+"/changelog?id=000000000000000000000000", ""), http.StatusBadRequest)
	errorBody(t, c.do("GET", "/v2/issues/"+key+"/changelog?type=NoSuchType", ""), http.StatusBadRequest)
}

// checkChangelog checks a full changelog against the issue and the rules of
// tracker-api.md §4.
func checkChangelog(t *testing.T, s *Server, c *client, key string, entries []wireEntry) {
	t.Helper()
	iss := decode[wireIssue](t, c.mustOK("GET", "/v2/issues/"+key, "").body)
	if iss.Version != len(entries) {
		t.Errorf("%s: version %d, %d entries", key, iss.Version, len(entries))
	}
	first := entries[0]
	if first.Type != "IssueCreated" || len(first.Fields) != 1 || first.Fields[0].Field.ID != "status" ||
		string(first.Fields[0].From) != "null" || first.UpdatedAt != iss.CreatedAt {
		t.Fatalf("%s: first entry %+v is not IssueCreated status null→initial at createdAt", key, first)
	}
	created, updated := parseTime(t, iss.CreatedAt), parseTime(t, iss.UpdatedAt)
	status := refKey(t, first.Fields[0].To)
	var statusStart string
	fieldChanges := 0
	transitions := 0
	for i, e := range entries {
		at := parseTime(t, e.UpdatedAt)
		if at.Before(created) || at.After(updated) {
			t.Fatalf("%s: entry %d at %s outside [%s, %s]", key, i, at, created, updated)
		}
		if e.Issue.Key != iss.Key || e.Issue.ID != iss.ID || !strings.HasSuffix(e.Self, "/changelog/"+e.ID) {
			t.Fatalf("%s: entry %d issue ref %+v, self %s", key, i, e.Issue, e.Self)
		}
		fieldChanges += len(e.Fields)
		for j, f := range e.Fields {
			if f.Field.ID != "status" || i == 0 {
				continue
			}
			transitions++
			if j != 0 || len(e.Fields) < 2 || e.Fields[1].Field.ID != "statusStartTime" {
				t.Fatalf("%s: entry %d (%s): status is not fields[0] followed by statusStartTime", key, i, e.Type)
			}
			if from := refKey(t, f.From); from != status {
				t.Fatalf("%s: entry %d from %s, current status %s", key, i, from, status)
			}
			wantFrom := "null"
			if transitions > 1 {
				wantFrom = `"` + statusStart + `"`
			}
			if string(e.Fields[1].From) != wantFrom || string(e.Fields[1].To) != `"`+e.UpdatedAt+`"` {
				t.Fatalf("%s: entry %d statusStartTime %s → %s, want %s → %q", key, i, e.Fields[1].From, e.Fields[1].To, wantFrom, e.UpdatedAt)
			}
			status, statusStart = refKey(t, f.To), e.UpdatedAt
		}
		if e.Type == "IssueMoved" {
			if e.Fields[0].Field.ID != "key" || e.Fields[1].Field.ID != "queue" {
				t.Fatalf("%s: IssueMoved fields %+v", key, e.Fields)
			}
			var oldKey string
			_ = json.Unmarshal(e.Fields[0].From, &oldKey)
			if len(iss.Aliases) != 1 || iss.Aliases[0] != oldKey || iss.PreviousQueue == nil {
				t.Fatalf("%s: moved from %s but aliases %v, previousQueue %v", key, oldKey, iss.Aliases, iss.PreviousQueue)
			}
			if byOld := decode[wireIssue](t, c.mustOK("GET", "/v3/issues/"+oldKey, "").body); byOld.Key != iss.Key {
				t.Fatalf("old key %s resolves to %s", oldKey, byOld.Key)
			}
		}
	}
	if status != iss.Status.Key {
		t.Errorf("%s: last transition to %s, issue status %s", key, status, iss.Status.Key)
	}
	if transitions > 0 && statusStart != iss.StatusStartTime {
		t.Errorf("%s: last transition at %s, statusStartTime %s", key, statusStart, iss.StatusStartTime)
	}
	if last := entries[len(entries)-1]; last.UpdatedAt != iss.UpdatedAt {
		t.Errorf("%s: last entry at %s, updatedAt %s", key, last.UpdatedAt, iss.UpdatedAt)
	}
	if fieldChanges != s.ChangelogFieldChanges(key) {
		t.Errorf("%s: %d field changes, ChangelogFieldChanges %d", key, fieldChanges, s.ChangelogFieldChanges(key))
	}
	if st := s.StatusChanges(key); len(st) != transitions {
		t.Errorf("%s: StatusChanges has %d, changelog %d", key, len(st), transitions)
	}
}

func refKey(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var r wireRef
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("ref %s: %v", raw, err)
	}
	return r.Key
}

func TestChangelogFiltersAndRealistic(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 300, Seed: 8, Realistic: true})
	c := newClient(t, s)
	key := pickIssues300(t, s)
	n := s.ChangelogLen(key)
	// Realistic: next on the last non-empty page, then an empty page.
	entries, requests := c.changelogAll(key, "perPage=50")
	if len(entries) != n || requests != (n+49)/50+1 {
		t.Errorf("realistic: %d entries in %d requests, want %d in %d", len(entries), requests, n, (n+49)/50+1)
	}
	wf, _ := c.changelogAll(key, "type=IssueWorkflow&perPage=10")
	want := 0
	for _, e := range entries {
		if e.Type == "IssueWorkflow" {
			want++
		}
	}
	if len(wf) != want || want == 0 {
		t.Fatalf("type=IssueWorkflow: %d entries, want %d", len(wf), want)
	}
	for _, e := range wf {
		if e.Type != "IssueWorkflow" || e.Fields[0].Field.ID != "status" || e.Fields[1].Field.ID != "statusStartTime" {
			t.Fatalf("type filter returned %+v", e)
		}
	}
	both, _ := c.changelogAll(key, "type=IssueWorkflow&type=IssueMoved")
	byField, _ := c.changelogAll(key, "field=status")
	if len(byField) < len(wf) || len(both) < len(wf) {
		t.Errorf("field=status %d, type=IssueWorkflow,IssueMoved %d, IssueWorkflow %d", len(byField), len(both), len(wf))
	}
}

func pickIssues300(t *testing.T, s *Server) string {
	for _, k := range s.IssueKeys() {
		if s.ChangelogLen(k) > 200 {
			return k
		}
	}
	t.Fatal("no long issue")
	return ""
}

func TestFixture73(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 100, Seed: 1})
	if err := s.AddFixture(Fixture73()); err != nil {
		t.Fatal(err)
	}
	if err := s.AddFixture(Fixture73()); err == nil {
		t.Error("adding METRICS-1 twice succeeded")
	}
	c := newClient(t, s)
	entries, _ := c.changelogAll("METRICS-1", "")
	if len(entries) != 7 || s.ChangelogLen("METRICS-1") != 7 {
		t.Fatalf("%d entries, want 7", len(entries))
	}
	type step struct{ at, from, to string }
	want := []step{
		{"2024-03-04T09:00:00.000+0000", "open", "inProgress"},
		{"2024-03-05T09:00:00.000+0000", "inProgress", "testing"},
		{"2024-03-05T13:00:00.000+0000", "testing", "inProgress"},
		{"2024-03-06T10:00:00.000+0000", "inProgress", "testing"},
		{"2024-03-07T10:00:00.000+0000", "testing", "readyForRelease"},
		{"2024-03-11T07:00:00.000+0000", "readyForRelease", "closed"},
	}
	if entries[0].Type != "IssueCreated" || entries[0].UpdatedAt != "2024-03-04T07:00:00.000+0000" || refKey(t, entries[0].Fields[0].To) != "open" {
		t.Fatalf("first entry %+v", entries[0])
	}
	prev := "null"
	for i, w := range want {
		e := entries[i+1]
		if e.Type != "IssueWorkflow" || e.UpdatedAt != w.at || refKey(t, e.Fields[0].From) != w.from || refKey(t, e.Fields[0].To) != w.to {
			t.Fatalf("step %d: %+v, want %+v", i+1, e, w)
		}
		if string(e.Fields[1].From) != prev || string(e.Fields[1].To) != `"`+w.at+`"` {
			t.Fatalf("step %d statusStartTime %s → %s", i+1, e.Fields[1].From, e.Fields[1].To)
		}
		prev = `"` + w.at + `"`
	}
	last := entries[6].Fields
	if len(last) != 5 || last[2].Field.ID != "resolution" || last[3].Field.ID != "resolvedAt" || last[4].Field.ID != "resolvedBy" {
		t.Errorf("closing entry fields %+v, want status, statusStartTime, resolution, resolvedAt, resolvedBy", last)
	}
	iss := decode[wireIssue](t, c.mustOK("GET", "/v3/issues/METRICS-1", "").body)
	if iss.Status.Key != "closed" || iss.StatusType.Key != "done" || iss.StatusStartTime != want[5].at ||
		iss.CreatedAt != "2024-03-04T07:00:00.000+0000" || iss.UpdatedAt != want[5].at || iss.Resolution == nil ||
		iss.Queue.Key != "METRICS" || iss.PreviousStatus == nil || iss.PreviousStatus.Key != "readyForRelease" {
		t.Errorf("issue %+v", iss)
	}
	if byID := decode[wireIssue](t, c.mustOK("GET", "/v2/issues/"+iss.ID, "").body); byID.Key != "METRICS-1" {
		t.Errorf("by id: %s", byID.Key)
	}
	if got := s.StatusChanges("METRICS-1"); len(got) != 6 || got[2].From != "testing" || got[2].To != "inProgress" || !got[2].At.Equal(time.Date(2024, 3, 5, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("StatusChanges = %+v", got)
	}
	// The fixture is found by search and by its queue.
	if n := string(c.mustOK("POST", "/v2/issues/_count", `{"query":"Queue: METRICS"}`).body); n != "1" {
		t.Errorf("Queue: METRICS count %s", n)
	}
	bad := []Fixture{
		{Key: "bad", CreatedAt: time.Now()},
		{Key: "X-1"},
		{Key: "X-2", CreatedAt: time.Now(), Transitions: []FixtureTransition{{At: time.Now(), To: "nope"}}},
		{Key: "DEV-5", CreatedAt: time.Now()},
		{Key: "X-3", Queue: "Y", CreatedAt: time.Now()},
		{Key: "X-4", CreatedAt: time.Now(), Assignee: "ghost"},
	}
	for _, f := range bad {
		if err := s.AddFixture(f); err == nil {
			t.Errorf("AddFixture(%+v) succeeded", f)
		}
	}
}

func TestTouch(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 500, Seed: 13})
	if err := s.AddFixture(Fixture73()); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s)
	keys := s.IssueKeys()
	total := s.TotalChangelogEntries()
	for i, key := range []string{keys[100], "METRICS-1"} {
		before, _ := s.Issue(key)
		n := s.ChangelogLen(key)
		at := DefaultNow.Add(-time.Minute + time.Duration(i)*time.Second)
		if err := s.Touch(key, at); err != nil {
			t.Fatal(err)
		}
		after, _ := s.Issue(key)
		if after.Version != before.Version+1 || !after.UpdatedAt.Equal(at) || s.ChangelogLen(key) != n+1 {
			t.Errorf("%s: version %d→%d, updated %s, entries %d→%d", key, before.Version, after.Version, after.UpdatedAt, n, s.ChangelogLen(key))
		}
		if got := s.IssueKeys(); got[len(got)-1] != key || len(got) != len(keys) {
			t.Errorf("%s: IssueKeys last = %s", key, got[len(got)-1])
		}
		entries, _ := c.changelogAll(key, "perPage=3")
		last := entries[len(entries)-1]
		if len(entries) != n+1 || last.Type != "IssueUpdated" || last.Fields[0].Field.ID != "storyPoints" {
			t.Errorf("%s: touched changelog ends with %+v", key, last)
		}
		checkChangelog(t, s, c, key, entries)
		found, _ := c.scrollAll(`Updated: >= "`+at.In(moscow()).Format("2006-01-02 15:04:05")+`"`, "")
		if len(found) == 0 || found[len(found)-1].Key != key && found[0].Key != key {
			t.Errorf("%s: not found by Updated >= touch time (%d found)", key, len(found))
		}
		keys = s.IssueKeys()
	}
	if got := s.TotalChangelogEntries(); got != total+2 {
		t.Errorf("TotalChangelogEntries %d → %d, want +2", total, got)
	}
	if err := s.Touch("NOPE-1", DefaultNow); err == nil {
		t.Error("Touch of an unknown key succeeded")
	}
	// A second touch earlier than updatedAt moves to updatedAt + 1 ms.
	info, _ := s.Issue("METRICS-1")
	_ = s.Touch("METRICS-1", info.UpdatedAt.Add(-time.Hour))
	if again, _ := s.Issue("METRICS-1"); !again.UpdatedAt.Equal(info.UpdatedAt.Add(time.Millisecond)) {
		t.Errorf("late touch: updatedAt %s, want %s", again.UpdatedAt, info.UpdatedAt.Add(time.Millisecond))
	}
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	targets := []struct{ method, path, body string }{
		{"POST", "/v3/issues/_search?perPage=200&page=2", `{"query":"Queue: !TRASH \"Sort by\": Created DESC"}`},
		{"GET", "/v2/issues/DEV-451/changelog?perPage=1000", ""},
		{"GET", "/v2/issues/SUP-7", ""},
		{"POST", "/v2/issues/_search?scrollType=unsorted&perScroll=300", `{}`},
	}
	a, b, other := New(Options{Issues: 1000, Seed: 99}), New(Options{Issues: 1000, Seed: 99}), New(Options{Issues: 1000, Seed: 100})
	for _, s := range []*Server{a, b, other} {
		if err := s.AddFixture(Fixture73()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tg := range targets {
		ra := serveRaw(a, tg.method, tg.path, tg.body)
		rb := serveRaw(b, tg.method, tg.path, tg.body)
		if ra.Code != rb.Code || !bytes.Equal(ra.Body.Bytes(), rb.Body.Bytes()) {
			t.Errorf("%s %s: two servers with one seed answer differently", tg.method, tg.path)
		}
		if ra.Code == 200 && ra.Header().Get("X-Total-Count") != rb.Header().Get("X-Total-Count") {
			t.Errorf("%s %s: totals differ", tg.method, tg.path)
		}
		if ro := serveRaw(other, tg.method, tg.path, tg.body); bytes.Equal(ra.Body.Bytes(), ro.Body.Bytes()) && ra.Code == 200 {
			t.Errorf("%s %s: another seed gives the same bytes", tg.method, tg.path)
		}
	}
	// Regenerating an issue (cache evicted) gives the same bytes.
	r1 := serveRaw(a, "GET", "/v2/issues/"+a.IssueKeys()[3]+"/changelog", "")
	for i := range cacheSize {
		a.cache[i].Store(nil)
	}
	r2 := serveRaw(a, "GET", "/v2/issues/"+a.IssueKeys()[3]+"/changelog", "")
	if !bytes.Equal(r1.Body.Bytes(), r2.Body.Bytes()) {
		t.Error("regenerated changelog differs")
	}
}

func serveRaw(s *Server, method, target, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest(method, "http://emulator.test"+target, strings.NewReader(body))
	req.Host = "emulator.test"
	req.Header.Set("Authorization", "OAuth x")
	req.Header.Set("X-Org-ID", "1")
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// TestSyntheticData checks the shape of the generated organisation over a
// full scroll of 3000 issues.
func TestSyntheticData(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 3000, Seed: 17})
	c := newClient(t, s)
	issues, _ := c.scrollAll("", "perScroll=1000")
	deletedUIDs := map[string]bool{}
	for _, u := range s.Users() {
		if u.Deleted {
			deletedUIDs[itoa(int(u.UID))] = true
		}
	}
	types := map[string]int{}
	queues := map[string]int{}
	var moved, resolved, deletedRefs, unicode, long, emoji, cjk, fractional int
	for _, is := range issues {
		types[is.StatusType.Key]++
		queues[is.Queue.Key]++
		if len(is.Aliases) > 0 {
			moved++
		}
		if is.Resolution != nil {
			resolved++
			if is.StatusType.Key != "done" && is.StatusType.Key != "cancelled" {
				t.Errorf("%s resolved in %s status", is.Key, is.StatusType.Key)
			}
		} else if is.StatusType.Key == "done" || is.StatusType.Key == "cancelled" {
			t.Errorf("%s final (%s) without resolution", is.Key, is.Status.Key)
		}
		if is.Assignee != nil && deletedUIDs[is.Assignee.ID] || deletedUIDs[is.CreatedBy.ID] {
			deletedRefs++
		}
		if is.CreatedBy.ID == "" || is.CreatedBy.Display == "" {
			t.Fatalf("%s: createdBy %+v", is.Key, is.CreatedBy)
		}
		text := is.Summary + is.Description
		if strings.ContainsAny(text, "абвгдеёжзийклмнопрстуфхцчшщыьэюя") {
			unicode++
		}
		if strings.ContainsRune(text, '🚀') || strings.ContainsRune(text, '🔥') || strings.ContainsRune(text, '🐛') {
			emoji++
		}
		if strings.ContainsRune(text, '修') || strings.ContainsRune(text, '数') {
			cjk++
		}
		if utf8.RuneCountInString(is.Description) > 10_000 {
			long++
		}
		if is.StoryPoints != nil && *is.StoryPoints != float64(int(*is.StoryPoints)) {
			fractional++
		}
	}
	for _, ty := range []string{StatusTypeNew, StatusTypeInProgress, StatusTypePaused, StatusTypeDone, StatusTypeCancelled} {
		if types[ty] < 20 {
			t.Errorf("only %d issues with status type %s: %v", types[ty], ty, types)
		}
	}
	if len(queues) != 6 || moved < 30 || resolved < 300 || deletedRefs == 0 || unicode < 300 || long < 10 || emoji == 0 || cjk == 0 || fractional == 0 {
		t.Errorf("queues %v moved %d resolved %d deletedRefs %d cyrillic %d long %d emoji %d cjk %d fractional %d",
			queues, moved, resolved, deletedRefs, unicode, long, emoji, cjk, fractional)
	}
	// Entry counts: ~25 on average, ~1% over 200, ~0.1% over 500.
	var total, over200, over500 int
	for _, k := range s.IssueKeys() {
		n := s.ChangelogLen(k)
		total += n
		if n > 200 {
			over200++
		}
		if n > 500 {
			over500++
		}
	}
	avg := float64(total) / 3000
	if avg < 20 || avg > 30 || over200 < 25 || over200 > 45 || over500 < 3 || over500 > 6 {
		t.Errorf("entries: avg %.1f, >200: %d, >500: %d", avg, over200, over500)
	}
	if int64(total) != s.TotalChangelogEntries() {
		t.Errorf("sum of ChangelogLen %d, TotalChangelogEntries %d", total, s.TotalChangelogEntries())
	}
	// updatedAt strictly increasing with the synthetic index.
	prev := int64(0)
	for i := range 3000 {
		u := s.updatedOf(i)
		if u <= prev || u > DefaultNow.UnixMilli() {
			t.Fatalf("updatedOf(%d) = %d after %d", i, u, prev)
		}
		prev = u
	}
}

// TestMemoryStaysSmall checks that 100 000 issues are not materialized.
func TestMemoryStaysSmall(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 100_000, Seed: 1})
	if s.IssueCount() != 100_000 {
		t.Fatal("IssueCount")
	}
	keys := s.IssueKeys()
	if len(keys) != 100_000 {
		t.Fatalf("%d keys", len(keys))
	}
	if n := s.TotalChangelogEntries(); n < 2_000_000 || n > 3_000_000 {
		t.Errorf("TotalChangelogEntries = %d, want ≈ 2.5M", n)
	}
	cached := 0
	for i := range s.cache {
		if s.cache[i].Load() != nil {
			cached++
		}
	}
	if cached != 0 {
		t.Errorf("%d issues materialized by IssueKeys/TotalChangelogEntries", cached)
	}
}
