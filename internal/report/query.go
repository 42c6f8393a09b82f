package report

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/forecast"
)

// querier runs the report's queries for one set of options.
type querier struct {
	ch *clickhouse.Client
	o  Options
}

// table returns the quoted name of a table or view of the database.
func (q *querier) table(name string) string {
	return "`" + q.ch.Database() + "`.`" + name + "`"
}

// queueFilter is the condition on the queue column; its arguments are
// queueArgs.
const queueFilter = "(? = '' OR `queue` = ?)"

func (q *querier) queueArgs() []any { return []any{q.o.Queue, q.o.Queue} }

// periodEnd is the first second after the period.
func (q *querier) periodEnd() time.Time { return q.o.To.AddDate(0, 0, 1) }

// doneFilter selects the issues done (not cancelled) in the period, for
// issues_view; its arguments are doneArgs.
const doneFilter = queueFilter + " AND toUInt32(`done_at`) > 0 AND `status_type` != 'cancelled'" +
	" AND `done_at` >= toDateTime(?) AND `done_at` < toDateTime(?)"

func (q *querier) doneArgs() []any {
	return append(q.queueArgs(), q.o.From.Unix(), q.periodEnd().Unix())
}

// each runs a query and calls scan for every row.
func (q *querier) each(ctx context.Context, query string, args []any, scan func(driver.Rows) error) error {
	rows, err := q.ch.Conn().Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (q *querier) throughput(ctx context.Context, d *Data) error {
	views := q.ch.Tables().AnalyticViews()
	got := map[time.Time]WeekCount{}
	err := q.each(ctx, "SELECT `week`, toUInt64(sum(`throughput`)), toUInt64(sum(`cancelled`)) FROM "+q.table(views.ThroughputWeekly)+
		" WHERE "+queueFilter+" AND `week` >= toDate(?) AND `week` <= toDate(?) GROUP BY `week`",
		append(q.queueArgs(), monday(q.o.From).Format(time.DateOnly), q.o.To.Format(time.DateOnly)),
		func(r driver.Rows) error {
			var w WeekCount
			err := r.Scan(&w.Week, &w.Done, &w.Cancelled)
			w.Week = day(w.Week)
			got[w.Week] = w
			return err
		})
	for wk := monday(q.o.From); !wk.After(q.o.To); wk = wk.AddDate(0, 0, 7) {
		w := got[wk]
		w.Week = wk
		d.Throughput = append(d.Throughput, w)
	}
	return err
}

func (q *querier) wip(ctx context.Context, d *Data) error {
	views := q.ch.Tables().AnalyticViews()
	err := q.each(ctx, "SELECT toString(`status_key`), any(`status`), any(`status_type`), toUInt64(sum(`wip`)), min(`oldest_started_at`) FROM "+
		q.table(views.WIP)+" WHERE "+queueFilter+" GROUP BY `status_key`", q.queueArgs(),
		func(r driver.Rows) error {
			var s StatusCount
			err := r.Scan(&s.Key, &s.Name, &s.Type, &s.Count, &s.OldestStarted)
			s.OldestStarted = s.OldestStarted.UTC()
			d.WIP = append(d.WIP, s)
			return err
		})
	sort.SliceStable(d.WIP, func(i, j int) bool { return statusLess(d.WIP[i].statusRef, d.WIP[j].statusRef) })
	return err
}

// ageing reads the started issues that are not done and measures their
// ages at Options.Now (the issues_wip_ageing view measures at the query's
// now()).
func (q *querier) ageing(ctx context.Context, d *Data) error {
	err := q.each(ctx, "SELECT `issue_key`, `title`, toString(`status_key`), toString(`status`), toString(`status_type`), `started_at`, `current_status_since` FROM "+
		q.table(q.ch.Tables().Issues+"_view")+" WHERE "+queueFilter+" AND toUInt32(`started_at`) > 0 AND toUInt32(`done_at`) = 0", q.queueArgs(),
		func(r driver.Rows) error {
			var a AgeingItem
			err := r.Scan(&a.Key, &a.Title, &a.statusRef.Key, &a.Name, &a.Type, &a.Started, &a.StatusSince)
			a.Started, a.StatusSince = a.Started.UTC(), a.StatusSince.UTC()
			a.Age = max(int64(q.o.Now.Sub(a.Started)/time.Second), 0)
			a.StatusAge = max(int64(q.o.Now.Sub(a.StatusSince)/time.Second), 0)
			d.Ageing = append(d.Ageing, a)
			return err
		})
	sort.SliceStable(d.Ageing, func(i, j int) bool {
		if d.Ageing[i].Age != d.Ageing[j].Age {
			return d.Ageing[i].Age > d.Ageing[j].Age
		}
		return d.Ageing[i].Key < d.Ageing[j].Key
	})
	return err
}

func (q *querier) cfd(ctx context.Context, d *Data) error {
	views := q.ch.Tables().AnalyticViews()
	type cell struct {
		day time.Time
		key string
		n   uint64
	}
	var cells []cell
	statuses := map[string]statusRef{}
	err := q.each(ctx, "SELECT `day`, `status_key`, any(`status_name`), any(`status_type`), toUInt64(sum(`issue_count`)) FROM "+q.table(views.CFDDaily)+
		" WHERE "+queueFilter+" AND `day` >= toDate(?) AND `day` <= toDate(?) GROUP BY `day`, `status_key`",
		append(q.queueArgs(), q.o.From.Format(time.DateOnly), q.o.To.Format(time.DateOnly)),
		func(r driver.Rows) error {
			var c cell
			var s statusRef
			err := r.Scan(&c.day, &s.Key, &s.Name, &s.Type, &c.n)
			c.day, c.key = day(c.day), s.Key
			statuses[s.Key] = s
			cells = append(cells, c)
			return err
		})
	if err != nil {
		return err
	}
	d.CFD = buildCFD(q.o.From, q.o.To, statuses, func(add func(time.Time, string, uint64)) {
		for _, c := range cells {
			add(c.day, c.key, c.n)
		}
	})
	return nil
}

// buildCFD lays the cells out per status (in stacking order: final
// statuses at the bottom) and day of [from, to].
func buildCFD(from, to time.Time, statuses map[string]statusRef, cells func(func(time.Time, string, uint64))) CFD {
	var c CFD
	for dd := from; !dd.After(to); dd = dd.AddDate(0, 0, 1) {
		c.Days = append(c.Days, dd)
	}
	for _, s := range statuses {
		c.Statuses = append(c.Statuses, s)
	}
	sort.Slice(c.Statuses, func(i, j int) bool { return statusLess(c.Statuses[j], c.Statuses[i]) })
	index := map[string]int{}
	for i, s := range c.Statuses {
		index[s.Key] = i
		c.Counts = append(c.Counts, make([]uint64, len(c.Days)))
	}
	cells(func(dd time.Time, key string, n uint64) {
		j := int(dd.Sub(from).Hours() / 24)
		if j >= 0 && j < len(c.Days) {
			c.Counts[index[key]][j] += n
		}
	})
	return c
}

func (q *querier) done(ctx context.Context, d *Data) error {
	return q.each(ctx, "SELECT `issue_key`, `done_at`, `cycle_time`, ifNull(`lead_time`, 0) FROM "+q.table(q.ch.Tables().Issues+"_view")+
		" WHERE "+doneFilter+" ORDER BY `done_at`, `issue_key`", q.doneArgs(),
		func(r driver.Rows) error {
			var it DoneItem
			err := r.Scan(&it.Key, &it.DoneAt, &it.CycleTime, &it.LeadTime)
			it.DoneAt = it.DoneAt.UTC()
			d.Done = append(d.Done, it)
			return err
		})
}

// percentiles computes the exact percentiles in ClickHouse, as the
// issues_flow_times_monthly view does (quantilesExact).
func (q *querier) percentiles(ctx context.Context, d *Data) error {
	return q.each(ctx, "SELECT count(`cycle_time`), quantilesExact(0.5, 0.85, 0.95)(`cycle_time`), count(`lead_time`), quantilesExact(0.5, 0.85, 0.95)(`lead_time`) FROM "+
		q.table(q.ch.Tables().Issues+"_view")+" WHERE "+doneFilter, q.doneArgs(),
		func(r driver.Rows) error {
			var cq, lq []float64
			var cycle, lead []int64
			if err := r.Scan(&d.Cycle.N, &cycle, &d.Lead.N, &lead); err != nil {
				return err
			}
			cq, lq = floats(cycle), floats(lead)
			d.Cycle = percentilesOf(d.Cycle.N, cq)
			d.Lead = percentilesOf(d.Lead.N, lq)
			return nil
		})
}

func floats(v []int64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func percentilesOf(n uint64, q []float64) Percentiles {
	if n == 0 || len(q) < 3 {
		return Percentiles{}
	}
	return Percentiles{N: n, P50: q[0], P85: q[1], P95: q[2]}
}

func (q *querier) timeInStatus(ctx context.Context, d *Data) error {
	t := q.ch.Tables()
	err := q.each(ctx, "SELECT toString(`status_key`), any(toString(`status_name`)), any(toString(`status_type`)), count(), avg(`duration`), avg(`busdays_duration`) FROM "+
		q.table(t.IssueMetrics+"_view")+" WHERE `status_type` NOT IN ('done', 'cancelled') AND `issue_id` IN (SELECT `issue_id` FROM "+
		q.table(t.Issues+"_view")+" WHERE "+doneFilter+") GROUP BY `status_key`", q.doneArgs(),
		func(r driver.Rows) error {
			var s StatusTime
			err := r.Scan(&s.Key, &s.Name, &s.Type, &s.Issues, &s.MeanCalendar, &s.MeanBus)
			d.TimeInStatus = append(d.TimeInStatus, s)
			return err
		})
	sort.SliceStable(d.TimeInStatus, func(i, j int) bool { return statusLess(d.TimeInStatus[i].statusRef, d.TimeInStatus[j].statusRef) })
	return err
}

// maxEpicForecasts bounds the epics listed (those with most open issues).
const maxEpicForecasts = 20

// forecasts picks the latest stored forecasts of the scope and its epics.
func (q *querier) forecasts(ctx context.Context, d *Data) error {
	latest, err := q.ch.LatestForecasts(ctx)
	if err != nil {
		return err
	}
	kind := "all"
	if q.o.Queue != "" {
		kind = "queue"
	}
	var scope, epics []clickhouse.ForecastRow
	for k, r := range latest {
		switch {
		case k.ScopeKind == kind && k.Scope == q.o.Queue:
			scope = append(scope, r)
		case k.ScopeKind == "epic" && r.Remaining > 0 && (q.o.Queue == "" || r.ThroughputScope == q.o.Queue):
			epics = append(epics, r)
		}
	}
	sort.Slice(scope, func(i, j int) bool {
		if scope[i].Question != scope[j].Question {
			return scope[i].Question == forecast.QuestionHowMany
		}
		return scope[i].HorizonWeeks < scope[j].HorizonWeeks
	})
	sort.Slice(epics, func(i, j int) bool {
		if epics[i].Remaining != epics[j].Remaining {
			return epics[i].Remaining > epics[j].Remaining
		}
		return epics[i].Scope < epics[j].Scope
	})
	d.Forecasts = append(scope, epics[:min(len(epics), maxEpicForecasts)]...)
	return nil
}

// typeRank orders status types along the flow.
var typeRank = map[string]int{"new": 0, "inProgress": 1, "paused": 2, "done": 3, "cancelled": 4}

// statusLess orders statuses along the flow: by type, then by key.
func statusLess(a, b statusRef) bool {
	ra, oka := typeRank[a.Type]
	rb, okb := typeRank[b.Type]
	if !oka {
		ra = 5
	}
	if !okb {
		rb = 5
	}
	if ra != rb {
		return ra < rb
	}
	return strings.Compare(a.Key, b.Key) < 0
}
