package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "True": true, "TRUE": true, "1": true, "yes": true, "y": true, "on": true, "t": true,
		"false": false, "False": false, "0": false, "no": false, "n": false, "off": false, "f": false} {
		got, err := parseBool(in)
		if err != nil || got != want {
			t.Errorf("parseBool(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2", "yess", "enabled"} {
		if _, err := parseBool(in); err == nil {
			t.Errorf("parseBool(%q) = nil error, want one", in)
		}
	}
}

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		in   string
		bare time.Duration
		want time.Duration
		bad  bool
	}{
		{in: "1w", want: 7 * day},
		{in: "7d", want: 7 * day},
		{in: "2h", want: 2 * time.Hour},
		{in: "30m", want: 30 * time.Minute},
		{in: "2w 3d 1h 20m", want: 17*day + time.Hour + 20*time.Minute},
		{in: "1mo", want: 30 * day},
		{in: "1y", want: 365 * day},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "1.5h", want: 90 * time.Minute},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "168h", want: 7 * day},
		{in: "0", want: 0},
		{in: "10", bare: time.Second, want: 10 * time.Second},
		{in: "0.5", bare: time.Second, want: 500 * time.Millisecond},
		{in: "30", bare: time.Minute, want: 30 * time.Minute},
		{in: "10s", bare: time.Second, want: 10 * time.Second},
		{in: "1h", bare: time.Minute, want: time.Hour},
		{in: "10", bad: true}, // the old human form needed a unit
		{in: "-1", bare: time.Second, bad: true},
		{in: "1x", bad: true},
		{in: "h", bad: true},
		{in: "1w junk", bad: true},
		{in: "1.2.3h", bad: true},
		{in: "1000y", bad: true},
		{in: "abc", bare: time.Second, bad: true},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in, tt.bare)
		if tt.bad {
			if err == nil {
				t.Errorf("parseDuration(%q, %v) = %v, want an error", tt.in, tt.bare, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseDuration(%q, %v) = %v, %v; want %v", tt.in, tt.bare, got, err, tt.want)
		}
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "a,b,c", want: []string{"a", "b", "c"}},
		{in: " a , b ,, c, ", want: []string{"a", "b", "c"}},
		{in: `["project:internal",]`, want: []string{"project:internal"}},
		{in: `["project:internal", "env:prod"]`, want: []string{"project:internal", "env:prod"}},
		{in: `['a', 'b']`, want: []string{"a", "b"}},
		{in: `[0,1,2,3,4]`, want: []string{"0", "1", "2", "3", "4"}},
		{in: `["a,b", "c\"d"]`, want: []string{"a,b", `c"d`}},
		{in: `[]`, want: []string{}},
		{in: ``, want: []string{}},
		{in: `[a, b`, bad: true},
		{in: `["a`, bad: true},
		{in: `["a" b]`, bad: true},
	}
	for _, tt := range tests {
		got, err := parseList(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("parseList(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseList(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseWorkdays(t *testing.T) {
	got, err := parseWorkdays("[0,1,2,3,4]")
	want := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseWorkdays([0..4]) = %v, %v; want %v", got, err, want)
	}
	got, err = parseWorkdays("5,6,6")
	if want := []time.Weekday{time.Saturday, time.Sunday}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseWorkdays(5,6,6) = %v, %v; want %v", got, err, want)
	}
	_, err = parseWorkdays("[0,7,x]")
	if n := len(Problems(err)); n != 2 {
		t.Errorf("parseWorkdays([0,7,x]) problems = %d (%v), want 2", n, err)
	}
}

