package flow

import (
	"encoding/binary"
	"testing"
	"time"
)

// checkInvariants verifies what must hold for any input: the visits tile
// [created, as_of] without gaps or overlaps, per-status sums match the
// visits, 0 ≤ business ≤ calendar time, and the issue figures are coherent.
func checkInvariants(t *testing.T, in Input, r *Rules, res Result) {
	t.Helper()
	created, asOf := in.CreatedAt, in.AsOf
	if asOf.Before(created) {
		asOf = created
	}
	vs := res.Visits
	if len(vs) == 0 {
		t.Fatal("no visits")
	}
	if !vs[0].Entered.Equal(created) {
		t.Fatalf("first visit enters at %v, want created %v", vs[0].Entered, created)
	}
	var total, totalBusiness int64
	numbers := map[string]int{}
	for i, v := range vs {
		last := i == len(vs)-1
		end := v.Left
		if last {
			if !v.IsCurrent || !v.Left.IsZero() {
				t.Fatalf("last visit %+v: want current with no left_at", v)
			}
			end = asOf
		} else {
			if v.IsCurrent || v.Left.IsZero() || !v.Left.Equal(vs[i+1].Entered) {
				t.Fatalf("visit %d %+v does not end where visit %d begins (%v)", i, v, i+1, vs[i+1].Entered)
			}
		}
		if end.Before(v.Entered) {
			t.Fatalf("visit %d %+v ends before it begins", i, v)
		}
		if v.Duration != end.Unix()-v.Entered.Unix() || v.Business < 0 || v.Business > v.Duration {
			t.Fatalf("visit %d %+v: duration or business out of range", i, v)
		}
		numbers[v.StatusKey]++
		if v.Number != numbers[v.StatusKey] {
			t.Fatalf("visit %d %+v: number %d, want %d", i, v, v.Number, numbers[v.StatusKey])
		}
		total += v.Duration
		totalBusiness += v.Business
	}
	if want := asOf.Unix() - created.Unix(); total != want {
		t.Fatalf("visits add up to %d s, want as_of − created = %d s", total, want)
	}
	if want := business(r, created, asOf); totalBusiness != want {
		t.Fatalf("visits add up to %d business s, want business(created, as_of) = %d", totalBusiness, want)
	}

	byKey := map[string]*StatusMetric{}
	visits, current := 0, 0
	for i := range res.Statuses {
		m := &res.Statuses[i]
		if byKey[m.Key] != nil {
			t.Fatalf("status %s listed twice", m.Key)
		}
		byKey[m.Key] = m
		visits += m.Visits
		if m.IsCurrent {
			current++
		}
	}
	if visits != len(vs) || current != 1 {
		t.Fatalf("status rows count %d visits (want %d) and %d current (want 1)", visits, len(vs), current)
	}
	sums := map[string][2]int64{}
	for _, v := range vs {
		if v.IsCurrent && v.Final {
			continue
		}
		s := sums[v.StatusKey]
		sums[v.StatusKey] = [2]int64{s[0] + v.Duration, s[1] + v.Business}
	}
	for k, m := range byKey {
		if m.Duration != sums[k][0] || m.Business != sums[k][1] {
			t.Fatalf("status %s: %d/%d s, visits give %d/%d", k, m.Duration, m.Business, sums[k][0], sums[k][1])
		}
	}

	f := res.Issue
	cur := vs[len(vs)-1]
	if f.CurrentStatus != cur.StatusKey || !f.CurrentStatusSince.Equal(cur.Entered) || f.CurrentStatusAge != cur.Duration || f.Final != cur.Final {
		t.Fatalf("current status figures %+v disagree with the current visit %+v", f, cur)
	}
	if f.ActiveTime < 0 || f.ActiveTime > total || f.PausedTime < 0 || f.PausedTime > total || f.ReopenCount < 0 {
		t.Fatalf("active %d paused %d reopens %d out of range (total %d)", f.ActiveTime, f.PausedTime, f.ReopenCount, total)
	}
	if (f.DoneAt != nil) != cur.Final || (f.LeadTime != nil) != cur.Final {
		t.Fatalf("done_at %v / lead %v with final=%v", f.DoneAt, f.LeadTime, cur.Final)
	}
	if f.LeadTime != nil && (*f.LeadTime < 0 || *f.LeadBusiness < 0 || *f.LeadBusiness > *f.LeadTime) {
		t.Fatalf("lead %d business %d out of range", *f.LeadTime, *f.LeadBusiness)
	}
	if f.CycleTime != nil && (*f.CycleTime < 0 || *f.CycleTime > *f.LeadTime || *f.CycleBusiness > *f.CycleTime) {
		t.Fatalf("cycle %d (business %d) out of range, lead %d", *f.CycleTime, *f.CycleBusiness, *f.LeadTime)
	}
	if fe := f.FlowEfficiency; fe != nil && (*fe < 0 || *fe > 1) {
		t.Fatalf("flow efficiency %v outside [0, 1]", *fe)
	}
}

