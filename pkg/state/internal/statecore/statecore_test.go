package statecore

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

func TestDecodeValue(t *testing.T) {
	utc := time.UTC
	yekt := mustZone(t, "Asia/Yekaterinburg")
	const dayFirst = "02.01.2006 15:04:05" // %d.%m.%Y %H:%M:%S
	tests := []struct {
		name    string
		raw     string
		legacy  Legacy
		want    State
		wantOK  bool
		corrupt bool
	}{
		{name: "old tool default format, default zone", raw: `"2024-03-05 14:07:33"`,
			want: State{Watermark: time.Date(2024, 3, 5, 11, 7, 33, 0, utc)}, wantOK: true},
		{name: "old tool format, UTC zone", raw: `"2024-03-05 14:07:33"`, legacy: Legacy{Location: utc},
			want: State{Watermark: time.Date(2024, 3, 5, 14, 7, 33, 0, utc)}, wantOK: true},
		{name: "old tool format, Yekaterinburg", raw: `"2024-03-05 14:07:33"`, legacy: Legacy{Location: yekt},
			want: State{Watermark: time.Date(2024, 3, 5, 9, 7, 33, 0, utc)}, wantOK: true},
		{name: "bare string as the old tool left it in Redis", raw: `2024-03-05 14:07:33`,
			want: State{Watermark: time.Date(2024, 3, 5, 11, 7, 33, 0, utc)}, wantOK: true},
		{name: "old string with fraction", raw: `"2024-03-05 14:07:33.250"`,
			want: State{Watermark: time.Date(2024, 3, 5, 11, 7, 33, 250000000, utc)}, wantOK: true},
		{name: "old string with T and offset ignores the zone", raw: `"2024-03-05T14:07:33+05:00"`,
			want: State{Watermark: time.Date(2024, 3, 5, 9, 7, 33, 0, utc)}, wantOK: true},
		{name: "old string, offset without colon", raw: `"2024-03-05T14:07:33.123+0300"`,
			want: State{Watermark: time.Date(2024, 3, 5, 11, 7, 33, 123000000, utc)}, wantOK: true},
		{name: "old string, date only", raw: `"2024-03-05"`, legacy: Legacy{Location: utc},
			want: State{Watermark: time.Date(2024, 3, 5, 0, 0, 0, 0, utc)}, wantOK: true},
		// The old tool wrote the watermark with EXPORTER_DATETIME_QUERY_FORMAT.
		{name: "custom query format", raw: `"30.01.2024 10:00:00"`, legacy: Legacy{Layout: dayFirst},
			want: State{Watermark: time.Date(2024, 1, 30, 7, 0, 0, 0, utc)}, wantOK: true},
		{name: "custom query format, UTC zone", raw: `"30.01.2024 10:00:00"`, legacy: Legacy{Location: utc, Layout: dayFirst},
			want: State{Watermark: time.Date(2024, 1, 30, 10, 0, 0, 0, utc)}, wantOK: true},
		{name: "custom query format, bare string in Redis", raw: `30.01.2024 10:00:00`, legacy: Legacy{Layout: dayFirst},
			want: State{Watermark: time.Date(2024, 1, 30, 7, 0, 0, 0, utc)}, wantOK: true},
		{name: "custom query format still reads the fixed layouts", raw: `"2024-01-30 10:00:00"`, legacy: Legacy{Layout: dayFirst},
			want: State{Watermark: time.Date(2024, 1, 30, 7, 0, 0, 0, utc)}, wantOK: true},
		{name: "custom query format comes first", raw: `"2024-05-03 10:00:00"`, legacy: Legacy{Layout: "2006-02-01 15:04:05"},
			want: State{Watermark: time.Date(2024, 3, 5, 7, 0, 0, 0, utc)}, wantOK: true},
		{name: "day-first without its format", raw: `"30.01.2024 10:00:00"`, corrupt: true},
		{name: "new object", raw: `{"version":1,"watermark":"2024-03-05T11:07:33.123456789Z","updated_at":"2024-03-05T11:08:00+03:00","failed_keys":["A-1"],"run_id":"r1"}`,
			want: State{
				Watermark:  time.Date(2024, 3, 5, 11, 7, 33, 123456789, utc),
				UpdatedAt:  time.Date(2024, 3, 5, 8, 8, 0, 0, utc),
				FailedKeys: []string{"A-1"},
				RunID:      "r1",
			}, wantOK: true},
		{name: "new object with unknown fields from a later minor change", raw: `{"version":1,"watermark":"2024-03-05T11:07:33Z","extra":{"a":1}}`,
			want: State{Watermark: time.Date(2024, 3, 5, 11, 7, 33, 0, utc)}, wantOK: true},
		{name: "null means no state", raw: `null`, wantOK: false},
		{name: "empty", raw: ``, corrupt: true},
		{name: "spaces", raw: "  \n", corrupt: true},
		{name: "number", raw: `1709636853`, corrupt: true},
		{name: "array", raw: `["2024-03-05 14:07:33"]`, corrupt: true},
		{name: "boolean", raw: `true`, corrupt: true},
		{name: "string that is no time", raw: `"yesterday"`, corrupt: true},
		{name: "bare garbage", raw: `{not json`, corrupt: true},
		{name: "object without watermark", raw: `{"version":1}`, corrupt: true},
		{name: "object without version", raw: `{"watermark":"2024-03-05T11:07:33Z"}`, corrupt: true},
		{name: "object from a newer version", raw: `{"version":2,"watermark":"2024-03-05T11:07:33Z"}`, corrupt: true},
		{name: "object with a bad watermark", raw: `{"version":1,"watermark":"2024-03-05 11:07:33"}`, corrupt: true},
		{name: "object with a bad updated_at", raw: `{"version":1,"watermark":"2024-03-05T11:07:33Z","updated_at":"soon"}`, corrupt: true},
		{name: "object with wrong field types", raw: `{"version":1,"watermark":"2024-03-05T11:07:33Z","failed_keys":"A-1"}`, corrupt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := DecodeValue([]byte(tt.raw), tt.legacy)
			if tt.corrupt {
				if !errors.Is(err, ErrCorrupt) || ok {
					t.Fatalf("DecodeValue(%q) = %+v, ok=%v, err=%v; want ErrCorrupt", tt.raw, got, ok, err)
				}
				return
			}
			if err != nil || ok != tt.wantOK {
				t.Fatalf("DecodeValue(%q): ok=%v, err=%v; want ok=%v, no error", tt.raw, ok, err, tt.wantOK)
			}
			if !got.Watermark.Equal(tt.want.Watermark) || got.Watermark.Location() != time.UTC ||
				!got.UpdatedAt.Equal(tt.want.UpdatedAt) || got.UpdatedAt.Location() != time.UTC ||
				!slices.Equal(got.FailedKeys, tt.want.FailedKeys) || got.RunID != tt.want.RunID {
				t.Fatalf("DecodeValue(%q) = %+v, want %+v (times in UTC)", tt.raw, got, tt.want)
			}
		})
	}
}

func TestEncodeValueRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	tests := []struct {
		name string
		in   State
		want State
	}{
		{name: "zero UpdatedAt takes now",
			in:   State{Watermark: time.Date(2024, 1, 1, 0, 0, 0, 1, time.FixedZone("Y", -7200))},
			want: State{Watermark: time.Date(2024, 1, 1, 2, 0, 0, 1, time.UTC), UpdatedAt: now.UTC()}},
		{name: "everything kept, empty failed keys read as nil",
			in:   State{Watermark: time.Unix(1, 2), UpdatedAt: time.Unix(3, 4), FailedKeys: []string{}, RunID: "<&>"},
			want: State{Watermark: time.Unix(1, 2).UTC(), UpdatedAt: time.Unix(3, 4).UTC(), RunID: "<&>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := EncodeValue(tt.in, now)
			if err != nil {
				t.Fatalf("EncodeValue(%+v): %v", tt.in, err)
			}
			got, ok, err := DecodeValue(raw, Legacy{})
			if err != nil || !ok {
				t.Fatalf("DecodeValue(%s): ok=%v, err=%v", raw, ok, err)
			}
			if !got.Watermark.Equal(tt.want.Watermark) || !got.UpdatedAt.Equal(tt.want.UpdatedAt) ||
				got.FailedKeys != nil || got.RunID != tt.want.RunID {
				t.Fatalf("round trip of %+v via %s = %+v, want %+v", tt.in, raw, got, tt.want)
			}
		})
	}
}

func TestDecodeDocument(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		wantKeys []string
		corrupt  bool
	}{
		{name: "old tool file", data: "{\n  \"tracker_etl_default\": \"2024-03-05 14:07:33\"\n}", wantKeys: []string{"tracker_etl_default"}},
		{name: "empty object", data: `{}`},
		{name: "null", data: `null`},
		{name: "empty file", data: ``, corrupt: true},
		{name: "truncated", data: `{"tracker_etl_default": "2024-03`, corrupt: true},
		{name: "array", data: `[]`, corrupt: true},
		{name: "string", data: `"x"`, corrupt: true},
		{name: "trailing garbage", data: `{} {}`, corrupt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := DecodeDocument([]byte(tt.data))
			if tt.corrupt {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("DecodeDocument(%q) err=%v, want ErrCorrupt", tt.data, err)
				}
				return
			}
			if err != nil || doc == nil {
				t.Fatalf("DecodeDocument(%q) = %v, %v; want a document", tt.data, doc, err)
			}
			var keys []string
			for k := range doc {
				keys = append(keys, k)
			}
			if !slices.Equal(keys, tt.wantKeys) {
				t.Fatalf("DecodeDocument(%q) keys %q, want %q", tt.data, keys, tt.wantKeys)
			}
		})
	}
}

