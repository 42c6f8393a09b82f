package flow

import (
	"fmt"
	"testing"
	"time"
)

// benchInput is an issue that cycles through the §7 workflow (with reopens)
// for n transitions, one every 7 hours 13 minutes.
func benchInput(n int) Input {
	cycle := []string{"open", "inProgress", "testing", "inProgress", "testing", "readyForRelease", "closed"}
	created := time.Date(2023, 1, 9, 7, 0, 0, 0, time.UTC)
	in := Input{CreatedAt: created, InitialStatus: "open"}
	at := created
	for i := range n {
		at = at.Add(7*time.Hour + 13*time.Minute)
		in.Transitions = append(in.Transitions, Transition{
			At: at, From: cycle[i%len(cycle)], To: cycle[(i+1)%len(cycle)], Seq: i + 1,
		})
	}
	in.CurrentStatus = in.Transitions[n-1].To
	in.AsOf = at.Add(36 * time.Hour)
	return in
}

func BenchmarkCompute(b *testing.B) {
	r := exampleRules(b)
	r.Closed = []string{"closed", "rejected", "resolved", "cancelled", "released"}
	for _, n := range []int{25, 1000} {
		in := benchInput(n)
		Compute(in, r) // build the calendar's year tables outside the loop
		b.Run(fmt.Sprintf("transitions=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var res Result
			for b.Loop() {
				res = Compute(in, r)
			}
			if len(res.Visits) != n+1 || len(res.Anomalies) != 0 {
				b.Fatalf("%d visits, anomalies %v", len(res.Visits), res.Anomalies)
			}
		})
	}
}

// BenchmarkComputeLongVisits measures issues whose few visits span years:
// business time per visit must cost O(years spanned) at most (the
// calendar's per-year tables), not O(days) or O(minutes), so the figures
// stay flat as the span grows.
func BenchmarkComputeLongVisits(b *testing.B) {
	r := exampleRules(b)
	created := time.Date(2016, 1, 11, 7, 0, 0, 0, time.UTC)
	for _, years := range []int{1, 10, 30} {
		span := time.Duration(years) * 365 * 24 * time.Hour
		in := Input{CreatedAt: created, InitialStatus: "open", CurrentStatus: "closed", AsOf: created.Add(span)}
		for i, st := range [][2]string{{"open", "inProgress"}, {"inProgress", "readyForRelease"}, {"readyForRelease", "closed"}} {
			in.Transitions = append(in.Transitions, Transition{At: created.Add(span * time.Duration(i+1) / 4), From: st[0], To: st[1], Seq: i + 1})
		}
		Compute(in, r) // build the calendar's year tables outside the loop
		b.Run(fmt.Sprintf("years=%d", years), func(b *testing.B) {
			var res Result
			for b.Loop() {
				res = Compute(in, r)
			}
			if len(res.Visits) != 4 || res.Visits[1].Business <= 0 {
				b.Fatalf("visits %+v", res.Visits)
			}
		})
	}
}
