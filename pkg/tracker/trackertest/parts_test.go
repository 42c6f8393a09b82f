package trackertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// Wire shapes of comments, worklogs and links (tracker-api.md §5.7, §5.8).

type wireUser struct {
	Self    string `json:"self"`
	ID      string `json:"id"`
	Display string `json:"display"`
}

type wireComment struct {
	Self      string          `json:"self"`
	ID        json.RawMessage `json:"id"`
	LongID    string          `json:"longId"`
	Text      *string         `json:"text"`
	TextHTML  *string         `json:"textHtml"`
	CreatedBy wireUser        `json:"createdBy"`
	UpdatedBy wireUser        `json:"updatedBy"`
	CreatedAt string          `json:"createdAt"`
	UpdatedAt string          `json:"updatedAt"`
	Version   int             `json:"version"`
	Type      string          `json:"type"`
	Transport string          `json:"transport"`
}

type wireWorklog struct {
	Self      string          `json:"self"`
	ID        json.RawMessage `json:"id"`
	Version   int             `json:"version"`
	Issue     wireRef         `json:"issue"`
	Comment   *string         `json:"comment"`
	CreatedBy wireUser        `json:"createdBy"`
	UpdatedBy wireUser        `json:"updatedBy"`
	CreatedAt string          `json:"createdAt"`
	UpdatedAt string          `json:"updatedAt"`
	Start     string          `json:"start"`
	Duration  string          `json:"duration"`
}

type wireLinkType struct {
	Self    string `json:"self"`
	ID      string `json:"id"`
	Inward  string `json:"inward"`
	Outward string `json:"outward"`
}

type wireLink struct {
	Self      string          `json:"self"`
	ID        json.RawMessage `json:"id"`
	Type      wireLinkType    `json:"type"`
	Direction string          `json:"direction"`
	Object    wireRef         `json:"object"`
	CreatedBy wireUser        `json:"createdBy"`
	UpdatedBy wireUser        `json:"updatedBy"`
	CreatedAt string          `json:"createdAt"`
	UpdatedAt string          `json:"updatedAt"`
	Assignee  *wireUser       `json:"assignee"`
	Status    wireRef         `json:"status"`
}

// fullEntry is a changelog entry with the part payloads.
type fullEntry struct {
	wireEntry
	Comments *struct {
		Added   []wirePartRef `json:"added"`
		Updated []struct {
			Comment wirePartRef `json:"comment"`
			From    string      `json:"from"`
			To      string      `json:"to"`
		} `json:"updated"`
		Removed []wirePartRef `json:"removed"`
	} `json:"comments"`
	Worklog []struct {
		Record wirePartRef      `json:"record"`
		From   *wireWorklogSide `json:"from"`
		To     *wireWorklogSide `json:"to"`
	} `json:"worklog"`
	Links []struct {
		From *wireLinkSide `json:"from"`
		To   *wireLinkSide `json:"to"`
	} `json:"links"`
}

type wirePartRef struct {
	Self    string          `json:"self"`
	ID      json.RawMessage `json:"id"`
	Display string          `json:"display"`
}

type wireWorklogSide struct {
	Duration string `json:"duration"`
	Start    string `json:"start"`
}

type wireLinkSide struct {
	Direction string       `json:"direction"`
	Object    wireRef      `json:"object"`
	Type      wireLinkType `json:"type"`
}

// numID reads a JSON id that must be a number.
func numID(t testing.TB, raw json.RawMessage) int64 {
	t.Helper()
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		t.Fatalf("id %s is not a JSON number", raw)
	}
	return n
}

// listAll follows rel="next" from path and returns the items and the
// number of requests.
func listAll[T any](c *client, path string) ([]T, int) {
	c.t.Helper()
	url := c.base + path
	var out []T
	requests := 0
	for url != "" {
		requests++
		if requests > 1000 {
			c.t.Fatalf("%s: next links do not end", path)
		}
		r := c.mustOK("GET", url, "")
		out = append(out, decode[[]T](c.t, r.body)...)
		l := links(r.header)
		if l["first"] == "" {
			c.t.Fatalf("%s: no rel=\"first\" link", url)
		}
		url = l["next"]
	}
	return out, requests
}

