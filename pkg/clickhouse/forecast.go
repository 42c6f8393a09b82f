package clickhouse

import (
	"context"
	"sort"
	"time"
)

// The forecasts table and its view (migration 0017). Their names are fixed:
// one set per database.
const (
	ForecastsTable      = "forecasts"
	ForecastsLatestView = "forecasts_latest"
)

// ForecastRow is one row of the forecasts table: one forecast of one scope.
// See migrations/0017_create_forecasts.sql for the meaning of each column.
type ForecastRow struct {
	ComputedAt time.Time
	// ScopeKind is "all", "queue" or "epic"; Scope the queue or epic key
	// ("" for all).
	ScopeKind, Scope string
	// Question is "how_many" or "when".
	Question string
	// HorizonWeeks is the horizon of a how_many forecast (0 for when).
	HorizonWeeks uint16
	// Remaining is the open issues of a when forecast (0 for how_many).
	Remaining uint32
	// P50, P85, P95: how_many's issues done (0 for when).
	P50, P85, P95 float64
	// DateP50, DateP85, DateP95: when's dates; the zero time (stored as
	// 1970-01-01) when there is none.
	DateP50, DateP85, DateP95 time.Time
	Trials                    uint32
	WindowWeeks               uint16
	// WeeklyThroughput is the history sampled, oldest week first.
	WeeklyThroughput []uint32
	Fingerprint      string
	Note             string
	// Version is the dedup version (the computation time in ms).
	Version uint64
	// WindowStart is the Monday of the history's first week.
	WindowStart time.Time
	// ThroughputScope is the queue whose throughput was sampled ("" for
	// all queues).
	ThroughputScope string
}

func forecastColumns() []column[*ForecastRow] {
	type r = *ForecastRow
	return []column[r]{
		col("computed_at", "DateTime('UTC')", func(r r) time.Time { return dateTime(r.ComputedAt) }),
		col("scope_kind", "LowCardinality(String)", func(r r) string { return r.ScopeKind }),
		col("scope", "String", func(r r) string { return r.Scope }),
		col("question", "LowCardinality(String)", func(r r) string { return r.Question }),
		col("horizon_weeks", "UInt16", func(r r) uint16 { return r.HorizonWeeks }),
		col("remaining", "UInt32", func(r r) uint32 { return r.Remaining }),
		col("p50", "Float64", func(r r) float64 { return r.P50 }),
		col("p85", "Float64", func(r r) float64 { return r.P85 }),
		col("p95", "Float64", func(r r) float64 { return r.P95 }),
		col("date_p50", "Date", func(r r) time.Time { return date(r.DateP50) }),
		col("date_p85", "Date", func(r r) time.Time { return date(r.DateP85) }),
		col("date_p95", "Date", func(r r) time.Time { return date(r.DateP95) }),
		col("trials", "UInt32", func(r r) uint32 { return r.Trials }),
		col("window_weeks", "UInt16", func(r r) uint16 { return r.WindowWeeks }),
		col("weekly_throughput", "Array(UInt32)", func(r r) []uint32 { return append([]uint32{}, r.WeeklyThroughput...) }),
		col("fingerprint", "String", func(r r) string { return r.Fingerprint }),
		col("note", "String", func(r r) string { return r.Note }),
		col("_version", "UInt64", func(r r) uint64 { return r.Version }),
		col("window_start", "Date", func(r r) time.Time { return date(r.WindowStart) }),
		col("throughput_scope", "String", func(r r) string { return r.ThroughputScope }),
	}
}

// InsertForecasts inserts forecast rows in one batch (none: nothing).
// Errors are classified as for InsertRows.
func (c *Client) InsertForecasts(ctx context.Context, rows []ForecastRow) error {
	recs := make([]*ForecastRow, len(rows))
	for i := range rows {
		recs[i] = &rows[i]
	}
	return insertTable(ctx, c, ForecastsTable, forecastColumns(), recs)
}

