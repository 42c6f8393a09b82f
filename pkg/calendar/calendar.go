// Package calendar computes business time: the part of an interval that falls
// inside the working hours of working days, in a team's time zone.
//
// A Calendar knows a time zone, the working weekdays, the working hours of a
// day (wall-clock times, so they follow daylight-saving changes), Russia's
// fixed public holidays (optionally) and holiday files that add days off and
// working days on top (see ParseHolidays). The rules are those of METRICS.md
// §6 of the project.
//
// Business time is answered from per-year tables of cumulative working time
// that a Calendar builds lazily, once per year, so a call costs a few table
// look-ups however long the interval. Years outside 1950–2199 have no working
// time: instants before 1950 count as the start of 1950 and instants from
// 2200 on as its end.
package calendar

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Range of years that have working time; see the package documentation.
const (
	MinYear = 1950
	MaxYear = 2199
)

// WorkdaysFromMondayIndex converts weekday numbers in the old tool's form
// (EXPORTER_WORKDAYS: 0 is Monday, 6 is Sunday) to time.Weekday values.
func WorkdaysFromMondayIndex(days []int) ([]time.Weekday, error) {
	out := make([]time.Weekday, 0, len(days))
	for _, d := range days {
		if d < 0 || d > 6 {
			return nil, fmt.Errorf("workday %d: want 0 (Monday) to 6 (Sunday)", d)
		}
		out = append(out, time.Weekday((d+1)%7))
	}
	return out, nil
}

