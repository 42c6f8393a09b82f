package transformer

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/calendar"
	"github.com/tracker-exporter/tracker-exporter/pkg/flow"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// snapshot builds a snapshot of one emulator issue with the real client,
// the way the extractor does.
func snapshot(t testing.TB, em *trackertest.Server, c *tracker.Client, key string) *wire.IssueSnapshot {
	t.Helper()
	ctx := context.Background()
	is, err := c.Issue(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := c.Changelog(ctx, key, 100)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Statuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	users, err := c.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := &wire.IssueSnapshot{IssueID: is.ID.String(), IssueKey: is.Key, UpdatedAt: is.UpdatedAt.Time, Version: is.Version,
		Issue: is.Raw, Users: map[string]wire.User{}, Statuses: map[string]wire.Status{}}
	for _, e := range entries {
		s.Changelog = append(s.Changelog, e.Raw)
	}
	for _, part := range []struct {
		fetch func(context.Context, string) ([]json.RawMessage, error)
		into  *[][]byte
	}{{c.Comments, &s.Comments}, {c.Worklogs, &s.Worklogs}, {c.Links, &s.Links}} {
		items, err := part.fetch(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			*part.into = append(*part.into, it)
		}
	}
	s.Parts = wire.PartComments | wire.PartWorklogs | wire.PartLinks
	for _, x := range st {
		s.Statuses[x.Key] = wire.Status{Key: x.Key, Name: x.Name, Type: x.Type}
	}
	for _, u := range users {
		for _, id := range u.IDs() {
			s.Users[id] = wire.User{Login: u.Login, Email: u.Email, Display: u.Display}
		}
	}
	return s
}

func rules(t *testing.T, start, end time.Duration) *Rules {
	t.Helper()
	cfg := calendar.Default()
	cfg.Start, cfg.End = start, end
	cal, err := calendar.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Rules{Flow: flow.Rules{Calendar: cal, Closed: []string{"closed", "rejected", "resolved", "cancelled", "released"}},
		ChangelogEnabled: true, Sprints: true, Generation: "test"}
}

func emulator(t *testing.T, issues int) (*trackertest.Server, *tracker.Client) {
	t.Helper()
	em := trackertest.New(trackertest.Options{Issues: issues, Seed: 4})
	if err := em.AddFixture(trackertest.Fixture73()); err != nil {
		t.Fatal(err)
	}
	em.Start()
	t.Cleanup(em.Close)
	c, err := tracker.New(tracker.Config{BaseURL: em.URL(), Token: "t", OrgID: "1"}, tracker.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return em, c
}

func TestTransformMetricsExample(t *testing.T) {
	em, c := emulator(t, 0)
	snap := snapshot(t, em, c, "METRICS-1")
	asOf := time.Date(2024, 3, 12, 7, 0, 0, 0, time.UTC)
	res, err := Transform(snap, rules(t, 9*time.Hour, 22*time.Hour), asOf)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][3]int64{"open": {1, 7200, 7200}, "inProgress": {2, 162000, 82800}, "testing": {2, 100800, 61200},
		"readyForRelease": {1, 334800, 36000}, "closed": {1, 0, 0}}
	if len(res.Rows.Metrics) != len(want) {
		t.Fatalf("%d metric rows, want %d: %+v", len(res.Rows.Metrics), len(want), res.Rows.Metrics)
	}
	for _, m := range res.Rows.Metrics {
		w := want[m.StatusKey]
		if int64(m.StatusTransitionsCount) != w[0] || m.Duration != w[1] || m.BusdaysDuration != w[2] {
			t.Errorf("%s: %d visits %d s %d business s, want %v", m.StatusKey, m.StatusTransitionsCount, m.Duration, m.BusdaysDuration, w)
		}
	}
	row := res.Rows.Issue
	if row.LeadTime == nil || *row.LeadTime != 604800 || *row.CycleTime != 597600 || *row.LeadTimeBusiness != 187200 || *row.CycleTimeBusiness != 180000 {
		t.Errorf("lead/cycle: %v %v %v %v", row.LeadTime, row.CycleTime, row.LeadTimeBusiness, row.CycleTimeBusiness)
	}
	if row.Status != "closed" || row.StatusKey != "closed" || row.StatusType != "done" || !row.IsClosed {
		t.Errorf("status columns: %q %q %q closed=%v", row.Status, row.StatusKey, row.StatusType, row.IsClosed)
	}
	if !row.ClosedAt.Equal(time.Date(2024, 3, 11, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("closed_at %s", row.ClosedAt)
	}
	if len(res.Rows.Intervals) != 7 {
		t.Errorf("%d intervals, want 7 visits", len(res.Rows.Intervals))
	}
}

func TestTransformSyntheticIssues(t *testing.T) {
	t.Parallel()
	em, c := emulator(t, 150)
	r := rules(t, 9*time.Hour, 22*time.Hour)
	asOf := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, key := range em.IssueKeys() {
		snap := snapshot(t, em, c, key)
		res, err := Transform(snap, r, asOf)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		rows := res.Rows
		if rows.Issue.IssueKey != key || rows.IssueID != snap.IssueID {
			t.Fatalf("%s: row key %s id %s", key, rows.Issue.IssueKey, rows.IssueID)
		}
		if got, want := len(rows.Changelog), em.ChangelogFieldChanges(key); got != want {
			t.Errorf("%s: %d changelog rows, want %d", key, got, want)
		}
		var total int64
		for _, v := range rows.Intervals {
			total += v.Duration
			if v.Duration < 0 || v.BusdaysDuration < 0 || v.BusdaysDuration > v.Duration {
				t.Errorf("%s: bad interval %+v", key, v)
			}
		}
		if span := int64(asOf.Sub(rows.Issue.CreatedAt.Truncate(time.Second)) / time.Second); total != span {
			t.Errorf("%s: visits add up to %d s, the issue lived %d s", key, total, span)
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(rows.Issue.Raw), &raw); err != nil {
			t.Errorf("%s: raw JSON: %v", key, err)
		}
		for _, cl := range rows.Changelog {
			if cl.EntryID == "" || cl.ChangedField == "" || cl.EventTime.IsZero() {
				t.Fatalf("%s: incomplete changelog row %+v", key, cl)
			}
		}
	}
}

func TestRenderValuesLossless(t *testing.T) {
	snap := &wire.IssueSnapshot{Users: map[string]wire.User{"7": {Email: "Alice@Example.com"}}}
	u := userRenderer{snap: snap, res: &Result{}}
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	cases := map[string]string{
		`null`:                   "",
		`"` + string(long) + `"`: string(long),
		`3.5`:                    "3.5",
		`{"self":"https://x/v2/users/7","id":"7","display":"Alice"}`:             "alice@example.com",
		`{"self":"https://x/v2/users/8","id":"8","display":"Gone"}`:              "Gone",
		`{"self":"https://x/v2/statuses/1","id":"1","key":"open","display":"O"}`: "open",
		`[{"self":"https://x/v2/users/7","id":"7"},"tag"]`:                       `["alice@example.com","tag"]`,
		`{"no":"self"}`: `{"no":"self"}`,
	}
	for in, want := range cases {
		if got := u.value(json.RawMessage(in)); got != want {
			t.Errorf("value(%.60s) = %.60q, want %.60q", in, got, want)
		}
	}
}
