package calendar

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DayKind says what a holiday file makes of a date.
type DayKind uint8

// Kinds of days a holiday file can name.
const (
	// DayOff is a holiday or a transferred day off.
	DayOff DayKind = iota + 1
	// WorkingDay is a working day, such as a transferred working Saturday.
	WorkingDay
)

// String returns "holiday" or "workday", the words of the plain format.
func (k DayKind) String() string {
	switch k {
	case DayOff:
		return "holiday"
	case WorkingDay:
		return "workday"
	}
	return fmt.Sprintf("DayKind(%d)", uint8(k))
}

// Holidays is the content of one holiday file.
type Holidays struct {
	// Source names the file, for messages.
	Source string
	// Days are the dates the file names and what they are.
	Days map[Date]DayKind
	// Years, sorted, are the years the file defines completely (the
	// production-calendar CSV): in them every day not in Days is a working
	// day, and the weekday rule and the default holidays do not apply.
	Years []int
}

// maxHolidayFile bounds what ParseHolidays reads.
const maxHolidayFile = 16 << 20

// LoadHolidayFile reads and parses the holiday file at path (see
// ParseHolidays).
func LoadHolidayFile(path string) (Holidays, error) {
	f, err := os.Open(path)
	if err != nil {
		return Holidays{}, fmt.Errorf("holiday file: %w", err)
	}
	defer f.Close()
	return ParseHolidays(f, path)
}

// ParseHolidays reads a holiday file from r; name is used in messages. It
// detects one of two formats:
//
//   - plain lines "YYYY-MM-DD holiday|workday [comment]", with blank lines
//     and lines starting with '#' ignored: each line makes that date a day
//     off or a working day;
//   - the production calendar ("Производственный календарь") CSV published
//     on Russia's open-data portal: a header row starting "Год/Месяц", then
//     one row per year with a year, twelve month cells listing the days off
//     of that month ("1,2,3,6*,8+": '*' marks a shortened working day, which
//     is a working day; '+' a transferred day off) and optional totals. When
//     the "Всего рабочих дней" or "Всего праздничных и выходных дней" totals
//     are present they must agree with the lists.
//
// Errors have the form "name:line: problem".
func ParseHolidays(r io.Reader, name string) (Holidays, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxHolidayFile+1))
	if err != nil {
		return Holidays{}, fmt.Errorf("%s: read: %w", name, err)
	}
	if len(data) > maxHolidayFile {
		return Holidays{}, fmt.Errorf("%s: file larger than %d bytes", name, maxHolidayFile)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if isProductionCalendar(data) {
		return parseProductionCalendar(data, name)
	}
	return parsePlain(data, name)
}

// isProductionCalendar reports whether the first meaningful line is the
// open-data CSV header.
func isProductionCalendar(data []byte) bool {
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimLeft(line, `"`)
		return strings.HasPrefix(line, "Год")
	}
	return false
}

func parsePlain(data []byte, name string) (Holidays, error) {
	h := Holidays{Source: name, Days: make(map[Date]DayKind)}
	seen := make(map[Date]int) // date → line that named it
	lineNo := 0
	for line := range strings.Lines(string(data)) {
		lineNo++
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return Holidays{}, fmt.Errorf("%s:%d: want \"YYYY-MM-DD holiday|workday [comment]\", got %q", name, lineNo, line)
		}
		t, err := time.Parse(time.DateOnly, fields[0])
		if err != nil {
			return Holidays{}, fmt.Errorf("%s:%d: bad date %q: want YYYY-MM-DD", name, lineNo, fields[0])
		}
		d := DateOf(t)
		var k DayKind
		switch strings.ToLower(fields[1]) {
		case "holiday":
			k = DayOff
		case "workday":
			k = WorkingDay
		default:
			return Holidays{}, fmt.Errorf("%s:%d: bad kind %q: want holiday or workday", name, lineNo, fields[1])
		}
		if prev, ok := h.Days[d]; ok && prev != k {
			return Holidays{}, fmt.Errorf("%s:%d: %v is a %v here but a %v on line %d", name, lineNo, d, k, prev, seen[d])
		}
		h.Days[d] = k
		seen[d] = lineNo
	}
	return h, nil
}

var monthNames = [12]string{
	"январь", "февраль", "март", "апрель", "май", "июнь",
	"июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
}

// parseProductionCalendar reads the open-data production calendar CSV: the
// header, then one row per year.
func parseProductionCalendar(data []byte, name string) (Holidays, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	pc := calendarParser{
		cr:       cr,
		name:     name,
		h:        Holidays{Source: name, Days: make(map[Date]DayKind)},
		yearLine: make(map[int]int),
	}
	headerLine, err := pc.header()
	if err != nil {
		return Holidays{}, err
	}
	if err := pc.rows(); err != nil {
		return Holidays{}, err
	}
	if len(pc.h.Years) == 0 {
		return Holidays{}, fmt.Errorf("%s:%d: no year rows after the header", name, headerLine)
	}
	slices.Sort(pc.h.Years)
	return pc.h, nil
}

// calendarParser holds the state of parseProductionCalendar: the reader,
// the file's name for messages, the holidays read so far, the columns of
// the totals (-1 when absent) and the line of each year's row.
type calendarParser struct {
	cr       *csv.Reader
	name     string
	h        Holidays
	workCol  int
	offCol   int
	yearLine map[int]int
}

