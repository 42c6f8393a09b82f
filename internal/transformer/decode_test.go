package transformer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// The decoders of decode.go and decode_issue.go must give what
// encoding/json and pkg/tracker give, for any input: these fuzz tests
// compare the cursor's path with the encoding/json path (which the
// decoders fall back to) on the golden snapshots and on mutations of them.

// goldenJSON is the raw JSON of the golden snapshots, by kind.
type goldenJSON struct {
	issues, entries, comments, worklogs, links [][]byte
}

// goldenParts returns the parts of every golden snapshot, as raw JSON.
func goldenParts(t testing.TB) goldenJSON {
	t.Helper()
	files, err := filepath.Glob("testdata/*/snapshot.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden snapshots: %v", err)
	}
	var out goldenJSON
	add := func(to *[][]byte, items []json.RawMessage) {
		for _, it := range items {
			*to = append(*to, it)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var g goldenSnapshot
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out.issues = append(out.issues, g.Issue)
		add(&out.entries, g.Changelog)
		add(&out.comments, g.Comments)
		add(&out.worklogs, g.Worklogs)
		add(&out.links, g.Links)
	}
	return out
}

// oddJSON are inputs that take the fallback or fail: duplicate and
// case-folded keys, escaped keys, type errors, null members.
var oddJSON = []string{
	`null`, `[]`, `{}`, `"x"`, `{"id":1,"id":2}`, `{"ID":"x"}`, `{"\u0069d":"x"}`, `{"ſelf":"x"}`,
	`{"id":true}`, `{"updatedAt":"2024-13-01T00:00:00.000+0000"}`, `{"updatedAt":"2024-02-29T23:59:59.999-0130"}`,
	`{"updatedAt":"2024-02-30T00:00:00.000+0000"}`, `{"updatedAt":"2024-03-04T07:00:00Z"}`, `{"updatedAt":""}`,
	`{"updatedBy":null,"fields":null}`, `{"updatedBy":"42","fields":[null]}`, `{"updatedBy":{"self":1}}`,
	`{"fields":[{"field":"status","from":[],"to":{"self":"/users/1","id":1}}]}`,
	`{"fields":[{"field":{"id":"status","display":{"en":"Status","ru":"Статус"}},"From":1}]}`,
	`{"fields":[{"field":{"id":"x","name":"y","key":"z"},"from":"\ud83d\ude00\ud800x","to":"a\u2028<b>&"}]}`,
	`{"comments":{"added":[{"id":"1"}],"removed":[{"id":"2"}]}}`, `{"id":1e400,"type":null} `,
	`{"key":"K-1","version":1.5}`, `{"key":"K-1","version":99999999999999999999}`, `{"storyPoints":1e999}`,
	`{"storyPoints":-0.5e-3,"tags":["a",null],"aliases":null,"components":[null,"7",{"id":7}]}`,
	`{"project":{"primary":{"id":"1","display":"P"},"secondary":[]}}`, `{"project":{"primary":null,"display":"P"}}`,
	`{"project":{"Primary":{"id":"1"}}}`, `{"project":"3"}`, `{"project":{"id":"2","display":"V2"}}`, `{"project":true}`,
	`{"spent":"PT1H","Spent":"x","estimation":null,"sp\u0065nt":"P1D"}`, `{"status":{"key":"open","key":"closed"}}`,
	`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`, `{"a":"\x00"}`, `{"a":"\xff\xfe"}`,
	`{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":[1,]}`, `{"a":{"b":1,}}`, `{,}`, `{"a" 1}`, `{"a":1} x`,
}

func FuzzDecodeEntry(f *testing.F) {
	for _, e := range goldenParts(f).entries {
		f.Add(e)
	}
	for _, s := range oddJSON {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantOK := slowEntry(b)
		var d entryDecoder
		if fast, ok := d.fast(b); ok && (!wantOK || !reflect.DeepEqual(withoutRefs(t, fast, d.refs), want)) {
			t.Fatalf("fast(%q)\n got %+v\nwant %+v (ok %v)", b, fast, want, wantOK)
		}
		d = entryDecoder{}
		if got, ok := d.decode(b); ok != wantOK || !reflect.DeepEqual(withoutRefs(t, got, d.refs), want) {
			t.Fatalf("decode(%q) = %+v, %v; want %+v, %v", b, got, ok, want, wantOK)
		}
	})
}

