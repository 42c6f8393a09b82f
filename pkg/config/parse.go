package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/calendar"
)

// entryError is a problem with one entry of a list value; its text quotes
// the entry, so the whole value is not repeated.
type entryError struct{ msg string }

func (e *entryError) Error() string { return e.msg }

func entryErrorf(format string, args ...any) error {
	return &entryError{msg: fmt.Sprintf(format, args...)}
}

// parseBool accepts what pydantic accepted: true/false, 1/0, yes/no, on/off,
// t/f, y/n, in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "t", "yes", "y", "on":
		return true, nil
	case "0", "false", "f", "no", "n", "off":
		return false, nil
	}
	return false, errors.New("want a boolean: true/false, 1/0, yes/no, on/off")
}

func parseInt(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 0)
	if err != nil {
		return 0, errors.New("want an integer")
	}
	return int(n), nil
}

func parseFloat(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errors.New("want a number")
	}
	return f, nil
}

// maxDuration bounds every duration setting (about 100 years), so that sums
// of units cannot overflow.
const maxDuration = 100 * 365 * 24 * time.Hour

// durationUnits are the units of parseDuration, longest spelling first. y and
// mo are the old tool's 365 and 30 days.
var durationUnits = []struct {
	name string
	d    time.Duration
}{
	{"ms", time.Millisecond},
	{"mo", 30 * 24 * time.Hour},
	{"us", time.Microsecond},
	{"µs", time.Microsecond},
	{"ns", time.Nanosecond},
	{"y", 365 * 24 * time.Hour},
	{"w", 7 * 24 * time.Hour},
	{"d", 24 * time.Hour},
	{"h", time.Hour},
	{"m", time.Minute},
	{"s", time.Second},
}

// parseDuration reads the old tool's human durations ("1w", "7d", "2w 3d 1h
// 20m") and Go durations ("1h30m", "500ms", "1.5h"). When bare is not zero, a
// plain number is a count of bare units (the old "seconds as a number" and
// "minutes as a number" variables).
func parseDuration(s string, bare time.Duration) (time.Duration, error) {
	want := "want a duration like 2h, 7d, 1w or 1h30m"
	if bare != 0 {
		want = fmt.Sprintf("want a number of %s or a duration like %s", unitName(bare), example(bare))
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return bareDuration(f, bare, want)
	}
	return unitDuration(s, want)
}

// bareDuration reads a plain number f as a count of bare units; want is
// the error text when it is not one.
func bareDuration(f float64, bare time.Duration, want string) (time.Duration, error) {
	switch {
	case f == 0:
		return 0, nil
	case bare == 0:
		return 0, errors.New(want + " (a unit is required)")
	case f < 0 || math.IsNaN(f) || f*float64(bare) > float64(maxDuration):
		return 0, errors.New(want)
	}
	return time.Duration(f * float64(bare)), nil
}

// unitDuration sums the terms ("2w 3d", "1h30m") of s; want is the error
// text when s is not such a sum.
func unitDuration(s, want string) (time.Duration, error) {
	var total float64
	rest := strings.TrimSpace(s)
	if rest == "" {
		return 0, errors.New(want)
	}
	for rest != "" {
		n, unit, tail, ok := durationTerm(rest)
		if !ok {
			return 0, errors.New(want)
		}
		total += n * float64(unit)
		if total > float64(maxDuration) {
			return 0, errors.New("duration too long")
		}
		rest = strings.TrimLeft(tail, " ")
	}
	return time.Duration(total), nil
}

// durationTerm reads the number and unit at the start of s ("1.5h") and
// returns them with what follows; ok is false when s does not start with
// one.
func durationTerm(s string) (n float64, unit time.Duration, tail string, ok bool) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	if i == 0 {
		return 0, 0, s, false
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, 0, s, false
	}
	unit, tail = cutUnit(s[i:])
	return n, unit, tail, unit != 0
}

// cutUnit returns the duration unit at the start of s and what follows it;
// the unit is 0 when s starts with none.
func cutUnit(s string) (time.Duration, string) {
	for _, u := range durationUnits {
		if strings.HasPrefix(s, u.name) {
			return u.d, s[len(u.name):]
		}
	}
	return 0, s
}

