package flow

import (
	"slices"
	"testing"
	"time"
)

// METRICS.md §1 line 29-32: "The current status of the snapshot wins over the
// last transition's `to` if they disagree (anomaly): the last transition's
// visit ends, and the current visit begins, at the issue's `statusStartTime`
// when it is present and not earlier than that visit's start; otherwise the
// last visit has zero length."
func TestSpecCurrentMismatchNoStatusStartTime(t *testing.T) {
	in := Input{
		CreatedAt:     ts(t, "2024-03-04T07:00:00Z"),
		InitialStatus: "open",
		CurrentStatus: "closed", // CurrentStatusSince unknown (zero)
		Transitions: []Transition{
			{At: ts(t, "2024-03-04T09:00:00Z"), From: "open", To: "inProgress", Seq: 1},
		},
		AsOf: ts(t, "2024-03-05T07:00:00Z"),
	}
	res := Compute(in, exampleRules(t))
	// By hand: open [07:00, 09:00) 7200 s; inProgress (last transition's
	// visit) has zero length; closed starts 09:00 and is current up to as_of.
	var got []int64
	for _, v := range res.Visits {
		got = append(got, v.Duration)
	}
	if want := []int64{7200, 0, 79200}; !slices.Equal(got, want) {
		t.Errorf("visit durations %v, want %v", got, want)
	}
	if d := fmtPtr(res.Issue.DoneAt); d != "2024-03-04T09:00:00Z" {
		t.Errorf("done_at %s, want 2024-03-04T09:00:00Z", d)
	}
	if l := fmtPtr(res.Issue.LeadTime); l != "7200" {
		t.Errorf("lead_time %s, want 7200", l)
	}
	if res.Issue.ActiveTime != 0 {
		t.Errorf("active_time %d, want 0", res.Issue.ActiveTime)
	}
}

// METRICS.md §1 line 33-34 ("Instants are truncated to whole seconds (UTC)
// before anything is computed") with line 19 ("Entries are ordered by
// transition time, then by their order in the changelog"): two transitions in
// the same second are ordered by changelog order, whatever their fractions.
func TestSpecSubSecondOrdering(t *testing.T) {
	in := Input{
		CreatedAt:     ts(t, "2024-03-04T07:00:00Z"),
		InitialStatus: "open",
		CurrentStatus: "testing",
		Transitions: []Transition{
			{At: ts(t, "2024-03-04T09:00:00.900Z"), From: "open", To: "inProgress", Seq: 1},
			{At: ts(t, "2024-03-04T09:00:00.100Z"), From: "inProgress", To: "testing", Seq: 2},
		},
		AsOf: ts(t, "2024-03-05T07:00:00Z"),
	}
	res := Compute(in, exampleRules(t))
	var keys []string
	var durs []int64
	for _, v := range res.Visits {
		keys = append(keys, v.StatusKey)
		durs = append(durs, v.Duration)
	}
	// By hand: both at 09:00:00 after truncation, changelog order:
	// open 7200, inProgress 0, testing 79200; no anomaly.
	if want := []string{"open", "inProgress", "testing"}; !slices.Equal(keys, want) {
		t.Errorf("visits %v %v, want %v [7200 0 79200]", keys, durs, want)
	}
	if len(res.Anomalies) != 0 {
		t.Errorf("anomalies %+v, want none", res.Anomalies)
	}
}

// METRICS.md §1 line 33: instants truncated to whole seconds before anything
// is computed, so done_at / started_at / current_status_since are whole
// seconds.
func TestSpecTruncatedInstants(t *testing.T) {
	in := Input{
		CreatedAt:     ts(t, "2024-03-04T07:00:00.500Z"),
		InitialStatus: "open",
		CurrentStatus: "closed",
		Transitions: []Transition{
			{At: ts(t, "2024-03-04T09:00:00.700Z"), From: "open", To: "inProgress", Seq: 1},
			{At: ts(t, "2024-03-04T10:00:00.300Z"), From: "inProgress", To: "closed", Seq: 2},
		},
		AsOf: ts(t, "2024-03-05T07:00:00Z"),
	}
	res := Compute(in, exampleRules(t))
	f := res.Issue
	want := map[string][2]time.Time{
		"started_at":           {*f.StartedAt, ts(t, "2024-03-04T09:00:00Z")},
		"done_at":              {*f.DoneAt, ts(t, "2024-03-04T10:00:00Z")},
		"current_status_since": {f.CurrentStatusSince, ts(t, "2024-03-04T10:00:00Z")},
		"visit[0].entered_at":  {res.Visits[0].Entered, ts(t, "2024-03-04T07:00:00Z")},
	}
	for k, w := range want {
		if !w[0].Equal(w[1]) {
			t.Errorf("%s = %s, want %s", k, stamp(w[0]), stamp(w[1]))
		}
	}
}