// withoutRefs checks the references the decoder kept for the values of
// e (they must be what refValue reads from the value) and returns e
// without them, as slowEntry gives it.
func withoutRefs(t *testing.T, e entry, refs []keptRef) entry {
	t.Helper()
	if len(e.fields) == 0 {
		return e
	}
	fields := slices.Clone(e.fields)
	for i := range fields {
		f := &fields[i]
		for _, v := range []struct {
			raw []byte
			k   *int32
		}{{f.from, &f.fromRef}, {f.to, &f.toRef}} {
			if *v.k == 0 {
				continue
			}
			want, ok := refValue(v.raw, 0, nil)
			kr := refs[*v.k-1]
			if kr.isRef != ok || ok && (!reflect.DeepEqual(kr.ref, want) || !reflect.DeepEqual(kr.raw.lean(), want)) {
				t.Fatalf("kept for %q: %+v; refValue reads %+v, %v", v.raw, kr, want, ok)
			}
			*v.k = 0
		}
	}
	e.fields = fields
	return e
}

func FuzzDecodeIssue(f *testing.F) {
	for _, is := range goldenParts(f).issues {
		f.Add(is)
	}
	for _, s := range oddJSON {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var full tracker.Issue
		err := json.Unmarshal(b, &full)
		want := leanIssue(&full)
		if fast, ok := issueObject.decode(b); ok && (err != nil || !reflect.DeepEqual(fast, want)) {
			t.Fatalf("issueObject.decode(%q)\n got %+v\nwant %+v (err %v)", b, fast, want, err)
		}
		got, gotErr := decodeIssue(b)
		if (gotErr == nil) != (err == nil) || err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeIssue(%q) = %+v, %v; want %+v, %v", b, got, gotErr, want, err)
		}
	})
}