func unitName(d time.Duration) string {
	switch d {
	case time.Second:
		return "seconds"
	case time.Minute:
		return "minutes"
	}
	return d.String()
}

func example(d time.Duration) string {
	if d == time.Minute {
		return "1h"
	}
	return "10s"
}

// parseList reads a list in any of the forms the old tool's users wrote: a
// comma list ("a,b, c"), or a Python/JSON list with quotes and a trailing
// comma (`["project:internal",]`, `['a', 'b']`, `[0,1,2]`). Empty items are
// dropped; "[]" is the empty list.
func parseList(s string) ([]string, error) {
	s, err := unbracket(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	out := []string{}
	for i := skipListSpace(s, 0); i < len(s); i = skipListSpace(s, i) {
		var item string
		switch s[i] {
		case ',':
			i++
			continue
		case '"', '\'':
			if item, i, err = quotedItem(s, i); err != nil {
				return nil, err
			}
		default:
			item, i = plainItem(s, i)
		}
		if item != "" {
			out = append(out, item)
		}
	}
	return out, nil
}

// unbracket strips the [ ] around a Python/JSON list; a list without them
// is returned as it is.
func unbracket(s string) (string, error) {
	if !strings.HasPrefix(s, "[") {
		return s, nil
	}
	if !strings.HasSuffix(s, "]") {
		return "", errors.New("list opened with [ but not closed with ]")
	}
	return s[1 : len(s)-1], nil
}

// skipListSpace returns the index of the first byte of s at or after i that
// is not a space, tab or line break.
func skipListSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// quotedItem reads the quoted item starting at s[i], a backslash escaping
// the next byte, and returns it trimmed with the index after it and the
// spaces that follow; a comma or the end of s must come next.
func quotedItem(s string, i int) (string, int, error) {
	q := s[i]
	var b strings.Builder
	j := i + 1
	for ; j < len(s) && s[j] != q; j++ {
		if s[j] == '\\' && j+1 < len(s) {
			j++
		}
		b.WriteByte(s[j])
	}
	if j >= len(s) {
		return "", 0, errors.New("unterminated quote in list")
	}
	i = j + 1
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] != ',' {
		return "", 0, errors.New("want a comma after a quoted item")
	}
	return strings.TrimSpace(b.String()), i, nil
}

// plainItem reads the unquoted item starting at s[i], up to the next comma
// or the end, and returns it trimmed with the index of that comma or end.
func plainItem(s string, i int) (string, int) {
	j := strings.IndexByte(s[i:], ',')
	if j < 0 {
		j = len(s) - i
	}
	return strings.TrimSpace(s[i : i+j]), i + j
}

// parseWorkdays reads Python weekday numbers (0 is Monday, 6 is Sunday).
func parseWorkdays(s string) ([]time.Weekday, error) {
	items, err := parseList(s)
	if err != nil {
		return nil, err
	}
	var errs []error
	seen := map[time.Weekday]bool{}
	out := []time.Weekday{}
	for _, it := range items {
		n, err := strconv.Atoi(it)
		if err != nil || n < 0 || n > 6 {
			errs = append(errs, entryErrorf("day %q: want 0 (Monday) to 6 (Sunday)", it))
			continue
		}
		wd := time.Weekday((n + 1) % 7)
		if !seen[wd] {
			seen[wd] = true
			out = append(out, wd)
		}
	}
	return out, errors.Join(errs...)
}

// parseHolidays reads EXPORTER_HOLIDAYS: "default" (Russia's fixed public
// holidays on) or "none", in any case.
func parseHolidays(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "default":
		return true, nil
	case "none":
		return false, nil
	}
	return false, errors.New("want default or none")
}

// Holidays renders the built-in holidays as EXPORTER_HOLIDAYS names them.
func Holidays(c calendar.Config) string {
	if c.DefaultHolidays {
		return "default"
	}
	return "none"
}

