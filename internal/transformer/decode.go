package transformer

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
)

// This file decodes the API JSON of a snapshot in one pass per changelog
// entry, into just what the rows need (entry, ref), with the cursor of
// jsonscan.go. The result is by construction what encoding/json and the
// pkg/tracker types give: whatever the fast path does not handle exactly
// as they do (a type error, a duplicate key, a key matched only
// case-insensitively, an escaped key, deep nesting) fails it, and the same
// bytes are then decoded the old way. decode_test.go checks both paths
// against each other, fuzzing included.

// entry is a changelog entry reduced to what the rows need.
type entry struct {
	id, typ, transport string
	updatedAt          time.Time
	// updatedBy is the author; the zero Ref when absent or null (which
	// every use treats like a nil reference).
	updatedBy tracker.Ref
	fields    []fieldChange
	// comments is what the entry says of the issue's comments, as
	// received (nil when absent).
	comments []byte
}

// fieldChange is one changed field of an entry: the field's id and
// label, and the values as received (null, a string, a number, a
// reference, an array; nil when absent). A value that is an object or an
// array the cursor read is also in the decoder's refs, at fromRef-1 and
// toRef-1 (0: not read), where equal values share one place.
type fieldChange struct {
	id, label      string
	from, to       []byte
	fromRef, toRef int32
}

// entryDecoder decodes the changelog entries of one snapshot, the fields
// and references of all of them sharing backing arrays.
//
// The entries of an issue repeat the same objects byte for byte: the
// issue, the authors, the fields, the statuses. The decoder remembers the
// last ones it read (memo): an object whose bytes are those of one read
// before is that one, as JSON objects end where their bytes say, and is
// not read again.
type entryDecoder struct {
	fields []fieldChange
	refs   []keptRef
	// words are the values of the entries' type and transport, which
	// repeat: each is allocated once per snapshot.
	words map[string]string

	issue  memo[struct{}]
	users  memo[tracker.Ref]
	field  memo[fieldRef]
	values memo[int32]
}

// keptRef is an object or array read in a changelog value: when it reads
// as a reference (isRef), the reference (raw and lean); once rendered, its
// rendering and how many users the rendering did not find.
type keptRef struct {
	raw      rawRef
	ref      tracker.Ref
	isRef    bool
	rendered bool
	text     string
	unknown  int
}

// fieldRef is the field of a field change: its id and label.
type fieldRef struct{ id, label string }

// reset empties the decoder for another snapshot, keeping its memory.
func (d *entryDecoder) reset() {
	clear(d.fields)
	clear(d.refs)
	d.fields, d.refs = d.fields[:0], d.refs[:0]
	if len(d.words) > 64 {
		d.words = nil // an unusual snapshot: do not keep its memory
	}
	clear(d.words)
	d.issue.reset()
	d.users.reset()
	d.field.reset()
	d.values.reset()
}

// decode decodes one changelog entry; ok is false when it does not
// decode (tracker.ChangelogEntry's rules).
func (d *entryDecoder) decode(b []byte) (entry, bool) {
	nf := len(d.fields)
	if e, ok := d.fast(b); ok {
		return e, true
	}
	d.fields = d.fields[:nf]
	return slowEntry(b)
}

// memoPrefix is how many leading bytes of an object its memo looks it up
// by; shorter objects are read every time.
const memoPrefix = 64

// memoSeed hashes the leading bytes of objects for the memos.
var memoSeed = maphash.MakeSeed()

// memo remembers the objects (and arrays) of one kind that were read,
// with what they gave, by a hash of their leading bytes. Its zero value
// is empty; reset empties it for another snapshot, keeping its memory.
type memo[V any] struct {
	index map[uint64]int
	raw   [][]byte
	val   []V
}

func (m *memo[V]) reset() {
	clear(m.index)
	clear(m.raw)
	clear(m.val) // its strings point into the snapshot
	m.raw, m.val = m.raw[:0], m.val[:0]
}

