package wire

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// TestRowsDecoding checks that the fast decoder reads what Marshal writes,
// as the reflective decoder does, on random rows reaching every form.
func TestRowsDecoding(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	f := filler{rand.New(rand.NewPCG(7, 8))}
	for i := range n {
		body, enc, plain := randomBody[IssueRows](t, f, i)
		var fast IssueRows
		if !decodeRows(plain, &fast) {
			t.Fatalf("rows %d: the fast path failed on %d bytes", i, len(plain))
		}
		compareRows(t, plain, &fast)
		var got IssueRows
		if err := Unmarshal(body, enc, &got); err != nil || !sameRows(&got, &fast) {
			t.Fatalf("rows %d: Unmarshal differs from the fast path (%v): %s", i, err, rowsDiff(&got, &fast))
		}
	}
}

// TestUnmarshalView checks that UnmarshalView decodes as Unmarshal does,
// and that the strings of rows from an uncompressed body point into the
// body itself (Unmarshal's into a copy of it).
func TestUnmarshalView(t *testing.T) {
	f := filler{rand.New(rand.NewPCG(9, 10))}
	inside := func(s string, body []byte) bool { return within(unsafe.Slice(unsafe.StringData(s), len(s)), body) }
	plainSeen := 0
	for i := range 300 {
		body, enc, _ := randomBody[IssueRows](t, f, i)
		var want, got IssueRows
		if err := Unmarshal(body, enc, &want); err != nil {
			t.Fatal(err)
		}
		if err := UnmarshalView(body, enc, &got); err != nil || !sameRows(&got, &want) {
			t.Fatalf("rows %d: UnmarshalView differs from Unmarshal (%v): %s", i, err, rowsDiff(&got, &want))
		}
		if enc != "" || got.IssueKey == "" {
			continue
		}
		plainSeen++
		if !inside(got.IssueKey, body) {
			t.Fatalf("rows %d: UnmarshalView's issue key is not in the body", i)
		}
		if inside(want.IssueKey, body) {
			t.Fatalf("rows %d: Unmarshal's issue key points into the body, which it must not keep", i)
		}
	}
	if plainSeen == 0 {
		t.Fatal("no uncompressed body with an issue key: the test proves nothing")
	}
}

// TestRowsFromReflectiveEncoder checks the fast decoder on rows written
// by msgpack's reflective encoder, as an older transformer did (the
// default options: the bytes of Marshal) and with compact integers and
// floats (other widths, float32): whatever it accepts, it reads as the
// reflective decoder does.
func TestRowsFromReflectiveEncoder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		compact bool
	}{{"default", false}, {"compact", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := filler{rand.New(rand.NewPCG(9, 10))}
			const n = 1000
			accepted := 0
			for range n {
				var rows IssueRows
				f.fill(reflect.ValueOf(&rows).Elem())
				b := encodeReflective(t, &rows, tc.compact)
				var fast IssueRows
				if decodeRows(b, &fast) {
					accepted++
					compareRows(t, b, &fast)
				}
			}
			t.Logf("the fast path read %d of %d bodies", accepted, n)
			if !tc.compact && accepted != n {
				t.Errorf("the fast path read %d of %d bodies of the default encoder, want all", accepted, n)
			}
		})
	}
}

// encodeReflective encodes rows with msgpack's reflective encoder.
func encodeReflective(t testing.TB, rows *IssueRows, compact bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	e.UseCompactInts(compact)
	e.UseCompactFloats(compact)
	if err := e.Encode(rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRowsFastPathFallsBack checks forms the fast decoder leaves to the
// reflective one, through Unmarshal.
func TestRowsFastPathFallsBack(t *testing.T) {
	base := benchRows(2, 2, 3)
	base.Issue.Custom = map[string]any{"points": int8(5)} // an int8: no form the transformer writes
	good, _, err := Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	if good[0] != 0x89 {
		t.Fatalf("rows start with %x, want a map of 9 fields", good[0])
	}
	unknown := append([]byte{0x8a}, good[1:]...) // a tenth field, extra: 1
	unknown = append(unknown, "\xa5extra\x01"...)
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"int8 custom value", good},
		{"unknown field", unknown},
	} {
		var fast IssueRows
		if decodeRows(tc.body, &fast) {
			t.Errorf("%s: the fast path accepted it", tc.name)
		}
		var got, want IssueRows
		if err := Unmarshal(tc.body, "", &got); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := msgpack.Unmarshal(tc.body, &want); err != nil {
			t.Fatal(err)
		}
		if !sameRows(&got, &want) {
			t.Errorf("%s: Unmarshal differs from msgpack.Unmarshal: %s", tc.name, rowsDiff(&got, &want))
		}
	}
}