// parseTimeOfDay reads "HH:MM[:SS[.ffffff]]" as an offset from midnight;
// "24:00" is allowed as the end of a day.
func parseTimeOfDay(s string) (time.Duration, error) {
	bad := errors.New("want a time of day like 09:00:00")
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, bad
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || len(parts[0]) > 2 || len(parts[1]) != 2 || h < 0 || m < 0 || m > 59 {
		return 0, bad
	}
	var sec float64
	if len(parts) == 3 {
		if len(parts[2]) < 2 || parts[2][0] < '0' || parts[2][0] > '9' {
			return 0, bad
		}
		f, err := strconv.ParseFloat(parts[2], 64)
		if err != nil || f < 0 || f >= 60 {
			return 0, bad
		}
		sec = f
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec*float64(time.Second))
	if d > 24*time.Hour {
		return 0, errors.New("want a time of day between 00:00 and 24:00")
	}
	return d, nil
}

// statusTypeNames are Tracker's status types (METRICS.md §2).
var statusTypeNames = []string{"new", "inProgress", "paused", "done", "cancelled"}

// parseStatusTypes reads "statusKey:type,...". Types are matched without
// regard to case and stored in Tracker's spelling; an unknown type is kept
// as written for Validate to report.
func parseStatusTypes(s string) (map[string]string, error) {
	items, err := parseList(s)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var errs []error
	for _, it := range items {
		i := strings.LastIndexByte(it, ':')
		if i <= 0 || i == len(it)-1 {
			errs = append(errs, entryErrorf("entry %q: want statusKey:type", it))
			continue
		}
		key, typ := strings.TrimSpace(it[:i]), strings.TrimSpace(it[i+1:])
		if _, dup := out[key]; dup {
			errs = append(errs, entryErrorf("status %q is given twice", key))
			continue
		}
		for _, n := range statusTypeNames {
			if strings.EqualFold(n, typ) {
				typ = n
			}
		}
		out[key] = typ
	}
	return out, errors.Join(errs...)
}