// read reads the object at the cursor with parse, unless its bytes are
// those of an object read before: then it skips them and returns what
// that one gave.
func (m *memo[V]) read(c *cursor, parse func(*cursor) V) V {
	start := c.peekStart()
	if ch := c.peek(); ch != '{' && ch != '[' || len(c.b)-start < memoPrefix {
		return parse(c)
	}
	rest := c.b[start:]
	h := maphash.Bytes(memoSeed, rest[:memoPrefix])
	i, seen := m.index[h]
	if seen {
		if r := m.raw[i]; len(rest) >= len(r) && string(rest[:len(r)]) == string(r) {
			c.i = start + len(r)
			return m.val[i]
		}
	}
	v := parse(c)
	if c.bad || c.i-start < memoPrefix {
		return v
	}
	switch {
	case seen:
		m.raw[i], m.val[i] = c.b[start:c.i], v
	case m.index == nil:
		m.index = map[uint64]int{}
		fallthrough
	default:
		m.index[h] = len(m.raw)
		m.raw, m.val = append(m.raw, c.b[start:c.i]), append(m.val, v)
	}
	return v
}

// slowEntry decodes an entry with encoding/json and pkg/tracker.
func slowEntry(b []byte) (entry, bool) {
	var ce tracker.ChangelogEntry
	if json.Unmarshal(b, &ce) != nil {
		return entry{}, false
	}
	e := entry{id: ce.ID.String(), typ: ce.Type, transport: ce.Transport, updatedAt: ce.UpdatedAt.Time, comments: ce.Comments}
	if ce.UpdatedBy != nil {
		e.updatedBy = lean(*ce.UpdatedBy)
	}
	for _, f := range ce.Fields {
		e.fields = append(e.fields, fieldChange{id: f.Field.ID.String(), label: f.Field.Label(), from: f.From, to: f.To})
	}
	return e, true
}

// lean keeps the parts of a reference that the rows use.
func lean(r tracker.Ref) tracker.Ref {
	return tracker.Ref{ID: r.ID, Key: r.Key, Display: r.Display, Name: r.Name}
}

// entryMembers are the members of a changelog entry the decoder knows.
var entryMembers = newMemberSet("id", "self", "issue", "updatedAt", "updatedBy", "type", "transport", "fields", "comments", "worklog", "links")

// fast decodes an entry with the cursor; ok is false when the cursor
// failed (the entry may still decode: see slowEntry).
func (d *entryDecoder) fast(b []byte) (e entry, ok bool) {
	c := cursor{b: b}
	c.object()
	var seen uint64
	for first := true; ; first = false {
		key, more := c.member(first)
		if !more {
			break
		}
		d.member(&c, &e, c.known(key, entryMembers, &seen))
	}
	c.end()
	return e, !c.bad
}

// member decodes the value of the entry's member entryMembers[k] (k < 0:
// a member the entry does not model).
func (d *entryDecoder) member(c *cursor, e *entry, k int) {
	switch k {
	case 0:
		e.id = c.id()
	case 1:
		c.checkString()
	case 2:
		d.issue.read(c, func(c *cursor) struct{} { c.ref(); return struct{}{} })
	case 3:
		e.updatedAt = c.time()
	case 4:
		e.updatedBy = d.users.read(c, func(c *cursor) tracker.Ref { r := c.ref(); return r.lean() })
	case 5:
		e.typ = d.word(c)
	case 6:
		e.transport = d.word(c)
	case 7:
		e.fields = d.fieldChanges(c)
	case 8:
		e.comments = c.raw()
	default:
		c.skip()
	}
}

// word reads a string or null as optStr does, the same text giving the
// same string.
func (d *entryDecoder) word(c *cursor) string {
	if c.peek() != '"' {
		return c.optStr()
	}
	start := c.i
	end, special := c.scanString()
	switch {
	case c.bad:
		return ""
	case special:
		c.i = start
		return c.str()
	}
	v := c.b[start+1 : end-1]
	if w, ok := d.words[string(v)]; ok {
		return w
	}
	if d.words == nil {
		d.words = map[string]string{}
	}
	w := string(v)
	d.words[w] = w
	return w
}

