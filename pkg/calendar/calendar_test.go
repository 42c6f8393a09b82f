package calendar

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return z
}

func mustNew(t testing.TB, cfg Config) *Calendar {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return c
}

func defaultConfig(t testing.TB) Config {
	t.Helper()
	return Default()
}

func date(y int, m time.Month, d int) Date { return Date{Year: y, Month: m, Day: d} }

func TestRussia2024(t *testing.T) {
	for _, file := range []string{"testdata/ru2024.txt", "testdata/ru2024.csv"} {
		t.Run(file, func(t *testing.T) {
			h, err := LoadHolidayFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cfg := defaultConfig(t)
			cfg.Holidays = []Holidays{h}
			c := mustNew(t, cfg)

			if got := c.WorkingDays(date(2024, 1, 1), date(2024, 12, 31)); got != 248 {
				t.Errorf("working days in 2024 = %d, want 248", got)
			}
			perMonth := []int{17, 20, 20, 21, 20, 19, 23, 22, 21, 23, 21, 21}
			for i, want := range perMonth {
				m := time.Month(i + 1)
				if got := c.WorkingDays(date(2024, m, 1), date(2024, m, daysInMonth(2024, m))); got != want {
					t.Errorf("working days in %v 2024 = %d, want %d", m, got, want)
				}
			}
			off := []Date{
				date(2024, 1, 1), date(2024, 1, 5), date(2024, 1, 8), date(2024, 2, 23), date(2024, 3, 8),
				date(2024, 4, 28), date(2024, 4, 29), date(2024, 4, 30), date(2024, 5, 1), date(2024, 5, 9),
				date(2024, 5, 10), date(2024, 6, 12), date(2024, 11, 4), date(2024, 12, 29), date(2024, 12, 30),
				date(2024, 12, 31), date(2024, 7, 6), date(2024, 7, 7),
			}
			work := []Date{
				date(2024, 1, 9), date(2024, 2, 22), date(2024, 4, 27), date(2024, 5, 8), date(2024, 6, 11),
				date(2024, 11, 1), date(2024, 11, 2), date(2024, 12, 28), date(2024, 7, 5),
			}
			for _, d := range off {
				if c.IsWorkingDay(d) {
					t.Errorf("IsWorkingDay(%v) = true, want false", d)
				}
			}
			for _, d := range work {
				if !c.IsWorkingDay(d) {
					t.Errorf("IsWorkingDay(%v) = false, want true", d)
				}
			}
			// Other years follow the defaults and the weekday rule.
			for d, want := range map[Date]bool{
				date(2025, 1, 8): false, date(2025, 1, 9): true, date(2025, 5, 2): true,
				date(2025, 11, 1): false, date(2023, 2, 24): true, date(2023, 3, 8): false,
			} {
				if got := c.IsWorkingDay(d); got != want {
					t.Errorf("IsWorkingDay(%v) = %v, want %v", d, got, want)
				}
			}
			msk := c.Zone()
			from := time.Date(2024, 1, 1, 0, 0, 0, 0, msk)
			to := time.Date(2025, 1, 1, 0, 0, 0, 0, msk)
			if got, want := c.Business(from, to), 248*13*time.Hour; got != want {
				t.Errorf("Business over 2024 = %v, want %v", got, want)
			}
		})
	}
}

