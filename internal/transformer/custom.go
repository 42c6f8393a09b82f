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
	text := ""
	if !absent {
		text = users.value(v)
	}
	switch typ {
	case "String":
		return text, true
	case "Int64":
		if absent {
			return int64(0), true
		}
		n, err := strconv.ParseFloat(text, 64)
		return int64(n), err == nil
	case "UInt64":
		if absent {
			return uint64(0), true
		}
		n, err := strconv.ParseFloat(text, 64)
		if err != nil || n < 0 {
			return uint64(0), false
		}
		return uint64(n), true
	case "Float64":
		if absent {
			return float64(0), true
		}
		n, err := strconv.ParseFloat(text, 64)
		return n, err == nil
	case "Date", "DateTime":
		if absent {
			return time.Time{}, true
		}
		t, err := tracker.ParseTime(text)
		if err != nil {
			return time.Time{}, false
		}
		if typ == "Date" {
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		}
		return t, true
	case "Array(String)":
		if absent {
			return []string{}, true
		}
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
	return nil, false
}