func findKey(t *testing.T, s *Server, ok func(key string) bool) string {
	t.Helper()
	for _, k := range s.IssueKeys() {
		if ok(k) {
			return k
		}
	}
	t.Fatal("no issue matches")
	return ""
}

var (
	durationRE = regexp.MustCompile(`^P(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$`)
	longIDRE   = regexp.MustCompile(`^[0-9a-f]{24}$`)
)

func TestCommentsEndpoint(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 600, Seed: 5})
	c := newClient(t, s)
	keys := map[string]string{
		"busy":   findKey(t, s, func(k string) bool { return len(s.Comments(k)) > 100 }),
		"few":    findKey(t, s, func(k string) bool { n := len(s.Comments(k)); return n > 2 && n < 10 }),
		"none":   findKey(t, s, func(k string) bool { return len(s.Comments(k)) == 0 }),
		"email":  findKey(t, s, func(k string) bool { cs := s.Comments(k); return len(cs) > 0 && cs[0].Transport == "email" }),
		"edited": findKey(t, s, func(k string) bool { cs := s.Comments(k); return len(cs) > 0 && cs[len(cs)-1].Version > 1 }),
		"long": findKey(t, s, func(k string) bool {
			for _, x := range s.Comments(k) {
				if utf8.RuneCountInString(x.Text) > 10_000 {
					return true
				}
			}
			return false
		}),
	}
	users := map[string]UserInfo{}
	for _, u := range s.Users() {
		users[strconv.FormatInt(u.UID, 10)] = u
	}
	for name, key := range keys {
		want := s.Comments(key)
		for _, tc := range []struct {
			params string
			per    int
		}{{"", 50}, {"?perPage=7", 7}, {"?perPage=100", 100}, {"?perPage=1000", 100}, {"?perPage=3&expand=html", 3}} {
			got, requests := listAll[wireComment](c, "/v2/issues/"+key+"/comments"+tc.params)
			if len(got) != len(want) {
				t.Fatalf("%s %s%s: %d comments, want %d", name, key, tc.params, len(got), len(want))
			}
			if wantReq := max(1, (len(want)+tc.per-1)/tc.per); requests != wantReq {
				t.Errorf("%s%s: %d requests, want %d (next only while more exist)", name, tc.params, requests, wantReq)
			}
			html := strings.Contains(tc.params, "html")
			for i, g := range got {
				w := want[i]
				if numID(t, g.ID) != w.ID || g.LongID != w.LongID || !longIDRE.MatchString(g.LongID) ||
					g.Text == nil || *g.Text != w.Text || g.Version != w.Version || g.Type != w.Type || g.Transport != w.Transport {
					t.Fatalf("%s: comment %d = %+v, want %+v", name, i, g, w)
				}
				if html != (g.TextHTML != nil) {
					t.Fatalf("%s%s: textHtml present %v", name, tc.params, g.TextHTML != nil)
				}
				if !strings.HasSuffix(g.Self, "/v2/issues/"+key+"/comments/"+strconv.FormatInt(w.ID, 10)) {
					t.Fatalf("%s: self %s", name, g.Self)
				}
				if u := users[g.CreatedBy.ID]; u.Login != w.CreatedBy.Login || users[g.UpdatedBy.ID].Login != w.UpdatedBy.Login {
					t.Fatalf("%s: authors %+v %+v, want %s %s", name, g.CreatedBy, g.UpdatedBy, w.CreatedBy.Login, w.UpdatedBy.Login)
				}
				if !parseTime(t, g.CreatedAt).Equal(w.CreatedAt) || !parseTime(t, g.UpdatedAt).Equal(w.UpdatedAt) || w.UpdatedAt.Before(w.CreatedAt) {
					t.Fatalf("%s: times %s %s, want %s %s", name, g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt)
				}
				if (g.Type == "standard") != (g.Transport == "internal") {
					t.Fatalf("%s: type %s with transport %s", name, g.Type, g.Transport)
				}
			}
		}
		// The next link keeps expand; the single comment endpoint answers.
		if len(want) > 3 {
			r := c.mustOK("GET", "/v3/issues/"+key+"/comments?perPage=2&expand=html", "")
			if next := links(r.header)["next"]; !strings.Contains(next, "expand=html") || !strings.Contains(next, "/v3/") ||
				!strings.Contains(next, "id="+strconv.FormatInt(want[1].ID, 10)) {
				t.Errorf("next link %q", next)
			}
			one := decode[wireComment](t, c.mustOK("GET", "/v2/issues/"+key+"/comments/"+strconv.FormatInt(want[2].ID, 10), "").body)
			if *one.Text != want[2].Text {
				t.Errorf("single comment %+v", one)
			}
		}
	}
	// Texts: unicode and long, lossless.
	var long, cyrillic bool
	for _, x := range s.Comments(keys["long"]) {
		long = long || utf8.RuneCountInString(x.Text) > 10_000
	}
	for _, k := range s.IssueKeys()[:300] {
		for _, x := range s.Comments(k) {
			cyrillic = cyrillic || strings.ContainsAny(x.Text, "ёжщ")
		}
	}
	if !long || !cyrillic {
		t.Errorf("long %v cyrillic %v", long, cyrillic)
	}
	// Errors.
	key := keys["busy"]
	errorBody(t, c.do("GET", "/v2/issues/"+key+"/comments?id=abc", ""), http.StatusBadRequest)
	errorBody(t, c.do("GET", "/v2/issues/"+key+"/comments?id=1", ""), http.StatusBadRequest)
	errorBody(t, c.do("GET", "/v2/issues/"+key+"/comments?perPage=0", ""), http.StatusBadRequest)
	errorBody(t, c.do("GET", "/v2/issues/"+key+"/comments/1", ""), http.StatusNotFound)
	errorBody(t, c.do("GET", "/v2/issues/NOPE-1/comments", ""), http.StatusNotFound)
	if s.Requests(EpComments) < 50 {
		t.Errorf("Requests(comments) = %d", s.Requests(EpComments))
	}
}

