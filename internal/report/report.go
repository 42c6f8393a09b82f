// Package report writes the flow report: one self-contained HTML file
// (inline SVG charts and CSS, no script, no request when opened) with the
// flow of a queue, or of all queues, over a period, read from ClickHouse:
// throughput per week, WIP per status, ageing WIP, the cumulative flow,
// cycle and lead time with their percentiles, time in status in calendar
// and business time, and the stored Monte Carlo forecasts.
//
// Every chart has a title and a description (the SVG's <title> and
// <desc>, referenced by aria attributes) and the numbers it draws in a
// table under it, for screen readers and copy-paste.
package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
)

// Options select what the report shows.
type Options struct {
	// Queue limits the report to one queue ("": all queues).
	Queue string
	// From and To are the period's first and last days (UTC dates,
	// inclusive) for throughput, the cumulative flow and the done issues.
	// Zero: the DefaultWeeks weeks before the current one and the current
	// week up to today.
	From, To time.Time
	// Now is the moment WIP ages are measured at (zero: the time of Load).
	Now time.Time
}

// DefaultWeeks is the default period: the twelve weeks before the current
// one and the current week up to today.
const DefaultWeeks = 12

// withDefaults fills the zero fields from now.
func (o Options) withDefaults(now time.Time) Options {
	if o.Now.IsZero() {
		o.Now = now
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
	if o.To.IsZero() {
		o.To = o.Now
	}
	o.To = day(o.To)
	if o.From.IsZero() {
		o.From = monday(o.To).AddDate(0, 0, -7*DefaultWeeks)
	}
	o.From = day(o.From)
	return o
}

// Validate reports an impossible period.
func (o Options) Validate() error {
	if !o.From.IsZero() && !o.To.IsZero() && day(o.From).After(day(o.To)) {
		return fmt.Errorf("report: --from %s is after --to %s", o.From.Format(time.DateOnly), o.To.Format(time.DateOnly))
	}
	if !o.From.IsZero() && !o.To.IsZero() && day(o.To).Sub(day(o.From)) > 3*366*24*time.Hour {
		return errors.New("report: the period is longer than three years (the cumulative flow view keeps three)")
	}
	return nil
}

// Data is everything the report shows, as read from ClickHouse.
type Data struct {
	Options  Options
	Database string
	// Throughput has one entry per week of the period, oldest first.
	Throughput []WeekCount
	// WIP is the started issues not done per current status.
	WIP []StatusCount
	// Ageing is one entry per started issue not done, oldest first.
	Ageing []AgeingItem
	// CFD is the issues per status at the end of each day of the period.
	CFD CFD
	// Done is the issues done (not cancelled) in the period.
	Done []DoneItem
	// Cycle and Lead are the exact percentiles (quantilesExact) of the
	// done issues' cycle and lead times, in seconds.
	Cycle, Lead Percentiles
	// TimeInStatus is the mean time the done issues spent in each
	// non-final status.
	TimeInStatus []StatusTime
	// Forecasts are the latest stored forecasts of the scope (the queue,
	// or all queues) and of its epics.
	Forecasts []clickhouse.ForecastRow
}

// WeekCount is the throughput of one week (Monday, UTC).
type WeekCount struct {
	Week            time.Time
	Done, Cancelled uint64
}

// statusRef names a status.
type statusRef struct {
	Key, Name, Type string
}

// StatusCount is the WIP of one status.
type StatusCount struct {
	statusRef
	Count         uint64
	OldestStarted time.Time
}

// AgeingItem is one issue in progress and its age at Options.Now.
type AgeingItem struct {
	Key, Title string
	statusRef
	Started, StatusSince time.Time
	// Age and StatusAge are seconds since Started and StatusSince.
	Age, StatusAge int64
}

// CFD is the cumulative flow: Counts[i][j] issues in Statuses[i] at the
// end of Days[j].
type CFD struct {
	Days     []time.Time
	Statuses []statusRef
	Counts   [][]uint64
}

// DoneItem is one issue done in the period, with its times in seconds
// (CycleTime nil when it never started).
type DoneItem struct {
	Key       string
	DoneAt    time.Time
	CycleTime *int64
	LeadTime  int64
}

// Percentiles are p50, p85 and p95 in seconds of N values (all zero when
// N is 0).
type Percentiles struct {
	N             uint64
	P50, P85, P95 float64
}

// StatusTime is the mean calendar and business time spent in a status by
// the issues that visited it.
type StatusTime struct {
	statusRef
	Issues                uint64
	MeanCalendar, MeanBus float64 // seconds
}

// Load reads the report's data. It blocks for the queries; errors are
// ClickHouse's, wrapped with the part of the report concerned.
func Load(ctx context.Context, ch *clickhouse.Client, o Options) (*Data, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults(time.Now())
	q := &querier{ch: ch, o: o}
	d := &Data{Options: o, Database: ch.Database()}
	steps := []struct {
		what string
		run  func(context.Context, *Data) error
	}{
		{"throughput", q.throughput},
		{"WIP", q.wip},
		{"ageing WIP", q.ageing},
		{"cumulative flow", q.cfd},
		{"done issues", q.done},
		{"cycle and lead time percentiles", q.percentiles},
		{"time in status", q.timeInStatus},
		{"forecasts", q.forecasts},
	}
	for _, s := range steps {
		if err := s.run(ctx, d); err != nil {
			return nil, fmt.Errorf("report %s: %w", s.what, err)
		}
	}
	return d, nil
}

// Write loads the data and renders the report to w.
func Write(ctx context.Context, ch *clickhouse.Client, o Options, w io.Writer) (*Data, error) {
	d, err := Load(ctx, ch, o)
	if err != nil {
		return nil, err
	}
	return d, Render(w, d)
}

// day returns midnight UTC of t's UTC date.
func day(t time.Time) time.Time {
	y, m, dd := t.UTC().Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
}

// monday returns the Monday (UTC) of t's week.
func monday(t time.Time) time.Time {
	d := day(t)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}