// ParseTimeOfDay parses a wall-clock time of day such as "09:00", "09:00:00"
// or "24:00" into an offset from midnight.
func ParseTimeOfDay(s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("time of day %q: want HH:MM or HH:MM:SS", s)
	}
	var v [3]int
	for i, p := range parts {
		if len(p) != 2 || p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' {
			return 0, fmt.Errorf("time of day %q: want HH:MM or HH:MM:SS", s)
		}
		v[i] = int(p[0]-'0')*10 + int(p[1]-'0')
	}
	h, m, sec := v[0], v[1], v[2]
	if m > 59 || sec > 59 || h > 24 || (h == 24 && (m != 0 || sec != 0)) {
		return 0, fmt.Errorf("time of day %q: out of range", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second, nil
}

// Calendar answers working-day and business-time questions. It is immutable
// after New and safe for concurrent use.
type Calendar struct {
	zone            *time.Location
	workdays        [7]bool
	start, end      time.Duration
	defaultHolidays bool
	days            map[Date]DayKind // explicit overrides, merged
	fullYears       map[int]bool     // years that a production calendar defines completely

	minSec, maxSec int64 // unix seconds of the start of MinYear and of MaxYear+1
	years          [MaxYear - MinYear + 1]atomic.Pointer[yearTable]
}

// New fills the zero fields of cfg that mean a default (see Config),
// validates it and returns a Calendar. It does no I/O: it refuses a
// HolidaysFile (Open reads one) and returns the errors of Validate.
func New(cfg Config) (*Calendar, error) {
	cfg = cfg.withDefaults()
	if cfg.HolidaysFile != "" {
		return nil, fmt.Errorf("calendar config: holiday file %s not read: use Open", cfg.HolidaysFile)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("calendar config: %w", err)
	}
	c := &Calendar{
		zone:            cfg.Zone,
		start:           cfg.Start,
		end:             cfg.End,
		defaultHolidays: cfg.DefaultHolidays,
		days:            make(map[Date]DayKind),
		fullYears:       make(map[int]bool),
	}
	for _, w := range cfg.Workdays {
		c.workdays[w] = true
	}
	for _, h := range cfg.Holidays {
		if len(h.Years) > 0 {
			full := make(map[int]bool, len(h.Years))
			for _, y := range h.Years {
				full[y] = true
				c.fullYears[y] = true
			}
			for d := range c.days {
				if full[d.Year] {
					delete(c.days, d)
				}
			}
		}
		for d, k := range h.Days {
			c.days[d] = k
		}
	}
	c.minSec = time.Date(MinYear, 1, 1, 0, 0, 0, 0, c.zone).Unix()
	c.maxSec = time.Date(MaxYear+1, 1, 1, 0, 0, 0, 0, c.zone).Unix()
	return c, nil
}

// Zone returns the calendar's time zone.
func (c *Calendar) Zone() *time.Location { return c.zone }

// Hours returns the working hours as offsets from local midnight.
func (c *Calendar) Hours() (start, end time.Duration) { return c.start, c.end }

// Date returns the civil date of t in the calendar's zone.
func (c *Calendar) Date(t time.Time) Date { return DateOf(t.In(c.zone)) }

// IsWorkingDay reports whether d is a working day: a working weekday that is
// not a holiday, or a day that a holiday file marks as a working day. In a
// year that a production-calendar file defines, exactly the days it lists as
// days off are not working days.
func (c *Calendar) IsWorkingDay(d Date) bool {
	d = d.normalize()
	return c.isWorkingDay(d, d.Weekday())
}

// IsWorkingDayAt reports whether the local day of t is a working day.
func (c *Calendar) IsWorkingDayAt(t time.Time) bool {
	return c.IsWorkingDay(c.Date(t))
}

func (c *Calendar) isWorkingDay(d Date, wd time.Weekday) bool {
	if k, ok := c.days[d]; ok {
		return k == WorkingDay
	}
	if c.fullYears[d.Year] {
		return true
	}
	if c.defaultHolidays && isFixedHoliday(d.Month, d.Day) {
		return false
	}
	return c.workdays[wd]
}

// isFixedHoliday reports Russia's fixed public holidays (the old tool's
// default; transfers come from holiday files).
func isFixedHoliday(m time.Month, d int) bool {
	switch m {
	case time.January:
		return d <= 8
	case time.February:
		return d == 23
	case time.March:
		return d == 8
	case time.May:
		return d == 1 || d == 9
	case time.June:
		return d == 12
	case time.November:
		return d == 4
	}
	return false
}

// WorkingDays counts the working days from first to last inclusive.
func (c *Calendar) WorkingDays(first, last Date) int {
	first, last = first.normalize(), last.normalize()
	n := 0
	for d := first; !last.midday().Before(d.midday()); d = d.AddDays(1) {
		if c.IsWorkingDay(d) {
			n++
		}
	}
	return n
}

// Business returns the part of [t1, t2) that falls inside the working hours
// of working days in the calendar's zone, with nanosecond precision. It
// returns 0 when t2 is not after t1. It never exceeds t2 − t1, and
// Business(a, c) = Business(a, b) + Business(b, c) for a ≤ b ≤ c.
func (c *Calendar) Business(t1, t2 time.Time) time.Duration {
	if !t1.Before(t2) {
		return 0
	}
	y1, c1 := c.cumulative(t1)
	y2, c2 := c.cumulative(t2)
	if y1 == y2 {
		return time.Duration(c2 - c1)
	}
	total := c.year(y1).total - c1 + c2
	for y := y1 + 1; y < y2; y++ {
		total += c.year(y).total
	}
	return time.Duration(total)
}

// WorkingHoursOn returns the working hours of the local day d as instants,
// and false when d is not a working day.
func (c *Calendar) WorkingHoursOn(d Date) (from, to time.Time, ok bool) {
	d = d.normalize()
	if !c.IsWorkingDay(d) {
		return time.Time{}, time.Time{}, false
	}
	from = wallClock(c.zone, d.Year, d.Month, d.Day, c.start)
	to = wallClock(c.zone, d.Year, d.Month, d.Day, c.end)
	return from, to, true
}

// yearTable holds, for one local year, where each day starts, its working
// window and the working time accumulated before it, all in unix nanoseconds.
type yearTable struct {
	start, end int64 // first instant of the year and of the next year
	total      int64 // working nanoseconds in the year
	days       []dayEntry
}

type dayEntry struct {
	start  int64 // first instant of the local day
	ws, we int64 // working window; ws == we on days off
	cum    int64 // working nanoseconds from the year's start to this day's start
}

const nsPerDay = int64(24 * time.Hour)

// year returns the table of year y (MinYear ≤ y ≤ MaxYear), building it on
// first use. Concurrent first uses may build it twice; the results are equal.
func (c *Calendar) year(y int) *yearTable {
	p := &c.years[y-MinYear]
	if t := p.Load(); t != nil {
		return t
	}
	t := c.buildYear(y)
	if p.CompareAndSwap(nil, t) {
		return t
	}
	return p.Load()
}

func (c *Calendar) buildYear(y int) *yearTable {
	n := daysInYear(y)
	starts := make([]int64, n+1)
	for i := range starts {
		starts[i] = wallClock(c.zone, y, time.January, 1+i, 0).UnixNano()
	}
	// Zones that skip or repeat a local midnight could give day starts out of
	// order; keep them inside the year and non-decreasing so that the table
	// tiles the year.
	for i := 1; i < n; i++ {
		starts[i] = max(min(starts[i], starts[n]), starts[i-1])
	}
	t := &yearTable{start: starts[0], end: starts[n], days: make([]dayEntry, n)}
	d := Date{Year: y, Month: time.January, Day: 1}
	wd := d.Weekday()
	var cum int64
	for i := range n {
		e := dayEntry{start: starts[i], ws: starts[i], we: starts[i], cum: cum}
		if c.isWorkingDay(d, wd) {
			ws := wallClock(c.zone, y, d.Month, d.Day, c.start).UnixNano()
			we := wallClock(c.zone, y, d.Month, d.Day, c.end).UnixNano()
			e.ws = min(max(ws, starts[i]), starts[i+1])
			e.we = min(max(we, e.ws), starts[i+1])
		}
		cum += e.we - e.ws
		t.days[i] = e
		d = nextDate(d)
		wd = (wd + 1) % 7
	}
	t.total = cum
	return t
}

// wallClock returns the instant when the wall clock of zone reads the time
// of day tod on the given date. When that wall time does not exist (the clock
// jumps over it), it returns the instant of the jump: the first instant whose
// wall time is later. When it exists twice, it returns what time.Date does.
func wallClock(zone *time.Location, y int, m time.Month, d int, tod time.Duration) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, int(tod), zone)
	want := time.Date(y, m, d, 0, 0, 0, int(tod), time.UTC).Unix()
	_, off := t.Zone()
	switch got := t.Unix() + int64(off); {
	case got < want:
		if _, end := t.ZoneBounds(); !end.IsZero() {
			return end
		}
	case got > want:
		if start, _ := t.ZoneBounds(); !start.IsZero() {
			return start
		}
	}
	return t
}