// Throughput is the weekly throughput history of a window: issues that
// became done (not cancelled) per week, Monday to Sunday UTC, as the
// issues_throughput_weekly view counts them.
type Throughput struct {
	// From is the Monday of the first week.
	From time.Time
	// Weeks is the window's length.
	Weeks int
	// Queues holds each queue's history, oldest week first, weeks without
	// a done issue as 0; a queue with no done issue in the window is absent.
	Queues map[string][]uint32
	// All is the sum over queues.
	All []uint32
}

// WeeklyThroughput reads the throughput of the weeks weeks from the Monday
// from (UTC) from the issues_throughput_weekly view, per queue and
// overall.
func (c *Client) WeeklyThroughput(ctx context.Context, from time.Time, weeks int) (Throughput, error) {
	from = date(from)
	out := Throughput{From: from, Weeks: weeks, Queues: map[string][]uint32{}, All: make([]uint32, weeks)}
	if weeks <= 0 {
		return out, nil
	}
	to := from.AddDate(0, 0, 7*weeks)
	view := c.tables.AnalyticViews().ThroughputWeekly
	rows, err := c.conn.Query(ctx, "SELECT toString(`queue`), `week`, toUInt64(`throughput`) FROM "+c.qualified(view)+
		" WHERE `week` >= toDate(?) AND `week` < toDate(?) AND `throughput` > 0", from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return out, newError("query", view, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			queue string
			week  time.Time
			n     uint64
		)
		if err := rows.Scan(&queue, &week, &n); err != nil {
			return out, newError("query", view, err)
		}
		i := int(date(week).Sub(from).Hours()) / (7 * 24)
		if i < 0 || i >= weeks {
			continue
		}
		h := out.Queues[queue]
		if h == nil {
			h = make([]uint32, weeks)
			out.Queues[queue] = h
		}
		h[i] += uint32(n)
		out.All[i] += uint32(n)
	}
	return out, newError("query", view, rows.Err())
}

// OpenIssues counts the issues that are not closed (current status not
// final), per queue and per epic.
type OpenIssues struct {
	// Queues maps a queue to its open issues.
	Queues map[string]uint32
	// Epics maps an epic key to its open issues per queue.
	Epics map[string]map[string]uint32
}

// Total returns the open issues of every queue.
func (o OpenIssues) Total() uint32 {
	var n uint32
	for _, v := range o.Queues {
		n += v
	}
	return n
}

// EpicQueue returns the queue holding most of the epic's open issues (of
// equal counts, the first by name) and the epic's open issues.
func (o OpenIssues) EpicQueue(epic string) (queue string, open uint32) {
	qs := o.Epics[epic]
	names := make([]string, 0, len(qs))
	for q := range qs {
		names = append(names, q)
	}
	sort.Strings(names)
	best := uint32(0)
	for _, q := range names {
		open += qs[q]
		if qs[q] > best {
			queue, best = q, qs[q]
		}
	}
	return queue, open
}

// OpenIssues reads the open issues per queue and per epic and queue from
// the issues view.
func (c *Client) OpenIssues(ctx context.Context) (OpenIssues, error) {
	out := OpenIssues{Queues: map[string]uint32{}, Epics: map[string]map[string]uint32{}}
	view := c.tables.Issues + "_view"
	rows, err := c.conn.Query(ctx, "SELECT `epic_issue_key`, toString(`queue`), count() FROM "+c.qualified(view)+
		" WHERE `is_closed` = 0 GROUP BY `epic_issue_key`, `queue`")
	if err != nil {
		return out, newError("query", view, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			epic, queue string
			n           uint64
		)
		if err := rows.Scan(&epic, &queue, &n); err != nil {
			return out, newError("query", view, err)
		}
		out.Queues[queue] += uint32(n)
		if epic == "" {
			continue
		}
		if out.Epics[epic] == nil {
			out.Epics[epic] = map[string]uint32{}
		}
		out.Epics[epic][queue] += uint32(n)
	}
	return out, newError("query", view, rows.Err())
}

