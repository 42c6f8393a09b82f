package transformer

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
)

// CustomField maps a Tracker issue field (a global key such as
// "storyPoints" or a local "<hex>--key") to a typed issues column.
type CustomField struct {
	Source, Column string
	// Type is String, Int64, UInt64, Float64, Date, DateTime or Array(String).
	Type string
}

// customValues extracts and converts the configured fields of one issue.
// A value that does not convert is stored as the type's zero value and
// counted in bad.
func customValues(raw []byte, fields []CustomField, users *userRenderer) (vals map[string]any, bad int) {
	if len(fields) == 0 {
		return nil, 0
	}
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(raw, &obj)
	vals = make(map[string]any, len(fields))
	for _, f := range fields {
		v, ok := convert(obj[f.Source], f.Type, users)
		if !ok {
			bad++
		}
		vals[f.Column] = v
	}
	return vals, bad
}

// convert turns a JSON value into the column type. Absent or null gives
// the zero value and ok.
func convert(v json.RawMessage, typ string, users *userRenderer) (any, bool) {
	v = bytes.TrimSpace(v)
	absent := len(v) == 0 || string(v) == "null"
	conv, known := converters[typ]
	if !known {
		return nil, false
	}
	if absent {
		return conv.zero, true
	}
	return conv.from(v, users.value(v), users)
}

// converter turns a present JSON value (and its text as the changelog
// renders it) into one column type.
type converter struct {
	zero any
	from func(v json.RawMessage, text string, users *userRenderer) (any, bool)
}

var converters = map[string]converter{
	"String": {"", func(_ json.RawMessage, text string, _ *userRenderer) (any, bool) { return text, true }},
	"Int64": {int64(0), func(_ json.RawMessage, text string, _ *userRenderer) (any, bool) {
		n, err := strconv.ParseFloat(text, 64)
		return int64(n), err == nil
	}},
	"UInt64": {uint64(0), func(_ json.RawMessage, text string, _ *userRenderer) (any, bool) {
		n, err := strconv.ParseFloat(text, 64)
		if err != nil || n < 0 {
			return uint64(0), false
		}
		return uint64(n), true
	}},
	"Float64": {float64(0), func(_ json.RawMessage, text string, _ *userRenderer) (any, bool) {
		n, err := strconv.ParseFloat(text, 64)
		return n, err == nil
	}},
	"Date":          {time.Time{}, func(_ json.RawMessage, text string, _ *userRenderer) (any, bool) { return parseTime(text, true) }},
	"DateTime":      {time.Time{}, func(_ json.RawMessage, text string, _ *userRenderer) (any, bool) { return parseTime(text, false) }},
	"Array(String)": {[]string{}, stringArray},
}

// parseTime reads a Tracker datetime or date; a Date keeps the day only.
func parseTime(text string, day bool) (any, bool) {
	t, err := tracker.ParseTime(text)
	if err != nil {
		return time.Time{}, false
	}
	if day {
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return t, true
}

// stringArray renders each item of a JSON array (a single value is an
// array of one).
func stringArray(v json.RawMessage, text string, users *userRenderer) (any, bool) {
	if v[0] == '[' {
		var items []json.RawMessage
		if json.Unmarshal(v, &items) == nil {
			out := make([]string, len(items))
			for i, it := range items {
				out[i] = users.value(it)
			}
			return out, true
		}
	}
	return []string{text}, true
}