// compareRows fails unless the reflective decoder reads b as fast.
func compareRows(t *testing.T, b []byte, fast *IssueRows) {
	t.Helper()
	var slow IssueRows
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return msgpack.Unmarshal(b, &slow)
	}()
	if err != nil {
		t.Fatalf("fast path read %x; the reflective decoder: %v", b, err)
	}
	if !sameRows(fast, &slow) {
		t.Fatalf("%x: fast path and the reflective decoder differ: %s", b, rowsDiff(fast, &slow))
	}
}

// sameRows is reflect.DeepEqual but for the floats, equal when their
// bits are (a NaN is not equal to itself).
func sameRows(a, b *IssueRows) bool {
	x, y := *a, *b
	if math.Float64bits(x.Issue.StoryPoints) != math.Float64bits(y.Issue.StoryPoints) ||
		!sameFloatPtr(x.Issue.FlowEfficiency, y.Issue.FlowEfficiency) || !sameCustom(x.Issue.Custom, y.Issue.Custom) {
		return false
	}
	x.Issue.StoryPoints, y.Issue.StoryPoints = 0, 0
	x.Issue.FlowEfficiency, y.Issue.FlowEfficiency = nil, nil
	x.Issue.Custom, y.Issue.Custom = nil, nil
	return reflect.DeepEqual(x, y)
}

func sameFloatPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Float64bits(*a) == math.Float64bits(*b)
}

func sameCustom(a, b map[string]any) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		fa, aFloat := va.(float64)
		fb, bFloat := vb.(float64)
		if !ok || aFloat != bFloat || aFloat && math.Float64bits(fa) != math.Float64bits(fb) ||
			!aFloat && !reflect.DeepEqual(va, vb) {
			return false
		}
	}
	return true
}

// rowsDiff names the first field where a and b differ.
func rowsDiff(a, b *IssueRows) string {
	return valueDiff("rows", reflect.ValueOf(*a), reflect.ValueOf(*b))
}

func valueDiff(path string, a, b reflect.Value) string {
	if reflect.DeepEqual(a.Interface(), b.Interface()) {
		return ""
	}
	switch a.Kind() {
	case reflect.Struct:
		if a.Type() == reflect.TypeFor[time.Time]() {
			break
		}
		for i := range a.NumField() {
			if d := valueDiff(path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i)); d != "" {
				return d
			}
		}
	case reflect.Slice:
		if a.IsNil() == b.IsNil() && a.Len() == b.Len() {
			for i := range a.Len() {
				if d := valueDiff(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i)); d != "" {
					return d
				}
			}
		}
	}
	return fmt.Sprintf("%s: %#v and %#v", path, a.Interface(), b.Interface())
}

// FuzzRowsFastPath checks that whatever the fast decoder accepts, the
// reflective decoder reads the same way.
func FuzzRowsFastPath(f *testing.F) {
	small := benchRows(1, 1, 2)
	small.Issue.Raw = `{"key":"DEV-1"}`
	small.Issue.Custom = map[string]any{"story": int64(3)}
	small.Statuses = []Status{{Key: "open", Name: "Open", Type: "new"}}
	small.Comments = []CommentRow{{CommentID: "1", Text: "ok", CreatedAt: time.Unix(1700000000, 5)}}
	small.Worklogs = []WorklogRow{{WorklogID: "2", Seconds: 3600}}
	small.Links = []LinkRow{{LinkID: "3", Direction: "outward"}}
	small.Sprints = []IssueSprintRow{{SprintID: "4", Current: true}}
	small.Parts = PartComments | PartLinks
	for _, custom := range []any{"text", uint64(1) << 63, 2.5, time.Unix(1700000000, 0), []string{"a", "b"}, nil} {
		small.Issue.Custom["more"] = custom
		b, _, err := Marshal(small)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		small.Issue.Custom = map[string]any{"story": int64(3)}
	}
	f.Add(encodeReflective(f, small, true))
	zero, _, _ := Marshal(&IssueRows{})
	f.Add(zero)
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast IssueRows
		if decodeRows(b, &fast) {
			compareRows(t, b, &fast)
		}
	})
}