func TestRealisticCursorPages(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 600, Seed: 5, Realistic: true})
	c := newClient(t, s)
	for _, tc := range []struct {
		path string
		n    func(string) int
	}{
		{"comments", func(k string) int { return len(s.Comments(k)) }},
		{"worklog", func(k string) int { return len(s.Worklogs(k)) }},
	} {
		key := findKey(t, s, func(k string) bool { return tc.n(k) > 100 })
		n := tc.n(key)
		got, requests := listAll[json.RawMessage](c, "/v2/issues/"+key+"/"+tc.path+"?perPage=50")
		if len(got) != n || requests != (n+49)/50+1 {
			t.Errorf("%s realistic: %d items in %d requests, want %d in %d", tc.path, len(got), requests, n, (n+49)/50+1)
		}
		none := findKey(t, s, func(k string) bool { return tc.n(k) == 0 })
		if _, requests := listAll[json.RawMessage](c, "/v2/issues/"+none+"/"+tc.path); requests != 1 {
			t.Errorf("%s realistic, empty list: %d requests", tc.path, requests)
		}
	}
}

func TestWorklogEndpoint(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 600, Seed: 5})
	c := newClient(t, s)
	busy := findKey(t, s, func(k string) bool { return len(s.Worklogs(k)) > 100 })
	few := findKey(t, s, func(k string) bool { n := len(s.Worklogs(k)); return n >= 2 && n < 10 })
	none := findKey(t, s, func(k string) bool { return len(s.Worklogs(k)) == 0 })
	edited := findKey(t, s, func(k string) bool {
		for _, w := range s.Worklogs(k) {
			if w.Version > 1 {
				return true
			}
		}
		return false
	})
	for _, key := range []string{busy, few, none, edited} {
		want := s.Worklogs(key)
		info, _ := s.Issue(key)
		for _, per := range []int{50, 9, 100} {
			got, requests := listAll[wireWorklog](c, "/v3/issues/"+key+"/worklog?perPage="+itoa(per))
			if len(got) != len(want) || requests != max(1, (len(want)+per-1)/per) {
				t.Fatalf("%s perPage %d: %d records in %d requests, want %d", key, per, len(got), requests, len(want))
			}
			var sum int64
			for i, g := range got {
				w := want[i]
				sec, err := parseDuration(g.Duration)
				if numID(t, g.ID) != w.ID || g.Duration != w.Duration || err != nil || sec != w.Seconds || !durationRE.MatchString(g.Duration) ||
					g.Version != w.Version || g.Issue.Key != info.Key || g.Issue.ID != info.ID {
					t.Fatalf("%s: record %d = %+v, want %+v", key, i, g, w)
				}
				if !parseTime(t, g.Start).Equal(w.Start) || !parseTime(t, g.CreatedAt).Equal(w.CreatedAt) || !parseTime(t, g.UpdatedAt).Equal(w.UpdatedAt) {
					t.Fatalf("%s: record %d times %+v, want %+v", key, i, g, w)
				}
				if (g.Comment == nil) != (w.Comment == "") || g.Comment != nil && *g.Comment != w.Comment {
					t.Fatalf("%s: record %d comment %v, want %q", key, i, g.Comment, w.Comment)
				}
				if i > 0 && w.ID <= want[i-1].ID {
					t.Fatalf("%s: worklog ids do not increase", key)
				}
				sum += sec
			}
			if sum != info.SpentSeconds || (sum > 0) != (info.Spent != "") {
				t.Fatalf("%s: records add up to %d s, issue spent %q (%d s)", key, sum, info.Spent, info.SpentSeconds)
			}
		}
		iss := decode[map[string]any](t, c.mustOK("GET", "/v2/issues/"+key, "").body)
		if sp, _ := iss["spent"].(string); sp != info.Spent {
			t.Errorf("%s: issue spent %q, ground truth %q", key, sp, info.Spent)
		}
	}
	errorBody(t, c.do("GET", "/v2/issues/"+busy+"/worklog?id=12", ""), http.StatusBadRequest)
	if s.Requests(EpWorklog) == 0 {
		t.Error("Requests(worklog) = 0")
	}
}

