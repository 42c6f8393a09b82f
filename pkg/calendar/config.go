package calendar

import (
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // DefaultZone resolves even without /usr/share/zoneinfo

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

// DefaultZone is the name of the zone a Config without one uses.
const DefaultZone = "Europe/Moscow"

// Default working hours (the old tool's 09:00–22:00).
const (
	DefaultStart = 9 * time.Hour
	DefaultEnd   = 22 * time.Hour
)

// Config describes a calendar: a plain value, built with Default and
// checked with Validate. The env tag of a field names the variable that
// sets it (pkg/config maps it; Validate's problems name fields, which
// pkg/config turns into these names).
type Config struct {
	// Zone is the time zone whose days and wall clock define working time.
	// New takes nil for DefaultZone.
	Zone *time.Location `env:"EXPORTER_BUSINESS_TIMEZONE"`
	// Workdays are the working weekdays. New takes nil for Monday to
	// Friday; an empty non-nil slice means no working weekdays (only days
	// that a holiday file marks as working days are worked).
	Workdays []time.Weekday `env:"EXPORTER_WORKDAYS"`
	// Start and End are the working hours of a working day as wall-clock
	// times of day, written as offsets from midnight: 9h and 22h mean
	// 09:00–22:00 local time, whatever daylight saving does that day. They
	// must be whole seconds with 0 ≤ Start < End ≤ 24h; overnight shifts
	// (End before Start) are refused. New takes both zero for the defaults.
	Start time.Duration `env:"EXPORTER_BUSINESS_HOURS_START"`
	End   time.Duration `env:"EXPORTER_BUSINESS_HOURS_END"`
	// DefaultHolidays turns on Russia's fixed public holidays: 1–8 January,
	// 23 February, 8 March, 1 and 9 May, 12 June and 4 November.
	DefaultHolidays bool `env:"EXPORTER_HOLIDAYS"`
	// HolidaysFile names a holiday file (see LoadHolidayFile) applied after
	// Holidays. Open reads it; New, which does no I/O, refuses a Config
	// that still names one.
	HolidaysFile string `env:"EXPORTER_HOLIDAYS_FILE"`
	// Holidays are parsed holiday files, applied in order on top of the
	// weekday rule and the default holidays (a later file wins for a date it
	// names).
	Holidays []Holidays
}

// Default returns the project's default calendar: Europe/Moscow,
// Monday–Friday, 09:00–22:00, default holidays on.
func Default() Config {
	zone, err := time.LoadLocation(DefaultZone)
	if err != nil {
		panic(fmt.Sprintf("calendar: zone %s: %v", DefaultZone, err)) // cannot happen: time/tzdata is linked
	}
	return Config{
		Zone:            zone,
		Workdays:        []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		Start:           DefaultStart,
		End:             DefaultEnd,
		DefaultHolidays: true,
	}
}

// withDefaults gives the fields whose zero value means nothing Default's
// value: the zone, the working weekdays (nil only) and the working hours
// (both zero only).
func (c Config) withDefaults() Config {
	d := Default()
	if c.Zone == nil {
		c.Zone = d.Zone
	}
	if c.Workdays == nil {
		c.Workdays = d.Workdays
	}
	if c.Start == 0 && c.End == 0 {
		c.Start, c.End = d.Start, d.End
	}
	return c
}

// Validate reports every problem of c at once: errors.Join of one
// *setting.Problem per problem, naming the field. It does no I/O: whether
// HolidaysFile can be read is for Open (or the caller) to find out.
func (c Config) Validate() error {
	var p setting.Problems
	for _, d := range c.Workdays {
		if d < time.Sunday || d > time.Saturday {
			p.Add("Workdays", nil, "weekday %d is not a weekday", int(d))
		}
	}
	startOK := c.Start >= 0 && c.Start < 24*time.Hour && c.Start%time.Second == 0
	endOK := c.End > 0 && c.End <= 24*time.Hour && c.End%time.Second == 0
	if !startOK {
		p.Add("Start", clockExact(c.Start), "want whole seconds 00:00:00..23:59:59")
	}
	if !endOK {
		p.Add("End", clockExact(c.End), "want whole seconds 00:00:01..24:00:00")
	}
	if startOK && endOK && c.Start >= c.End {
		p.Add("End", Clock(c.End), "must be after %s (%s)", setting.Ref("Start"), Clock(c.Start))
	}
	if c.Zone == nil {
		p.Add("Zone", nil, "not set")
	}
	for i, h := range c.Holidays {
		for d := range h.Days {
			if !d.Valid() {
				p.Add("Holidays", nil, "holidays %d (%s): invalid date %v", i, h.Source, d)
			}
		}
	}
	return p.Err()
}

// Open reads the holiday file cfg names, if any, adds it after
// cfg.Holidays and returns New's Calendar. Unlike New it reads the file
// system; a file that cannot be read or parsed is LoadHolidayFile's error.
func Open(cfg Config) (*Calendar, error) {
	if cfg.HolidaysFile != "" {
		h, err := LoadHolidayFile(cfg.HolidaysFile)
		if err != nil {
			return nil, err
		}
		cfg.Holidays = append(slices.Clip(cfg.Holidays), h)
		cfg.HolidaysFile = ""
	}
	return New(cfg)
}

// Clock renders an offset from midnight as HH:MM:SS, as the working hours
// are written.
func Clock(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("%s%02d:%02d:%02d", neg, s/3600, s/60%60, s%60)
}

// clockExact is Clock with the fraction of a second, if any, as given.
func clockExact(d time.Duration) string {
	if frac := d % time.Second; frac != 0 && d > 0 {
		return Clock(d-frac) + strings.TrimPrefix(fmt.Sprintf("%.9g", frac.Seconds()), "0")
	}
	return Clock(d)
}
