package transformer

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/flow"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// compatSnapshot is one issue built from JSON, with a users directory
// (alice has an email, robot only a login) and a status directory.
func compatSnapshot(t *testing.T, issue string, changelog ...string) *wire.IssueSnapshot {
	t.Helper()
	s := &wire.IssueSnapshot{
		IssueID: "1", IssueKey: "DEV-1", UpdatedAt: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		Issue: json.RawMessage(issue),
		Users: map[string]wire.User{
			"11": {Login: "alice", Email: "Alice.Smith@Example.COM", Display: "Alice"},
			"12": {Login: "Robot-CI", Display: "CI robot"},
		},
		Statuses: map[string]wire.Status{
			"open":       {Key: "open", Name: "Open", Type: flow.TypeNew},
			"inProgress": {Key: "inProgress", Name: "В работе", Type: flow.TypeInProgress},
			"resolved":   {Key: "resolved", Name: "Resolved", Type: flow.TypeDone},
		},
	}
	for _, c := range changelog {
		s.Changelog = append(s.Changelog, []byte(c))
	}
	if !json.Valid(s.Issue) {
		t.Fatalf("invalid issue JSON: %s", issue)
	}
	return s
}

// TestTransformOldColumnValues pins every issues column whose value
// format 2.0.0 defined (models/issue.py) to what 2.0.0 wrote for the same
// issue.
func TestTransformOldColumnValues(t *testing.T) {
	const base = `"self":"https://x/v2/issues/DEV-1","id":"1","key":"DEV-1","createdAt":"2024-01-10T09:00:00.000+0000","updatedAt":"2024-03-01T00:00:00.000+0000"`
	user := func(id string) string {
		return `{"self":"https://x/v2/users/` + id + `","id":"` + id + `","display":"someone"}`
	}
	moved := func(by string) string {
		return `{"id":"c1","updatedAt":"2024-02-01T10:00:00.000+0000","updatedBy":` + user(by) +
			`,"type":"IssueMoved","transport":"front","fields":[{"field":{"id":"queue","display":"Queue"},"from":{"key":"OLD"},"to":{"key":"DEV"}}]}`
	}
	tests := []struct {
		name      string
		issue     string
		changelog []string
		check     func(r wire.IssueRow) (got, want any)
	}{
		{"status snake_case of the lower-cased name", `{` + base + `,"status":{"key":"inProgress","display":"В работе"}}`, nil,
			func(r wire.IssueRow) (any, any) { return r.Status, "в_работе" }},
		{"resolution with an apostrophe", `{` + base + `,"status":{"key":"resolved","display":"Resolved"},"resolution":{"id":"2","key":"wontFix","display":"Won't fix"},"resolvedAt":"2024-02-02T10:00:00.000+0000"}`, nil,
			func(r wire.IssueRow) (any, any) { return r.Resolution, "won_t_fix" }},
		{"issue type with a digit", `{` + base + `,"type":{"key":"stage2","display":"Stage 2"}}`, nil,
			func(r wire.IssueRow) (any, any) { return r.IssueType, "stage_2" }},
		{"issue type in camel case", `{` + base + `,"type":{"key":"subTask","display":"subTask"}}`, nil,
			func(r wire.IssueRow) (any, any) { return r.IssueType, "subtask" }},
		{"priority lower-cased, not snake_cased", `{` + base + `,"priority":{"key":"veryHigh","display":"Very High"}}`, nil,
			func(r wire.IssueRow) (any, any) { return r.Priority, "very high" }},
		{"priority in Cyrillic", `{` + base + `,"priority":{"key":"critical","display":"Критичный"}}`, nil,
			func(r wire.IssueRow) (any, any) { return r.Priority, "критичный" }},
		{"project lower-cased (v2 reference)", `{` + base + `,"project":{"id":"5","display":"Platform 2.0"}}`, nil,
			func(r wire.IssueRow) (any, any) { return r.Project, "platform 2.0" }},
		{"project lower-cased (v3 primary)", `{` + base + `,"project":{"primary":{"id":"5","display":"Platform 2.0"}}}`, nil,
			func(r wire.IssueRow) (any, any) { return r.Project, "platform 2.0" }},
		{"no project is empty", `{` + base + `}`, nil,
			func(r wire.IssueRow) (any, any) { return r.Project, "" }},
		{"assignee email lower-cased", `{` + base + `,"assignee":` + user("11") + `}`, nil,
			func(r wire.IssueRow) (any, any) { return r.Assignee, "alice.smith@example.com" }},
		{"author without an email is empty, not the login", `{` + base + `,"createdBy":` + user("12") + `}`, nil,
			func(r wire.IssueRow) (any, any) { return r.Author, "" }},
		{"unknown qa engineer is empty", `{` + base + `,"qaEngineer":` + user("99") + `}`, nil,
			func(r wire.IssueRow) (any, any) { return r.QAEngineer, "" }},
		{"moved_by email lower-cased", `{` + base + `}`, []string{moved("11")},
			func(r wire.IssueRow) (any, any) {
				return []any{r.WasMoved, r.MovedBy, r.MovedAt}, []any{true, "alice.smith@example.com", time.Date(2024, 2, 1, 10, 0, 0, 0, time.UTC)}
			}},
		{"moved_by without an email is empty", `{` + base + `}`, []string{moved("12")},
			func(r wire.IssueRow) (any, any) { return r.MovedBy, "" }},
		{"resolved but not in a final status is closed", `{` + base + `,"status":{"key":"open","display":"Open"},"resolution":{"id":"1","key":"fixed","display":"Fixed"},"resolvedAt":"2024-02-02T10:00:00.000+0000"}`, nil,
			func(r wire.IssueRow) (any, any) {
				return []any{r.IsResolved, r.IsClosed, r.ClosedAt}, []any{true, true, time.Date(2024, 2, 2, 10, 0, 0, 0, time.UTC)}
			}},
		{"open and unresolved is not closed", `{` + base + `,"status":{"key":"open","display":"Open"}}`, nil,
			func(r wire.IssueRow) (any, any) {
				return []any{r.IsResolved, r.IsClosed, r.ClosedAt, r.Resolution}, []any{false, false, time.Time{}, ""}
			}},
		// Unchanged on purpose, pinned: what 2.0.0 wrote as received.
		{"queue key as is", `{` + base + `,"queue":{"key":"DEV","display":"Development"}}`, nil,
			func(r wire.IssueRow) (any, any) { return r.Queue, "DEV" }},
		{"tags, components and sprints as is", `{` + base + `,"tags":["Backend","UI"],"components":[{"id":"1","display":"Backend API"}],"sprint":[{"id":"3","display":"Sprint 12 (Q1)"}]}`, nil,
			func(r wire.IssueRow) (any, any) {
				return []any{r.Tags, r.Components, r.Sprints}, []any{[]string{"Backend", "UI"}, []string{"Backend API"}, []string{"Sprint 12 (Q1)"}}
			}},
		{"empty lists are empty, not null", `{` + base + `}`, nil,
			func(r wire.IssueRow) (any, any) {
				return []any{r.Tags, r.Components, r.Sprints, r.Aliases}, []any{[]string{}, []string{}, []string{}, []string{}}
			}},
		{"parent and epic keys as is", `{` + base + `,"parent":{"key":"DEV-0"},"epic":{"key":"GOAL-1"}}`, nil,
			func(r wire.IssueRow) (any, any) {
				return []any{r.ParentIssueKey, r.EpicIssueKey, r.IsSubtask}, []any{"DEV-0", "GOAL-1", true}
			}},
		{"title kept with its emoji (2.0.0 stripped them)", `{` + base + `,"summary":"🔥 Fix login"}`, nil,
			func(r wire.IssueRow) (any, any) { return r.Title, "🔥 Fix login" }},
		{"empty dates are zero", `{` + base + `}`, nil,
			func(r wire.IssueRow) (any, any) {
				return []any{r.Deadline, r.StartDate, r.EndDate, r.ResolvedAt, r.MovedAt}, []any{time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}}
			}},
	}
	r := &Rules{Flow: flow.Rules{Closed: []string{"closed", "rejected", "resolved", "cancelled", "released"}}, ChangelogEnabled: true}
	asOf := time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		res, err := Transform(compatSnapshot(t, tt.issue, tt.changelog...), r, asOf)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got, want := tt.check(res.Rows.Issue); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, want %#v\nissue %s", tt.name, got, want, tt.issue)
		}
	}
}

