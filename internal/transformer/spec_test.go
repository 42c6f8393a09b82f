package transformer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/calendar"
	"github.com/tracker-exporter/tracker-exporter/pkg/flow"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

func specRef(kind, key, display string) string {
	if key == "" {
		return "null"
	}
	return fmt.Sprintf(`{"self":"https://api.tracker.yandex.net/v2/%s/%s","id":"%s","key":"%s","display":"%s"}`, kind, key, key, key, display)
}

// specEntry is a changelog entry that changes the status.
func specEntry(id, typ, at, from, to, statusStart string) []byte {
	fields := fmt.Sprintf(`{"field":{"self":"https://api.tracker.yandex.net/v2/fields/status","id":"status","display":"Status"},"from":%s,"to":%s}`,
		specRef("statuses", from, from), specRef("statuses", to, to))
	if statusStart != "" {
		fields += fmt.Sprintf(`,{"field":{"self":"https://api.tracker.yandex.net/v2/fields/statusStartTime","id":"statusStartTime","display":"x"},"from":null,"to":"%s"}`, statusStart)
	}
	return []byte(fmt.Sprintf(`{"id":"%s","self":"https://api.tracker.yandex.net/v2/issues/A-1/changelog/%s","updatedAt":"%s","type":"%s","transport":"front","fields":[%s]}`,
		id, id, at, typ, fields))
}

func specSnapshot(issueExtra string, status, created, updated string, dir map[string]wire.Status, entries ...[]byte) *wire.IssueSnapshot {
	issue := fmt.Sprintf(`{"self":"https://api.tracker.yandex.net/v2/issues/A-1","id":"1","key":"A-1","version":3,"summary":"s","queue":{"self":"https://api.tracker.yandex.net/v2/queues/A","id":"1","key":"A","display":"A"},"status":%s,"createdAt":"%s","updatedAt":"%s"%s}`,
		specRef("statuses", status, status), created, updated, issueExtra)
	return &wire.IssueSnapshot{IssueID: "1", IssueKey: "A-1", Issue: []byte(issue), Changelog: entries,
		Users: map[string]wire.User{}, Statuses: dir}
}

func specRules(t *testing.T, closed []string) *Rules {
	cal, err := calendar.New(calendar.Default())
	if err != nil {
		t.Fatal(err)
	}
	return &Rules{Flow: flow.Rules{Calendar: cal, Closed: closed}, Generation: "spec"}
}

var specDir = map[string]wire.Status{
	"open":       {Key: "open", Name: "Open", Type: "new"},
	"inProgress": {Key: "inProgress", Name: "In progress", Type: "inProgress"},
	"closed":     {Key: "closed", Name: "Closed", Type: "done"},
}