func TestLinksMirrored(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 500, Seed: 9})
	c := newClient(t, s)
	byKey := map[string][]wireLink{}
	infos := map[string]IssueInfo{}
	for _, k := range s.IssueKeys() {
		if len(s.Links(k)) == 0 && k != s.IssueKeys()[0] {
			continue
		}
		byKey[k] = decode[[]wireLink](t, c.mustOK("GET", "/v2/issues/"+k+"/links", "").body)
		infos[k], _ = s.Issue(k)
	}
	total, changed := 0, 0
	types := map[string]bool{}
	for key, ls := range byKey {
		want := s.Links(key)
		if len(ls) != len(want) {
			t.Fatalf("%s: %d links, ground truth %d", key, len(ls), len(want))
		}
		for i, l := range ls {
			total++
			w := want[i]
			id := numID(t, l.ID)
			if id != w.ID || l.Type.ID != w.Type || l.Direction != w.Direction || l.Object.Key != w.ObjectKey ||
				l.Status.Key != w.ObjectStatus || l.Type.Inward != w.Inward || l.Type.Outward != w.Outward {
				t.Fatalf("%s: link %+v, want %+v", key, l, w)
			}
			types[l.Type.ID] = true
			if l.UpdatedAt != l.CreatedAt {
				changed++
			}
			other, ok := byKey[l.Object.Key]
			if !ok {
				t.Fatalf("%s links to %s, which lists no links", key, l.Object.Key)
			}
			var mirror *wireLink
			for j := range other {
				if numID(t, other[j].ID) == id {
					mirror = &other[j]
				}
			}
			if mirror == nil || mirror.Object.Key != key || mirror.Type.ID != l.Type.ID || mirror.Direction == l.Direction ||
				mirror.CreatedAt != l.CreatedAt || mirror.UpdatedAt != l.UpdatedAt || mirror.CreatedBy.ID != l.CreatedBy.ID {
				t.Fatalf("%s link %d: mirror on %s is %+v", key, id, l.Object.Key, mirror)
			}
			at := parseTime(t, l.CreatedAt)
			for _, k := range []string{key, l.Object.Key} {
				if at.Before(infos[k].CreatedAt) || !at.Before(infos[k].UpdatedAt) {
					t.Fatalf("link %d made at %s outside the life of %s", id, at, k)
				}
			}
			obj := decode[wireIssue](t, c.mustOK("GET", "/v2/issues/"+l.Object.Key, "").body)
			if (obj.Assignee == nil) != (l.Assignee == nil) || obj.Status.Key != l.Status.Key || obj.ID != l.Object.ID || obj.Summary != l.Object.Display {
				t.Fatalf("%s link %d: object fields differ from the other issue", key, id)
			}
		}
	}
	if total < 40 || changed == 0 || len(types) != 3 {
		t.Errorf("%d link sides, %d changed, types %v", total, changed, types)
	}
	if s.Requests(EpLinks) == 0 {
		t.Error("Requests(links) = 0")
	}
}

