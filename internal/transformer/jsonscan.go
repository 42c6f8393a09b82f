package transformer

import (
	"bytes"
	"encoding/binary"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// cursor reads JSON strictly, in one pass and without allocating, for the
// decoders of decode.go. It accepts only what encoding/json accepts; when it
// meets anything it does not handle (invalid JSON, nesting deeper than
// maxDepth) it fails, and the caller decodes the same bytes with
// encoding/json instead, so that the result never depends on which path
// ran. A failed cursor stays failed: every method is a no-op after it.
type cursor struct {
	b     []byte
	i     int
	bad   bool
	depth int
}

// maxDepth bounds nesting; deeper input is left to encoding/json.
const maxDepth = 256

func (c *cursor) fail() { c.bad = true }

// ws skips insignificant whitespace.
func (c *cursor) ws() {
	// Every byte above the space is significant: one comparison for the
	// usual case, compact JSON.
	for c.i < len(c.b) && c.b[c.i] <= ' ' {
		switch c.b[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// peek is the next significant byte, 0 at the end or after a failure.
func (c *cursor) peek() byte {
	if c.bad {
		return 0
	}
	c.ws()
	if c.i >= len(c.b) {
		return 0
	}
	return c.b[c.i]
}

// expect consumes the byte ch (after whitespace) or fails.
func (c *cursor) expect(ch byte) {
	if c.peek() != ch {
		c.fail()
		return
	}
	c.i++
}

// end fails unless only whitespace is left.
func (c *cursor) end() {
	c.ws()
	if c.i != len(c.b) {
		c.fail()
	}
}

// object consumes the '{' of an object; then members yields its keys.
func (c *cursor) object() {
	c.expect('{')
	c.depth++
	if c.depth > maxDepth {
		c.fail()
	}
}

// member reads the next key of the object being read and the ':' after it,
// and reports false at the closing '}' (consumed). first is true for the
// first call. The key is unquoted as encoding/json does.
func (c *cursor) member(first bool) ([]byte, bool) {
	switch c.peek() {
	case '}':
		c.i++
		c.depth--
		return nil, false
	case ',':
		if first {
			c.fail()
			return nil, false
		}
		c.i++
	default:
		if !first {
			c.fail()
			return nil, false
		}
	}
	if c.peek() != '"' {
		c.fail()
		return nil, false
	}
	start := c.i
	end, special := c.scanString()
	c.expect(':')
	if c.bad {
		return nil, false
	}
	if special {
		return []byte(unquote(c.b[start:end])), true
	}
	return c.b[start+1 : end-1], true
}

// array consumes the '[' of an array; then elem reports each element.
func (c *cursor) array() {
	c.expect('[')
	c.depth++
	if c.depth > maxDepth {
		c.fail()
	}
}

// elem reports whether another element follows (consuming the ',') or
// the array ends (consuming the ']').
func (c *cursor) elem(first bool) bool {
	switch ch := c.peek(); {
	case ch == ']':
		c.i++
		c.depth--
		return false
	case ch == 0:
		c.fail()
		return false
	case first:
		return true
	case ch != ',':
		c.fail()
		return false
	}
	c.i++
	return true
}

// scanString consumes the string at c.i (its opening quote) and returns
// the index after its closing quote and whether it has escapes or bytes
// that are not ASCII (then unquote must be used).
func (c *cursor) scanString() (end int, special bool) {
	b := c.b
	i := c.i + 1
	var high byte // the bytes passed, or-ed: its top bit marks one not ASCII
	for i < len(b) {
		if i, high = skipPlain(b, i, high); i >= len(b) {
			break
		}
		switch ch := b[i]; ch {
		case '"':
			c.i = i + 1
			return c.i, special || high >= utf8.RuneSelf
		case '\\':
			special = true
			n := escapeLen(b[i:])
			if n == 0 {
				c.fail()
				return i, special
			}
			i += n
		default: // a control character
			c.fail()
			return i, special
		}
	}
	c.fail()
	return i, special
}

// skipPlain returns the index of the first byte from i on that is a
// quote, a backslash or a control character (len(b) if none), and high
// or-ed with the bytes before it. Keys and ids are short: the first eight
// bytes are read one at a time; longer strings then eight at a time.
func skipPlain(b []byte, i int, high byte) (int, byte) {
	for n := min(i+8, len(b)); i < n; i++ {
		if ch := b[i]; ch == '"' || ch == '\\' || ch < 0x20 {
			return i, high
		}
		high |= b[i]
	}
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		if stops(x) {
			break
		}
		if x&highBits != 0 {
			high |= 0x80
		}
		i += 8
	}
	for ; i < len(b); i++ {
		if ch := b[i]; ch == '"' || ch == '\\' || ch < 0x20 {
			return i, high
		}
		high |= b[i]
	}
	return i, high
}

const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// stops reports whether one of the eight bytes of x is '"', '\\' or below
// 0x20 (exactly: the tests borrow only above a byte that matches).
func stops(x uint64) bool {
	q := x ^ (lowBits * '"')
	bs := x ^ (lowBits * '\\')
	return ((q-lowBits)&^q|(bs-lowBits)&^bs|(x-lowBits*0x20)&^x)&highBits != 0
}

// escapeLen is the length of the valid escape at the start of b, 0 when
// it is not one.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) >= 6 && isHex(b[2]) && isHex(b[3]) && isHex(b[4]) && isHex(b[5]) {
			return 6
		}
	}
	return 0
}

func isHex(ch byte) bool {
	return ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F'
}