func nextDate(d Date) Date {
	if d.Day < daysInMonth(d.Year, d.Month) {
		d.Day++
		return d
	}
	d.Day = 1
	if d.Month == time.December {
		d.Month = time.January
		d.Year++
		return d
	}
	d.Month++
	return d
}

// cumulative returns the local year of t (clamped to the supported range)
// and the working nanoseconds from that year's start up to t.
func (c *Calendar) cumulative(t time.Time) (int, int64) {
	sec := t.Unix()
	if sec < c.minSec {
		return MinYear, 0
	}
	if sec >= c.maxSec {
		return MaxYear, c.year(MaxYear).total
	}
	u := t.UnixNano()
	y := 1970 + int(sec/31556952) // mean Gregorian year; corrected below
	y = min(max(y, MinYear), MaxYear)
	yt := c.year(y)
	for u < yt.start && y > MinYear {
		y--
		yt = c.year(y)
	}
	for u >= yt.end && y < MaxYear {
		y++
		yt = c.year(y)
	}
	n := len(yt.days)
	i := int((u - yt.start) / nsPerDay)
	i = min(max(i, 0), n-1)
	for i > 0 && yt.days[i].start > u {
		i--
	}
	for i+1 < n && yt.days[i+1].start <= u {
		i++
	}
	e := &yt.days[i]
	v := min(max(u, e.ws), e.we)
	return y, e.cum + v - e.ws
}
