package wire

import (
	"encoding/binary"
	"time"
)

// This file decodes an IssueSnapshot in one pass over the body, without
// reflection, and with the JSON parts (issue, changelog, comments, ...)
// left in place: they are slices of the body. It reads what Marshal
// writes (the forms vmihailenco/msgpack's Encoder chooses) and fails on
// anything else, such as a field it does not know, a field given twice or
// an unusual but valid form; Unmarshal then decodes the same body with
// the reflective decoder. codec_test.go fuzzes both paths against each
// other: whenever the fast path succeeds, its result is the other's.

// reader reads msgpack from b. A failed reader stays failed: every
// method returns a zero value after a failure.
type reader struct {
	b   []byte
	i   int
	bad bool
	// text is b[base:base+len(text)] as a string, when set: the strings
	// read there are substrings of it (the many short strings of the
	// users directory cost one allocation, not four per user).
	text string
	base int
}

func (r *reader) fail() { r.bad = true }

// next consumes n bytes.
func (r *reader) next(n int) []byte {
	if r.bad || n < 0 || len(r.b)-r.i < n {
		r.fail()
		return nil
	}
	v := r.b[r.i : r.i+n : r.i+n]
	r.i += n
	return v
}

func (r *reader) code() byte {
	if v := r.next(1); v != nil {
		return v[0]
	}
	return 0
}

// size reads the big-endian length of n bytes after a code.
func (r *reader) size(n int) int {
	v := r.next(n)
	switch n {
	case 1:
		if v != nil {
			return int(v[0])
		}
	case 2:
		if v != nil {
			return int(binary.BigEndian.Uint16(v))
		}
	case 4:
		if v != nil {
			return int(binary.BigEndian.Uint32(v))
		}
	}
	return 0
}

// header reads the length of a map (fix = 0x80), an array (0x90) or nil
// (-1), failing on any other code.
func (r *reader) header(fix, c16, c32 byte) int {
	switch c := r.code(); {
	case c == 0xc0:
		return -1
	case c&0xf0 == fix:
		return int(c & 0x0f)
	case c == c16:
		return r.size(2)
	case c == c32:
		return r.size(4)
	}
	r.fail()
	return 0
}

func (r *reader) mapLen() int   { return r.header(0x80, 0xde, 0xdf) }
func (r *reader) arrayLen() int { return r.header(0x90, 0xdc, 0xdd) }

// raw reads a string or binary value (nil: nil) as DecodeBytes does,
// without copying it.
func (r *reader) raw() []byte {
	c := r.code()
	switch {
	case c == 0xc0:
		return nil
	case c >= 0xa0 && c <= 0xbf:
		return r.next(int(c & 0x1f))
	case c == 0xd9 || c == 0xc4:
		return r.next(r.size(1))
	case c == 0xda || c == 0xc5:
		return r.next(r.size(2))
	case c == 0xdb || c == 0xc6:
		return r.next(r.size(4))
	}
	r.fail()
	return nil
}

func (r *reader) str() string {
	start := r.i
	v := r.raw()
	if r.bad {
		return ""
	}
	if from := r.i - len(v) - r.base; r.text != "" && start >= r.base && r.i-r.base <= len(r.text) {
		return r.text[from : r.i-r.base]
	}
	return string(v)
}

// shared makes the strings of the value at the reader substrings of one
// copy of its bytes (see text); done ends that.
func (r *reader) shared() (done func()) {
	probe := *r
	probe.skip(0)
	if !probe.bad {
		r.text, r.base = string(r.b[r.i:probe.i]), r.i
	}
	return func() { r.text = "" }
}

// maxSkipDepth bounds the nesting skip follows (the users directory has
// two levels), so that no input can exhaust the stack.
const maxSkipDepth = 8

// skip passes one value of the forms the reader knows, nested depth
// deep, and fails on others.
func (r *reader) skip(depth int) {
	if depth > maxSkipDepth {
		r.fail()
	}
	switch c := r.peek(); {
	case c == 0xc0 || c == 0xc2 || c == 0xc3 || c <= 0x7f || c >= 0xe0 || c >= 0xcc && c <= 0xd3:
		r.int64orBool()
	case c >= 0xa0 && c <= 0xbf || c >= 0xc4 && c <= 0xc6 || c >= 0xd9 && c <= 0xdb:
		r.raw()
	case c == 0xd6 || c == 0xd7 || c == 0xc7:
		r.time()
	case c&0xf0 == 0x80 || c == 0xde || c == 0xdf:
		for n := max(r.mapLen(), 0) * 2; n > 0 && !r.bad; n-- {
			r.skip(depth + 1)
		}
	default:
		for n := max(r.arrayLen(), 0); n > 0 && !r.bad; n-- {
			r.skip(depth + 1)
		}
	}
}

func (r *reader) peek() byte {
	if r.bad || r.i >= len(r.b) {
		r.fail()
		return 0
	}
	return r.b[r.i]
}

// int64orBool passes nil, a boolean or an integer.
func (r *reader) int64orBool() {
	switch r.peek() {
	case 0xc0, 0xc2, 0xc3:
		r.i++
	default:
		r.int64()
	}
}

// int64 reads an integer of any width as DecodeInt64 does.
func (r *reader) int64() int64 {
	c := r.code()
	switch {
	case c <= 0x7f || c >= 0xe0:
		return int64(int8(c))
	case c == 0xcc:
		return int64(r.size(1))
	case c == 0xcd:
		return int64(r.size(2))
	case c == 0xce:
		return int64(r.size(4))
	case c == 0xd0:
		return int64(int8(r.size(1)))
	case c == 0xd1:
		return int64(int16(r.size(2)))
	case c == 0xd2:
		return int64(int32(r.size(4)))
	case c == 0xcf || c == 0xd3:
		if v := r.next(8); v != nil {
			return int64(binary.BigEndian.Uint64(v))
		}
		return 0
	}
	r.fail()
	return 0
}