var fuzzKeys = []string{"", "open", "inProgress", "testing", "needInfo", "readyForRelease", "resolved", "closed", "cancelled", "mystery"}

// FuzzCompute decodes random bytes into an issue history and checks the
// invariants of checkInvariants; Compute must never panic.
func FuzzCompute(f *testing.F) {
	f.Add([]byte{1, 7, 3, 0x10, 0x00, 1, 2, 0x20, 0x00, 2, 3, 0x01, 0x00, 3, 7})
	f.Add([]byte{0, 0, 0, 0xff, 0xff, 9, 9, 0x00, 0x80, 0, 0})
	f.Add([]byte{7, 7, 200, 0x00, 0x00, 7, 1, 0x00, 0x00, 1, 7, 0x00, 0x00, 7, 2})
	f.Fuzz(fuzzCompute)
}

// fuzzCompute is the body of FuzzCompute.
func fuzzCompute(t *testing.T, data []byte) {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	created := time.Date(2024, 3, 1, 6, 0, 0, 0, time.UTC).Add(time.Duration(next()) * 37 * time.Minute)
	in := Input{
		CreatedAt:     created,
		InitialStatus: fuzzKeys[int(next())%len(fuzzKeys)],
		CurrentStatus: fuzzKeys[int(next())%len(fuzzKeys)],
	}
	at := created
	seq := 0
	for len(data) >= 4 {
		var raw [2]byte
		raw[0], raw[1] = next(), next()
		// Steps from −2h to about +16 days, with millisecond noise.
		step := time.Duration(int16(binary.BigEndian.Uint16(raw[:]))) * 23 * time.Second
		at = at.Add(step + time.Duration(int(raw[1])%1000)*time.Millisecond)
		seq++
		in.Transitions = append(in.Transitions, Transition{
			At: at, From: fuzzKeys[int(next())%len(fuzzKeys)], To: fuzzKeys[int(next())%len(fuzzKeys)], Seq: seq,
		})
	}
	if b := next(); b%5 == 0 {
		in.CurrentStatusSince = at.Add(-time.Duration(b) * time.Minute)
	}
	in.AsOf = at.Add(time.Duration(int(next())-64) * time.Hour)
	r := exampleRules(t)
	r.Statuses["needInfo"] = StatusInfo{Key: "needInfo", Name: "Need info", Type: TypePaused}
	r.Statuses["resolved"] = StatusInfo{Key: "resolved", Name: "Resolved", Type: TypeDone}
	r.Statuses["cancelled"] = StatusInfo{Key: "cancelled", Name: "Cancelled", Type: TypeCancelled}
	r.Closed = []string{"mystery"}
	before := append([]Transition(nil), in.Transitions...)
	res := Compute(in, r)
	checkInvariants(t, in, r, res)
	for i := range before {
		if before[i] != in.Transitions[i] {
			t.Fatalf("Compute modified its input transitions")
		}
	}
}