// FilteredInputs reads what a forecast of the issues of issues_view that
// match where (a ClickHouse boolean expression on its columns, e.g.
// "issue_type = 'bug'") samples and counts: their throughput per week of
// the window that starts at from (done, not cancelled, as in the
// throughput view) and how many of them are open. An invalid expression
// is ClickHouse's error.
func (c *Client) FilteredInputs(ctx context.Context, where string, from time.Time, weeks int) (history []uint32, open uint32, err error) {
	from = date(from)
	history = make([]uint32, max(weeks, 0))
	view := c.tables.Issues + "_view"
	cond := " AND (" + where + ")"
	var n uint64
	if err := c.conn.QueryRow(ctx, "SELECT count() FROM "+c.qualified(view)+" WHERE `is_closed` = 0"+cond).Scan(&n); err != nil {
		return nil, 0, newError("query", view, err)
	}
	open = uint32(n)
	if weeks <= 0 {
		return history, open, nil
	}
	to := from.AddDate(0, 0, 7*weeks)
	rows, err := c.conn.Query(ctx, "SELECT toMonday(`done_at`) AS `week`, count() FROM "+c.qualified(view)+
		" WHERE toUInt32(`done_at`) > 0 AND `status_type` != 'cancelled' AND `week` >= toDate(?) AND `week` < toDate(?)"+cond+
		" GROUP BY `week`", from.Format(time.DateOnly), to.Format(time.DateOnly))
	if err != nil {
		return nil, 0, newError("query", view, err)
	}
	defer rows.Close()
	for rows.Next() {
		var week time.Time
		if err := rows.Scan(&week, &n); err != nil {
			return nil, 0, newError("query", view, err)
		}
		if i := int(date(week).Sub(from).Hours()) / (7 * 24); i >= 0 && i < weeks {
			history[i] += uint32(n)
		}
	}
	return history, open, newError("query", view, rows.Err())
}

// ForecastKey identifies a forecast series: forecasts_latest shows one
// computation of each.
type ForecastKey struct {
	ScopeKind, Scope, Question string
	HorizonWeeks               uint16
}

// LatestForecasts reads the forecasts_latest view: the latest computation
// of every series.
func (c *Client) LatestForecasts(ctx context.Context) (map[ForecastKey]ForecastRow, error) {
	out := map[ForecastKey]ForecastRow{}
	rows, err := c.conn.Query(ctx, "SELECT `computed_at`, toString(`scope_kind`), `scope`, toString(`question`), `horizon_weeks`, `remaining`, "+
		"`p50`, `p85`, `p95`, `date_p50`, `date_p85`, `date_p95`, `trials`, `window_weeks`, `weekly_throughput`, `fingerprint`, `note`, "+
		"`_version`, `window_start`, `throughput_scope` FROM "+c.qualified(ForecastsLatestView))
	if err != nil {
		return nil, newError("query", ForecastsLatestView, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r ForecastRow
		if err := rows.Scan(&r.ComputedAt, &r.ScopeKind, &r.Scope, &r.Question, &r.HorizonWeeks, &r.Remaining,
			&r.P50, &r.P85, &r.P95, &r.DateP50, &r.DateP85, &r.DateP95, &r.Trials, &r.WindowWeeks, &r.WeeklyThroughput,
			&r.Fingerprint, &r.Note, &r.Version, &r.WindowStart, &r.ThroughputScope); err != nil {
			return nil, newError("query", ForecastsLatestView, err)
		}
		for _, t := range []*time.Time{&r.ComputedAt, &r.DateP50, &r.DateP85, &r.DateP95, &r.WindowStart} {
			*t = noZero(t.UTC())
		}
		out[ForecastKey{r.ScopeKind, r.Scope, r.Question, r.HorizonWeeks}] = r
	}
	return out, newError("query", ForecastsLatestView, rows.Err())
}

// noZero maps ClickHouse's zero (1970-01-01) to Go's zero time.
func noZero(t time.Time) time.Time {
	if t.Equal(zeroTime) {
		return time.Time{}
	}
	return t
}