func (r *reader) bool() bool {
	switch r.code() {
	case 0xc2:
		return false
	case 0xc3:
		return true
	}
	r.fail()
	return false
}

// time reads the timestamp extension as DecodeTime does: the local
// time.Unix of it, the zero time in UTC.
func (r *reader) time() time.Time {
	var v []byte
	switch r.code() {
	case 0xd6:
		v = r.ext(4)
	case 0xd7:
		v = r.ext(8)
	case 0xc7:
		if r.size(1) == 12 {
			v = r.ext(12)
		}
	}
	var t time.Time
	switch len(v) {
	case 4:
		t = time.Unix(int64(binary.BigEndian.Uint32(v)), 0)
	case 8:
		x := binary.BigEndian.Uint64(v)
		t = time.Unix(int64(x&0x3ffffffff), int64(x>>34))
	case 12:
		t = time.Unix(int64(binary.BigEndian.Uint64(v[4:])), int64(binary.BigEndian.Uint32(v)))
	default:
		r.fail()
		return time.Time{}
	}
	if t.IsZero() {
		return t.UTC()
	}
	return t
}

// ext reads the type (the timestamp's, -1) and n bytes of an extension.
func (r *reader) ext(n int) []byte {
	if r.code() != 0xff {
		r.fail()
		return nil
	}
	return r.next(n)
}

// fits reports whether n items (of a byte at least each) can follow,
// failing the reader when not; it is false for nil (n < 0) too.
func (r *reader) fits(n int) bool {
	if n > len(r.b)-r.i {
		r.fail()
	}
	return n >= 0 && !r.bad
}

// raws reads an array of strings or binaries ([][]byte).
func (r *reader) raws() [][]byte {
	n := r.arrayLen()
	if !r.fits(n) {
		return nil
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = r.raw()
	}
	return out
}

// fields reads a struct encoded as a map: field calls set with the
// position of each key among names, and the reader fails on a key it
// does not know or that came before.
func (r *reader) fields(names []string, set func(k int)) {
	n := r.mapLen()
	if n < 0 {
		r.fail() // nil: the reflective decoder zeroes the struct
	}
	var seen uint64
	for range max(n, 0) {
		key := r.raw()
		k := find(names, key)
		if r.bad || k < 0 || seen&(1<<k) != 0 {
			r.fail()
			return
		}
		seen |= 1 << k
		set(k)
	}
}

func find(names []string, key []byte) int {
	for i, n := range names {
		if n == string(key) {
			return i
		}
	}
	return -1
}

var snapshotFields = []string{"issue_id", "issue_key", "updated_at", "version", "fetched_at", "issue", "changelog",
	"users", "statuses", "comments", "worklogs", "links", "parts", "deleted", "deleted_at"}

// decodeSnapshot decodes b, all of it, into s (which must be zero); ok is
// false when the fast path cannot (s is then undefined).
func decodeSnapshot(b []byte, s *IssueSnapshot) bool {
	r := reader{b: b}
	r.fields(snapshotFields, func(k int) { r.snapshotField(s, k) })
	return !r.bad && r.i == len(b)
}

func (r *reader) snapshotField(s *IssueSnapshot, k int) {
	switch k {
	case 0:
		s.IssueID = r.str()
	case 1:
		s.IssueKey = r.str()
	case 2:
		s.UpdatedAt = r.time()
	case 3:
		s.Version = r.int64()
	case 4:
		s.FetchedAt = r.time()
	case 5:
		s.Issue = r.raw()
	case 6:
		s.Changelog = r.raws()
	case 7:
		done := r.shared()
		s.Users = r.users()
		done()
	case 8:
		done := r.shared()
		s.Statuses = r.statuses()
		done()
	default:
		r.snapshotPart(s, k)
	}
}

// snapshotPart reads the optional fields of a snapshot.
func (r *reader) snapshotPart(s *IssueSnapshot, k int) {
	switch k {
	case 9:
		s.Comments = r.raws()
	case 10:
		s.Worklogs = r.raws()
	case 11:
		s.Links = r.raws()
	case 12:
		s.Parts = Part(r.int64())
	case 13:
		s.Deleted = r.bool()
	case 14:
		s.DeletedAt = r.time()
	}
}

var userFields = []string{"login", "email", "display", "dismissed"}

func (r *reader) users() map[string]User {
	n := r.mapLen()
	if !r.fits(n) {
		return nil
	}
	m := make(map[string]User, n)
	for range n {
		k := r.str()
		var u User
		r.fields(userFields, func(f int) {
			switch f {
			case 0:
				u.Login = r.str()
			case 1:
				u.Email = r.str()
			case 2:
				u.Display = r.str()
			case 3:
				u.Dismissed = r.bool()
			}
		})
		m[k] = u
	}
	return m
}

var statusFields = []string{"key", "name", "type"}

func (r *reader) statuses() map[string]Status {
	n := r.mapLen()
	if !r.fits(n) {
		return nil
	}
	m := make(map[string]Status, n)
	for range n {
		k := r.str()
		var s Status
		r.fields(statusFields, func(f int) {
			switch f {
			case 0:
				s.Key = r.str()
			case 1:
				s.Name = r.str()
			case 2:
				s.Type = r.str()
			}
		})
		m[k] = s
	}
	return m
}