// memberSet is the members of an object that a decoder knows.
type memberSet struct {
	names  []string
	byLen  [][]int         // positions of the names, by their length
	folded map[string]bool // names lower-cased
}

func newMemberSet(names ...string) *memberSet {
	m := &memberSet{names: names, folded: make(map[string]bool, len(names))}
	for i, n := range names {
		for len(m.byLen) <= len(n) {
			m.byLen = append(m.byLen, nil)
		}
		m.byLen[len(n)] = append(m.byLen[len(n)], i)
		m.folded[strings.ToLower(n)] = true
	}
	return m
}

// known is the position of key in m (at most 64 names), -1 for a key that
// names none of them. A key seen before (seen has a bit per name) or that
// matches a name only case-insensitively (encoding/json's fallback, left
// to it) fails the cursor.
func (c *cursor) known(key []byte, m *memberSet, seen *uint64) int {
	if i, ok := m.find(key); ok {
		if *seen&(1<<i) != 0 {
			c.fail()
		}
		*seen |= 1 << i
		return i
	}
	if m.foldMatch(key) {
		c.fail()
	}
	return -1
}

// find is the position of key among the names: few names share a
// length, so it compares key with one or two of them.
func (m *memberSet) find(key []byte) (int, bool) {
	if len(key) >= len(m.byLen) {
		return 0, false
	}
	for _, i := range m.byLen[len(key)] {
		if string(key) == m.names[i] {
			return i, true
		}
	}
	return 0, false
}