func TestHolidayFilesCombine(t *testing.T) {
	csvH, err := LoadHolidayFile("testdata/ru2024.csv")
	if err != nil {
		t.Fatal(err)
	}
	extra, err := ParseHolidays(strings.NewReader("2024-07-01 holiday\n2023-12-29 holiday\n"), "extra.txt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files []Holidays
		d     Date
		want  bool
	}{
		{"plain after csv wins", []Holidays{csvH, extra}, date(2024, 7, 1), false},
		{"csv after plain redefines its year", []Holidays{extra, csvH}, date(2024, 7, 1), true},
		{"csv after plain keeps other years", []Holidays{extra, csvH}, date(2023, 12, 29), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultConfig(t)
			cfg.Holidays = tt.files
			c := mustNew(t, cfg)
			if got := c.IsWorkingDay(tt.d); got != tt.want {
				t.Errorf("IsWorkingDay(%v) = %v, want %v", tt.d, got, tt.want)
			}
			from, to, ok := c.WorkingHoursOn(tt.d)
			if ok != tt.want {
				t.Errorf("WorkingHoursOn(%v) ok = %v, want %v", tt.d, ok, tt.want)
			}
			if ok && c.Business(from, to) != 13*time.Hour {
				t.Errorf("Business over the working hours of %v = %v, want 13h", tt.d, c.Business(from, to))
			}
		})
	}
}

func TestBusinessMoscow(t *testing.T) {
	c := mustNew(t, defaultConfig(t))
	msk := c.Zone()
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name   string
		t1, t2 time.Time
		want   time.Duration
	}{
		{"inside one day", utc("2024-03-04T07:00:00Z"), utc("2024-03-04T09:00:00Z"), 2 * time.Hour},
		{"before hours", utc("2024-03-04T03:00:00Z"), utc("2024-03-04T06:00:00Z"), 0},
		{"clipped both ends", utc("2024-03-04T00:00:00Z"), utc("2024-03-04T23:00:00Z"), 13 * time.Hour},
		{"reversed", utc("2024-03-05T00:00:00Z"), utc("2024-03-04T00:00:00Z"), 0},
		{"empty", utc("2024-03-04T10:00:00Z"), utc("2024-03-04T10:00:00Z"), 0},
		{"weekend", utc("2024-03-09T00:00:00Z"), utc("2024-03-11T00:00:00Z"), 0},
		{"holiday 8 March", utc("2024-03-07T10:00:00Z"), utc("2024-03-11T07:00:00Z"), 10 * time.Hour},
		{"whole week", utc("2024-03-11T00:00:00Z"), utc("2024-03-18T00:00:00Z"), 5 * 13 * time.Hour},
		{"nanoseconds", utc("2024-03-04T10:00:00.000000001Z"), utc("2024-03-04T10:00:01Z"), time.Second - 1},
		{"zone of the arguments does not matter", time.Date(2024, 3, 4, 9, 30, 0, 0, time.UTC), time.Date(2024, 3, 4, 13, 0, 0, 0, msk), 30 * time.Minute},
		{"across years", utc("2023-12-29T18:00:00Z"), utc("2024-01-09T07:00:00Z"), time.Hour + time.Hour},
		{"before the supported range", time.Time{}, time.Date(MinYear, 1, 10, 0, 0, 0, 0, msk), 13 * time.Hour},
		{"after the supported range", time.Date(MaxYear+1, 1, 1, 0, 0, 0, 0, msk), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Business(tt.t1, tt.t2); got != tt.want {
				t.Errorf("Business(%v, %v) = %v, want %v", tt.t1, tt.t2, got, tt.want)
			}
		})
	}
}