// TestPartsAnnouncedByChangelog replays every changelog: each comment,
// worklog record and link an endpoint lists was announced there, and each
// announced one not removed is listed; an issue whose changelog mentions
// none has none.
func TestPartsAnnouncedByChangelog(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 700, Seed: 33})
	c := newClient(t, s)
	var quiet, mentioned [3]int
	events := map[string]int{}
	for n, key := range s.IssueKeys() {
		if n%2 == 1 && n != 125 && n != 375 { // half of them, busy ones included
			continue
		}
		var entries []fullEntry
		for url := c.base + "/v2/issues/" + key + "/changelog?perPage=1000"; url != ""; {
			r := c.mustOK("GET", url, "")
			entries = append(entries, decode[[]fullEntry](t, r.body)...)
			url = links(r.header)["next"]
		}
		plain := make([]wireEntry, len(entries))
		for i := range entries {
			plain[i] = entries[i].wireEntry
		}
		if info, _ := s.Issue(key); len(info.Aliases) == 0 { // checkChangelog wants status first, which a move may not have
			checkChangelog(t, s, c, key, plain)
		}

		var comments, worklogs, linkIDs []int64
		commentLive := map[int64]bool{}
		worklogDur := map[int64]string{}
		linkLive := map[int64]wireLinkSide{}
		var spent, est string
		for _, e := range entries {
			events[e.Type]++
			if e.Type == "IssueWorkflow" && e.Comments != nil {
				events["comment with a transition"]++
			}
			isComment := strings.HasPrefix(e.Type, "IssueComment")
			if isComment != (e.Comments != nil) && !(e.Type == "IssueWorkflow" && e.Comments != nil) {
				t.Fatalf("%s: %s entry with comments %v", key, e.Type, e.Comments != nil)
			}
			if strings.HasPrefix(e.Type, "IssueWorklog") != (len(e.Worklog) > 0) {
				t.Fatalf("%s: %s entry with worklog %v", key, e.Type, len(e.Worklog))
			}
			if (e.Type == "IssueLinked" || e.Type == "IssueLinkChanged" || e.Type == "IssueUnlinked") != (len(e.Links) > 0) {
				t.Fatalf("%s: %s entry with links %v", key, e.Type, len(e.Links))
			}
			if e.Comments != nil {
				for _, a := range e.Comments.Added {
					id := numID(t, a.ID)
					comments = append(comments, id)
					commentLive[id] = true
				}
				for _, u := range e.Comments.Updated {
					if id := numID(t, u.Comment.ID); !commentLive[id] || u.From == u.To || !strings.HasPrefix(u.To, u.Comment.Display) {
						t.Fatalf("%s: update of comment %d (live %v) %q → %q", key, id, commentLive[id], u.From, u.To)
					}
				}
				for _, r := range e.Comments.Removed {
					id := numID(t, r.ID)
					if !commentLive[id] {
						t.Fatalf("%s: removal of comment %d that is not live", key, id)
					}
					delete(commentLive, id)
				}
			}
			for _, w := range e.Worklog {
				id := numID(t, w.Record.ID)
				switch {
				case w.From == nil:
					worklogs = append(worklogs, id)
					worklogDur[id] = w.To.Duration
				case w.To == nil:
					delete(worklogDur, id)
				default:
					if worklogDur[id] != w.From.Duration {
						t.Fatalf("%s: worklog %d changed from %s, was %s", key, id, w.From.Duration, worklogDur[id])
					}
					worklogDur[id] = w.To.Duration
				}
			}
			for _, l := range e.Links {
				id := int64(-1)
				switch {
				case l.From == nil:
					id = int64(len(linkIDs))
					linkIDs = append(linkIDs, id)
					linkLive[id] = *l.To
				default:
					for k, v := range linkLive { // one link per pair of issues
						if v.Object.Key == l.From.Object.Key && v.Type.ID == l.From.Type.ID && v.Direction == l.From.Direction {
							id = k
						}
					}
					if _, ok := linkLive[id]; !ok {
						t.Fatalf("%s: %s of a link that is not live", key, e.Type)
					}
					if l.To == nil {
						delete(linkLive, id)
					} else {
						linkLive[id] = *l.To
					}
				}
			}
			for _, f := range e.Fields {
				var v string
				_ = json.Unmarshal(f.To, &v)
				switch f.Field.ID {
				case "spent":
					spent = v
					if !strings.HasPrefix(e.Type, "IssueWorklog") {
						t.Fatalf("%s: spent changed by %s", key, e.Type)
					}
				case "estimation":
					est = v
				}
			}
		}
		// Compare with the endpoints.
		gotC, _ := listAll[wireComment](c, "/v2/issues/"+key+"/comments?perPage=100")
		var wantC []int64
		for _, id := range comments {
			if commentLive[id] {
				wantC = append(wantC, id)
			}
		}
		if len(gotC) != len(wantC) {
			t.Fatalf("%s: %d comments listed, changelog leaves %d", key, len(gotC), len(wantC))
		}
		for i := range gotC {
			if numID(t, gotC[i].ID) != wantC[i] {
				t.Fatalf("%s: comment %d is %s, changelog order says %d", key, i, gotC[i].ID, wantC[i])
			}
		}
		gotW, _ := listAll[wireWorklog](c, "/v2/issues/"+key+"/worklog?perPage=100")
		var wantW []int64
		var sum int64
		for _, id := range worklogs {
			if d, ok := worklogDur[id]; ok {
				wantW = append(wantW, id)
				sec, _ := parseDuration(d)
				sum += sec
			}
		}
		if len(gotW) != len(wantW) {
			t.Fatalf("%s: %d worklog records listed, changelog leaves %d", key, len(gotW), len(wantW))
		}
		for i := range gotW {
			if id := numID(t, gotW[i].ID); id != wantW[i] || gotW[i].Duration != worklogDur[id] {
				t.Fatalf("%s: worklog %d is %s %s, changelog says %d %s", key, i, gotW[i].ID, gotW[i].Duration, wantW[i], worklogDur[wantW[i]])
			}
		}
		gotL := decode[[]wireLink](t, c.mustOK("GET", "/v2/issues/"+key+"/links", "").body)
		if len(gotL) != len(linkLive) {
			t.Fatalf("%s: %d links listed, changelog leaves %d", key, len(gotL), len(linkLive))
		}
		for _, l := range gotL {
			found := false
			for _, v := range linkLive {
				found = found || v.Object.Key == l.Object.Key && v.Type.ID == l.Type.ID && v.Direction == l.Direction
			}
			if !found {
				t.Fatalf("%s: link %+v not announced", key, l)
			}
		}
		iss := decode[map[string]any](t, c.mustOK("GET", "/v2/issues/"+key, "").body)
		if got, _ := iss["spent"].(string); got != spent || spent != "" && spent != formatDuration(sum) {
			t.Fatalf("%s: issue spent %q, changelog %q, records %s", key, got, spent, formatDuration(sum))
		}
		if got, _ := iss["estimation"].(string); got != est {
			t.Fatalf("%s: estimation %q, changelog %q", key, got, est)
		}
		if n := iss["commentWithoutExternalMessageCount"].(float64) + iss["commentWithExternalMessageCount"].(float64); int(n) != len(wantC) {
			t.Fatalf("%s: comment counts add up to %v, %d listed", key, n, len(wantC))
		}
		for k, n := range []int{len(comments), len(worklogs), len(linkIDs)} {
			if n == 0 {
				quiet[k]++
			} else {
				mentioned[k]++
			}
		}
	}
	for _, ty := range []string{"IssueCommentAdded", "IssueCommentUpdated", "IssueCommentRemoved", "comment with a transition",
		"IssueWorklogAdded", "IssueWorklogUpdated", "IssueWorklogRemoved", "IssueLinked", "IssueLinkChanged", "IssueUnlinked"} {
		if events[ty] == 0 {
			t.Errorf("no %s event in the changelogs: %v", ty, events)
		}
	}
	for k, name := range []string{"comments", "worklogs", "links"} {
		if quiet[k] <= mentioned[k] || mentioned[k] == 0 {
			t.Errorf("%s: %d issues without, %d with; want most without and some with", name, quiet[k], mentioned[k])
		}
	}
}

