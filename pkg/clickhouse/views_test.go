package clickhouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// flowIssue is one synthetic issue of the analytic views test: what the
// views should see, and the rows that carry it.
type flowIssue struct {
	id, queue            string
	created              time.Time
	started, done        time.Time // zero when never started / not done
	statusKey, statusTyp string
	visits               []flowVisit
}

type flowVisit struct {
	key, typ      string
	entered, left time.Time // left zero: the open visit
}

// flowIssues makes n issues in queues A and B over the last ~200 days,
// plus one issue in "open" since five years, which the CFD window cuts.
// Paths: never started; started and in progress; started and paused; done;
// cancelled before starting; done after a reopen.
func flowIssues(now time.Time, n int) []flowIssue {
	rng := rand.New(rand.NewPCG(1, 2))
	secs := func(maxDays int) time.Duration {
		return time.Duration(rng.IntN(maxDays*86400)+1) * time.Second
	}
	var out []flowIssue
	for i := range n {
		fi := flowIssue{id: fmt.Sprintf("f%03d", i), queue: []string{"A", "B"}[(i/6)%2]}
		fi.created = now.Add(-200 * 24 * time.Hour).Add(secs(100)).Truncate(time.Second)
		at := fi.created
		next := func() time.Time { at = at.Add(secs(20)); return at }
		visit := func(key, typ string, left time.Time) {
			start := fi.created
			if k := len(fi.visits); k > 0 {
				start = fi.visits[k-1].left
			}
			fi.visits = append(fi.visits, flowVisit{key, typ, start, left})
		}
		switch i % 6 {
		case 0: // never started
		case 1: // in progress
			visit("open", "new", next())
			fi.started = at
		case 2: // paused after work
			visit("open", "new", next())
			fi.started = at
			visit("inProgress", "inProgress", next())
		case 3: // done
			visit("open", "new", next())
			fi.started = at
			visit("inProgress", "inProgress", next())
			visit("testing", "inProgress", next())
			fi.done = at
		case 4: // cancelled, never started
			visit("open", "new", next())
			fi.done = at
		case 5: // done, reopened, done again
			visit("open", "new", next())
			fi.started = at
			visit("inProgress", "inProgress", next())
			visit("closed", "done", next())
			visit("inProgress", "inProgress", next())
		}
		// The open visit, in the current status.
		cur := map[int][2]string{0: {"open", "new"}, 1: {"inProgress", "inProgress"}, 2: {"readyForRelease", "paused"},
			3: {"closed", "done"}, 4: {"cancelled", "cancelled"}, 5: {"closed", "done"}}[i%6]
		fi.statusKey, fi.statusTyp = cur[0], cur[1]
		if i%6 == 5 {
			fi.done = at
		}
		visit(fi.statusKey, fi.statusTyp, time.Time{})
		out = append(out, fi)
	}
	old := flowIssue{id: "old", queue: "A", created: now.AddDate(-5, 0, 0).Truncate(time.Second), statusKey: "open", statusTyp: "new"}
	old.visits = []flowVisit{{"open", "new", old.created, time.Time{}}}
	return append(out, old)
}

// businessOf is the synthetic business time of a span: a third of it.
func businessOf(d int64) int64 { return d / 3 }

// rows converts an issue to the loader's message, at the given version.
func (fi flowIssue) rows(version uint64, now time.Time) *wire.IssueRows {
	key := fi.queue + "-" + fi.id
	r := &wire.IssueRows{IssueID: fi.id, IssueKey: key, SourceVersion: version, TransformedAt: now, Generation: "g1",
		Issue: wire.IssueRow{
			IssueKey: key, Queue: fi.queue, Title: "issue " + fi.id, IssueType: "task", Priority: "normal",
			Status: fi.statusKey + "_name", StatusKey: fi.statusKey, StatusType: fi.statusTyp,
			CreatedAt: fi.created, UpdatedAt: fi.visits[len(fi.visits)-1].entered,
			StartedAt: fi.started, DoneAt: fi.done, StoryPoints: 1,
			CurrentStatusSince: fi.visits[len(fi.visits)-1].entered,
		}}
	if !fi.done.IsZero() {
		lead := int64(fi.done.Sub(fi.created) / time.Second)
		r.Issue.LeadTime, r.Issue.LeadTimeBusiness = i64(lead), i64(businessOf(lead))
		r.Issue.IsClosed, r.Issue.ClosedAt = true, fi.done
		if !fi.started.IsZero() {
			cycle := int64(fi.done.Sub(fi.started) / time.Second)
			r.Issue.CycleTime, r.Issue.CycleTimeBusiness = i64(cycle), i64(businessOf(cycle))
		}
	}
	visits := map[string]uint32{}
	for _, v := range fi.visits {
		visits[v.key]++
		r.Intervals = append(r.Intervals, wire.IntervalRow{
			IssueKey: key, Queue: fi.queue, StatusName: v.key + "_name", StatusKey: v.key, StatusType: v.typ,
			VisitNumber: visits[v.key], EnteredAt: v.entered, LeftAt: v.left, IsCurrent: v.left.IsZero(),
		})
	}
	return r
}

