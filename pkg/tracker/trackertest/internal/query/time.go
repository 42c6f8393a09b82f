package query

import (
	"math"
	"strings"
	"time"
)

const msPerDay = 24 * 3600 * 1000

// dateLayouts are the datetime literals values may use, with the span each
// denotes (ms) and whether it carries its own offset.
var dateLayouts = []struct {
	layout string
	span   int64
	zoned  bool
}{
	{"2006-01-02 15:04:05", 1000, false},
	{"2006-01-02 15:04", 60 * 1000, false},
	{"2006-01-02", msPerDay, false},
	{"2006-01-02T15:04:05", 1000, false},
	{"2006-01-02T15:04:05.000", 1, false},
	{"02.01.2006 15:04:05", 1000, false},
	{"02.01.2006", msPerDay, false},
	{"2006-01-02T15:04:05.000-0700", 1, true},
	{"2006-01-02T15:04:05Z07:00", 1000, true},
	{"2006-01-02T15:04:05.000Z07:00", 1, true},
}

// timeRange turns one datetime value into an inclusive range [lo, hi] of
// unix ms: ">" is after the literal's span, ">=" from its start, "<" before
// its start, "<=" up to its end, no operator within it; a..b from a's start
// to b's end.
func (c *compiler) timeRange(v value) (lo, hi int64, err error) {
	alo, ahi, err := c.interval(v.a, v.field)
	if err != nil {
		return 0, 0, err
	}
	if v.b != nil {
		if v.op != "" {
			return 0, 0, errorf("Query syntax error at position %d: a range cannot have %s", v.pos+1, v.op)
		}
		_, bhi, err := c.interval(*v.b, v.field)
		if err != nil {
			return 0, 0, err
		}
		return alo, bhi - 1, nil
	}
	switch v.op {
	case ">":
		return ahi, math.MaxInt64, nil
	case ">=":
		return alo, math.MaxInt64, nil
	case "<":
		return math.MinInt64, alo - 1, nil
	case "<=":
		return math.MinInt64, ahi - 1, nil
	}
	return alo, ahi - 1, nil
}

// interval returns the instant range [lo, hi) an operand denotes.
func (c *compiler) interval(o operand, field string) (lo, hi int64, err error) {
	if o.kind == 'f' {
		return c.funcInterval(o, field)
	}
	txt := strings.TrimSpace(o.text)
	for _, l := range dateLayouts {
		var t time.Time
		var e error
		if l.zoned {
			t, e = time.Parse(l.layout, txt)
		} else {
			t, e = time.ParseInLocation(l.layout, txt, c.cat.Zone)
		}
		if e != nil {
			continue
		}
		lo := t.UnixMilli()
		if l.span == msPerDay { // a calendar day in the zone, DST-aware
			return lo, t.AddDate(0, 0, 1).UnixMilli(), nil
		}
		return lo, lo + l.span, nil
	}
	return 0, 0, errorf("Invalid date %q for field %q (expected \"YYYY-MM-DD HH:MM:SS\")", o.text, field)
}

// funcInterval is the range of now() (a millisecond) or today() (a day in
// the catalog's zone), moved by the offset.
func (c *compiler) funcInterval(o operand, field string) (lo, hi int64, err error) {
	switch o.text {
	case "now":
		t := c.cat.Now.UnixMilli() + o.offset
		return t, t + 1, nil
	case "today":
		y, m, d := c.cat.Now.In(c.cat.Zone).Date()
		t := time.Date(y, m, d, 0, 0, 0, 0, c.cat.Zone).UnixMilli() + o.offset
		return t, t + msPerDay, nil
	}
	return 0, 0, funcError(o, field)
}