func FuzzDecodeParts(f *testing.F) {
	g := goldenParts(f)
	for _, items := range [][][]byte{g.comments, g.worklogs, g.links} {
		for _, b := range items {
			f.Add(b)
		}
	}
	for _, s := range append(oddJSON, `{"added":[{"id":"1"},"2",null],"removed":null}`, `{"type":null,"object":"K-1"}`, `{"type":{"id":1,"inward":"a","Outward":"b"}}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzObject(t, b, commentObject, leanComment)
		fuzzObject(t, b, worklogObject, leanWorklog)
		fuzzObject(t, b, linkObject, leanLink)
		fuzzObject(t, b, commentEventsObject, func(ev *commentEvents) commentEvents {
			return commentEvents{Added: leanRefs(ev.Added), Removed: leanRefs(ev.Removed)}
		})
		var want commentEvents
		err := json.Unmarshal(b, &want)
		got, ok := decodeCommentEvents(b)
		if ok != (err == nil) || ok && !reflect.DeepEqual(got, commentEvents{Added: leanRefs(want.Added), Removed: leanRefs(want.Removed)}) {
			t.Fatalf("decodeCommentEvents(%q) = %+v, %v; want %+v, %v", b, got, ok, want, err)
		}
	})
}

// fuzzObject checks that o reads b as encoding/json does, less what lean
// drops.
func fuzzObject[T any](t *testing.T, b []byte, o *object[T], lean func(*T) T) {
	t.Helper()
	var full T
	err := json.Unmarshal(b, &full)
	if got, ok := o.decode(b); ok && (err != nil || !reflect.DeepEqual(got, lean(&full))) {
		t.Fatalf("decode %T of %q\n got %+v\nwant %+v (err %v)", full, b, got, lean(&full), err)
	}
}

// valueSeeds are changelog values of every kind.
var valueSeeds = []string{
	`null`, `"text"`, `"a\nb\u00e9\ud83d\ude00"`, `12.5`, `true`, `[]`, `["a",{"self":"/v2/users/1","id":"1"},null,3]`,
	`{"self":"/v2/users/1","id":"1","display":"One"}`, `{"self":"/v2/users/404","id":"404","display":"Gone"}`,
	`{"self":"/v2/users/2","id":2}`, `{"self":"/v2/statuses/1","key":"open","display":"Open"}`,
	`{"self":"/v2/sprints/1","id":"1","display":{"ru":"Спринт"}}`, `{"self":"","key":"k"}`, `{"key":"k"}`,
	`{"self":"/x","key":"k","key":"l"}`, `{"SELF":"/x","key":"k"}`, `{"self":"\/v2\/users\/1","id":"1"}`,
	`{"self":"/x","id":true}`, `{"self":5}`, ` [ "<&>" , "\u2028" ] `, `[[["deep"]]]`, `{"self":"/x","name":"n"}`,
}

func FuzzValue(f *testing.F) {
	for _, s := range valueSeeds {
		f.Add([]byte(s))
	}
	for _, b := range goldenParts(f).entries {
		e, _ := slowEntry(b)
		for _, fc := range e.fields {
			f.Add(fc.from)
			f.Add(fc.to)
		}
	}
	snap := &wire.IssueSnapshot{Users: map[string]wire.User{"1": {Email: "One@Example.com"}, "2": {Login: "Two"}}}
	f.Fuzz(func(t *testing.T, v []byte) {
		if !json.Valid(v) {
			return // values come from entries that decoded
		}
		var fastRes, slowRes Result
		fast := (&userRenderer{snap: snap, res: &fastRes}).value(v)
		slow := (&userRenderer{snap: snap, res: &slowRes}).valueSlow(v)
		if fast != slow || fastRes.UnknownUsers != slowRes.UnknownUsers {
			t.Fatalf("value(%q) = %q (%d unknown users), valueSlow gives %q (%d)", v, fast, fastRes.UnknownUsers, slow, slowRes.UnknownUsers)
		}
		var d entryDecoder
		c := cursor{b: v}
		raw, k := d.value(&c)
		if c.end(); !c.bad {
			var res Result
			if got := (&userRenderer{snap: snap, res: &res}).fieldValue(raw, k, d.refs); got != slow || res.UnknownUsers != slowRes.UnknownUsers {
				t.Fatalf("fieldValue(%q) = %q (%d unknown users), valueSlow gives %q (%d)", v, got, res.UnknownUsers, slow, slowRes.UnknownUsers)
			}
		}
		var want tracker.Ref
		r := decodeRefSlow(v)
		if r != nil {
			want = lean(*r)
		}
		if got, ok := refValue(v, 0, nil); ok != (r != nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("refValue(%q) = %+v, %v; want %+v, %v", v, got, ok, want, r != nil)
		}
	})
}

// decodeRefSlow is what statusChange read references with before the
// cursor: a reference object, or nil.
func decodeRefSlow(v json.RawMessage) *tracker.Ref {
	v = []byte(strings.TrimSpace(string(v)))
	if len(v) == 0 || v[0] != '{' {
		return nil
	}
	var r tracker.Ref
	if json.Unmarshal(v, &r) != nil {
		return nil
	}
	return &r
}

func FuzzTimeValue(f *testing.F) {
	for _, s := range []string{`"2024-03-04T07:00:00.000+0000"`, `"2024-03-04T07:00:00.123-0330"`, `"2024-03-04T07:00:00Z"`, `"2024-03-04"`,
		`""`, `null`, `5`, `"2024-02-29T24:00:00.000+0000"`, `"2023-02-29T00:00:00.000+0000"`, `"2024-03-04T07:00:00.000+2400"`,
		`"2024-03-04T07:00:00.000+0060"`, `"0000-01-01T00:00:00.000+0000"`, `"2024-03-04T07:00:00,000+0000"`, `"\u0032024-03-04"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		var want tracker.Time
		wantErr := want.UnmarshalJSON(v)
		got, ok := timeValue(v)
		if ok != (wantErr == nil) || ok && !reflect.DeepEqual(got, want.Time) {
			t.Fatalf("timeValue(%q) = %v, %v; want %v, %v", v, got, ok, want.Time, wantErr)
		}
		if len(v) >= 2 {
			s := v[1 : len(v)-1]
			if got, ok := parseTrackerTime(s); ok {
				want, err := tracker.ParseTime(string(s))
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("parseTrackerTime(%q) = %v; tracker.ParseTime gives %v, %v", s, got, want, err)
				}
			}
		}
	})
}