func TestBusinessDST(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	all := []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}
	day := func(m time.Month, d int) (time.Time, time.Time) {
		return time.Date(2024, m, d, 0, 0, 0, 0, berlin), time.Date(2024, m, d+1, 0, 0, 0, 0, berlin)
	}
	springFrom, springTo := day(time.March, 31)
	autumnFrom, autumnTo := day(time.October, 27)
	tests := []struct {
		name       string
		start, end time.Duration
		workdays   []time.Weekday
		from, to   time.Time
		want       time.Duration
	}{
		{"spring 09-22 is 13h", 9 * time.Hour, 22 * time.Hour, all, springFrom, springTo, 13 * time.Hour},
		{"autumn 09-22 is 13h", 9 * time.Hour, 22 * time.Hour, all, autumnFrom, autumnTo, 13 * time.Hour},
		{"spring change inside hours 01-14 is 12h", time.Hour, 14 * time.Hour, all, springFrom, springTo, 12 * time.Hour},
		{"autumn change inside hours 01-14 is 14h", time.Hour, 14 * time.Hour, all, autumnFrom, autumnTo, 14 * time.Hour},
		{"spring whole day is 23h", 0, 24 * time.Hour, all, springFrom, springTo, 23 * time.Hour},
		{"autumn whole day is 25h", 0, 24 * time.Hour, all, autumnFrom, autumnTo, 25 * time.Hour},
		{"spring week Mon-Fri", 9 * time.Hour, 22 * time.Hour, nil,
			time.Date(2024, 3, 25, 0, 0, 0, 0, berlin), time.Date(2024, 4, 8, 0, 0, 0, 0, berlin), 10 * 13 * time.Hour},
		{"autumn hour repeated 02:00-03:00", 2 * time.Hour, 3 * time.Hour, all, autumnFrom, autumnTo, time.Hour},
		{"2024 whole year 24/7", 0, 24 * time.Hour, all,
			time.Date(2024, 1, 1, 0, 0, 0, 0, berlin), time.Date(2025, 1, 1, 0, 0, 0, 0, berlin), 366 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, Config{Zone: berlin, Workdays: tt.workdays, Start: tt.start, End: tt.end})
			if got := c.Business(tt.from, tt.to); got != tt.want {
				t.Errorf("Business(%v, %v) with hours %v–%v = %v, want %v", tt.from, tt.to, tt.start, tt.end, got, tt.want)
			}
		})
	}
}

// naiveBusiness is an independent, slow reference: it walks the local days
// and intersects [t1, t2) with each working day's hours.
func naiveBusiness(c *Calendar, t1, t2 time.Time) time.Duration {
	if !t1.Before(t2) {
		return 0
	}
	var total time.Duration
	last := c.Date(t2).AddDays(1)
	for d := c.Date(t1).AddDays(-1); !last.midday().Before(d.midday()); d = d.AddDays(1) {
		if !c.IsWorkingDay(d) {
			continue
		}
		ws := wallClock(c.zone, d.Year, d.Month, d.Day, c.start)
		we := wallClock(c.zone, d.Year, d.Month, d.Day, c.end)
		lo, hi := t1, t2
		if ws.After(lo) {
			lo = ws
		}
		if we.Before(hi) {
			hi = we
		}
		if hi.After(lo) {
			total += hi.Sub(lo)
		}
	}
	return total
}

var regularZones = []string{
	"Europe/Moscow", "Europe/Berlin", "America/New_York", "America/Santiago",
	"Asia/Kolkata", "Australia/Lord_Howe", "UTC", "Asia/Tehran", "Europe/London",
}

// Sizes of TestBusinessMatchesNaive (raised by hand for a long run).
var naiveConfigs, naiveCases = 5, 200

func TestBusinessMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, zname := range regularZones {
		zone := mustZone(t, zname)
		for range naiveConfigs {
			start := time.Duration(rng.IntN(24*60)) * time.Minute
			end := start + time.Duration(1+rng.IntN(24*60-int(start/time.Minute)))*time.Minute
			var wd []time.Weekday
			for d := range 7 {
				if rng.IntN(3) > 0 {
					wd = append(wd, time.Weekday(d))
				}
			}
			cfg := Config{Zone: zone, Workdays: wd, Start: start, End: end, DefaultHolidays: rng.IntN(2) == 0}
			c := mustNew(t, cfg)
			for range naiveCases {
				base := time.Date(1990+rng.IntN(45), 1, 1, 0, 0, 0, 0, time.UTC)
				t1 := base.Add(time.Duration(rng.Int64N(int64(366 * 24 * time.Hour))))
				span := 40 * 24 * time.Hour
				if rng.IntN(20) == 0 {
					span = 3 * 366 * 24 * time.Hour // crosses years
				}
				t2 := t1.Add(time.Duration(rng.Int64N(int64(span))))
				if got, want := c.Business(t1, t2), naiveBusiness(c, t1, t2); got != want {
					t.Fatalf("%s %v–%v workdays %v: Business(%v, %v) = %v, naive %v",
						zname, start, end, wd, t1, t2, got, want)
				}
			}
		}
	}
}