// str reads a string value as encoding/json decodes it into a string.
func (c *cursor) str() string {
	if c.peek() != '"' {
		c.fail()
		return ""
	}
	start := c.i
	end, special := c.scanString()
	if c.bad {
		return ""
	}
	if !special {
		return borrow(c.b[start+1 : end-1])
	}
	return unquote(c.b[start:end])
}

// optStr reads a string or null (which leaves "") as encoding/json decodes
// them into a string field.
func (c *cursor) optStr() string {
	if c.peek() == 'n' {
		c.literal("null")
		return ""
	}
	return c.str()
}

// literal consumes the literal word or fails.
func (c *cursor) literal(word string) {
	if c.peek() == 0 || len(c.b)-c.i < len(word) || string(c.b[c.i:c.i+len(word)]) != word {
		c.fail()
		return
	}
	c.i += len(word)
}

// number consumes a number (JSON's grammar) and returns its text.
func (c *cursor) number() []byte {
	c.ws()
	b, start := c.b, c.i
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		c.fail()
		return nil
	}
	if i < len(b) && b[i] == '.' {
		if i+1 >= len(b) || !isDigit(b[i+1]) {
			c.fail()
			return nil
		}
		i = digits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			c.fail()
			return nil
		}
		i = digits(b, i)
	}
	c.i = i
	return b[start:i]
}

func isDigit(ch byte) bool { return ch >= '0' && ch <= '9' }

func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// skip consumes one value of any kind, checking it.
func (c *cursor) skip() {
	switch c.peek() {
	case '{':
		c.object()
		for first := true; ; first = false {
			if _, ok := c.member(first); !ok {
				return
			}
			c.skip()
		}
	case '[':
		c.array()
		for first := true; c.elem(first); first = false {
			c.skip()
		}
	case '"':
		c.scanString()
	case 't':
		c.literal("true")
	case 'f':
		c.literal("false")
	case 'n':
		c.literal("null")
	default:
		c.number()
	}
}

// raw consumes one value and returns its bytes (nil after a failure).
func (c *cursor) raw() []byte {
	c.ws()
	start := c.i
	c.skip()
	if c.bad {
		return nil
	}
	return c.b[start:c.i]
}

// unquote decodes a JSON string literal (quotes included) as
// encoding/json does: escapes resolved, invalid UTF-8 and lone surrogates
// replaced by U+FFFD. The literal must have been checked by scanString.
func unquote(s []byte) string {
	s = s[1 : len(s)-1]
	// Most strings that need unquote are only not ASCII (Russian text):
	// utf8.Valid checks them many bytes at a time.
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return borrow(s)
	}
	r := 0
	for r < len(s) {
		ch := s[r]
		if ch == '\\' {
			break
		}
		if ch < utf8.RuneSelf {
			r++
			continue
		}
		rr, size := utf8.DecodeRune(s[r:])
		if rr == utf8.RuneError && size == 1 {
			break
		}
		r += size
	}
	if r == len(s) {
		return borrow(s)
	}
	b := make([]byte, r, len(s)+2*utf8.UTFMax)
	copy(b, s[:r])
	for r < len(s) {
		ch := s[r]
		switch {
		case ch == '\\':
			var n int
			b, n = appendEscape(b, s[r:])
			r += n
		case ch < utf8.RuneSelf:
			b = append(b, ch)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			r += size
			b = utf8.AppendRune(b, rr)
		}
	}
	return ownedString(b)
}

// borrow is b as a string without a copy: the text read from a snapshot
// shares the snapshot's memory (see Transform), which nothing writes once
// it is decoded. Copying each string was an eighth of what Transform
// allocated.
func borrow(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// ownedString is b as a string without a copy, for a b that nothing
// writes or even reads as bytes after (as strings.Builder.String does).
func ownedString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// appendEscape appends what the escape at the start of s stands for and
// returns how many bytes it took (a valid surrogate pair is one).
func appendEscape(b, s []byte) ([]byte, int) {
	switch s[1] {
	case 'b':
		return append(b, '\b'), 2
	case 'f':
		return append(b, '\f'), 2
	case 'n':
		return append(b, '\n'), 2
	case 'r':
		return append(b, '\r'), 2
	case 't':
		return append(b, '\t'), 2
	case 'u':
		rr := getu4(s)
		if utf16.IsSurrogate(rr) && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
			if dec := utf16.DecodeRune(rr, getu4(s[6:])); dec != unicode.ReplacementChar {
				return utf8.AppendRune(b, dec), 12
			}
		}
		if utf16.IsSurrogate(rr) {
			rr = unicode.ReplacementChar
		}
		return utf8.AppendRune(b, rr), 6
	}
	return append(b, s[1]), 2
}

// getu4 decodes the \uXXXX at the start of s (checked by escapeLen).
func getu4(s []byte) rune {
	var r rune
	for _, ch := range s[2:6] {
		switch {
		case ch >= '0' && ch <= '9':
			ch -= '0'
		case ch >= 'a' && ch <= 'f':
			ch = ch - 'a' + 10
		default:
			ch = ch - 'A' + 10
		}
		r = r*16 + rune(ch)
	}
	return r
}

// appendQuoted appends s as encoding/json.Marshal writes a string: HTML
// characters, U+2028 and U+2029 escaped, invalid UTF-8 as \ufffd.
func appendQuoted(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if ch := s[i]; ch < utf8.RuneSelf {
			if ch >= 0x20 && ch != '"' && ch != '\\' && ch != '<' && ch != '>' && ch != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch ch {
			case '\\', '"':
				b = append(b, '\\', ch)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