func TestEncodeDocumentIsSortedAndIndented(t *testing.T) {
	doc := map[string]json.RawMessage{
		"b":                   json.RawMessage(`{"version":1,"watermark":"2024-01-01T00:00:00Z"}`),
		"a <&>":               json.RawMessage(`"2024-03-05 14:07:33"`),
		"tracker_etl_default": json.RawMessage(`"x"`),
	}
	got, err := EncodeDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "a <&>": "2024-03-05 14:07:33",
  "b": {
    "version": 1,
    "watermark": "2024-01-01T00:00:00Z"
  },
  "tracker_etl_default": "x"
}
`
	if string(got) != want {
		t.Fatalf("EncodeDocument = %s\nwant %s", got, want)
	}
}

func TestLegacyLocation(t *testing.T) {
	if got := LegacyLocation(time.UTC); got != time.UTC {
		t.Errorf("LegacyLocation(UTC) = %v", got)
	}
	at := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	if _, off := at.In(LegacyLocation(nil)).Zone(); off != 3*3600 {
		t.Errorf("LegacyLocation(nil) offset in July 2024 = %d, want +3h (Moscow)", off)
	}
}

func TestParseLegacyTimeErrorNamesInput(t *testing.T) {
	_, err := ParseLegacyTime("05.03.2024 14:07", Legacy{})
	if err == nil || !strings.Contains(err.Error(), "05.03.2024 14:07") {
		t.Fatalf("ParseLegacyTime(day-first) err=%v, want an error quoting the input", err)
	}
	_, err = ParseLegacyTime("05.03.2024 14:07", Legacy{Layout: "02.01.2006 15:04:05"})
	if err == nil || !strings.Contains(err.Error(), "05.03.2024 14:07") || !strings.Contains(err.Error(), "02.01.2006 15:04:05") {
		t.Fatalf("ParseLegacyTime(day-first, no seconds) err=%v, want an error quoting the input and the layout", err)
	}
}

func FuzzDecodeValue(f *testing.F) {
	for _, s := range []string{`"2024-03-05 14:07:33"`, `2024-03-05`, `null`, `{"version":1,"watermark":"2024-03-05T11:07:33Z","failed_keys":["A"]}`, `{`, `[1]`, ``,
		`"30.01.24 10:00 AM"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// The fixed layouts alone, and a query format of the old tool
		// (%d.%m.%y %I:%M %p) before them.
		checkDecode(t, raw, Legacy{})
		checkDecode(t, raw, Legacy{Location: time.UTC, Layout: "02.01.06 03:04 PM"})
	})
}

// checkDecode checks DecodeValue's invariants on raw: errors wrap
// ErrCorrupt with ok=false, and whatever decodes survives a round trip.
func checkDecode(t *testing.T, raw []byte, legacy Legacy) {
	t.Helper()
	st, ok, err := DecodeValue(raw, legacy)
	if err != nil {
		if ok || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("DecodeValue(%q, %+v): ok=%v, err=%v; errors must wrap ErrCorrupt with ok=false", raw, legacy, ok, err)
		}
		return
	}
	if !ok {
		return
	}
	enc, err := EncodeValue(st, time.Unix(0, 0))
	if err != nil {
		t.Fatalf("EncodeValue(%+v): %v", st, err)
	}
	again, ok, err := DecodeValue(enc, legacy)
	if err != nil || !ok || !again.Watermark.Equal(st.Watermark) || again.RunID != st.RunID || !slices.Equal(again.FailedKeys, st.FailedKeys) {
		t.Fatalf("round trip of %q: %+v → %s → %+v, ok=%v, err=%v", raw, st, enc, again, ok, err)
	}
}

func FuzzDecodeDocument(f *testing.F) {
	for _, s := range []string{`{"tracker_etl_default":"2024-03-05 14:07:33"}`, `null`, `{}`, `{"a":{"version":1}}`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := DecodeDocument(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeDocument(%q) err=%v, want ErrCorrupt", data, err)
			}
			return
		}
		out, err := EncodeDocument(doc)
		if err != nil {
			t.Fatalf("EncodeDocument: %v", err)
		}
		again, err := DecodeDocument(out)
		if err != nil || len(again) != len(doc) {
			t.Fatalf("document %q re-encoded as %q reads back as %v, %v", data, out, again, err)
		}
	})
}

func TestEncodeValueRefusesUnwritableYears(t *testing.T) {
	tests := []State{
		{Watermark: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Watermark: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Watermark: time.Now(), UpdatedAt: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, in := range tests {
		if b, err := EncodeValue(in, time.Now()); err == nil {
			t.Errorf("EncodeValue(%+v) = %s, want an error", in, b)
		}
	}
}