func TestPartsDeterminism(t *testing.T) {
	t.Parallel()
	a, b, other := New(Options{Issues: 700, Seed: 4}), New(Options{Issues: 700, Seed: 4}), New(Options{Issues: 700, Seed: 5})
	busyC := findKey(t, a, func(k string) bool { return len(a.Comments(k)) > 100 })
	busyW := findKey(t, a, func(k string) bool { return len(a.Worklogs(k)) > 100 })
	linked := findKey(t, a, func(k string) bool { return len(a.Links(k)) > 0 })
	paths := []string{
		"/v2/issues/" + busyC + "/comments?perPage=100&expand=html",
		"/v2/issues/" + busyW + "/worklog?perPage=100",
		"/v3/issues/" + linked + "/links",
		"/v2/issues/" + linked + "/changelog?perPage=1000",
		"/v2/boards", "/v2/boards/1/sprints", "/v2/sprints/13",
	}
	for _, p := range paths {
		ra, rb := serveRaw(a, "GET", p, ""), serveRaw(b, "GET", p, "")
		if ra.Code != 200 || !bytes.Equal(ra.Body.Bytes(), rb.Body.Bytes()) || ra.Header().Get("Link") != rb.Header().Get("Link") {
			t.Errorf("GET %s: %d; two servers with one seed answer differently", p, ra.Code)
		}
		if strings.Contains(p, "/issues/") && bytes.Equal(ra.Body.Bytes(), serveRaw(other, "GET", p, "").Body.Bytes()) {
			t.Errorf("GET %s: another seed gives the same bytes", p)
		}
	}
	// Regenerating (cache evicted) gives the same bytes.
	r1 := serveRaw(a, "GET", paths[0], "")
	for i := range cacheSize {
		a.cache[i].Store(nil)
	}
	if r2 := serveRaw(a, "GET", paths[0], ""); !bytes.Equal(r1.Body.Bytes(), r2.Body.Bytes()) {
		t.Error("regenerated comments differ")
	}
}