func TestParseTimeOfDay(t *testing.T) {
	tests := map[string]time.Duration{
		"09:00:00": 9 * time.Hour, "9:00": 9 * time.Hour, "22:00": 22 * time.Hour, "09:30:15": 9*time.Hour + 30*time.Minute + 15*time.Second,
		"24:00:00": 24 * time.Hour, "00:00": 0, "08:00:00.5": 8*time.Hour + 500*time.Millisecond,
	}
	for in, want := range tests {
		if got, err := parseTimeOfDay(in); err != nil || got != want {
			t.Errorf("parseTimeOfDay(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"25:00", "9", "09:60", "09:5", "24:00:01", "ab:cd", "09:00:00:00", "-1:00", "09:00:-1", "32400"} {
		if got, err := parseTimeOfDay(in); err == nil {
			t.Errorf("parseTimeOfDay(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseStatusTypes(t *testing.T) {
	got, err := parseStatusTypes("readyForRelease:paused, needInfo:PAUSED,testing:inprogress,odd:weird")
	want := map[string]string{"readyForRelease": "paused", "needInfo": "paused", "testing": "inProgress", "odd": "weird"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseStatusTypes = %v, %v; want %v", got, err, want)
	}
	_, err = parseStatusTypes("a:paused,a:done,b,:x")
	if n := len(Problems(err)); n != 3 {
		t.Errorf("parseStatusTypes problems = %d (%v), want 3", n, err)
	}
}

func TestParseCustomFields(t *testing.T) {
	got, err := parseCustomFields("storyPoints:sp:float64, 6063181a59590573909db929--team:team:String,tags2:t2:array(string),plain:plain_col:string")
	want := []CustomField{
		{Source: "storyPoints", Column: "sp", Type: "Float64"},
		{Source: "6063181a59590573909db929--team", Column: "team", Type: "String"},
		{Source: "tags2", Column: "t2", Type: "Array(String)"},
		{Source: "plain", Column: "plain_col", Type: "String"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseCustomFields = %+v, %v; want %+v", got, err, want)
	}
	// A spec without its type is refused at start, not left to fail in
	// the database.
	_, err = parseCustomFields("justone,a::String,team:team")
	if n := len(Problems(err)); n != 3 || !strings.Contains(err.Error(), `"team:team": the column type is missing`) {
		t.Errorf("parseCustomFields problems = %d (%v), want 3 naming team:team", n, err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"1048576": 1 << 20, "16MiB": 16 << 20, "512KiB": 512 << 10, "1GB": 1e9, "2 mib": 2 << 20, "8M": 8 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "1TiB", "99999999GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): want an error", in)
		}
	}
}

func TestStrftimeLayout(t *testing.T) {
	ok := map[string]string{
		"%Y-%m-%d %H:%M:%S":      "2006-01-02 15:04:05",
		"%Y-%m-%dT%H:%M:%S.%f%z": "2006-01-02T15:04:05.000000-0700",
		"%Y-%m-%dT%H:%M:%S.%f":   "2006-01-02T15:04:05.000000",
		"%Y-%m-%d":               "2006-01-02",
		"%d.%m.%Y %H:%M":         "02.01.2006 15:04",
		"%d %b %Y, %I:%M %p":     "02 Jan 2006, 03:04 PM",
		"%Y/%j":                  "2006/002",
		"%Y-%m-%d %%":            "2006-01-02 %",
	}
	for py, want := range ok {
		got, err := StrftimeLayout(py)
		if err != nil || got != want {
			t.Errorf("StrftimeLayout(%q) = %q, %v; want %q", py, got, err, want)
		}
	}
	// The query format writes what Tracker reads.
	layout, _ := StrftimeLayout("%Y-%m-%d %H:%M:%S")
	ts := time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)
	if got := ts.Format(layout); got != "2024-03-05 07:08:09" {
		t.Errorf("formatted = %q, want 2024-03-05 07:08:09", got)
	}
	bad := map[string]string{
		"%H:%M":              "full date",
		"%Y-%m-%d %U":        "not supported",
		"%Y-%m-%d%":          "lone",
		"%Y-%m-%d %H%f":      "must follow",
		"%Y-%m-%d 2024":      "digits",
		"%Y-%m-%d Monday":    "layout element",
		"%Y-%m-%d %H:%M MST": "layout element",
	}
	for py, want := range bad {
		_, err := StrftimeLayout(py)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("StrftimeLayout(%q) error = %v, want one containing %q", py, err, want)
		}
	}
}