// csvErr prefixes a reading error with the file's name and, for a CSV
// syntax error, its line.
func (pc *calendarParser) csvErr(err error) error {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return fmt.Errorf("%s:%d: %w", pc.name, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %w", pc.name, err)
}

// header reads and checks the header row (Год/Месяц and the twelve months),
// finds the totals' columns, and returns the header's line.
func (pc *calendarParser) header() (int, error) {
	header, err := pc.cr.Read()
	if err != nil {
		return 0, pc.csvErr(err)
	}
	line, _ := pc.cr.FieldPos(0)
	if len(header) < 13 {
		return 0, fmt.Errorf("%s:%d: header has %d columns, want Год/Месяц and twelve months", pc.name, line, len(header))
	}
	for i, want := range monthNames {
		if got := strings.ToLower(strings.TrimSpace(header[i+1])); got != want {
			return 0, fmt.Errorf("%s:%d: column %d is %q, want %q", pc.name, line, i+2, header[i+1], want)
		}
	}
	pc.workCol, pc.offCol = totalColumns(header)
	return line, nil
}

// totalColumns returns the columns of the header after the months that hold
// the totals of working days and of days off, -1 for one that is absent.
func totalColumns(header []string) (workCol, offCol int) {
	workCol, offCol = -1, -1
	for i := 13; i < len(header); i++ {
		col := strings.ToLower(strings.TrimSpace(header[i]))
		switch {
		case strings.HasPrefix(col, "всего рабочих дней"):
			workCol = i
		case strings.HasPrefix(col, "всего праздничных и выходных дней"):
			offCol = i
		}
	}
	return workCol, offCol
}

// rows reads the year rows up to the end of the file.
func (pc *calendarParser) rows() error {
	for {
		rec, err := pc.cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return pc.csvErr(err)
		}
		line, _ := pc.cr.FieldPos(0)
		if err := pc.row(rec, line); err != nil {
			return err
		}
	}
}

// row records the days off of one year's row, found on line, and checks
// its totals.
func (pc *calendarParser) row(rec []string, line int) error {
	year, err := pc.year(rec, line)
	if err != nil {
		return err
	}
	off := 0
	for m := time.January; m <= time.December; m++ {
		n, err := parseMonthCell(pc.h.Days, year, m, rec[m])
		if err != nil {
			return fmt.Errorf("%s:%d: %d %s: %w", pc.name, line, year, monthNames[m-1], err)
		}
		off += n
	}
	work := daysInYear(year) - off
	if err := checkTotal(rec, pc.workCol, work, "working days"); err != nil {
		return fmt.Errorf("%s:%d: %d: %w", pc.name, line, year, err)
	}
	if err := checkTotal(rec, pc.offCol, off, "days off"); err != nil {
		return fmt.Errorf("%s:%d: %d: %w", pc.name, line, year, err)
	}
	pc.h.Years = append(pc.h.Years, year)
	return nil
}

// year checks that the row on line has a year and twelve months, and a
// year not given before, and returns the year.
func (pc *calendarParser) year(rec []string, line int) (int, error) {
	if len(rec) < 13 {
		return 0, fmt.Errorf("%s:%d: %d columns, want a year and twelve months", pc.name, line, len(rec))
	}
	year, err := strconv.Atoi(strings.TrimSpace(rec[0]))
	if err != nil || year < 1 || year > 9999 {
		return 0, fmt.Errorf("%s:%d: bad year %q", pc.name, line, rec[0])
	}
	if prev, ok := pc.yearLine[year]; ok {
		return 0, fmt.Errorf("%s:%d: year %d already given on line %d", pc.name, line, year, prev)
	}
	pc.yearLine[year] = line
	return year, nil
}

// parseMonthCell records the days off listed in one month cell and returns
// how many there are.
func parseMonthCell(days map[Date]DayKind, year int, m time.Month, cell string) (int, error) {
	cell = strings.TrimSpace(cell)
	if cell == "" {
		return 0, nil
	}
	last := daysInMonth(year, m)
	seen := make(map[int]bool)
	off := 0
	for tok := range strings.SplitSeq(cell, ",") {
		tok = strings.TrimSpace(tok)
		shortened := false
		switch {
		case strings.HasSuffix(tok, "*"):
			shortened = true
			tok = tok[:len(tok)-1]
		case strings.HasSuffix(tok, "+"):
			tok = tok[:len(tok)-1]
		}
		d, err := strconv.Atoi(tok)
		if err != nil || d < 1 || d > last {
			return 0, fmt.Errorf("bad day %q: want 1–%d with an optional * or +", tok, last)
		}
		if seen[d] {
			return 0, fmt.Errorf("day %d listed twice", d)
		}
		seen[d] = true
		if shortened {
			continue // a shortened day is a working day
		}
		days[Date{Year: year, Month: m, Day: d}] = DayOff
		off++
	}
	return off, nil
}

func checkTotal(rec []string, col, computed int, what string) error {
	if col < 0 || col >= len(rec) || strings.TrimSpace(rec[col]) == "" {
		return nil
	}
	v, err := strconv.Atoi(strings.TrimSpace(rec[col]))
	if err != nil {
		return fmt.Errorf("bad total of %s %q", what, rec[col])
	}
	if v != computed {
		return fmt.Errorf("total of %s is %d but the month lists give %d", what, v, computed)
	}
	return nil
}
