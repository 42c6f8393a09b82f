package clickhouse

// METRICS.md §3-§5 rows, from Transform through the wire codec into
// ClickHouse, read back from the *_view views. Expected values by hand.

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/internal/transformer"
	"github.com/tracker-exporter/tracker-exporter/pkg/calendar"
	"github.com/tracker-exporter/tracker-exporter/pkg/flow"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

func auRef(kind, key, display string) string {
	if key == "" {
		return "null"
	}
	return fmt.Sprintf(`{"self":"https://api.tracker.yandex.net/v2/%s/%s","id":"%s","key":"%s","display":"%s"}`, kind, key, key, key, display)
}

var auNames = map[string]string{
	"open": "Open", "inProgress": "In progress", "testing": "Testing", "readyForRelease": "Ready for release",
	"closed": "Closed", "needInfo": "Need info", "rejected": "Rejected", "stage2": "Stage 2",
}

func auName(k string) string {
	if n, ok := auNames[k]; ok {
		return n
	}
	return k
}

// auEntry is a changelog entry (IssueCreated when from is "" and seq 0).
func auEntry(id, typ, at, from, to string) []byte {
	fields := fmt.Sprintf(`{"field":{"self":"https://api.tracker.yandex.net/v2/fields/status","id":"status","display":"Status"},"from":%s,"to":%s}`,
		auRef("statuses", from, auName(from)), auRef("statuses", to, auName(to)))
	return []byte(fmt.Sprintf(`{"id":"%s","self":"https://api.tracker.yandex.net/v2/issues/A-1/changelog/%s","updatedAt":"%s","type":"%s","transport":"front","fields":[%s]}`,
		id, id, at, typ, fields))
}

var auDir = map[string]wire.Status{
	"open":            {Key: "open", Name: "Open", Type: "new"},
	"inProgress":      {Key: "inProgress", Name: "In progress", Type: "inProgress"},
	"testing":         {Key: "testing", Name: "Testing", Type: "inProgress"},
	"readyForRelease": {Key: "readyForRelease", Name: "Ready for release", Type: "paused"},
	"closed":          {Key: "closed", Name: "Closed", Type: "done"},
	"needInfo":        {Key: "needInfo", Name: "Need info", Type: "paused"},
	"rejected":        {Key: "rejected", Name: "Rejected", Type: "cancelled"},
	"stage2":          {Key: "stage2", Name: "Stage 2", Type: "inProgress"},
}

type auIssue struct {
	id, key, status, created, updated, extra string
	// transitions: at, from, to (the first, with from "", is IssueCreated)
	trs [][3]string
	// starts gives, by transition index, a statusStartTime "to" value;
	// types overrides the entry type by index.
	starts map[int]string
	types  map[int]string
}

func (a auIssue) snapshot() *wire.IssueSnapshot {
	issue := fmt.Sprintf(`{"self":"https://api.tracker.yandex.net/v2/issues/%s","id":"%s","key":"%s","version":3,"summary":"s","queue":{"self":"https://api.tracker.yandex.net/v2/queues/A","id":"1","key":"A","display":"A"},"status":%s,"createdAt":"%s","updatedAt":"%s"%s}`,
		a.key, a.id, a.key, auRef("statuses", a.status, auName(a.status)), a.created, a.updated, a.extra)
	var entries [][]byte
	for i, tr := range a.trs {
		typ := "IssueWorkflow"
		if tr[1] == "" {
			typ = "IssueCreated"
		}
		if tt, ok := a.types[i]; ok {
			typ = tt
		}
		e := auEntry(fmt.Sprintf("%s-e%d", a.id, i), typ, tr[0], tr[1], tr[2])
		if st, ok := a.starts[i]; ok {
			e = []byte(strings.Replace(string(e), `]}`, fmt.Sprintf(`,{"field":{"self":"https://api.tracker.yandex.net/v2/fields/statusStartTime","id":"statusStartTime","display":"x"},"from":null,"to":"%s"}]}`, st), 1))
		}
		entries = append(entries, e)
	}
	return &wire.IssueSnapshot{IssueID: a.id, IssueKey: a.key, Issue: []byte(issue), Changelog: entries,
		Users: map[string]wire.User{}, Statuses: auDir}
}

func auRules(t *testing.T, cfg calendar.Config) *transformer.Rules {
	t.Helper()
	cal, err := calendar.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &transformer.Rules{Flow: flow.Rules{Calendar: cal,
		Closed: []string{"closed", "rejected", "resolved", "cancelled", "released"}}, Generation: "audit"}
}