// quantileExact is ClickHouse's quantileExact: the element at
// floor(level*n) of the sorted values.
func quantileExact(sorted []int64, level float64) int64 {
	i := int(level * float64(len(sorted)))
	return sorted[min(i, len(sorted)-1)]
}

type flowTimesRow struct {
	Queue     string    `ch:"queue"`
	Month     time.Time `ch:"month"`
	Done      uint64    `ch:"done_issues"`
	CycleN    uint64    `ch:"cycle_time_issues"`
	LeadP50   *int64    `ch:"lead_time_p50"`
	LeadP85   *int64    `ch:"lead_time_p85"`
	LeadP95   *int64    `ch:"lead_time_p95"`
	LeadBP50  *int64    `ch:"lead_time_business_p50"`
	LeadBP85  *int64    `ch:"lead_time_business_p85"`
	LeadBP95  *int64    `ch:"lead_time_business_p95"`
	CycleP50  *int64    `ch:"cycle_time_p50"`
	CycleP85  *int64    `ch:"cycle_time_p85"`
	CycleP95  *int64    `ch:"cycle_time_p95"`
	CycleBP50 *int64    `ch:"cycle_time_business_p50"`
	CycleBP85 *int64    `ch:"cycle_time_business_p85"`
	CycleBP95 *int64    `ch:"cycle_time_business_p95"`
}

func (r flowTimesRow) String() string {
	s := fmt.Sprintf("%s %s done=%d cycle_n=%d", r.Queue, r.Month.Format("2006-01"), r.Done, r.CycleN)
	for _, p := range []*int64{r.LeadP50, r.LeadP85, r.LeadP95, r.LeadBP50, r.LeadBP85, r.LeadBP95, r.CycleP50, r.CycleP85, r.CycleP95, r.CycleBP50, r.CycleBP85, r.CycleBP95} {
		if p == nil {
			s += " NULL"
		} else {
			s += fmt.Sprint(" ", *p)
		}
	}
	return s
}

type throughputRow struct {
	Queue       string    `ch:"queue"`
	Week        time.Time `ch:"week"`
	Throughput  uint64    `ch:"throughput"`
	Cancelled   uint64    `ch:"cancelled"`
	StoryPoints float64   `ch:"story_points"`
}

type wipRow struct {
	Queue      string    `ch:"queue"`
	StatusKey  string    `ch:"status_key"`
	Status     string    `ch:"status"`
	StatusType string    `ch:"status_type"`
	WIP        uint64    `ch:"wip"`
	Oldest     time.Time `ch:"oldest_started_at"`
}

type cfdRow struct {
	Day        time.Time `ch:"day"`
	Queue      string    `ch:"queue"`
	StatusKey  string    `ch:"status_key"`
	StatusName string    `ch:"status_name"`
	StatusType string    `ch:"status_type"`
	Count      uint64    `ch:"issue_count"`
}

func dayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// TestAnalyticViews loads synthetic issues (each twice, plus an older
// snapshot that must not count) and checks every analytic view against
// figures computed here from the same issues.
func TestAnalyticViews(t *testing.T) {
	c := newMigrated(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	issues := flowIssues(now, 120)

	var batch []*wire.IssueRows
	for _, fi := range issues {
		batch = append(batch, fi.rows(2000, now))
	}
	// An older snapshot of every done issue, in which it is still in
	// progress (and in another queue), arrives after the newer one.
	var stale []*wire.IssueRows
	for _, fi := range issues {
		if fi.done.IsZero() {
			continue
		}
		o := fi
		o.queue, o.done, o.statusKey, o.statusTyp = "STALE", time.Time{}, "inProgress", "inProgress"
		o.visits = append([]flowVisit(nil), fi.visits[:len(fi.visits)-1]...)
		o.visits[len(o.visits)-1].left = time.Time{}
		if o.started.IsZero() {
			o.started = o.visits[len(o.visits)-1].entered
		}
		stale = append(stale, o.rows(1000, now))
	}
	for i, b := range [][]*wire.IssueRows{batch, stale, batch} {
		if err := c.InsertRows(ctx, b); err != nil {
			t.Fatalf("InsertRows #%d: %v", i, err)
		}
	}
	views := c.Tables().AnalyticViews()

	t.Run("flow times monthly", func(t *testing.T) {
		type key struct {
			queue string
			month time.Time
		}
		lead, leadB, cycle, cycleB := map[key][]int64{}, map[key][]int64{}, map[key][]int64{}, map[key][]int64{}
		for _, fi := range issues {
			if fi.done.IsZero() {
				continue
			}
			k := key{fi.queue, time.Date(fi.done.Year(), fi.done.Month(), 1, 0, 0, 0, 0, time.UTC)}
			l := int64(fi.done.Sub(fi.created) / time.Second)
			lead[k], leadB[k] = append(lead[k], l), append(leadB[k], businessOf(l))
			if !fi.started.IsZero() {
				cy := int64(fi.done.Sub(fi.started) / time.Second)
				cycle[k], cycleB[k] = append(cycle[k], cy), append(cycleB[k], businessOf(cy))
			}
		}
		ps := func(v []int64) [3]*int64 {
			if len(v) == 0 {
				return [3]*int64{}
			}
			s := append([]int64(nil), v...)
			sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
			return [3]*int64{i64(quantileExact(s, 0.5)), i64(quantileExact(s, 0.85)), i64(quantileExact(s, 0.95))}
		}
		var want []flowTimesRow
		for k := range lead {
			l, lb, cy, cyb := ps(lead[k]), ps(leadB[k]), ps(cycle[k]), ps(cycleB[k])
			want = append(want, flowTimesRow{Queue: k.queue, Month: k.month, Done: uint64(len(lead[k])), CycleN: uint64(len(cycle[k])),
				LeadP50: l[0], LeadP85: l[1], LeadP95: l[2], LeadBP50: lb[0], LeadBP85: lb[1], LeadBP95: lb[2],
				CycleP50: cy[0], CycleP85: cy[1], CycleP95: cy[2], CycleBP50: cyb[0], CycleBP85: cyb[1], CycleBP95: cyb[2]})
		}
		sort.Slice(want, func(i, j int) bool {
			return want[i].Queue < want[j].Queue || want[i].Queue == want[j].Queue && want[i].Month.Before(want[j].Month)
		})
		got := selectAll[flowTimesRow](t, c, views.FlowTimesMonthly, "queue, month")
		for i := range got {
			got[i].Month = got[i].Month.UTC()
		}
		if len(want) < 4 {
			t.Fatalf("test data has only %d queue-months of done issues", len(want))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %v\nwant %v", views.FlowTimesMonthly, got, want)
		}
	})

	t.Run("throughput weekly", func(t *testing.T) {
		type key struct {
			queue string
			week  time.Time
		}
		agg := map[key]*throughputRow{}
		for _, fi := range issues {
			if fi.done.IsZero() {
				continue
			}
			d := dayOf(fi.done)
			monday := d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
			k := key{fi.queue, monday}
			if agg[k] == nil {
				agg[k] = &throughputRow{Queue: fi.queue, Week: monday}
			}
			if fi.statusTyp == "cancelled" {
				agg[k].Cancelled++
			} else {
				agg[k].Throughput++
				agg[k].StoryPoints++
			}
		}
		var want []throughputRow
		for _, r := range agg {
			want = append(want, *r)
		}
		sort.Slice(want, func(i, j int) bool {
			return want[i].Queue < want[j].Queue || want[i].Queue == want[j].Queue && want[i].Week.Before(want[j].Week)
		})
		got := selectAll[throughputRow](t, c, views.ThroughputWeekly, "queue, week")
		for i := range got {
			got[i].Week = got[i].Week.UTC()
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", views.ThroughputWeekly, got, want)
		}
	})

	t.Run("wip", func(t *testing.T) {
		type key struct{ queue, status string }
		agg := map[key]*wipRow{}
		for _, fi := range issues {
			if fi.started.IsZero() || !fi.done.IsZero() {
				continue
			}
			k := key{fi.queue, fi.statusKey}
			if agg[k] == nil {
				agg[k] = &wipRow{Queue: fi.queue, StatusKey: fi.statusKey, Status: fi.statusKey + "_name", StatusType: fi.statusTyp, Oldest: fi.started}
			}
			agg[k].WIP++
			if fi.started.Before(agg[k].Oldest) {
				agg[k].Oldest = fi.started
			}
		}
		var want []wipRow
		for _, r := range agg {
			want = append(want, *r)
		}
		sort.Slice(want, func(i, j int) bool {
			return want[i].Queue < want[j].Queue || want[i].Queue == want[j].Queue && want[i].StatusKey < want[j].StatusKey
		})
		got := selectAll[wipRow](t, c, views.WIP, "queue, status_key")
		for i := range got {
			got[i] = utc(got[i])
		}
		if len(want) != 4 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v (4 rows)", views.WIP, got, want)
		}
	})

	t.Run("wip ageing", func(t *testing.T) {
		type ageRow struct {
			IssueID   string `ch:"issue_id"`
			Age       int64  `ch:"age"`
			AgeDays   int64  `ch:"age_days"`
			StatusAge int64  `ch:"status_age"`
		}
		before := time.Now()
		var got []ageRow
		if err := c.Conn().Select(ctx, &got, "SELECT issue_id, age, age_days, status_age FROM "+c.qualified(views.WIPAgeing)+" ORDER BY issue_id"); err != nil {
			t.Fatalf("select %s: %v", views.WIPAgeing, err)
		}
		after := time.Now()
		byID := map[string]flowIssue{}
		wantN := 0
		for _, fi := range issues {
			byID[fi.id] = fi
			if !fi.started.IsZero() && fi.done.IsZero() {
				wantN++
			}
		}
		if len(got) != wantN || wantN == 0 {
			t.Fatalf("%s has %d rows, want %d", views.WIPAgeing, len(got), wantN)
		}
		for _, r := range got {
			fi := byID[r.IssueID]
			if fi.started.IsZero() || !fi.done.IsZero() {
				t.Errorf("%s: issue %s is not in progress", views.WIPAgeing, r.IssueID)
				continue
			}
			lo, hi := int64(before.Sub(fi.started)/time.Second)-1, int64(after.Sub(fi.started)/time.Second)+1
			since := fi.visits[len(fi.visits)-1].entered
			slo, shi := int64(before.Sub(since)/time.Second)-1, int64(after.Sub(since)/time.Second)+1
			if r.Age < lo || r.Age > hi || r.AgeDays != r.Age/86400 || r.StatusAge < slo || r.StatusAge > shi {
				t.Errorf("%s %s: age %d (%d days), status age %d; want age in [%d, %d], status age in [%d, %d]",
					views.WIPAgeing, r.IssueID, r.Age, r.AgeDays, r.StatusAge, lo, hi, slo, shi)
			}
		}
	})

	t.Run("cfd daily", func(t *testing.T) {
		type key struct {
			day           time.Time
			queue, status string
		}
		for attempt := 0; ; attempt++ {
			today := dayOf(time.Now())
			from := today.AddDate(0, 0, -1095)
			counts := map[key]uint64{}
			types := map[string]string{}
			for _, fi := range issues {
				for _, v := range fi.visits {
					types[v.key] = v.typ
					first := dayOf(v.entered)
					if first.Before(from) {
						first = from
					}
					last := today
					if !v.left.IsZero() {
						last = dayOf(v.left).AddDate(0, 0, -1)
					}
					for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
						counts[key{d, fi.queue, v.key}]++
					}
				}
			}
			var want []cfdRow
			for k, n := range counts {
				want = append(want, cfdRow{Day: k.day, Queue: k.queue, StatusKey: k.status, StatusName: k.status + "_name", StatusType: types[k.status], Count: n})
			}
			sort.Slice(want, func(i, j int) bool {
				a, b := want[i], want[j]
				if !a.Day.Equal(b.Day) {
					return a.Day.Before(b.Day)
				}
				if a.Queue != b.Queue {
					return a.Queue < b.Queue
				}
				return a.StatusKey < b.StatusKey
			})
			got := selectAll[cfdRow](t, c, views.CFDDaily, "day, queue, status_key")
			for i := range got {
				got[i].Day = got[i].Day.UTC()
			}
			if !dayOf(time.Now()).Equal(today) && attempt == 0 {
				continue // midnight passed meanwhile
			}
			if len(want) < 300 {
				t.Fatalf("test data gives only %d CFD rows", len(want))
			}
			if !reflect.DeepEqual(got, want) {
				n := min(len(got), len(want))
				for i := range n {
					if got[i] != want[i] {
						t.Errorf("%s row %d: got %+v, want %+v", views.CFDDaily, i, got[i], want[i])
						break
					}
				}
				t.Errorf("%s: %d rows, want %d", views.CFDDaily, len(got), len(want))
			}
			// The window starts 1095 days before today: the five-year-old
			// open issue counts from there, not from its creation.
			if got[0].Day != from {
				t.Errorf("%s starts on %s, want %s", views.CFDDaily, got[0].Day, from)
			}
			// On a day every issue existed (today), every issue is counted once.
			var total uint64
			for _, r := range got {
				if r.Day.Equal(today) {
					total += r.Count
				}
			}
			if total != uint64(len(issues)) {
				t.Errorf("%s: %d issues today, want %d", views.CFDDaily, total, len(issues))
			}
			return
		}
	})
}
