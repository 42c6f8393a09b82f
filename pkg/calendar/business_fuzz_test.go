package calendar

import (
	"sync"
	"testing"
	"time"
)

// fuzzZones mixes regular zones, zones with daylight saving and zones with
// odd histories (Samoa skipped 30 December 2011; Lord Howe shifts by 30 min).
var fuzzZones = []string{
	"UTC", "Europe/Moscow", "Europe/Berlin", "America/New_York", "America/Santiago",
	"Australia/Lord_Howe", "Pacific/Apia", "Asia/Kathmandu", "America/Havana",
}

var fuzzCalendars sync.Map // key → *Calendar

type fuzzKey struct {
	zone        int
	mask        uint8
	start, span uint16
	holidays    bool
}

func fuzzCalendar(t *testing.T, k fuzzKey) *Calendar {
	if c, ok := fuzzCalendars.Load(k); ok {
		return c.(*Calendar)
	}
	zone := mustZone(t, fuzzZones[k.zone])
	start := time.Duration(k.start) * time.Minute
	end := start + time.Duration(k.span)*time.Minute
	var wd []time.Weekday
	for d := range 7 {
		if k.mask&(1<<d) != 0 {
			wd = append(wd, time.Weekday(d))
		}
	}
	if wd == nil {
		wd = []time.Weekday{}
	}
	c := mustNew(t, Config{Zone: zone, Workdays: wd, Start: start, End: end, DefaultHolidays: k.holidays})
	fuzzCalendars.Store(k, c)
	return c
}

// FuzzBusinessInvariants checks 0 ≤ business ≤ calendar time and
// business(a, c) = business(a, b) + business(b, c) for random calendars and
// instants (including ones outside the supported years), and agreement with
// the naive day walk for short spans in regular zones.
func FuzzBusinessInvariants(f *testing.F) {
	f.Add(uint8(1), uint8(0b0111110), uint16(9*60), uint16(13*60), true, int64(1709535600), int64(3600), int64(86400*3))
	f.Add(uint8(2), uint8(0x7f), uint16(60), uint16(13*60), false, int64(1711846800), int64(7200), int64(86400))
	f.Add(uint8(6), uint8(0x7f), uint16(0), uint16(24*60), false, int64(1325160000), int64(86400), int64(86400*2))
	f.Add(uint8(0), uint8(0x7f), uint16(0), uint16(24*60), false, int64(-1<<40), int64(1<<40), int64(1<<41))
	f.Fuzz(func(t *testing.T, zone, mask uint8, start, span uint16, holidays bool, a, ab, bc int64) {
		start %= 24 * 60
		span = 1 + span%(24*60-start)
		k := fuzzKey{zone: int(zone) % len(fuzzZones), mask: mask & 0x7f, start: start, span: span, holidays: holidays}
		c := fuzzCalendar(t, k)
		const lim = int64(1) << 42 // seconds; beyond year 100000 either way
		clamp := func(v int64) int64 { return max(-lim, min(lim, v)) }
		a = clamp(a)
		ab, bc = clamp(ab)%lim, clamp(bc)%lim
		if ab < 0 {
			ab = -ab
		}
		if bc < 0 {
			bc = -bc
		}
		ta := time.Unix(a, int64(uint64(a)%1e9))
		tb := ta.Add(time.Duration(ab%(1<<33)) * time.Second / 3)
		tc := tb.Add(time.Duration(bc%(1<<33)) * time.Second / 7)

		bac := c.Business(ta, tc)
		bab := c.Business(ta, tb)
		bbc := c.Business(tb, tc)
		if bac < 0 || bac > tc.Sub(ta) {
			t.Fatalf("%+v: Business(%v, %v) = %v, outside [0, %v]", k, ta, tc, bac, tc.Sub(ta))
		}
		if bab+bbc != bac {
			t.Fatalf("%+v: Business(a,b) %v + Business(b,c) %v = %v ≠ Business(a,c) %v (a %v, b %v, c %v)",
				k, bab, bbc, bab+bbc, bac, ta, tb, tc)
		}
		if c.Business(tc, ta) != 0 && tc.After(ta) {
			t.Fatalf("%+v: reversed interval has business time", k)
		}
		regular := fuzzZones[k.zone] != "Pacific/Apia"
		inRange := ta.Year() >= MinYear && tc.Year() <= MaxYear
		if regular && inRange && tc.Sub(ta) < 60*24*time.Hour {
			if want := naiveBusiness(c, ta, tc); bac != want {
				t.Fatalf("%+v: Business(%v, %v) = %v, naive %v", k, ta, tc, bac, want)
			}
		}
	})
}