// benchRows is a realistic message: an issue with metrics statuses,
// intervals visits and changelog rows.
func benchRows(metrics, intervals, changelog int) *IssueRows {
	at := time.Date(2025, 8, 28, 8, 26, 42, 907000000, time.UTC)
	lead, flow := int64(86400), 0.42
	issue := IssueRow{IssueID: "68b012c200000031415378cf", IssueKey: "DEV-50", Queue: "DEV",
		Title: "Button release in queue search page", IssueType: "task", Priority: "normal", Status: "In progress",
		StatusKey: "inProgress", StatusType: "inProgress", Assignee: "natalia.popova4@example.ru",
		Author: "sergey.petrov8@example.ru", Tags: []string{"flaky", "needs-design"}, Components: []string{"Backend"},
		Project: "tracker exporter", CreatedAt: at, UpdatedAt: at.Add(20 * time.Hour), StoryPoints: 2.5,
		Sprints: []string{"Sprint 2025-01"}, Aliases: []string{}, StartedAt: at.Add(time.Hour), LeadTime: &lead,
		FlowEfficiency: &flow, ActiveTime: 19336, PausedTime: 1997, ReopenCount: 1, CurrentStatusSince: at.Add(19 * time.Hour),
		Raw: `{"self":"https://api.tracker.yandex.net/v2/issues/DEV-50","description":"` + strings.Repeat("текст задачи ", 250) + `"}`}
	rows := &IssueRows{IssueID: issue.IssueID, IssueKey: issue.IssueKey, SourceVersion: 1756441722907,
		TransformedAt: at.Add(48 * time.Hour), Generation: "3f2a9c", Issue: issue}
	for i := range metrics {
		rows.Metrics = append(rows.Metrics, MetricRow{IssueID: issue.IssueID, IssueKey: issue.IssueKey,
			StatusName: fmt.Sprintf("Status %d", i), StatusKey: fmt.Sprintf("status%d", i), StatusType: "inProgress",
			StatusTransitionsCount: 2, Duration: 37055570, HumanReadableDuration: "1y 2mo", BusdaysDuration: 13856441,
			HumanReadableBusdaysDuration: "5mo 1w", LastSeen: at.Add(time.Duration(i) * time.Hour), IsCurrent: i == 0})
	}
	for i := range intervals {
		rows.Intervals = append(rows.Intervals, IntervalRow{IssueID: issue.IssueID, IssueKey: issue.IssueKey, Queue: "DEV",
			StatusName: fmt.Sprintf("Status %d", i%4), StatusKey: fmt.Sprintf("status%d", i%4), StatusType: "new",
			VisitNumber: uint32(i/4 + 1), EnteredAt: at.Add(time.Duration(i) * time.Hour),
			LeftAt: at.Add(time.Duration(i+1) * time.Hour), Duration: 3641, BusdaysDuration: 3641})
	}
	for i := range changelog {
		rows.Changelog = append(rows.Changelog, ChangelogRow{IssueID: issue.IssueID, IssueKey: issue.IssueKey, Queue: "DEV",
			EntryID: fmt.Sprintf("68b01d02000000310001%04x", i), FieldIndex: uint16(i % 3),
			EventTime: at.Add(time.Duration(i) * time.Minute), EventType: "IssueUpdated", Transport: "front",
			Actor: "pavel.sokolov41@example.ru", ChangedField: "followers", FieldDisplay: "Followers",
			ChangedFrom: `["ivan.smirnov42@example.ru","olga.sokolova49@example.ru"]`,
			ChangedTo:   `["ivan.smirnov42@example.ru","olga.sokolova49@example.ru","artem.volkov30@example.ru"]`})
	}
	return rows
}