func TestWallClock(t *testing.T) {
	tests := []struct {
		zone    string
		y       int
		m       time.Month
		d       int
		tod     time.Duration
		wantUTC string
	}{
		{"Europe/Berlin", 2024, time.March, 31, 9 * time.Hour, "2024-03-31T07:00:00Z"},
		{"Europe/Berlin", 2024, time.March, 31, 2*time.Hour + 30*time.Minute, "2024-03-31T01:00:00Z"}, // in the gap
		{"Europe/Berlin", 2024, time.March, 31, time.Hour, "2024-03-31T00:00:00Z"},
		{"Europe/Berlin", 2024, time.October, 27, 9 * time.Hour, "2024-10-27T08:00:00Z"},
		{"America/Santiago", 2014, time.September, 7, 0, "2014-09-07T04:00:00Z"}, // midnight skipped
		{"America/Santiago", 2014, time.September, 7, 30 * time.Minute, "2014-09-07T04:00:00Z"},
		{"America/Santiago", 2014, time.September, 7, 2 * time.Hour, "2014-09-07T05:00:00Z"},
		{"Europe/Moscow", 2024, time.March, 4, 24 * time.Hour, "2024-03-04T21:00:00Z"},
	}
	for _, tt := range tests {
		got := wallClock(mustZone(t, tt.zone), tt.y, tt.m, tt.d, tt.tod).UTC().Format(time.RFC3339)
		if got != tt.wantUTC {
			t.Errorf("wallClock(%s, %d-%02d-%02d, %v) = %s, want %s", tt.zone, tt.y, tt.m, tt.d, tt.tod, got, tt.wantUTC)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{"defaults", Default(), nil},
		{"full day", Config{Zone: time.UTC, Start: 0, End: 24 * time.Hour}, nil},
		{"overnight", Config{Zone: time.UTC, Start: 22 * time.Hour, End: 6 * time.Hour}, []string{`End="06:00:00": must be after Start (22:00:00)`}},
		{"end past midnight", Config{Zone: time.UTC, Start: time.Hour, End: 25 * time.Hour}, []string{`End="25:00:00": want whole seconds 00:00:01..24:00:00`}},
		{"negative start and bad weekday", Config{Zone: time.UTC, Start: -time.Hour, End: time.Hour, Workdays: []time.Weekday{9}},
			[]string{`Start="-01:00:00"`, "Workdays: weekday 9 is not a weekday"}},
		{"fractional seconds", Config{Zone: time.UTC, Start: time.Hour, End: 2*time.Hour + time.Millisecond}, []string{`End="02:00:00.001": want whole seconds`}},
		{"invalid holiday date", Config{Zone: time.UTC, Start: time.Hour, End: 2 * time.Hour, Holidays: []Holidays{{Source: "x", Days: map[Date]DayKind{date(2023, 2, 29): DayOff}}}},
			[]string{"invalid date 2023-02-29"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			_, newErr := New(tt.cfg)
			if len(tt.want) == 0 {
				if err != nil || newErr != nil {
					t.Fatalf("Validate() = %v, New error %v; want nil", err, newErr)
				}
				return
			}
			if err == nil || newErr == nil {
				t.Fatalf("Validate() = %v, New error %v; want errors containing %q", err, newErr, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// Validate checks the values as given; New first takes the zero values
// that mean a default (no zone, nil workdays, no hours) for the defaults.
func TestZeroConfigIsInvalidButNewFillsIt(t *testing.T) {
	err := Config{}.Validate()
	for _, w := range []string{"Zone: not set", `End="00:00:00": want whole seconds 00:00:01..24:00:00`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Config{}.Validate() = %v, want it to contain %q", err, w)
		}
	}
	if _, err := New(Config{}); err != nil {
		t.Errorf("New(Config{}) = %v, want the defaults", err)
	}
}

func TestHolidaysFileIsReadByOpenNotNew(t *testing.T) {
	cfg := Config{HolidaysFile: "testdata/ru2024.txt"}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "use Open") {
		t.Errorf("New with a holidays file = %v, want a refusal naming Open", err)
	}
	c, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// ru2024.txt makes Saturday 27 April 2024 a working day.
	if !c.IsWorkingDay(date(2024, 4, 27)) {
		t.Error("Open: the holidays file was not applied")
	}
	if _, err := Open(Config{HolidaysFile: "testdata/missing.txt"}); err == nil {
		t.Error("Open with a missing file: nil error")
	}
}

func TestNewDefaults(t *testing.T) {
	c := mustNew(t, Config{})
	if c.Zone().String() != DefaultZone {
		t.Errorf("zone = %v, want %s", c.Zone(), DefaultZone)
	}
	if s, e := c.Hours(); s != 9*time.Hour || e != 22*time.Hour {
		t.Errorf("hours = %v–%v, want 9h–22h", s, e)
	}
	// DefaultHolidays is false in the zero Config: 8 March 2024 is worked.
	if !c.IsWorkingDay(date(2024, 3, 8)) || c.IsWorkingDay(date(2024, 3, 9)) {
		t.Errorf("zero Config: want Mon–Fri without holidays")
	}
	none := mustNew(t, Config{Workdays: []time.Weekday{}})
	if none.IsWorkingDay(date(2024, 3, 4)) {
		t.Errorf("empty Workdays: Monday is a working day")
	}
	if !mustNew(t, defaultConfig(t)).IsWorkingDayAt(time.Date(2024, 3, 10, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("22:00Z Sunday is Monday 01:00 in Moscow, a working day")
	}
}

func TestWorkdaysFromMondayIndex(t *testing.T) {
	got, err := WorkdaysFromMondayIndex([]int{0, 1, 2, 3, 4, 6})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Sunday}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("day %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := WorkdaysFromMondayIndex([]int{7}); err == nil {
		t.Error("WorkdaysFromMondayIndex([7]) = nil error, want one")
	}
}

func TestParseTimeOfDay(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"09:00", 9 * time.Hour, false},
		{"09:00:00", 9 * time.Hour, false},
		{"22:30:15", 22*time.Hour + 30*time.Minute + 15*time.Second, false},
		{"24:00", 24 * time.Hour, false},
		{"00:00:00", 0, false},
		{"24:01", 0, true},
		{"9:00", 0, true},
		{"09:60", 0, true},
		{"+9:00", 0, true},
		{"09", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseTimeOfDay(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseTimeOfDay(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDate(t *testing.T) {
	d, err := ParseDate("2024-02-29")
	if err != nil || d != date(2024, 2, 29) {
		t.Fatalf("ParseDate(2024-02-29) = %v, %v", d, err)
	}
	if _, err := ParseDate("2023-02-29"); err == nil {
		t.Error("ParseDate(2023-02-29): want an error")
	}
	if d.String() != "2024-02-29" || d.Weekday() != time.Thursday || d.AddDays(1) != date(2024, 3, 1) {
		t.Errorf("date helpers: %v %v %v", d, d.Weekday(), d.AddDays(1))
	}
	if date(2024, 2, 30).Valid() || !d.Valid() {
		t.Error("Valid: want 2024-02-30 invalid, 2024-02-29 valid")
	}
}

// TestConcurrentUse builds year tables from many goroutines at once (run
// with -race).
func TestConcurrentUse(t *testing.T) {
	c := mustNew(t, defaultConfig(t))
	from := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	want := naiveBusiness(c, from, to)
	var wg sync.WaitGroup
	errs := make(chan time.Duration, 8)
	for range 8 {
		wg.Go(func() {
			if got := c.Business(from, to); got != want {
				errs <- got
			}
		})
	}
	wg.Wait()
	close(errs)
	for got := range errs {
		t.Errorf("concurrent Business = %v, want %v", got, want)
	}
}
