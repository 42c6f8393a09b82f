package wire

import (
	"encoding/binary"
	"math"
	"time"
)

// reader reads msgpack from b without reflection, for the fast decoders
// of snapshots (snapshot_decode.go) and rows (rows_decode.go). It reads
// what Marshal writes (the forms vmihailenco/msgpack's Encoder chooses)
// and the other forms of a value that are cheap to read, each into what
// the reflective decoder would make of it; it fails on anything else.
// A failed reader stays failed: every method returns a zero value after a
// failure.
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

func (r *reader) peek() byte {
	if r.bad || r.i >= len(r.b) {
		r.fail()
		return 0
	}
	return r.b[r.i]
}

// null consumes a nil and reports whether there was one.
func (r *reader) null() bool {
	if r.peek() == 0xc0 {
		r.i++
		return true
	}
	return false
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

// fits reports whether n items (of a byte at least each) can follow,
// failing the reader when not; it is false for nil (n < 0) too.
func (r *reader) fits(n int) bool {
	if n > len(r.b)-r.i {
		r.fail()
	}
	return n >= 0 && !r.bad
}

// isStr reports whether c starts a string (not a binary).
func isStr(c byte) bool { return c >= 0xa0 && c <= 0xbf || c >= 0xd9 && c <= 0xdb }

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

// str reads a string, a binary or nil ("") as DecodeString does.
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

// ownStr reads a string as str does into a copy of its own, never a
// substring of text.
func (r *reader) ownStr() string { return string(r.raw()) }

// strs reads an array of strings as the reflective decoder reads a
// []string: nil for nil, else a slice (empty, not nil, for none).
func (r *reader) strs() []string {
	n := r.arrayLen()
	if !r.fits(n) {
		return nil
	}
	s := make([]string, n)
	for i := range s {
		s[i] = r.str()
	}
	return s
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

// int64orBool passes nil, a boolean or an integer.
func (r *reader) int64orBool() {
	switch r.peek() {
	case 0xc0, 0xc2, 0xc3:
		r.i++
	default:
		r.int64()
	}
}

// int64 reads an integer of any width or nil (0) as DecodeInt64 does.
// Read as DecodeUint64 does, the same bits are the uint64 (uint64 does
// that), and the reflective decoder truncates both to a narrower field.
func (r *reader) int64() int64 {
	c := r.code()
	switch {
	case c <= 0x7f || c >= 0xe0:
		return int64(int8(c))
	case c == 0xc0:
		return 0
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

// uint64 reads an integer as DecodeUint64 does (see int64).
func (r *reader) uint64() uint64 { return uint64(r.int64()) }

// float64 reads a float32, a float64, an integer or nil (0) as
// DecodeFloat64 does.
func (r *reader) float64() float64 {
	switch r.peek() {
	case 0xca:
		r.i++
		return float64(math.Float32frombits(uint32(r.size(4))))
	case 0xcb:
		r.i++
		if v := r.next(8); v != nil {
			return math.Float64frombits(binary.BigEndian.Uint64(v))
		}
		return 0
	}
	return float64(r.int64())
}

// int64Ptr reads a *int64 of a zero value: nil stays nil.
func (r *reader) int64Ptr() *int64 {
	if r.null() {
		return nil
	}
	n := r.int64()
	return &n
}

// float64Ptr reads a *float64 of a zero value: nil stays nil.
func (r *reader) float64Ptr() *float64 {
	if r.null() {
		return nil
	}
	f := r.float64()
	return &f
}

// bool reads a boolean or nil (false) as DecodeBool does.
func (r *reader) bool() bool {
	switch r.code() {
	case 0xc0, 0xc2:
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

// field is how one field of a struct T is read: its key, and what reads
// its value into a T.
type field[T any] struct {
	key  string
	read func(r *reader, v *T)
}

// object reads a struct encoded as a map into v, whose fields (at most
// 64) are the keys it may have. The reader fails on nil (the reflective
// decoder zeroes the struct), on a key it does not know (skipped there)
// and on a key that came before (read twice there).
func object[T any](r *reader, v *T, fields []field[T]) {
	n := r.mapLen()
	if n < 0 {
		r.fail()
	}
	var seen uint64
	next := 0
	for range max(n, 0) {
		k := lookup(fields, r.raw(), next)
		if r.bad || k < 0 || seen&(1<<k) != 0 {
			r.fail()
			return
		}
		seen |= 1 << k
		fields[k].read(r, v)
		next = k + 1
	}
}

// lookup finds key among fields, trying first the one at hint (the
// encoders write the fields in order).
func lookup[T any](fields []field[T], key []byte, hint int) int {
	if hint < len(fields) && fields[hint].key == string(key) {
		return hint
	}
	for i := range fields {
		if fields[i].key == string(key) {
			return i
		}
	}
	return -1
}

// objects reads an array of structs as the reflective decoder reads a
// slice of them into a nil slice: nil for nil, else a slice (empty, not
// nil, for none). Each item must be long enough to hold every field (as
// the encoders write them), which bounds what a short body allocates.
func objects[T any](r *reader, fields []field[T]) []T {
	n := r.arrayLen()
	if n < 0 || !r.fits(n*(1+2*len(fields))) {
		return nil
	}
	s := make([]T, n)
	for i := range s {
		if object(r, &s[i], fields); r.bad {
			return nil
		}
	}
	return s
}

// maxNesting is the deepest nesting of arrays and maps wellFormed lets
// through (the messages have four levels).
const maxNesting = 32

// wellFormed reports whether b starts with one msgpack value whose
// arrays, maps, strings, binaries and extensions fit in b, nested at most
// maxNesting deep. The reflective decoder (v5.4.1) allocates the slice
// an array's header announces before reading its items, so that a body
// of ten bytes can ask for 100 GB, which ends the process; and it
// recurses as deep as arrays nest. A body that is not well formed is one
// it would fail on anyway.
func wellFormed(b []byte) bool {
	r := reader{b: b}
	left := []int{1} // the values left to read at each level
	pending := 1     // their sum: each takes a byte at least
	for len(left) > 0 && !r.bad {
		top := len(left) - 1
		if left[top] == 0 {
			left = left[:top]
			continue
		}
		left[top]--
		pending--
		if n := r.item(); n > 0 {
			pending += n
			if len(left) > maxNesting || !r.fits(pending) {
				return false
			}
			left = append(left, n)
		}
	}
	return !r.bad
}

// fixedSize is the size of what follows the codes 0xc0 to 0xdf of a
// fixed size (nil, booleans, numbers; a fixext's type and data).
var fixedSize = [32]int{0xca - 0xc0: 4, 0xcb - 0xc0: 8, 0xcc - 0xc0: 1, 0xcd - 0xc0: 2, 0xce - 0xc0: 4,
	0xcf - 0xc0: 8, 0xd0 - 0xc0: 1, 0xd1 - 0xc0: 2, 0xd2 - 0xc0: 4, 0xd3 - 0xc0: 8,
	0xd4 - 0xc0: 2, 0xd5 - 0xc0: 3, 0xd6 - 0xc0: 5, 0xd7 - 0xc0: 9, 0xd8 - 0xc0: 17}

// item reads the header of any value and what follows it, but for the
// items of an array or a map, whose number (keys and values) it returns.
func (r *reader) item() int {
	c := r.code()
	switch {
	case c <= 0x7f || c >= 0xe0:
		return 0
	case c <= 0x8f:
		return 2 * int(c&0x0f)
	case c <= 0x9f:
		return int(c & 0x0f)
	case c <= 0xbf:
		r.next(int(c & 0x1f))
		return 0
	}
	switch c {
	case 0xc1:
		r.fail() // never used
	case 0xc4, 0xd9:
		r.next(r.size(1))
	case 0xc5, 0xda:
		r.next(r.size(2))
	case 0xc6, 0xdb:
		r.next(r.size(4))
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32: the type, then the data
		r.next(r.size(1<<(c-0xc7)) + 1)
	case 0xdc, 0xdd:
		return r.size(2 << (c - 0xdc))
	case 0xde, 0xdf:
		return 2 * r.size(2<<(c-0xde))
	default:
		r.next(fixedSize[c-0xc0])
	}
	return 0
}