// BenchmarkUnmarshalRows decodes a realistic rows message (10 metrics,
// 10 intervals, 25 changelog rows, a 3.4 KB issue JSON; compressed)
// with the fast path and with the reflective decoder, both on the plain
// body and through Unmarshal (which decompresses).
func BenchmarkUnmarshalRows(b *testing.B) {
	rows := benchRows(10, 10, 25)
	rows.Statuses = []Status{{Key: "open", Name: "Open", Type: "new"}, {Key: "inProgress", Name: "In progress", Type: "inProgress"}}
	rows.Issue.Custom = map[string]any{"story": int64(3), "team": "core"}
	body, enc, err := Marshal(rows)
	if err != nil {
		b.Fatal(err)
	}
	plain := body
	if enc == "zstd" {
		plain, _ = decoder.DecodeAll(body, nil)
	}
	b.Logf("%d bytes, %d plain", len(body), len(plain))
	for _, bc := range []struct {
		name   string
		decode func(*IssueRows) error
	}{
		{"plain/fast", func(r *IssueRows) error {
			if !decodeRows(plain, r) {
				return fmt.Errorf("fast path failed")
			}
			return nil
		}},
		{"plain/reflective", func(r *IssueRows) error { return msgpack.Unmarshal(plain, r) }},
		{"Unmarshal/fast", func(r *IssueRows) error { return Unmarshal(body, enc, r) }},
		{"Unmarshal/reflective", func(r *IssueRows) error {
			p, err := decoder.DecodeAll(body, nil) // what Unmarshal did before the fast path
			if err != nil {
				return err
			}
			return msgpack.Unmarshal(p, r)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				var r IssueRows
				if err := bc.decode(&r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFieldTables checks that each table of the fast decoders has the
// keys of its struct's fields, in order.
func TestFieldTables(t *testing.T) {
	for _, tc := range []struct {
		typ  reflect.Type
		keys []string
	}{
		{reflect.TypeFor[IssueSnapshot](), keysOf(snapshotFields)},
		{reflect.TypeFor[User](), keysOf(userFields)},
		{reflect.TypeFor[Status](), keysOf(statusFields)},
		{reflect.TypeFor[IssueRows](), keysOf(rowsFields)},
		{reflect.TypeFor[IssueRow](), keysOf(issueFields)},
		{reflect.TypeFor[MetricRow](), keysOf(metricRowFields)},
		{reflect.TypeFor[IntervalRow](), keysOf(intervalRowFields)},
		{reflect.TypeFor[ChangelogRow](), keysOf(changelogRowFields)},
		{reflect.TypeFor[CommentRow](), keysOf(commentRowFields)},
		{reflect.TypeFor[WorklogRow](), keysOf(worklogRowFields)},
		{reflect.TypeFor[LinkRow](), keysOf(linkRowFields)},
		{reflect.TypeFor[IssueSprintRow](), keysOf(issueSprintRowFields)},
	} {
		var want []string
		for i := range tc.typ.NumField() {
			want = append(want, strings.Split(tc.typ.Field(i).Tag.Get("msgpack"), ",")[0])
		}
		if !reflect.DeepEqual(tc.keys, want) || len(want) > 64 {
			t.Errorf("%s: the table has keys %q, want %q (64 at most)", tc.typ, tc.keys, want)
		}
	}
}

func keysOf[T any](fields []field[T]) []string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return keys
}

// TestRowsOtherForms checks the fast decoder on forms other than those
// Marshal writes that the reflective decoder reads too: other integer
// widths, float32, nil for a number, a boolean or a string, binaries for
// strings, and the fields in any order (the maps below are encoded in
// Go's random order).
func TestRowsOtherForms(t *testing.T) {
	base, _, err := Marshal(benchRows(2, 2, 2))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		issue bool // the key is the issue row's
		key   string
		value any
	}{
		{"uint16 version", false, "source_version", uint16(7)},
		{"negative int8 version", false, "source_version", int8(-1)},
		{"nil version", false, "source_version", nil},
		{"parts above uint8", false, "parts", uint64(300)},
		{"nil metrics", false, "metrics", nil},
		{"no metrics", false, "metrics", []any{}},
		{"binary generation", false, "generation", []byte("gen")},
		{"nil generation", false, "generation", nil},
		{"float32 points", true, "story_points", float32(1.5)},
		{"integer points", true, "story_points", int32(-3)},
		{"nil points", true, "story_points", nil},
		{"int8 lead time", true, "lead_time", int8(5)},
		{"nil lead time", true, "lead_time", nil},
		{"float32 efficiency", true, "flow_efficiency", float32(0.25)},
		{"integer efficiency", true, "flow_efficiency", uint8(1)},
		{"nil flag", true, "is_closed", nil},
		{"nil tags", true, "tags", nil},
		{"no tags", true, "tags", []string{}},
		{"binary and nil tags", true, "tags", []any{[]byte("a"), nil}},
		{"int32 count", true, "reopen_count", int32(-2)},
		{"nil custom", true, "custom", nil},
		{"no custom", true, "custom", map[string]any{}},
		{"custom of each type", true, "custom", map[string]any{"s": "x", "i": int64(-5), "u": uint64(5), "f": 0.5,
			"t": time.Unix(1700000000, 1), "z": time.Time{}, "l": []string{"a"}, "e": []string{}, "n": nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := msgpack.Unmarshal(base, &m); err != nil {
				t.Fatal(err)
			}
			if tc.issue {
				m["issue"].(map[string]any)[tc.key] = tc.value
			} else {
				m[tc.key] = tc.value
			}
			b, err := msgpack.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var fast IssueRows
			if !decodeRows(b, &fast) {
				t.Fatalf("the fast path failed on %s: %#v", tc.key, tc.value)
			}
			compareRows(t, b, &fast)
		})
	}
}

// FuzzUnmarshalRows checks that Unmarshal never panics nor crashes on
// rows, the fast path or the reflective one.
func FuzzUnmarshalRows(f *testing.F) {
	small := benchRows(1, 1, 1)
	small.Issue.Raw = "{}"
	small.Issue.Custom = map[string]any{"story": int8(3)} // read by the reflective decoder
	for _, rows := range []*IssueRows{small, {IssueID: "1"}} {
		b, _, err := Marshal(rows)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	f.Add(encodeReflective(f, small, true), false)
	f.Fuzz(func(t *testing.T, b []byte, z bool) {
		enc := ""
		if z {
			enc = "zstd"
		}
		var r IssueRows
		_ = Unmarshal(b, enc, &r)
	})
}
