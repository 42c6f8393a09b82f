package calendar

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseHolidaysPlain(t *testing.T) {
	in := "\uFEFF# comment\r\n\r\n2024-04-27 workday  a Saturday\r\n2024-04-29 HOLIDAY\n2024-04-29 holiday # repeated, same kind\n"
	h, err := ParseHolidays(strings.NewReader(in), "x.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := map[Date]DayKind{date(2024, 4, 27): WorkingDay, date(2024, 4, 29): DayOff}
	if len(h.Days) != len(want) || len(h.Years) != 0 || h.Source != "x.txt" {
		t.Fatalf("got %+v, want days %v and no years", h, want)
	}
	for d, k := range want {
		if h.Days[d] != k {
			t.Errorf("day %v = %v, want %v", d, h.Days[d], k)
		}
	}
}

func TestParseHolidaysCSV(t *testing.T) {
	data, err := os.ReadFile("testdata/ru2024.csv")
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHolidays(strings.NewReader(string(data)), "ru.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Years) != 1 || h.Years[0] != 2024 {
		t.Errorf("Years = %v, want [2024]", h.Years)
	}
	if len(h.Days) != 366-248 {
		t.Errorf("%d days off, want %d", len(h.Days), 366-248)
	}
	for _, d := range []Date{date(2024, 2, 22), date(2024, 11, 2)} { // shortened working days
		if _, ok := h.Days[d]; ok {
			t.Errorf("shortened day %v listed as a day off", d)
		}
	}
	if h.Days[date(2024, 4, 29)] != DayOff || h.Days[date(2024, 12, 31)] != DayOff {
		t.Error("transferred days off (+) missing")
	}
}

const csvHeader = "Год/Месяц,Январь,Февраль,Март,Апрель,Май,Июнь,Июль,Август,Сентябрь,Октябрь,Ноябрь,Декабрь,Всего рабочих дней,Всего праздничных и выходных дней\n"

// csvRow is a valid 2024 row with totals.
const csvRow = `2024,"1,2,3,4,5,6,7,8,13,14,20,21,27,28","3,4,10,11,17,18,22*,23,24,25","2,3,7*,8,9,10,16,17,23,24,30,31","6,7,13,14,20,21,28,29+,30+","1,4,5,8*,9,10+,11,12,18,19,25,26","1,2,8,9,11*,12,15,16,22,23,29,30","6,7,13,14,20,21,27,28","3,4,10,11,17,18,24,25,31","1,7,8,14,15,21,22,28,29","5,6,12,13,19,20,26,27","2*,3,4,9,10,16,17,23,24,30","1,7,8,14,15,21,22,29,30+,31+",248,118` + "\n"

func TestParseHolidaysErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the error must start with this
	}{
		{"plain bad date", "# c\n2024-04-31 holiday\n", "f:2: bad date"},
		{"plain bad kind", "2024-04-27 workday\n\n2024-04-28 off\n", `f:3: bad kind "off"`},
		{"plain one field", "2024-04-27\n", "f:1: want"},
		{"plain conflict", "2024-04-27 workday\n2024-04-27 holiday\n", "f:2: 2024-04-27 is a holiday here but a workday on line 1"},
		{"not a date", "hello world\n", "f:1: bad date"},
		{"csv short header", "Год/Месяц,Январь\n", "f:1: header has 2 columns"},
		{"csv wrong month", strings.Replace(csvHeader, "Март", "Марш", 1) + csvRow, `f:1: column 4 is "Марш"`},
		{"csv bad day", csvHeader + `2024,"1,2,32",,,,,,,,,,,` + "\n", "f:2: 2024 январь: bad day \"32\""},
		{"csv 30 February", csvHeader + `2024,,"30",,,,,,,,,,` + "\n", "f:2: 2024 февраль: bad day \"30\""},
		{"csv duplicate day", csvHeader + `2024,"1,1",,,,,,,,,,,` + "\n", "f:2: 2024 январь: day 1 listed twice"},
		{"csv wrong total", csvHeader + strings.Replace(csvRow, ",248,", ",247,", 1), "f:2: 2024: total of working days is 247 but the month lists give 248"},
		{"csv wrong off total", csvHeader + strings.Replace(csvRow, ",118", ",117", 1), "f:2: 2024: total of days off is 117"},
		{"csv duplicate year", csvHeader + csvRow + csvRow, "f:3: year 2024 already given on line 2"},
		{"csv bad year", csvHeader + "20x4,,,,,,,,,,,,\n", `f:2: bad year "20x4"`},
		{"csv short row", csvHeader + "2024,1,2\n", "f:2: 3 columns"},
		{"csv no rows", csvHeader, "f:1: no year rows"},
		{"csv bad quote", csvHeader + "2024,\"1,2\n", "f:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHolidays(strings.NewReader(tt.in), "f")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("ParseHolidays(%q) error = %v, want prefix %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestLoadHolidayFileMissing(t *testing.T) {
	if _, err := LoadHolidayFile("testdata/does-not-exist.txt"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadHolidayFile(missing) = %v, want a not-exist error", err)
	}
}

func FuzzParseHolidays(f *testing.F) {
	f.Add("2024-04-27 workday\n2024-04-29 holiday # x\n")
	f.Add(csvHeader + csvRow)
	f.Add(csvHeader + `2024,"1*,2+,3",,,,,,,,,,,,` + "\n")
	f.Fuzz(func(t *testing.T, in string) {
		h, err := ParseHolidays(strings.NewReader(in), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error %q does not start with the file name", err)
			}
			return
		}
		for d, k := range h.Days {
			if !d.Valid() || (k != DayOff && k != WorkingDay) {
				t.Fatalf("parsed invalid entry %v %v", d, k)
			}
		}
		if _, err := New(Config{Holidays: []Holidays{h}}); err != nil {
			t.Fatalf("New with parsed holidays: %v", err)
		}
	})
}