// auLoad transforms each issue at asOf, passes the rows through the wire
// codec (as NATS carries them) and inserts them into a fresh database.
func auLoad(t *testing.T, r *transformer.Rules, asOf time.Time, issues ...auIssue) *Client {
	t.Helper()
	c := newMigrated(t)
	var rows []*wire.IssueRows
	for _, is := range issues {
		body, enc, err := wire.Marshal(is.snapshot())
		if err != nil {
			t.Fatal(err)
		}
		var snap wire.IssueSnapshot
		if err := wire.Unmarshal(body, enc, &snap); err != nil {
			t.Fatal(err)
		}
		res, err := transformer.Transform(&snap, r, asOf)
		if err != nil {
			t.Fatalf("Transform %s: %v", is.key, err)
		}
		body, enc, err = wire.Marshal(res.Rows)
		if err != nil {
			t.Fatal(err)
		}
		var out wire.IssueRows
		if err := wire.UnmarshalView(body, enc, &out); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, &out)
	}
	if err := c.InsertRows(context.Background(), rows); err != nil {
		t.Fatalf("InsertRows: %v", err)
	}
	return c
}

func auT(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var auZero = time.Unix(0, 0).UTC()

// metric: name type count duration hr bus hrbus last_seen current
type auMetric struct {
	key, name, typ string
	count          uint32
	dur            int64
	hr             string
	bus            int64
	hrBus          string
	lastSeen       string
	current        uint8
}

func auCheckMetrics(t *testing.T, c *Client, issueKey string, want []auMetric) {
	t.Helper()
	got := map[string]metricOut{}
	for _, m := range selectAll[metricOut](t, c, "issue_metrics_view", "issue_id, status_key") {
		if m.IssueKey == issueKey {
			got[m.StatusKey] = m
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: issue_metrics_view has %d rows, want %d: %+v", issueKey, len(got), len(want), got)
	}
	for _, w := range want {
		g, ok := got[w.key]
		if !ok {
			t.Errorf("%s: no issue_metrics row for %s", issueKey, w.key)
			continue
		}
		gs := fmt.Sprintf("name=%s type=%s count=%d dur=%d hr=%q bus=%d hrbus=%q last_seen=%s current=%d",
			g.StatusName, g.StatusType, g.StatusTransitionsCount, g.Duration, g.HumanReadableDuration, g.BusdaysDuration,
			g.HumanReadableBusdaysDuration, g.LastSeen.UTC().Format(time.RFC3339), g.IsCurrent)
		ws := fmt.Sprintf("name=%s type=%s count=%d dur=%d hr=%q bus=%d hrbus=%q last_seen=%s current=%d",
			w.name, w.typ, w.count, w.dur, w.hr, w.bus, w.hrBus, w.lastSeen, w.current)
		if gs != ws {
			t.Errorf("%s issue_metrics %s:\n got %s\nwant %s", issueKey, w.key, gs, ws)
		}
	}
}

// interval: key#n entered left dur bus current
func auCheckIntervals(t *testing.T, c *Client, issueKey string, want []string) {
	t.Helper()
	var got []string
	for _, v := range selectAll[intervalOut](t, c, "issue_status_intervals_view", "issue_id, entered_at, status_key, visit_number") {
		if v.IssueKey != issueKey {
			continue
		}
		left := "-"
		if !v.LeftAt.Equal(auZero) {
			left = v.LeftAt.UTC().Format(time.RFC3339)
		}
		got = append(got, fmt.Sprintf("%s/%s/%s#%d %s %s %d %d cur=%d", v.StatusKey, v.StatusName, v.StatusType, v.VisitNumber,
			v.EnteredAt.UTC().Format(time.RFC3339), left, v.Duration, v.BusdaysDuration, v.IsCurrent))
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("%s issue_status_intervals_view:\n got:\n%s\nwant:\n%s", issueKey, g, w)
	}
}

type auFigures struct {
	status, statusKey, statusType   string
	started, done, closed, resolved string // "" = zero date
	isClosed, isResolved            uint8
	lead, leadBus, cycle, cycleBus  *int64
	active, paused                  int64
	fe                              *float64
	reopen                          uint32
	since                           string
	age                             int64
}

func auTS(s string) time.Time {
	if s == "" {
		return auZero
	}
	return auT(s)
}

func auCheckIssue(t *testing.T, c *Client, issueKey string, w auFigures) {
	t.Helper()
	var g *issueOut
	for _, r := range selectAll[issueOut](t, c, "issues_view", "issue_id") {
		if r.IssueKey == issueKey {
			r := r
			g = &r
		}
	}
	if g == nil {
		t.Fatalf("%s: no issues_view row", issueKey)
	}
	p := func(v *int64) string {
		if v == nil {
			return "NULL"
		}
		return fmt.Sprint(*v)
	}
	pf := func(v *float64) string {
		if v == nil {
			return "NULL"
		}
		return fmt.Sprintf("%.4f", *v)
	}
	ts := func(x time.Time) string { return x.UTC().Format(time.RFC3339) }
	fmtRow := func(status, key, typ string, started, done, closed, resolved time.Time, isC, isR uint8, lead, leadB, cyc, cycB *int64,
		act, pau int64, fe *float64, reo uint32, since time.Time, age int64) string {
		return fmt.Sprintf("status=%s key=%s type=%s\nstarted_at=%s done_at=%s closed_at=%s resolved_at=%s is_closed=%d is_resolved=%d\nlead=%s/%s cycle=%s/%s active=%d paused=%d fe=%s reopen=%d since=%s age=%d",
			status, key, typ, ts(started), ts(done), ts(closed), ts(resolved), isC, isR, p(lead), p(leadB), p(cyc), p(cycB), act, pau, pf(fe), reo, ts(since), age)
	}
	gs := fmtRow(g.Status, g.StatusKey, g.StatusType, g.StartedAt, g.DoneAt, g.ClosedAt, g.ResolvedAt, g.IsClosed, g.IsResolved,
		g.LeadTime, g.LeadTimeBusiness, g.CycleTime, g.CycleTimeBusiness, g.ActiveTime, g.PausedTime, g.FlowEfficiency, g.ReopenCount,
		g.CurrentStatusSince, g.CurrentStatusAge)
	ws := fmtRow(w.status, w.statusKey, w.statusType, auTS(w.started), auTS(w.done), auTS(w.closed), auTS(w.resolved), w.isClosed, w.isResolved,
		w.lead, w.leadBus, w.cycle, w.cycleBus, w.active, w.paused, w.fe, w.reopen, auTS(w.since), w.age)
	if gs != ws {
		t.Errorf("%s issues_view:\n got %s\nwant %s", issueKey, gs, ws)
	}
	if w.fe != nil && g.FlowEfficiency != nil && math.Abs(*g.FlowEfficiency-*w.fe) > 1e-9 {
		t.Errorf("%s flow_efficiency %v, want %v", issueKey, *g.FlowEfficiency, *w.fe)
	}
}

// §7 worked example issue.
func auExample(id, key string, withClose bool) auIssue {
	a := auIssue{id: id, key: key, status: "closed", created: "2024-03-04T07:00:00.000+0000", updated: "2024-03-11T07:00:00.000+0000",
		trs: [][3]string{
			{"2024-03-04T07:00:00.000+0000", "", "open"},
			{"2024-03-04T09:00:00.000+0000", "open", "inProgress"},
			{"2024-03-05T09:00:00.000+0000", "inProgress", "testing"},
			{"2024-03-05T13:00:00.000+0000", "testing", "inProgress"},
			{"2024-03-06T10:00:00.000+0000", "inProgress", "testing"},
			{"2024-03-07T10:00:00.000+0000", "testing", "readyForRelease"},
			{"2024-03-11T07:00:00.000+0000", "readyForRelease", "closed"},
		}}
	if !withClose {
		a.status, a.updated, a.trs = "readyForRelease", "2024-03-07T10:00:00.000+0000", a.trs[:6]
	}
	return a
}

func TestMetricsRoundTripWorkedExample(t *testing.T) {
	r := auRules(t, calendar.Default())
	c := auLoad(t, r, auT("2024-03-12T07:00:00Z"), auExample("1", "M-1", true))
	auCheckMetrics(t, c, "M-1", []auMetric{
		{"open", "open", "new", 1, 7200, "2h", 7200, "2h", "2024-03-04T09:00:00Z", 0},
		{"inProgress", "in_progress", "inProgress", 2, 162000, "1d 21h", 82800, "23h", "2024-03-06T10:00:00Z", 0},
		{"testing", "testing", "inProgress", 2, 100800, "1d 4h", 61200, "17h", "2024-03-07T10:00:00Z", 0},
		{"readyForRelease", "ready_for_release", "paused", 1, 334800, "3d 21h", 36000, "10h", "2024-03-11T07:00:00Z", 0},
		{"closed", "closed", "done", 1, 0, "0s", 0, "0s", "2024-03-11T07:00:00Z", 1},
	})
	auCheckIntervals(t, c, "M-1", []string{
		"open/open/new#1 2024-03-04T07:00:00Z 2024-03-04T09:00:00Z 7200 7200 cur=0",
		"inProgress/in_progress/inProgress#1 2024-03-04T09:00:00Z 2024-03-05T09:00:00Z 86400 46800 cur=0",
		"testing/testing/inProgress#1 2024-03-05T09:00:00Z 2024-03-05T13:00:00Z 14400 14400 cur=0",
		"inProgress/in_progress/inProgress#2 2024-03-05T13:00:00Z 2024-03-06T10:00:00Z 75600 36000 cur=0",
		"testing/testing/inProgress#2 2024-03-06T10:00:00Z 2024-03-07T10:00:00Z 86400 46800 cur=0",
		"readyForRelease/ready_for_release/paused#1 2024-03-07T10:00:00Z 2024-03-11T07:00:00Z 334800 36000 cur=0",
		"closed/closed/done#1 2024-03-11T07:00:00Z - 86400 46800 cur=1",
	})
	auCheckIssue(t, c, "M-1", auFigures{status: "closed", statusKey: "closed", statusType: "done",
		started: "2024-03-04T09:00:00Z", done: "2024-03-11T07:00:00Z", closed: "2024-03-11T07:00:00Z", isClosed: 1,
		lead: i64(604800), leadBus: i64(187200), cycle: i64(597600), cycleBus: i64(180000), active: 262800, paused: 334800,
		fe: f64(262800.0 / 597600), reopen: 0, since: "2024-03-11T07:00:00Z", age: 86400})
}

func TestMetricsRoundTripWorkedExampleBeforeClose(t *testing.T) {
	r := auRules(t, calendar.Default())
	c := auLoad(t, r, auT("2024-03-11T07:00:00Z"), auExample("2", "M-2", false))
	auCheckMetrics(t, c, "M-2", []auMetric{
		{"open", "open", "new", 1, 7200, "2h", 7200, "2h", "2024-03-04T09:00:00Z", 0},
		{"inProgress", "in_progress", "inProgress", 2, 162000, "1d 21h", 82800, "23h", "2024-03-06T10:00:00Z", 0},
		{"testing", "testing", "inProgress", 2, 100800, "1d 4h", 61200, "17h", "2024-03-07T10:00:00Z", 0},
		{"readyForRelease", "ready_for_release", "paused", 1, 334800, "3d 21h", 36000, "10h", "2024-03-11T07:00:00Z", 1},
	})
	// started open: fe = active / (as_of - started) = 262800 / 597600
	auCheckIssue(t, c, "M-2", auFigures{status: "ready_for_release", statusKey: "readyForRelease", statusType: "paused",
		started: "2024-03-04T09:00:00Z", active: 262800, paused: 334800, fe: f64(262800.0 / 597600),
		since: "2024-03-07T10:00:00Z", age: 334800})
}

// A status visited 3 times, the current visit open; paused between.
func TestMetricsRoundTripThreeVisitsCurrentOpen(t *testing.T) {
	r := auRules(t, calendar.Default())
	is := auIssue{id: "3", key: "C-1", status: "inProgress", created: "2024-03-04T06:00:00.000+0000", updated: "2024-03-05T08:00:00.000+0000",
		trs: [][3]string{
			{"2024-03-04T06:00:00.000+0000", "", "open"},
			{"2024-03-04T07:00:00.000+0000", "open", "inProgress"},
			{"2024-03-04T10:00:00.000+0000", "inProgress", "needInfo"},
			{"2024-03-04T11:00:00.000+0000", "needInfo", "inProgress"},
			{"2024-03-05T07:00:00.000+0000", "inProgress", "needInfo"},
			{"2024-03-05T08:00:00.000+0000", "needInfo", "inProgress"},
		}}
	c := auLoad(t, r, auT("2024-03-06T12:00:00Z"), is)
	auCheckMetrics(t, c, "C-1", []auMetric{
		{"open", "open", "new", 1, 3600, "1h", 3600, "1h", "2024-03-04T07:00:00Z", 0},
		{"inProgress", "in_progress", "inProgress", 3, 183600, "2d 3h", 104400, "1d 5h", "2024-03-06T12:00:00Z", 1},
		{"needInfo", "need_info", "paused", 2, 7200, "2h", 7200, "2h", "2024-03-05T08:00:00Z", 0},
	})
	auCheckIntervals(t, c, "C-1", []string{
		"open/open/new#1 2024-03-04T06:00:00Z 2024-03-04T07:00:00Z 3600 3600 cur=0",
		"inProgress/in_progress/inProgress#1 2024-03-04T07:00:00Z 2024-03-04T10:00:00Z 10800 10800 cur=0",
		"needInfo/need_info/paused#1 2024-03-04T10:00:00Z 2024-03-04T11:00:00Z 3600 3600 cur=0",
		"inProgress/in_progress/inProgress#2 2024-03-04T11:00:00Z 2024-03-05T07:00:00Z 72000 32400 cur=0",
		"needInfo/need_info/paused#2 2024-03-05T07:00:00Z 2024-03-05T08:00:00Z 3600 3600 cur=0",
		"inProgress/in_progress/inProgress#3 2024-03-05T08:00:00Z - 100800 61200 cur=1",
	})
	auCheckIssue(t, c, "C-1", auFigures{status: "in_progress", statusKey: "inProgress", statusType: "inProgress",
		started: "2024-03-04T07:00:00Z", active: 183600, paused: 7200, fe: f64(183600.0 / 190800),
		since: "2024-03-05T08:00:00Z", age: 100800})
}

// Reopened twice; current final status with two earlier visits; resolved.
func TestMetricsRoundTripReopenedTwiceResolved(t *testing.T) {
	r := auRules(t, calendar.Default())
	is := auIssue{id: "4", key: "D-1", status: "closed", created: "2024-04-01T06:00:00.000+0000", updated: "2024-04-02T08:00:05.000+0000",
		extra: `,"resolution":{"self":"https://api.tracker.yandex.net/v2/resolutions/1","id":"1","key":"fixed","display":"Fixed"},"resolvedAt":"2024-04-02T08:00:05.000+0000"`,
		trs: [][3]string{
			{"2024-04-01T06:00:00.000+0000", "", "open"},
			{"2024-04-01T07:00:00.000+0000", "open", "inProgress"},
			{"2024-04-01T09:00:00.000+0000", "inProgress", "closed"},
			{"2024-04-01T10:00:00.000+0000", "closed", "inProgress"},
			{"2024-04-01T12:00:00.000+0000", "inProgress", "closed"},
			{"2024-04-02T06:00:00.000+0000", "closed", "inProgress"},
			{"2024-04-02T08:00:00.000+0000", "inProgress", "closed"},
		}}
	c := auLoad(t, r, auT("2024-04-03T06:00:00Z"), is)
	auCheckMetrics(t, c, "D-1", []auMetric{
		{"open", "open", "new", 1, 3600, "1h", 3600, "1h", "2024-04-01T07:00:00Z", 0},
		{"inProgress", "in_progress", "inProgress", 3, 21600, "6h", 21600, "6h", "2024-04-02T08:00:00Z", 0},
		{"closed", "closed", "done", 3, 68400, "19h", 28800, "8h", "2024-04-02T08:00:00Z", 1},
	})
	auCheckIntervals(t, c, "D-1", []string{
		"open/open/new#1 2024-04-01T06:00:00Z 2024-04-01T07:00:00Z 3600 3600 cur=0",
		"inProgress/in_progress/inProgress#1 2024-04-01T07:00:00Z 2024-04-01T09:00:00Z 7200 7200 cur=0",
		"closed/closed/done#1 2024-04-01T09:00:00Z 2024-04-01T10:00:00Z 3600 3600 cur=0",
		"inProgress/in_progress/inProgress#2 2024-04-01T10:00:00Z 2024-04-01T12:00:00Z 7200 7200 cur=0",
		"closed/closed/done#2 2024-04-01T12:00:00Z 2024-04-02T06:00:00Z 64800 25200 cur=0",
		"inProgress/in_progress/inProgress#3 2024-04-02T06:00:00Z 2024-04-02T08:00:00Z 7200 7200 cur=0",
		"closed/closed/done#3 2024-04-02T08:00:00Z - 79200 39600 cur=1",
	})
	auCheckIssue(t, c, "D-1", auFigures{status: "closed", statusKey: "closed", statusType: "done",
		started: "2024-04-01T07:00:00Z", done: "2024-04-02T08:00:00Z", closed: "2024-04-02T08:00:05Z", resolved: "2024-04-02T08:00:05Z",
		isClosed: 1, isResolved: 1, lead: i64(93600), leadBus: i64(54000), cycle: i64(90000), cycleBus: i64(50400),
		active: 21600, paused: 0, fe: f64(21600.0 / 90000), reopen: 2, since: "2024-04-02T08:00:00Z", age: 79200})
}

// Never started: open for 45 s (human readable under a minute).
func TestMetricsRoundTripNeverStartedOpen(t *testing.T) {
	r := auRules(t, calendar.Default())
	is := auIssue{id: "5", key: "E-1", status: "open", created: "2024-03-04T06:00:00.000+0000", updated: "2024-03-04T06:00:00.000+0000",
		trs: [][3]string{{"2024-03-04T06:00:00.000+0000", "", "open"}}}
	c := auLoad(t, r, auT("2024-03-04T06:00:45Z"), is)
	auCheckMetrics(t, c, "E-1", []auMetric{
		{"open", "open", "new", 1, 45, "45s", 45, "45s", "2024-03-04T06:00:45Z", 1},
	})
	auCheckIntervals(t, c, "E-1", []string{"open/open/new#1 2024-03-04T06:00:00Z - 45 45 cur=1"})
	auCheckIssue(t, c, "E-1", auFigures{status: "open", statusKey: "open", statusType: "new",
		since: "2024-03-04T06:00:00Z", age: 45})
}

// Never started, rejected directly; input times in +0300.
func TestMetricsRoundTripNeverStartedRejected(t *testing.T) {
	r := auRules(t, calendar.Default())
	is := auIssue{id: "6", key: "E-2", status: "rejected", created: "2024-03-04T09:00:00.000+0300", updated: "2024-03-04T10:00:00.000+0300",
		trs: [][3]string{
			{"2024-03-04T09:00:00.000+0300", "", "open"},
			{"2024-03-04T10:00:00.000+0300", "open", "rejected"},
		}}
	c := auLoad(t, r, auT("2024-03-05T06:00:00Z"), is)
	auCheckMetrics(t, c, "E-2", []auMetric{
		{"open", "open", "new", 1, 3600, "1h", 3600, "1h", "2024-03-04T07:00:00Z", 0},
		{"rejected", "rejected", "cancelled", 1, 0, "0s", 0, "0s", "2024-03-04T07:00:00Z", 1},
	})
	auCheckIntervals(t, c, "E-2", []string{
		"open/open/new#1 2024-03-04T06:00:00Z 2024-03-04T07:00:00Z 3600 3600 cur=0",
		"rejected/rejected/cancelled#1 2024-03-04T07:00:00Z - 82800 43200 cur=1",
	})
	auCheckIssue(t, c, "E-2", auFigures{status: "rejected", statusKey: "rejected", statusType: "cancelled",
		done: "2024-03-04T07:00:00Z", closed: "2024-03-04T07:00:00Z", isClosed: 1,
		lead: i64(3600), leadBus: i64(3600), since: "2024-03-04T07:00:00Z", age: 82800})
}

// Paused before and after started_at; current paused visit open.
func TestMetricsRoundTripPausedBeforeAfterStarted(t *testing.T) {
	r := auRules(t, calendar.Default())
	is := auIssue{id: "7", key: "F-1", status: "needInfo", created: "2024-03-04T06:00:00.000+0000", updated: "2024-03-04T10:00:00.000+0000",
		trs: [][3]string{
			{"2024-03-04T06:00:00.000+0000", "", "open"},
			{"2024-03-04T07:00:00.000+0000", "open", "needInfo"},
			{"2024-03-04T08:00:00.000+0000", "needInfo", "inProgress"},
			{"2024-03-04T10:00:00.000+0000", "inProgress", "needInfo"},
		}}
	c := auLoad(t, r, auT("2024-03-04T12:00:00Z"), is)
	auCheckMetrics(t, c, "F-1", []auMetric{
		{"open", "open", "new", 1, 3600, "1h", 3600, "1h", "2024-03-04T07:00:00Z", 0},
		{"needInfo", "need_info", "paused", 2, 10800, "3h", 10800, "3h", "2024-03-04T12:00:00Z", 1},
		{"inProgress", "in_progress", "inProgress", 1, 7200, "2h", 7200, "2h", "2024-03-04T10:00:00Z", 0},
	})
	auCheckIssue(t, c, "F-1", auFigures{status: "need_info", statusKey: "needInfo", statusType: "paused",
		started: "2024-03-04T08:00:00Z", active: 7200, paused: 7200, fe: f64(0.5),
		since: "2024-03-04T10:00:00Z", age: 7200})
}

// human_readable_* for seconds, weeks and months; snake_case with a digit.
func TestMetricsRoundTripHumanReadable(t *testing.T) {
	r := auRules(t, calendar.Default())
	is := auIssue{id: "8", key: "G-1", status: "closed", created: "2024-01-15T06:00:00.000+0000", updated: "2024-03-03T07:00:59.000+0000",
		trs: [][3]string{
			{"2024-01-15T06:00:00.000+0000", "", "open"},
			{"2024-01-15T06:00:59.000+0000", "open", "inProgress"},
			{"2024-02-01T07:00:59.000+0000", "inProgress", "stage2"},
			{"2024-03-03T07:00:59.000+0000", "stage2", "closed"},
		}}
	c := auLoad(t, r, auT("2024-04-01T07:00:59Z"), is)
	auCheckMetrics(t, c, "G-1", []auMetric{
		{"open", "open", "new", 1, 59, "59s", 59, "59s", "2024-01-15T06:00:59Z", 0},
		{"inProgress", "in_progress", "inProgress", 1, 1472400, "2w 3d", 612000, "1w 2h", "2024-02-01T07:00:59Z", 0},
		{"stage2", "stage_2", "inProgress", 1, 2678400, "1mo 1d", 979141, "1w 4d", "2024-03-03T07:00:59Z", 0},
		{"closed", "closed", "done", 1, 0, "0s", 0, "0s", "2024-03-03T07:00:59Z", 1},
	})
}

// A visit spanning a DST change (Europe/Berlin, 31 March 2024) and a
// holiday from a holiday file (1 April 2024).
func TestMetricsRoundTripDSTAndHoliday(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	h, err := calendar.ParseHolidays(strings.NewReader("2024-04-01 holiday Easter Monday\n"), "h.txt")
	if err != nil {
		t.Fatal(err)
	}
	cfg := calendar.Default()
	cfg.Zone, cfg.DefaultHolidays, cfg.Holidays = berlin, false, []calendar.Holidays{h}
	r := auRules(t, cfg)
	is := auIssue{id: "9", key: "H-1", status: "closed", created: "2024-03-29T08:00:00.000+0000", updated: "2024-04-02T08:00:00.000+0000",
		trs: [][3]string{
			{"2024-03-29T08:00:00.000+0000", "", "inProgress"},
			{"2024-04-02T08:00:00.000+0000", "inProgress", "closed"},
		}}
	c := auLoad(t, r, auT("2024-04-03T08:00:00Z"), is)
	auCheckMetrics(t, c, "H-1", []auMetric{
		{"inProgress", "in_progress", "inProgress", 1, 345600, "4d", 50400, "14h", "2024-04-02T08:00:00Z", 0},
		{"closed", "closed", "done", 1, 0, "0s", 0, "0s", "2024-04-02T08:00:00Z", 1},
	})
	auCheckIntervals(t, c, "H-1", []string{
		"inProgress/in_progress/inProgress#1 2024-03-29T08:00:00Z 2024-04-02T08:00:00Z 345600 50400 cur=0",
		"closed/closed/done#1 2024-04-02T08:00:00Z - 86400 46800 cur=1",
	})
	auCheckIssue(t, c, "H-1", auFigures{status: "closed", statusKey: "closed", statusType: "done",
		started: "2024-03-29T08:00:00Z", done: "2024-04-02T08:00:00Z", closed: "2024-04-02T08:00:00Z", isClosed: 1,
		lead: i64(345600), leadBus: i64(50400), cycle: i64(345600), cycleBus: i64(50400),
		active: 345600, fe: f64(1), since: "2024-04-02T08:00:00Z", age: 86400})
}

// Final to final (closed → rejected), unresolved: done_at is "the last
// time the issue became final" (§5), when it entered closed, not when it
// moved on to rejected; closed_at = done_at.
func TestMetricsRoundTripFinalToFinal(t *testing.T) {
	r := auRules(t, calendar.Default())
	is := auIssue{id: "10", key: "K-1", status: "rejected", created: "2024-03-04T06:00:00.000+0000", updated: "2024-03-04T09:00:00.000+0000",
		trs: [][3]string{
			{"2024-03-04T06:00:00.000+0000", "", "open"},
			{"2024-03-04T07:00:00.000+0000", "open", "inProgress"},
			{"2024-03-04T08:00:00.000+0000", "inProgress", "closed"},
			{"2024-03-04T09:00:00.000+0000", "closed", "rejected"},
		}}
	c := auLoad(t, r, auT("2024-03-04T12:00:00Z"), is)
	auCheckMetrics(t, c, "K-1", []auMetric{
		{"open", "open", "new", 1, 3600, "1h", 3600, "1h", "2024-03-04T07:00:00Z", 0},
		{"inProgress", "in_progress", "inProgress", 1, 3600, "1h", 3600, "1h", "2024-03-04T08:00:00Z", 0},
		{"closed", "closed", "done", 1, 3600, "1h", 3600, "1h", "2024-03-04T09:00:00Z", 0},
		{"rejected", "rejected", "cancelled", 1, 0, "0s", 0, "0s", "2024-03-04T09:00:00Z", 1},
	})
	auCheckIssue(t, c, "K-1", auFigures{status: "rejected", statusKey: "rejected", statusType: "cancelled",
		started: "2024-03-04T07:00:00Z", done: "2024-03-04T08:00:00Z", closed: "2024-03-04T08:00:00Z", isClosed: 1,
		lead: i64(7200), leadBus: i64(7200), cycle: i64(3600), cycleBus: i64(3600), active: 3600, fe: f64(1),
		since: "2024-03-04T09:00:00Z", age: 10800})
}

// statusStartTime.to (in +0300) wins over updatedAt; an IssueMoved entry
// changes the status too.
func TestMetricsRoundTripStatusStartTimeAndMove(t *testing.T) {
	r := auRules(t, calendar.Default())
	is := auIssue{id: "11", key: "L-1", status: "testing", created: "2024-03-04T06:00:00.000+0000", updated: "2024-03-04T10:00:00.000+0000",
		trs: [][3]string{
			{"2024-03-04T06:00:00.000+0000", "", "open"},
			{"2024-03-04T07:00:30.000+0000", "open", "inProgress"},
			{"2024-03-04T09:00:00.000+0000", "inProgress", "testing"},
		},
		starts: map[int]string{1: "2024-03-04T10:00:00.000+0300"},
		types:  map[int]string{2: "IssueMoved"}}
	c := auLoad(t, r, auT("2024-03-04T10:00:00Z"), is)
	auCheckIntervals(t, c, "L-1", []string{
		"open/open/new#1 2024-03-04T06:00:00Z 2024-03-04T07:00:00Z 3600 3600 cur=0",
		"inProgress/in_progress/inProgress#1 2024-03-04T07:00:00Z 2024-03-04T09:00:00Z 7200 7200 cur=0",
		"testing/testing/inProgress#1 2024-03-04T09:00:00Z - 3600 3600 cur=1",
	})
}

// Resolved while not final: closed as the old tool (closed_at = resolved_at);
// resolution without resolvedAt on a done issue: closed_at = done_at.
// Unknown status final only by the closed list.
func TestMetricsRoundTripResolvedNotFinalAndClosedList(t *testing.T) {
	r := auRules(t, calendar.Default())
	a := auIssue{id: "12", key: "M-10", status: "inProgress", created: "2024-03-04T06:00:00.000+0000", updated: "2024-03-04T08:00:00.000+0000",
		extra: `,"resolution":{"self":"https://api.tracker.yandex.net/v2/resolutions/1","id":"1","key":"fixed","display":"Won't fix"},"resolvedAt":"2024-03-04T08:00:00.000+0000"`,
		trs: [][3]string{
			{"2024-03-04T06:00:00.000+0000", "", "open"},
			{"2024-03-04T07:00:00.000+0000", "open", "inProgress"},
		}}
	b := auIssue{id: "13", key: "M-11", status: "resolved", created: "2024-03-04T06:00:00.000+0000", updated: "2024-03-04T08:00:00.000+0000",
		extra: `,"resolution":{"self":"https://api.tracker.yandex.net/v2/resolutions/1","id":"1","key":"fixed","display":"Fixed"}`,
		trs: [][3]string{
			{"2024-03-04T06:00:00.000+0000", "", "open"},
			{"2024-03-04T07:00:00.000+0000", "open", "inProgress"},
			{"2024-03-04T08:00:00.000+0000", "inProgress", "resolved"},
		}}
	c := auLoad(t, r, auT("2024-03-04T10:00:00Z"), a, b)
	auCheckIssue(t, c, "M-10", auFigures{status: "in_progress", statusKey: "inProgress", statusType: "inProgress",
		started: "2024-03-04T07:00:00Z", closed: "2024-03-04T08:00:00Z", resolved: "2024-03-04T08:00:00Z", isClosed: 1, isResolved: 1,
		active: 10800, fe: f64(1), since: "2024-03-04T07:00:00Z", age: 10800})
	var res string
	if err := c.Conn().QueryRow(context.Background(), "SELECT resolution FROM "+c.qualified("issues_view")+" WHERE issue_key = 'M-10'").Scan(&res); err != nil || res != "won_t_fix" {
		t.Errorf("M-10 resolution %q (%v), want won_t_fix", res, err)
	}
	auCheckMetrics(t, c, "M-11", []auMetric{
		{"open", "open", "new", 1, 3600, "1h", 3600, "1h", "2024-03-04T07:00:00Z", 0},
		{"inProgress", "in_progress", "inProgress", 1, 3600, "1h", 3600, "1h", "2024-03-04T08:00:00Z", 0},
		{"resolved", "resolved", "", 1, 0, "0s", 0, "0s", "2024-03-04T08:00:00Z", 1},
	})
	auCheckIssue(t, c, "M-11", auFigures{status: "resolved", statusKey: "resolved", statusType: "",
		started: "2024-03-04T07:00:00Z", done: "2024-03-04T08:00:00Z", closed: "2024-03-04T08:00:00Z", isClosed: 1, isResolved: 1,
		lead: i64(7200), leadBus: i64(7200), cycle: i64(3600), cycleBus: i64(3600), active: 3600, fe: f64(1),
		since: "2024-03-04T08:00:00Z", age: 7200})
}
