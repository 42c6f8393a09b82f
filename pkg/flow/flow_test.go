package flow

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/calendar"
)

var (
	calOnce sync.Once
	calMSK  *calendar.Calendar
	calErr  error
)

// moscow is the §7 calendar: Europe/Moscow, Monday–Friday, 09:00–22:00,
// default holidays.
func moscow(t testing.TB) *calendar.Calendar {
	t.Helper()
	calOnce.Do(func() {
		calMSK, calErr = calendar.New(calendar.Default())
	})
	if calErr != nil {
		t.Fatal(calErr)
	}
	return calMSK
}

func ts(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

// exampleRules are the status types of METRICS.md §7.
func exampleRules(t testing.TB) *Rules {
	return &Rules{
		Statuses: map[string]StatusInfo{
			"open":            {Key: "open", Name: "Open", Type: TypeNew},
			"inProgress":      {Key: "inProgress", Name: "In progress", Type: TypeInProgress},
			"testing":         {Key: "testing", Name: "Testing", Type: TypeInProgress},
			"readyForRelease": {Key: "readyForRelease", Name: "Ready for release", Type: TypePaused},
			"closed":          {Key: "closed", Name: "Closed", Type: TypeDone},
		},
		Calendar: moscow(t),
	}
}

func exampleInput(t testing.TB, steps int, asOf string) Input {
	all := []Transition{
		{At: ts(t, "2024-03-04T09:00:00Z"), From: "open", To: "inProgress", Seq: 1},
		{At: ts(t, "2024-03-05T09:00:00Z"), From: "inProgress", To: "testing", Seq: 2},
		{At: ts(t, "2024-03-05T13:00:00Z"), From: "testing", To: "inProgress", Seq: 3},
		{At: ts(t, "2024-03-06T10:00:00Z"), From: "inProgress", To: "testing", Seq: 4},
		{At: ts(t, "2024-03-07T10:00:00Z"), From: "testing", To: "readyForRelease", Seq: 5},
		{At: ts(t, "2024-03-11T07:00:00Z"), From: "readyForRelease", To: "closed", Seq: 6},
	}
	return Input{
		CreatedAt:     ts(t, "2024-03-04T07:00:00Z"),
		InitialStatus: "open",
		CurrentStatus: all[steps-1].To,
		Transitions:   all[:steps],
		AsOf:          ts(t, asOf),
	}
}

type statusRow struct {
	key, name          string
	visits             int
	duration, business int64
	lastSeen           string
	current            bool
}

func checkStatuses(t *testing.T, got []StatusMetric, want []statusRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d status rows, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Key != w.key || g.Name != w.name || g.Visits != w.visits || g.Duration != w.duration ||
			g.Business != w.business || stamp(g.LastSeen) != w.lastSeen || g.IsCurrent != w.current {
			t.Errorf("status row %d:\n got  %s %s visits=%d duration=%d business=%d last_seen=%s current=%v\n want %s %s visits=%d duration=%d business=%d last_seen=%s current=%v",
				i, g.Key, g.Name, g.Visits, g.Duration, g.Business, stamp(g.LastSeen), g.IsCurrent,
				w.key, w.name, w.visits, w.duration, w.business, w.lastSeen, w.current)
		}
	}
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "<empty>"
	}
	if tm, ok := any(*p).(time.Time); ok {
		return stamp(tm)
	}
	return fmt.Sprint(*p)
}

func round4(p *float64) string {
	if p == nil {
		return "<empty>"
	}
	return fmt.Sprintf("%.4f", math.Round(*p*1e4)/1e4)
}