func FuzzCursor(f *testing.F) {
	for _, s := range append(append([]string{}, oddJSON...), valueSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := cursor{b: b}
		c.skip()
		c.end()
		if !c.bad && !json.Valid(b) {
			t.Fatalf("cursor accepts %q, which is not JSON", b)
		}
		if c.bad && json.Valid(b) && c.depth <= maxDepth {
			t.Fatalf("cursor refuses %q, which is JSON", b)
		}
		c = cursor{b: b}
		s := c.str()
		c.end()
		var want string
		err := json.Unmarshal(b, &want)
		if !c.bad && (err != nil || s != want) {
			t.Fatalf("str(%q) = %q, encoding/json gives %q, %v", b, s, want, err)
		}
		if got, want := string(appendQuoted(nil, string(b))), mustMarshal(t, string(b)); got != want {
			t.Fatalf("appendQuoted(%q) = %s, json.Marshal gives %s", b, got, want)
		}
	})
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDecodeGoldenFast checks that the golden snapshots take the cursor's
// path: the fallback is for odd input, not for what Tracker sends.
func TestDecodeGoldenFast(t *testing.T) {
	g := goldenParts(t)
	for _, b := range g.issues {
		if _, ok := issueObject.decode(b); !ok {
			t.Errorf("the issue decoder falls back on %.200s", b)
		}
	}
	for _, b := range g.entries {
		var d entryDecoder
		e, ok := d.fast(b)
		if !ok {
			t.Errorf("the entry decoder falls back on %.200s", b)
		}
		if e.comments != nil {
			if _, ok := commentEventsObject.decode(e.comments); !ok {
				t.Errorf("the comment events decoder falls back on %.200s", e.comments)
			}
		}
	}
	for _, part := range []struct {
		items  [][]byte
		decode func([]byte) bool
	}{
		{g.comments, func(b []byte) bool { _, ok := commentObject.decode(b); return ok }},
		{g.worklogs, func(b []byte) bool { _, ok := worklogObject.decode(b); return ok }},
		{g.links, func(b []byte) bool { _, ok := linkObject.decode(b); return ok }},
	} {
		if len(part.items) == 0 {
			t.Error("golden snapshots without comments, worklogs or links")
		}
		for _, b := range part.items {
			if !part.decode(b) {
				t.Errorf("falls back on %.200s", b)
			}
		}
	}
}

func TestParseTrackerTime(t *testing.T) {
	for _, s := range []string{"2024-03-04T07:00:00.000+0000", "2024-12-31T23:59:59.999+0300", "2024-01-01T00:30:00.001-1145", "1999-02-28T12:00:00.500+0000"} {
		want, err := time.Parse("2006-01-02T15:04:05.000-0700", s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseTrackerTime([]byte(s))
		if !ok || !reflect.DeepEqual(got, want.UTC()) {
			t.Errorf("parseTrackerTime(%q) = %v, %v; want %v", s, got, ok, want.UTC())
		}
	}
}

// FuzzRefs checks that cursorRefs reads a sprint value as jsonRefs does
// (without what lean drops) whenever it accepts it.
func FuzzRefs(f *testing.F) {
	for _, s := range append(append([]string{}, oddJSON...), valueSeeds...) {
		f.Add([]byte(s))
	}
	f.Add([]byte(`[{"self":"https://x/v2/sprints/1","id":"1","display":"Sprint 1"},{"id":2,"name":{"en":"Two"}}]`))
	f.Add([]byte(`{"id":"7","display":"Seven"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			return
		}
		got, ok := cursorRefs(b)
		if !ok {
			return
		}
		want := jsonRefs(b)
		if len(got) != len(want) {
			t.Fatalf("cursorRefs(%q) = %v; jsonRefs gives %v", b, got, want)
		}
		for i := range want {
			if got[i] != lean(want[i]) {
				t.Fatalf("cursorRefs(%q)[%d] = %+v; jsonRefs gives %+v", b, i, got[i], want[i])
			}
		}
	})
}