func TestDurations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		sec  int64
		norm string
	}{
		{"PT1H30M", 5400, "PT1H30M"}, {"PT90M", 5400, "PT1H30M"}, {"P1D", 8 * 3600, "P1D"}, {"PT8H", 8 * 3600, "P1D"},
		{"P1W", 40 * 3600, "P1W"}, {"P5D", 40 * 3600, "P1W"}, {"P2DT3H", 19 * 3600, "P2DT3H"}, {"PT45M", 2700, "PT45M"},
		{"P1W2DT3H", 59 * 3600, "P1W2DT3H"}, {"PT30S", 30, "PT30S"}, {"P3W", 120 * 3600, "P3W"},
	} {
		sec, err := parseDuration(tc.in)
		if err != nil || sec != tc.sec || formatDuration(sec) != tc.norm {
			t.Errorf("%s: %d %v, format %s; want %d %s", tc.in, sec, err, formatDuration(sec), tc.sec, tc.norm)
		}
	}
	for _, bad := range []string{"", "P", "PT", "1H", "PT1D", "P1H", "P1Y", "PT-1H", "P0D", "PT1.5H"} {
		if _, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) succeeded", bad)
		}
	}
}

// TestPartsVersions checks that v3 answers the new endpoints like v2,
// beyond the version in self URLs, with and without a trailing slash, and
// that HEAD works.
func TestPartsVersions(t *testing.T) {
	t.Parallel()
	s := New(Options{Issues: 300, Seed: 3})
	c := newClient(t, s)
	withC := findKey(t, s, func(k string) bool { return len(s.Comments(k)) > 3 })
	withW := findKey(t, s, func(k string) bool { return len(s.Worklogs(k)) > 0 })
	withL := findKey(t, s, func(k string) bool { return len(s.Links(k)) > 0 })
	paths := []string{
		"/issues/" + withC + "/comments?perPage=2&expand=html",
		"/issues/" + withC + "/comments/" + strconv.FormatInt(s.Comments(withC)[0].ID, 10),
		"/issues/" + withW + "/worklog",
		"/issues/" + withW + "/worklog/" + strconv.FormatInt(s.Worklogs(withW)[0].ID, 10),
		"/issues/" + withL + "/links",
		"/issues/" + withL + "/links/" + strconv.FormatInt(s.Links(withL)[0].ID, 10),
		"/boards", "/boards/2", "/boards/3/sprints", "/sprints/14",
	}
	for _, p := range paths {
		v2 := c.mustOK("GET", "/v2"+p, "")
		path, query, _ := strings.Cut(p, "?")
		if query != "" {
			query = "?" + query
		}
		v3 := c.mustOK("GET", "/v3"+path+"/"+query, "")
		if want := strings.ReplaceAll(string(v2.body), c.base+"/v2/", c.base+"/v3/"); string(v3.body) != want {
			t.Errorf("GET %s: v3 differs from v2 beyond the version:\n%.300s\n%.300s", p, v3.body, want)
		}
		if l := links(v2.header)["next"]; l != "" && strings.ReplaceAll(l, "/v2/", "/v3/") != links(v3.header)["next"] {
			t.Errorf("GET %s: next links %s, %s", p, l, links(v3.header)["next"])
		}
		if r := c.do("HEAD", "/v2"+p, ""); r.status != http.StatusOK || len(r.body) != 0 {
			t.Errorf("HEAD %s: %d, %d bytes", p, r.status, len(r.body))
		}
	}
	errorBody(t, c.do("POST", "/v2/issues/"+withC+"/comments", "{}"), http.StatusMethodNotAllowed)
	errorBody(t, c.do("GET", "/v2/issues/"+withC+"/comments/1/x", ""), http.StatusNotFound)
}

// BenchmarkPartsPages serves the comments, worklog and links of issues not
// in the cache, as an extractor does for the issues whose changelog
// mentions them.
func BenchmarkPartsPages(b *testing.B) {
	s := New(Options{Issues: 100_000, Seed: 1})
	h := s.Handler()
	keys := s.IssueKeys()
	i := 0
	for b.Loop() {
		key := keys[(i*7919)%len(keys)]
		serve(b, h, "GET", "/v2/issues/"+key+"/comments?perPage=100", "")
		serve(b, h, "GET", "/v2/issues/"+key+"/worklog?perPage=100", "")
		serve(b, h, "GET", "/v2/issues/"+key+"/links", "")
		i++
	}
}