// parseCustomFields reads "source:column[:Type],...", Type defaulting to
// String and matched without regard to case. Validate checks the names and
// types.
func parseCustomFields(s string) ([]CustomField, error) {
	items, err := parseList(s)
	if err != nil {
		return nil, err
	}
	out := []CustomField{}
	var errs []error
	for _, it := range items {
		parts := strings.Split(it, ":")
		var f CustomField
		switch {
		case len(parts) == 2:
			errs = append(errs, entryErrorf("entry %q: the column type is missing: want source:column:Type with Type one of %s", it, strings.Join(CustomFieldTypes(), ", ")))
			continue
		case len(parts) >= 3:
			n := len(parts)
			f = CustomField{Source: strings.Join(parts[:n-2], ":"), Column: parts[n-2], Type: parts[n-1]}
		default:
			errs = append(errs, entryErrorf("entry %q: want source:column:Type", it))
			continue
		}
		f.Source, f.Column, f.Type = strings.TrimSpace(f.Source), strings.TrimSpace(f.Column), strings.TrimSpace(f.Type)
		if f.Source == "" || f.Column == "" || f.Type == "" {
			errs = append(errs, entryErrorf("entry %q: want source:column:Type", it))
			continue
		}
		for _, t := range CustomFieldTypes() {
			if strings.EqualFold(t, f.Type) {
				f.Type = t
			}
		}
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

// strftime maps Python strftime directives to Go layout elements.
var strftime = map[byte]string{
	'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'H': "15", 'I': "03", 'M': "04", 'S': "05",
	'z': "-0700", 'Z': "MST", 'b': "Jan", 'B': "January", 'a': "Mon", 'A': "Monday", 'p': "PM",
	'j': "002", '%': "%",
}

// StrftimeLayout converts a Python strftime format (the old tool's
// EXPORTER_DATETIME_*_FORMAT values) to a Go time layout. It supports %Y %y
// %m %d %H %I %M %S %f %z %Z %b %B %a %A %p %j %%; %f must follow a '.' or
// ','. It refuses other directives, literal text that Go would read as a
// layout element (digits, "Jan", "Mon", "MST", "PM", "pm"), and formats
// without a full date or that do not read back what they write.
func StrftimeLayout(py string) (string, error) {
	var lb layoutBuilder
	if err := lb.convert(py); err != nil {
		return "", err
	}
	if !lb.hasYear || !lb.hasMonth || !lb.hasDay {
		return "", fmt.Errorf("format %q: want a full date (year, month and day)", py)
	}
	layout := lb.b.String()
	if !readsBack(layout) {
		return "", fmt.Errorf("format %q: Go layout %q does not read back what it writes", py, layout)
	}
	return layout, nil
}

// layoutBuilder accumulates the Go layout of a strftime format: the
// elements written so far, the literal text not yet written, and which
// parts of a date the elements cover.
type layoutBuilder struct {
	b, literal                strings.Builder
	hasYear, hasMonth, hasDay bool
}

// convert translates every directive and literal of the format py; its
// errors quote py.
func (lb *layoutBuilder) convert(py string) error {
	for i := 0; i < len(py); i++ {
		if py[i] != '%' {
			lb.literal.WriteByte(py[i])
			continue
		}
		if i+1 == len(py) {
			return fmt.Errorf("format %q ends with a lone %%", py)
		}
		i++
		if err := lb.directive(py, py[i]); err != nil {
			return err
		}
	}
	if err := lb.flush(); err != nil {
		return fmt.Errorf("format %q: %w", py, err)
	}
	return nil
}

// directive translates the directive %c of the format py.
func (lb *layoutBuilder) directive(py string, c byte) error {
	switch c {
	case '%':
		lb.literal.WriteByte('%')
		return nil
	case 'f':
		return lb.fraction(py)
	}
	el, ok := strftime[c]
	if !ok {
		return fmt.Errorf("format %q: directive %%%c is not supported", py, c)
	}
	if err := lb.flush(); err != nil {
		return fmt.Errorf("format %q: %w", py, err)
	}
	lb.b.WriteString(el)
	lb.note(c)
	return nil
}

// fraction translates %f, the microseconds, which must follow a '.' or ','
// of the literal text.
func (lb *layoutBuilder) fraction(py string) error {
	lit := lb.literal.String()
	if lit == "" || (lit[len(lit)-1] != '.' && lit[len(lit)-1] != ',') {
		return fmt.Errorf("format %q: %%f must follow '.' or ','", py)
	}
	if err := lb.flush(); err != nil {
		return fmt.Errorf("format %q: %w", py, err)
	}
	lb.b.WriteString("000000")
	return nil
}

// note records which parts of a date the directive %c covers.
func (lb *layoutBuilder) note(c byte) {
	switch c {
	case 'Y', 'y':
		lb.hasYear = true
	case 'm', 'b', 'B':
		lb.hasMonth = true
	case 'd':
		lb.hasDay = true
	case 'j':
		lb.hasMonth, lb.hasDay = true, true
	}
}

// flush writes the pending literal text to the layout, refusing text that
// Go would not write back as it is.
func (lb *layoutBuilder) flush() error {
	lit := lb.literal.String()
	lb.literal.Reset()
	if err := checkLiteral(lit); err != nil {
		return err
	}
	lb.b.WriteString(lit)
	return nil
}

// checkLiteral refuses literal text that a Go layout cannot hold: digits,
// and words Go would read as a layout element.
func checkLiteral(lit string) error {
	if strings.ContainsAny(lit, "0123456789") {
		return fmt.Errorf("literal %q: digits cannot be expressed in a Go layout", lit)
	}
	for _, tok := range []string{"Jan", "Mon", "MST", "PM", "pm"} {
		if strings.Contains(lit, tok) {
			return fmt.Errorf("literal %q: %q would be read as a layout element", lit, tok)
		}
	}
	return nil
}

// readsBack reports whether layout parses what it formats, back to the
// same text.
func readsBack(layout string) bool {
	ref := time.Date(2024, time.November, 5, 13, 7, 9, 123456000, time.FixedZone("", 3*3600))
	text := ref.Format(layout)
	back, err := time.Parse(layout, text)
	return err == nil && back.Format(layout) == text
}

func itoa(n int) string { return strconv.Itoa(n) }

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
