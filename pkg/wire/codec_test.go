package wire

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCodecRoundTrip(t *testing.T) {
	big := &IssueSnapshot{IssueID: "a", IssueKey: "K-1", UpdatedAt: time.Unix(1700000000, 0).UTC(),
		Issue: []byte(`{"description":"` + strings.Repeat("текст ", 50000) + `"}`)}
	for i := range 2000 {
		big.Changelog = append(big.Changelog, []byte(`{"id":"`+strings.Repeat("0", 23)+string(rune('a'+i%26))+`","type":"IssueUpdated"}`))
	}
	small := &IssueSnapshot{IssueID: "b", IssueKey: "K-2", Issue: []byte(`{}`)}
	for _, s := range []*IssueSnapshot{big, small} {
		body, enc, err := Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if (s == big) != (enc == "zstd") {
			t.Errorf("%s: encoding %q", s.IssueKey, enc)
		}
		if s == big && len(body) > 1<<20/4 {
			t.Errorf("compressed body %d bytes: still large", len(body))
		}
		var got IssueSnapshot
		if err := Unmarshal(body, enc, &got); err != nil {
			t.Fatal(err)
		}
		if got.IssueKey != s.IssueKey || !bytes.Equal(got.Issue, s.Issue) || len(got.Changelog) != len(s.Changelog) || !got.UpdatedAt.Equal(s.UpdatedAt) {
			t.Errorf("%s: round trip differs", s.IssueKey)
		}
	}
	if err := Unmarshal([]byte("x"), "brotli", &IssueSnapshot{}); err == nil {
		t.Error("unknown encoding accepted")
	}
	if err := Unmarshal([]byte("not zstd"), "zstd", &IssueSnapshot{}); err == nil {
		t.Error("corrupt zstd accepted")
	}
}

func FuzzUnmarshalSnapshot(f *testing.F) {
	body, _, _ := Marshal(&IssueSnapshot{IssueID: "x", Changelog: [][]byte{[]byte("{}")}, Users: map[string]User{"1": {Email: "a@b"}}})
	f.Add(body, false)
	f.Add([]byte{0x85, 0xa1}, true)
	f.Fuzz(func(t *testing.T, b []byte, z bool) {
		enc := ""
		if z {
			enc = "zstd"
		}
		var s IssueSnapshot
		_ = Unmarshal(b, enc, &s) // must never panic
	})
}

// Rows messages are compressed only when large (rowsCompressAbove), far
// later than snapshots, and round-trip either way.
func TestRowsCompression(t *testing.T) {
	for _, c := range []struct {
		changelog int
		want      string
	}{{10, ""}, {300, ""}, {2000, "zstd"}} {
		r := &IssueRows{IssueID: "a", IssueKey: "K-1", Issue: IssueRow{IssueID: "a", IssueKey: "K-1"}}
		for i := range c.changelog {
			r.Changelog = append(r.Changelog, ChangelogRow{IssueKey: "K-1", EntryID: strings.Repeat("0", 23) + string(rune('a'+i%26)), ChangedTo: strings.Repeat("v", 100)})
		}
		body, enc, err := Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if enc != c.want {
			t.Errorf("%d changelog rows (%d bytes): encoding %q, want %q", c.changelog, len(body), enc, c.want)
		}
		var got IssueRows
		if err := Unmarshal(body, enc, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Changelog) != c.changelog || got.Changelog[c.changelog-1].EntryID != r.Changelog[c.changelog-1].EntryID {
			t.Errorf("%d changelog rows: round trip differs", c.changelog)
		}
	}
}

// TestUnmarshalMalformed checks that a body announcing more than it holds,
// or nesting too deep, is an error before the reflective decoder
// allocates (or recurses) for it, and that every form is well formed.
func TestUnmarshalMalformed(t *testing.T) {
	deep := "\x81\xa5extra" + strings.Repeat("\x91", 1000) + "\xc0"
	for _, tc := range []struct {
		name string
		body string
		v    any
	}{
		{"changelog of 2^30 entries", "\x81\xa9changelog\xdd\x40\x00\x00\x00", &IssueSnapshot{}},
		{"metrics of 2^32-1 rows", "\x81\xa7metrics\xdd\xff\xff\xff\xff", &IssueRows{}},
		{"users of 2^32-1 entries", "\x81\xa5users\xdf\xff\xff\xff\xff", &IssueSnapshot{}},
		{"string of 2^32-1 bytes", "\x81\xa3raw\xdb\xff\xff\xff\xff", &IssueRows{}},
		{"nested 1000 deep", deep, &IssueRows{}},
		{"nested 1000 deep", deep, &DirectoryRows{}},
		{"reserved code", "\x81\xa5extra\xc1", &IssueRows{}},
	} {
		if err := Unmarshal([]byte(tc.body), "", tc.v); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	for _, body := range []string{
		"\x00", "\xff", "\xc0", "\xc2", "\xcb12345678", "\xd3\x00\x00\x00\x00\x00\x00\x00\x01", "\xd8\x01" + strings.Repeat("x", 16),
		"\xc7\x03\x01abc", "\xc8\x00\x01\x01a", "\xc9\x00\x00\x00\x00\x05", "\xc4\x01x", "\xda\x00\x01x", "\xdc\x00\x01\xc0",
		"\xde\x00\x01\xa1k\x90", "\x92\x80\x90", strings.Repeat("\x91", maxNesting) + "\xc0",
	} {
		if !wellFormed([]byte(body)) {
			t.Errorf("%x: not well formed", body)
		}
	}
	for _, body := range []string{"", "\xc1", "\xcb1234567", "\xd8\x01", "\xc7\x03\x01ab", "\x92\xc0", "\xdc\x00", strings.Repeat("\x91", maxNesting+1) + "\xc0"} {
		if wellFormed([]byte(body)) {
			t.Errorf("%x: well formed", body)
		}
	}
}