// METRICS.md §2 line 38-40: "Each status has a type ... (Tracker's own types,
// from the status directory, also `statusType` on v3 issues)". The current
// status "shipped" is absent from the directory but the v3 issue says its
// statusType is done: it is final, so done_at is set (§5 line 81) and the
// issue row's status_type is "done".
func TestSpecStatusTypeFromV3Issue(t *testing.T) {
	snap := specSnapshot(`,"statusType":{"id":"done","key":"done","display":"Done"},"statusStartTime":"2024-03-04T10:00:00.000+0000"`,
		"shipped", "2024-03-04T07:00:00.000+0000", "2024-03-04T10:00:00.000+0000", specDir,
		specEntry("e1", "IssueCreated", "2024-03-04T07:00:00.000+0000", "", "open", ""),
		specEntry("e2", "IssueWorkflow", "2024-03-04T09:00:00.000+0000", "open", "inProgress", ""),
		specEntry("e3", "IssueWorkflow", "2024-03-04T10:00:00.000+0000", "inProgress", "shipped", ""),
	)
	res, err := Transform(snap, specRules(t, nil), time.Date(2024, 3, 5, 7, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	row := res.Rows.Issue
	if row.StatusType != "done" {
		t.Errorf("issue status_type %q, want done", row.StatusType)
	}
	if !row.DoneAt.Equal(time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)) || row.LeadTime == nil || *row.LeadTime != 10800 {
		t.Errorf("done_at %s lead_time %v, want 2024-03-04T10:00:00Z 10800", row.DoneAt, row.LeadTime)
	}
	for _, m := range res.Rows.Metrics {
		if m.StatusKey == "shipped" && m.Duration != 0 {
			t.Errorf("current final status shipped: duration %d, want 0", m.Duration)
		}
	}
}

// METRICS.md §1 line 12-18: the initial status is the IssueCreated entry's
// status "to", else the first status change's "from", else the current
// status; every entry that changes status ends the current visit at its
// transition time. No IssueCreated entry; the first status change has no
// "from": the issue starts in the current status (closed), and the entry
// at 09:00 ends that visit and starts inProgress.
func TestSpecInitialStatusWhenFirstChangeHasNoFrom(t *testing.T) {
	snap := specSnapshot(`,"statusStartTime":"2024-03-04T10:00:00.000+0000"`,
		"closed", "2024-03-04T07:00:00.000+0000", "2024-03-04T10:00:00.000+0000", specDir,
		specEntry("e2", "IssueWorkflow", "2024-03-04T09:00:00.000+0000", "", "inProgress", ""),
		specEntry("e3", "IssueWorkflow", "2024-03-04T10:00:00.000+0000", "inProgress", "closed", ""),
	)
	res, err := Transform(snap, specRules(t, nil), time.Date(2024, 3, 5, 7, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range res.Rows.Intervals {
		got = append(got, fmt.Sprintf("%s:%d", v.StatusKey, v.Duration))
	}
	// By hand: closed [07:00,09:00) 7200, inProgress [09:00,10:00) 3600,
	// closed [10:00, as_of) 75600 (current).
	if want := "closed:7200 inProgress:3600 closed:75600"; strings.Join(got, " ") != want {
		t.Errorf("intervals %v, want %s", got, want)
	}
	if res.Rows.Issue.ReopenCount != 1 {
		t.Errorf("reopen_count %d, want 1 (closed → inProgress)", res.Rows.Issue.ReopenCount)
	}
}

// METRICS.md §0 line 4-5 ("the clock (`as_of`) ... [is an argument]") and
// §4 line 73 ("Open visits are measured up to `as_of`"), §5 line 90
// (current_status_age = as_of minus current_status_since). The snapshot's
// updatedAt (a later comment, say) is after as_of.
func TestSpecAsOfBeforeUpdatedAt(t *testing.T) {
	snap := specSnapshot(`,"statusStartTime":"2024-03-04T09:00:00.000+0000"`,
		"inProgress", "2024-03-04T07:00:00.000+0000", "2024-03-06T07:00:00.000+0000", specDir,
		specEntry("e1", "IssueCreated", "2024-03-04T07:00:00.000+0000", "", "open", ""),
		specEntry("e2", "IssueWorkflow", "2024-03-04T09:00:00.000+0000", "open", "inProgress", ""),
	)
	asOf := time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC)
	res, err := Transform(snap, specRules(t, nil), asOf)
	if err != nil {
		t.Fatal(err)
	}
	row := res.Rows.Issue
	// By hand: inProgress current since 09:00 on the 4th; as_of 09:00 on the 5th.
	if row.CurrentStatusAge != 86400 || row.ActiveTime != 86400 {
		t.Errorf("current_status_age %d active_time %d, want 86400 86400", row.CurrentStatusAge, row.ActiveTime)
	}
	for _, m := range res.Rows.Metrics {
		if m.StatusKey == "inProgress" && (m.Duration != 86400 || !m.LastSeen.Equal(asOf)) {
			t.Errorf("inProgress duration %d last_seen %s, want 86400 %s", m.Duration, m.LastSeen, asOf)
		}
	}
}

// METRICS.md §1 line 33: instants are truncated to whole seconds before
// anything is computed; the issues row's started_at/done_at/closed_at and
// the intervals' entered_at are then whole seconds.
func TestSpecTransformTruncatesInstants(t *testing.T) {
	snap := specSnapshot(`,"statusStartTime":"2024-03-04T10:00:00.300+0000"`,
		"closed", "2024-03-04T07:00:00.500+0000", "2024-03-04T10:00:00.300+0000", specDir,
		specEntry("e1", "IssueCreated", "2024-03-04T07:00:00.500+0000", "", "open", ""),
		specEntry("e2", "IssueWorkflow", "2024-03-04T09:00:00.700+0000", "open", "inProgress", ""),
		specEntry("e3", "IssueWorkflow", "2024-03-04T10:00:00.300+0000", "inProgress", "closed", ""),
	)
	res, err := Transform(snap, specRules(t, nil), time.Date(2024, 3, 5, 7, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	row := res.Rows.Issue
	check := func(what string, got time.Time, want string) {
		w, _ := time.Parse(time.RFC3339, want)
		if !got.Equal(w) {
			t.Errorf("%s = %s, want %s", what, got.UTC().Format(time.RFC3339Nano), want)
		}
	}
	check("started_at", row.StartedAt, "2024-03-04T09:00:00Z")
	check("done_at", row.DoneAt, "2024-03-04T10:00:00Z")
	check("closed_at", row.ClosedAt, "2024-03-04T10:00:00Z")
	check("current_status_since", row.CurrentStatusSince, "2024-03-04T10:00:00Z")
	check("intervals[1].entered_at", res.Rows.Intervals[1].EnteredAt, "2024-03-04T09:00:00Z")
}

// METRICS.md §2 line 43-46: "A status that the directory does not know and
// no override names has no type: ... (log it once per run)". "triage" is not
// in the snapshot's status directory; Transform must report it in
// Result.UnknownStatuses (what Transformer.note logs).
func TestSpecUnknownStatusReported(t *testing.T) {
	snap := specSnapshot(`,"statusStartTime":"2024-03-04T09:00:00.000+0000"`,
		"triage", "2024-03-04T07:00:00.000+0000", "2024-03-04T09:00:00.000+0000", specDir,
		specEntry("e1", "IssueCreated", "2024-03-04T07:00:00.000+0000", "", "open", ""),
		specEntry("e2", "IssueWorkflow", "2024-03-04T09:00:00.000+0000", "open", "triage", ""),
	)
	res, err := Transform(snap, specRules(t, nil), time.Date(2024, 3, 5, 7, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.UnknownStatuses) != 1 || res.UnknownStatuses[0] != "triage" {
		t.Errorf("UnknownStatuses %v, want [triage]", res.UnknownStatuses)
	}
	for _, m := range res.Rows.Metrics {
		if m.StatusKey == "triage" && (m.StatusType != "" || m.Duration != 79200) {
			t.Errorf("triage type %q duration %d, want \"\" 79200", m.StatusType, m.Duration)
		}
	}
}

// Paused time before started_at is excluded (§5 line 87); expected to pass.
func TestSpecPausedBeforeStarted(t *testing.T) {
	dir := map[string]wire.Status{}
	for k, v := range specDir {
		dir[k] = v
	}
	dir["needInfo"] = wire.Status{Key: "needInfo", Name: "Need info", Type: "paused"}
	snap := specSnapshot(`,"statusStartTime":"2024-03-04T11:00:00.000+0000"`,
		"needInfo", "2024-03-04T07:00:00.000+0000", "2024-03-04T11:00:00.000+0000", dir,
		specEntry("e1", "IssueCreated", "2024-03-04T07:00:00.000+0000", "", "open", ""),
		specEntry("e2", "IssueWorkflow", "2024-03-04T08:00:00.000+0000", "open", "needInfo", ""),
		specEntry("e3", "IssueWorkflow", "2024-03-04T09:00:00.000+0000", "needInfo", "inProgress", ""),
		specEntry("e4", "IssueWorkflow", "2024-03-04T11:00:00.000+0000", "inProgress", "needInfo", ""),
	)
	res, err := Transform(snap, specRules(t, nil), time.Date(2024, 3, 4, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	row := res.Rows.Issue
	if row.PausedTime != 3600 || row.ActiveTime != 7200 || row.FlowEfficiency == nil || *row.FlowEfficiency != 7200.0/10800 {
		t.Errorf("paused %d active %d fe %v, want 3600 7200 0.667", row.PausedTime, row.ActiveTime, row.FlowEfficiency)
	}
}