// foldMatch reports whether key equals one of the names under Unicode
// case folding (bytes.EqualFold).
func (m *memberSet) foldMatch(key []byte) bool {
	var buf [32]byte
	if len(key) <= len(buf) {
		ascii := true
		for i, ch := range key {
			if ch >= utf8.RuneSelf {
				ascii = false
				break
			}
			if 'A' <= ch && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			buf[i] = ch
		}
		if ascii {
			return m.folded[string(buf[:len(key)])]
		}
	}
	for _, n := range m.names {
		if bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}

// fieldChanges reads the fields array of an entry (null: none).
func (d *entryDecoder) fieldChanges(c *cursor) []fieldChange {
	if c.peek() == 'n' {
		c.literal("null")
		return nil
	}
	start := len(d.fields)
	c.array()
	for first := true; c.elem(first); first = false {
		d.fields = append(d.fields, d.fieldChange(c))
	}
	if len(d.fields) == start {
		return nil
	}
	return d.fields[start:len(d.fields):len(d.fields)]
}

var fieldMembers = newMemberSet("field", "from", "to")

// fieldChange reads one element of the fields array; only objects are
// handled.
func (d *entryDecoder) fieldChange(c *cursor) fieldChange {
	var f fieldChange
	c.object()
	var seen uint64
	for first := true; ; first = false {
		key, more := c.member(first)
		if !more {
			break
		}
		switch c.known(key, fieldMembers, &seen) {
		case 0:
			fr := d.field.read(c, func(c *cursor) fieldRef { r := c.ref(); return fieldRef{r.idText(), r.label()} })
			f.id, f.label = fr.id, fr.label
		case 1:
			f.from, f.fromRef = d.value(c)
		case 2:
			f.to, f.toRef = d.value(c)
		default:
			c.skip()
		}
	}
	return f
}

// value reads a changelog value; one that reads as a reference is kept
// in refs too (k: its position + 1).
func (d *entryDecoder) value(c *cursor) (v []byte, k int32) {
	start := c.peekStart()
	switch c.peek() {
	case '{', '[':
		k = d.values.read(c, d.keep)
	default:
		c.skip()
	}
	if c.bad {
		return nil, 0
	}
	return c.b[start:c.i], k
}

// keep reads an object or array value into refs (as a reference when it
// reads as one) and returns its position + 1.
func (d *entryDecoder) keep(c *cursor) int32 {
	start := c.peekStart()
	object := c.peek() == '{'
	if object {
		sub := *c
		if r := sub.ref(); !sub.bad {
			*c = sub
			d.refs = append(d.refs, keptRef{raw: r, ref: r.lean(), isRef: true})
			return int32(len(d.refs))
		}
	}
	if c.skip(); c.bad {
		return 0
	}
	if object && isRefSlow(c.b[start:c.i]) {
		// The cursor gave up on an object that encoding/json reads as a
		// reference (a key matched only case-insensitively, a key given
		// twice): the entry is decoded the slow way.
		c.fail()
		return 0
	}
	d.refs = append(d.refs, keptRef{})
	return int32(len(d.refs))
}

// isRefSlow reports whether encoding/json reads v as a reference.
func isRefSlow(v []byte) bool {
	_, ok := refValue(v, 0, nil)
	return ok
}

// id reads a tracker.ID: a string, a number (kept as written) or null.
func (c *cursor) id() string {
	start := c.peekStart()
	c.checkID()
	if c.bad {
		return ""
	}
	return text(c.b[start:c.i])
}

// checkID checks a tracker.ID.
func (c *cursor) checkID() {
	switch ch := c.peek(); {
	case ch == '"':
		c.scanString()
	case ch == 'n':
		c.literal("null")
	case ch == '-' || isDigit(ch):
		c.number()
	default:
		c.fail()
	}
}

// checkString checks a string or null.
func (c *cursor) checkString() {
	switch c.peek() {
	case '"':
		c.scanString()
	case 'n':
		c.literal("null")
	default:
		c.fail()
	}
}

// time reads a tracker.Time: a datetime string, "" or null.
func (c *cursor) time() time.Time {
	start := c.peekStart()
	c.checkString()
	if c.bad {
		return time.Time{}
	}
	t, err := timeText(c.b[start:c.i])
	if err != nil {
		c.fail()
	}
	return t
}

// timeText reads a checked string or null as tracker.Time does.
func timeText(v []byte) (time.Time, error) {
	if v[0] == 'n' || len(v) == 2 {
		return time.Time{}, nil
	}
	if t, ok := parseTrackerTime(v[1 : len(v)-1]); ok {
		return t, nil
	}
	return tracker.ParseTime(unquote(v))
}

// parseTrackerTime reads exactly "YYYY-MM-DDTHH:MM:SS.mmm±hhmm" with
// every part in range, as time.Parse would; ok is false for anything else.
func parseTrackerTime(s []byte) (time.Time, bool) {
	if len(s) != 28 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || (s[23] != '+' && s[23] != '-') {
		return time.Time{}, false
	}
	year, ok1 := atoi(s[0:4])
	month, ok2 := atoi(s[5:7])
	day, ok3 := atoi(s[8:10])
	hour, ok4 := atoi(s[11:13])
	minute, ok5 := atoi(s[14:16])
	sec, ok6 := atoi(s[17:19])
	ms, ok7 := atoi(s[20:23])
	oh, ok8 := atoi(s[24:26])
	om, ok9 := atoi(s[26:28])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8 && ok9) {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 || oh > 23 || om > 59 {
		return time.Time{}, false
	}
	off := time.Duration(oh)*time.Hour + time.Duration(om)*time.Minute
	if s[23] == '-' {
		off = -off
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, ms*1e6, time.UTC).Add(-off), true
}

// atoi reads a run of decimal digits.
func atoi(s []byte) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// rawRef is a reference as the cursor read it: the raw JSON value of each
// member it has (nil when absent), or for a bare id (a string or number
// instead of an object) just id.
type rawRef struct {
	self, id, key, display, name []byte
}

var refMembers = newMemberSet("self", "id", "key", "display", "name", "cloudUid", "passportUid")

// ref reads a tracker.Ref: an object, a bare id, or null (the zero Ref).
func (c *cursor) ref() rawRef {
	var r rawRef
	switch ch := c.peek(); {
	case ch == 'n':
		c.literal("null")
		return r
	case ch != '{':
		start := c.i
		c.checkID()
		if !c.bad {
			r.id = c.b[start:c.i]
		}
		return r
	}
	c.object()
	var seen uint64
	for first := true; ; first = false {
		key, more := c.member(first)
		if !more {
			break
		}
		r.member(c, c.known(key, refMembers, &seen))
	}
	return r
}

// member reads the value of the reference's member refMembers[k].
func (r *rawRef) member(c *cursor, k int) {
	start := c.peekStart()
	switch k {
	case 0, 2:
		c.checkString()
	case 1, 5, 6:
		c.checkID()
	default:
		c.skip()
	}
	if c.bad {
		return
	}
	v := c.b[start:c.i]
	switch k {
	case 0:
		r.self = v
	case 1:
		r.id = v
	case 2:
		r.key = v
	case 3:
		r.display = v
	case 4:
		r.name = v
	}
}

// peekStart is the position of the next value.
func (c *cursor) peekStart() int {
	c.ws()
	return c.i
}

// text decodes a member that was checked to be a string, a number or
// null: a string's text, a number as written, "" for null or absent.
func text(v []byte) string {
	switch {
	case len(v) == 0 || v[0] == 'n':
		return ""
	case v[0] != '"':
		return borrow(v)
	}
	return unquote(v)
}

func (r *rawRef) idText() string { return text(r.id) }

// localizedText is tracker.Localized, reading a plain string itself.
func localizedText(v []byte) string {
	if len(v) == 0 || v[0] == 'n' && string(v) == "null" {
		return ""
	}
	if v[0] == '"' {
		return text(v)
	}
	return tracker.Localized(v)
}

// lean is the reference as tracker.Ref decodes it, without the members
// the rows do not use (Self, CloudUID, PassportUID).
func (r *rawRef) lean() tracker.Ref {
	return tracker.Ref{ID: tracker.ID(text(r.id)), Key: text(r.key), Display: localizedText(r.display), Name: localizedText(r.name)}
}

// label is tracker.Ref.Label without building the reference.
func (r *rawRef) label() string {
	if s := localizedText(r.display); s != "" {
		return s
	}
	if s := localizedText(r.name); s != "" {
		return s
	}
	if s := text(r.key); s != "" {
		return s
	}
	return text(r.id)
}

// selfHas reports whether the reference's self is not empty, and whether
// it contains sub.
func (r *rawRef) selfHas(sub string) (present, has bool) {
	s := r.self
	if len(s) == 0 || s[0] != '"' {
		return false, false
	}
	if bytes.IndexByte(s, '\\') < 0 {
		s = s[1 : len(s)-1]
		return len(s) > 0, bytes.Contains(s, []byte(sub))
	}
	u := unquote(s)
	return u != "", strings.Contains(u, sub)
}

// refValue decodes a changelog value that is a reference object
// (decodeRef's rules, with what lean drops); ok is false when it is not
// one. k is where the decoder kept the value's reference (see
// fieldChange).
func refValue(v []byte, k int32, refs []keptRef) (ref tracker.Ref, ok bool) {
	if k > 0 {
		return refs[k-1].ref, refs[k-1].isRef
	}
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] != '{' {
		return tracker.Ref{}, false
	}
	c := cursor{b: v}
	r := c.ref()
	c.end()
	if !c.bad {
		return r.lean(), true
	}
	if json.Unmarshal(v, &ref) != nil {
		return tracker.Ref{}, false
	}
	return lean(ref), true
}

// timeValue is tracker.Time.UnmarshalJSON on a changelog value: ok is
// false when the value is not a datetime (the time is then left as it
// was); null and "" are the zero time.
func timeValue(v []byte) (time.Time, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return time.Time{}, true
	}
	c := cursor{b: v}
	c.checkString()
	c.end()
	if c.bad {
		var t tracker.Time
		err := t.UnmarshalJSON(v)
		return t.Time, err == nil
	}
	t, err := timeText(v)
	return t, err == nil
}