// TestMetricsExample is METRICS.md §7, both snapshots.
func TestMetricsExample(t *testing.T) {
	t.Run("closed, as_of 2024-03-12", func(t *testing.T) {
		res := Compute(exampleInput(t, 6, "2024-03-12T07:00:00Z"), exampleRules(t))
		checkStatuses(t, res.Statuses, []statusRow{
			{"open", "open", 1, 7200, 7200, "2024-03-04T09:00:00Z", false},
			{"inProgress", "in_progress", 2, 162000, 82800, "2024-03-06T10:00:00Z", false},
			{"testing", "testing", 2, 100800, 61200, "2024-03-07T10:00:00Z", false},
			{"readyForRelease", "ready_for_release", 1, 334800, 36000, "2024-03-11T07:00:00Z", false},
			{"closed", "closed", 1, 0, 0, "2024-03-11T07:00:00Z", true},
		})
		f := res.Issue
		checks := []struct{ what, got, want string }{
			{"started_at", fmtPtr(f.StartedAt), "2024-03-04T09:00:00Z"},
			{"done_at", fmtPtr(f.DoneAt), "2024-03-11T07:00:00Z"},
			{"lead_time", fmtPtr(f.LeadTime), "604800"},
			{"lead_time business", fmtPtr(f.LeadBusiness), "187200"},
			{"cycle_time", fmtPtr(f.CycleTime), "597600"},
			{"cycle_time business", fmtPtr(f.CycleBusiness), "180000"},
			{"active_time", fmt.Sprint(f.ActiveTime), "262800"},
			{"paused_time", fmt.Sprint(f.PausedTime), "334800"},
			{"flow_efficiency", round4(f.FlowEfficiency), "0.4398"},
			{"reopen_count", fmt.Sprint(f.ReopenCount), "0"},
			{"final", fmt.Sprint(f.Final), "true"},
			{"current_status", f.CurrentStatus, "closed"},
			{"current_status_since", stamp(f.CurrentStatusSince), "2024-03-11T07:00:00Z"},
			{"current_status_age", fmt.Sprint(f.CurrentStatusAge), "86400"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
			}
		}
		if len(res.Visits) != 7 {
			t.Fatalf("%d visits, want 7", len(res.Visits))
		}
		last := res.Visits[6]
		if !last.IsCurrent || !last.Left.IsZero() || last.Duration != 86400 || last.Business != 13*3600 || last.Number != 1 {
			t.Errorf("current closed visit = %+v, want current, open, 86400 s, business 46800 s", last)
		}
		if v := res.Visits[3]; v.StatusKey != "inProgress" || v.Number != 2 || v.Duration != 75600 || v.Business != 36000 {
			t.Errorf("second inProgress visit = %+v, want number 2, 75600 s, business 36000 s", v)
		}
		if len(res.Anomalies) != 0 || len(res.UnknownStatuses) != 0 {
			t.Errorf("anomalies %v, unknown %v; want none", res.Anomalies, res.UnknownStatuses)
		}
	})
	t.Run("before step 6, as_of 2024-03-11", func(t *testing.T) {
		res := Compute(exampleInput(t, 5, "2024-03-11T07:00:00Z"), exampleRules(t))
		checkStatuses(t, res.Statuses, []statusRow{
			{"open", "open", 1, 7200, 7200, "2024-03-04T09:00:00Z", false},
			{"inProgress", "in_progress", 2, 162000, 82800, "2024-03-06T10:00:00Z", false},
			{"testing", "testing", 2, 100800, 61200, "2024-03-07T10:00:00Z", false},
			{"readyForRelease", "ready_for_release", 1, 334800, 36000, "2024-03-11T07:00:00Z", true},
		})
		f := res.Issue
		if f.DoneAt != nil || f.LeadTime != nil || f.LeadBusiness != nil || f.CycleTime != nil || f.CycleBusiness != nil || f.Final {
			t.Errorf("done/lead/cycle = %s %s %s, final %v; want empty", fmtPtr(f.DoneAt), fmtPtr(f.LeadTime), fmtPtr(f.CycleTime), f.Final)
		}
		if f.CurrentStatusAge != 334800 || stamp(f.CurrentStatusSince) != "2024-03-07T10:00:00Z" {
			t.Errorf("current status since %s age %d, want 2024-03-07T10:00:00Z 334800", stamp(f.CurrentStatusSince), f.CurrentStatusAge)
		}
		if f.ActiveTime != 262800 || f.PausedTime != 334800 || fmtPtr(f.StartedAt) != "2024-03-04T09:00:00Z" {
			t.Errorf("active %d paused %d started %s; want 262800 334800 2024-03-04T09:00:00Z", f.ActiveTime, f.PausedTime, fmtPtr(f.StartedAt))
		}
		// Started and open: active / (as_of − started) = 262800 / 597600.
		if got := round4(f.FlowEfficiency); got != "0.4398" {
			t.Errorf("flow_efficiency = %s, want 0.4398", got)
		}
	})
}

func TestTypeOverrideAndClosedList(t *testing.T) {
	r := exampleRules(t)
	r.Statuses["readyForRelease"] = StatusInfo{Key: "readyForRelease", Name: "Ready for release", Type: TypeInProgress}
	r.TypeOverrides = map[string]string{"readyForRelease": TypePaused}
	r.Closed = []string{"CLOSED", "Released", "won_t_fix"}
	r.Statuses["released"] = StatusInfo{Key: "released", Name: "Выпущено", Type: TypeInProgress}
	r.Statuses["wontFix"] = StatusInfo{Key: "wontFix", Name: "Won't fix", Type: TypeNew}
	tests := []struct {
		key       string
		wantType  string
		wantFinal bool
		wantKnown bool
	}{
		{"readyForRelease", TypePaused, false, true},
		{"closed", TypeDone, true, true},
		{"released", TypeInProgress, true, true}, // by key, case-insensitively
		{"wontFix", TypeNew, true, true},         // by snake_case of "Won't fix" (2.0.0: won_t_fix)
		{"open", TypeNew, false, true},
		{"nowhere", "", false, false},
	}
	for _, tt := range tests {
		info, final, known := r.Status(tt.key)
		if info.Type != tt.wantType || final != tt.wantFinal || known != tt.wantKnown {
			t.Errorf("Status(%q) = %+v final=%v known=%v; want type %q final=%v known=%v",
				tt.key, info, final, known, tt.wantType, tt.wantFinal, tt.wantKnown)
		}
	}
	res := Compute(exampleInput(t, 6, "2024-03-12T07:00:00Z"), r)
	if res.Issue.PausedTime != 334800 || res.Issue.ActiveTime != 262800 {
		t.Errorf("with override: paused %d active %d, want 334800 262800", res.Issue.PausedTime, res.Issue.ActiveTime)
	}
	if err := (&Rules{TypeOverrides: map[string]string{"a": "paused", "b": "blocked"}}).Validate(); err == nil {
		t.Error("Validate with type blocked: want an error")
	}
}

func TestHumanDuration(t *testing.T) {
	// Expected values are the output of the old tool's to_human_time.
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0s"}, {1, "1s"}, {59, "59s"}, {60, "1m"}, {61, "1m 1s"}, {320, "5m 20s"},
		{3600, "1h"}, {86400, "1d"}, {86700, "1d 5m"}, {604800, "1w"}, {3200400, "1mo 1w"},
		{31104000, "1y"}, {31104001, "1y 1s"}, {4060800, "1mo 2w"}, {7200, "2h"},
		{162000, "1d 21h"}, {82800, "23h"}, {334800, "3d 21h"}, {-90, "-1m 30s"},
	}
	for _, tt := range tests {
		if got := HumanDuration(tt.in); got != tt.want {
			t.Errorf("HumanDuration(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := HumanDuration(math.MinInt64); got == "" || got[0] != '-' {
		t.Errorf("HumanDuration(MinInt64) = %q, want a negative text", got)
	}
}