// TestTransformChangelogPeople: the changelog keeps naming a user without
// an email by the login (only the old person columns are strict).
func TestTransformChangelogPeople(t *testing.T) {
	snap := compatSnapshot(t, `{"id":"1","key":"DEV-1","createdAt":"2024-01-10T09:00:00.000+0000","updatedAt":"2024-03-01T00:00:00.000+0000"}`,
		`{"id":"c1","updatedAt":"2024-02-01T10:00:00.000+0000","updatedBy":{"self":"https://x/v2/users/12","id":"12","display":"CI robot"},`+
			`"type":"IssueUpdated","transport":"api","fields":[{"field":{"id":"assignee","display":"Assignee"},"from":null,"to":{"self":"https://x/v2/users/11","id":"11","display":"Alice"}}]}`)
	res, err := Transform(snap, &Rules{ChangelogEnabled: true}, time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows.Changelog) != 1 {
		t.Fatalf("%d changelog rows, want 1", len(res.Rows.Changelog))
	}
	c := res.Rows.Changelog[0]
	if c.Actor != "robot-ci" || c.ChangedTo != "alice.smith@example.com" {
		t.Errorf("actor %q changed_to %q, want robot-ci and alice.smith@example.com", c.Actor, c.ChangedTo)
	}
}

// TestTransformMetricStatusNames: issue_metrics.status_name is the 2.0.0
// snake_case of the status name.
func TestTransformMetricStatusNames(t *testing.T) {
	snap := compatSnapshot(t, `{"id":"1","key":"DEV-1","createdAt":"2024-01-10T09:00:00.000+0000","updatedAt":"2024-03-01T00:00:00.000+0000","status":{"key":"resolved","display":"Resolved"}}`,
		`{"id":"c1","updatedAt":"2024-01-11T09:00:00.000+0000","type":"IssueWorkflow","fields":[{"field":{"id":"status"},"from":{"key":"open","display":"Open"},"to":{"key":"inProgress","display":"В работе"}}]}`,
		`{"id":"c2","updatedAt":"2024-01-12T09:00:00.000+0000","type":"IssueWorkflow","fields":[{"field":{"id":"status"},"from":{"key":"inProgress","display":"В работе"},"to":{"key":"resolved","display":"Resolved"}}]}`)
	res, err := Transform(snap, &Rules{}, time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range res.Rows.Metrics {
		got[m.StatusKey] = m.StatusName
	}
	want := map[string]string{"open": "open", "inProgress": "в_работе", "resolved": "resolved"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("status names %v, want %v", got, want)
	}
}
