package trackertest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The query-language subset (tracker-api.md §2.2 and §8 item 4):
//
//	query  := { term | "and" } [ sortby ]
//	term   := field ":" value { "," value }
//	value  := [ "!" ] [ ">" | ">=" | "<" | "<=" ] operand [ ".." operand ]
//	operand:= word | "quoted string" | func "()" [ ("+"|"-") N unit ]
//	sortby := ("Sort by" | "\"Sort by\"") ":" field [ASC|DESC] { "," field [ASC|DESC] }
//
// Terms are ANDed (with or without "and"); the values of one term are ORed,
// except negated ones ("Queue: !TRASH"), which all must hold. Field names,
// "and", functions and sort directions are case-insensitive.

// view gives predicates lazy access to one candidate issue: the cheap
// header facts first, the full state only when asked.
type view struct {
	s   *Server
	ref int32
	iss *issue // materialized, or generated on demand
	hd  *header
}

func (v *view) full() *issue {
	if v.iss == nil {
		v.iss = v.s.synthetic(int(v.ref), false)
	}
	return v.iss
}

func (v *view) updated() int64 {
	if v.iss != nil {
		return v.iss.updatedAt
	}
	return v.s.updatedOf(int(v.ref))
}

func (v *view) header() *header {
	if v.hd == nil {
		h := v.s.header(int(v.ref))
		v.hd = &h
	}
	return v.hd
}

func (v *view) created() int64 {
	if v.iss != nil {
		return v.iss.createdAt
	}
	return v.header().created
}

func (v *view) queue() int {
	if v.iss != nil {
		return v.iss.st.queue
	}
	_, cur, _ := v.s.queuesOf(int(v.ref))
	return cur
}

func (v *view) key() string {
	if v.iss != nil {
		return v.iss.key
	}
	_, cur, _ := v.s.queuesOf(int(v.ref))
	return v.s.synthKey(cur, int(v.ref)+1)
}

func (v *view) alias() string {
	if v.iss != nil {
		return v.iss.alias
	}
	orig, _, moved := v.s.queuesOf(int(v.ref))
	if !moved {
		return ""
	}
	return v.s.synthKey(orig, int(v.ref)+1)
}

type pred struct {
	fn   func(v *view) bool
	full bool // needs the full state
}

type sortSpec struct {
	field string // "updated", "created", "key"
	desc  bool
}

// criteria is a parsed search: a fast updatedAt range plus predicates.
type criteria struct {
	updLo, updHi int64 // inclusive
	preds        []pred
	keys         []string // keys mode: only these issues
	sort         []sortSpec
	sortGiven    bool
}

func newCriteria() *criteria {
	return &criteria{updLo: math.MinInt64, updHi: math.MaxInt64}
}

// queryError is a 400 answer.
type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }

func qerr(format string, a ...any) error { return &queryError{fmt.Sprintf(format, a...)} }

type operand struct {
	kind   byte // 'w' word, 's' string, 'f' function
	text   string
	offset int64 // ms, for functions
}

type qval struct {
	neg   bool
	op    string
	a     operand
	b     *operand // range a..b
	pos   int
	field string
}

type qparser struct {
	s   string
	pos int
}

func (p *qparser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

func (p *qparser) eof() bool { p.skipSpace(); return p.pos >= len(p.s) }

func (p *qparser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func isWordByte(c byte) bool {
	return c >= 0x80 || c == '_' || c == '-' || c == '.' || c == '@' || c == '/' ||
		('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func (p *qparser) word() string {
	start := p.pos
	for p.pos < len(p.s) && isWordByte(p.s[p.pos]) {
		if p.s[p.pos] == '.' && p.pos+1 < len(p.s) && p.s[p.pos+1] == '.' {
			break // range operator
		}
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *qparser) quoted() (string, error) {
	start := p.pos
	p.pos++ // opening quote
	var sb strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case '"':
			p.pos++
			return sb.String(), nil
		case '\\':
			if p.pos+1 < len(p.s) {
				sb.WriteByte(p.s[p.pos+1])
				p.pos += 2
				continue
			}
		}
		sb.WriteByte(c)
		p.pos++
	}
	return "", qerr("Query syntax error at position %d: unterminated string", start+1)
}

// matchWord consumes w (case-insensitive) when it is followed by a
// non-word character.
func (p *qparser) matchWord(w string) bool {
	end := p.pos + len(w)
	if end > len(p.s) || !strings.EqualFold(p.s[p.pos:end], w) {
		return false
	}
	if end < len(p.s) && isWordByte(p.s[end]) {
		return false
	}
	p.pos = end
	return true
}

func (p *qparser) matchSortBy() bool {
	save := p.pos
	quotedForm := p.peek() == '"'
	if quotedForm {
		p.pos++
	}
	if !p.matchWord("sort") {
		p.pos = save
		return false
	}
	p.skipSpace()
	if !p.matchWord("by") {
		p.pos = save
		return false
	}
	if quotedForm {
		if p.peek() != '"' {
			p.pos = save
			return false
		}
		p.pos++
	}
	p.skipSpace()
	if p.peek() != ':' {
		p.pos = save
		return false
	}
	p.pos++
	return true
}

// parseQuery parses query-language text into criteria.
func (s *Server) parseQuery(text string) (*criteria, error) {
	c := newCriteria()
	p := &qparser{s: text}
	for !p.eof() {
		if p.matchWord("and") {
			continue
		}
		if p.matchSortBy() {
			if err := p.parseSort(c); err != nil {
				return nil, err
			}
			if !p.eof() {
				return nil, qerr("Query syntax error at position %d: unexpected text after \"Sort by\"", p.pos+1)
			}
			break
		}
		if err := s.parseTerm(p, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (p *qparser) parseSort(c *criteria) error {
	c.sortGiven = true
	for {
		p.skipSpace()
		var name string
		if p.peek() == '"' {
			n, err := p.quoted()
			if err != nil {
				return err
			}
			name = n
		} else {
			name = p.word()
		}
		f, err := sortField(name)
		if err != nil {
			return err
		}
		spec := sortSpec{field: f}
		p.skipSpace()
		if p.matchWord("desc") {
			spec.desc = true
		} else {
			p.matchWord("asc")
		}
		c.sort = append(c.sort, spec)
		p.skipSpace()
		if p.peek() != ',' {
			return nil
		}
		p.pos++
	}
}

func sortField(name string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "updated", "updatedat":
		return "updated", nil
	case "created", "createdat":
		return "created", nil
	case "key":
		return "key", nil
	case "":
		return "", qerr("Query syntax error: field name expected after \"Sort by\"")
	}
	return "", qerr("Sorting by %q is not supported", name)
}

func (s *Server) parseTerm(p *qparser, c *criteria) error {
	p.skipSpace()
	start := p.pos
	var field string
	if p.peek() == '"' {
		f, err := p.quoted()
		if err != nil {
			return err
		}
		field = f
	} else {
		field = p.word()
	}
	if field == "" {
		return qerr("Query syntax error at position %d: field name expected", start+1)
	}
	p.skipSpace()
	if p.peek() != ':' {
		return qerr("Query syntax error at position %d: \":\" expected after %q", p.pos+1, field)
	}
	p.pos++
	var vals []qval
	for {
		v, err := p.parseValue()
		if err != nil {
			return err
		}
		v.field = field
		vals = append(vals, v)
		p.skipSpace()
		if p.peek() != ',' {
			break
		}
		p.pos++
	}
	return s.addTerm(c, field, vals)
}

func (p *qparser) parseValue() (qval, error) {
	p.skipSpace()
	v := qval{pos: p.pos}
	if p.peek() == '!' {
		v.neg = true
		p.pos++
		p.skipSpace()
	}
	for _, op := range []string{">=", "<=", ">", "<"} {
		if strings.HasPrefix(p.s[p.pos:], op) {
			v.op = op
			p.pos += len(op)
			p.skipSpace()
			break
		}
	}
	a, err := p.parseOperand()
	if err != nil {
		return v, err
	}
	v.a = a
	if strings.HasPrefix(p.s[p.pos:], "..") {
		p.pos += 2
		p.skipSpace()
		b, err := p.parseOperand()
		if err != nil {
			return v, err
		}
		v.b = &b
	}
	return v, nil
}

func (p *qparser) parseOperand() (operand, error) {
	start := p.pos
	if p.peek() == '"' {
		t, err := p.quoted()
		return operand{kind: 's', text: t}, err
	}
	w := p.word()
	if w == "" {
		return operand{}, qerr("Query syntax error at position %d: value expected", start+1)
	}
	if p.peek() != '(' {
		return operand{kind: 'w', text: w}, nil
	}
	p.pos++
	p.skipSpace()
	if p.peek() != ')' {
		return operand{}, qerr("Query syntax error at position %d: function %s() takes no arguments", p.pos+1, w)
	}
	p.pos++
	op := operand{kind: 'f', text: strings.ToLower(w)}
	// optional "± N unit", spaces allowed: now()-5d, now() - 1y
	save := p.pos
	p.skipSpace()
	if c := p.peek(); c == '-' || c == '+' {
		sign := int64(1)
		if c == '-' {
			sign = -1
		}
		p.pos++
		p.skipSpace()
		numStart := p.pos
		for p.pos < len(p.s) && '0' <= p.s[p.pos] && p.s[p.pos] <= '9' {
			p.pos++
		}
		if numStart == p.pos {
			return op, qerr("Query syntax error at position %d: number expected after %c", p.pos+1, c)
		}
		n, _ := strconv.ParseInt(p.s[numStart:p.pos], 10, 64)
		unitStart := p.pos
		for p.pos < len(p.s) && unicode.IsLetter(rune(p.s[p.pos])) {
			p.pos++
		}
		var unit int64
		switch p.s[unitStart:p.pos] {
		case "h":
			unit = 3600 * 1000
		case "d":
			unit = msPerDay
		case "w":
			unit = 7 * msPerDay
		case "y":
			unit = 365 * msPerDay
		default:
			return op, qerr("Query syntax error at position %d: unknown time unit %q (use h, d, w or y)", unitStart+1, p.s[unitStart:p.pos])
		}
		op.offset = sign * n * unit
	} else {
		p.pos = save
	}
	return op, nil
}

// interval returns the instant range [lo, hi) an operand denotes.
func (s *Server) interval(o operand, field string) (lo, hi int64, err error) {
	switch o.kind {
	case 'f':
		switch o.text {
		case "now":
			t := s.nowMS + o.offset
			return t, t + 1, nil
		case "today":
			y, m, d := s.now.In(s.zone).Date()
			t := time.Date(y, m, d, 0, 0, 0, 0, s.zone).UnixMilli() + o.offset
			return t, t + msPerDay, nil
		}
		return 0, 0, qerr("Function %s() cannot be used with field %q", o.text, field)
	}
	txt := strings.TrimSpace(o.text)
	layouts := []struct {
		layout string
		span   int64
		zoned  bool
	}{
		{"2006-01-02 15:04:05", 1000, false},
		{"2006-01-02 15:04", 60 * 1000, false},
		{"2006-01-02", msPerDay, false},
		{"2006-01-02T15:04:05", 1000, false},
		{"2006-01-02T15:04:05.000", 1, false},
		{"02.01.2006 15:04:05", 1000, false},
		{"02.01.2006", msPerDay, false},
		{"2006-01-02T15:04:05.000-0700", 1, true},
		{"2006-01-02T15:04:05Z07:00", 1000, true},
		{"2006-01-02T15:04:05.000Z07:00", 1, true},
	}
	for _, l := range layouts {
		var t time.Time
		var e error
		if l.zoned {
			t, e = time.Parse(l.layout, txt)
		} else {
			t, e = time.ParseInLocation(l.layout, txt, s.zone)
		}
		if e == nil {
			lo := t.UnixMilli()
			if l.span == msPerDay { // a calendar day in the zone, DST-aware
				return lo, t.AddDate(0, 0, 1).UnixMilli(), nil
			}
			return lo, lo + l.span, nil
		}
	}
	return 0, 0, qerr("Invalid date %q for field %q (expected \"YYYY-MM-DD HH:MM:SS\")", o.text, field)
}

// timeRange turns one datetime value into an inclusive range [lo, hi] of
// unix ms: ">" is after the literal's span, ">=" from its start, "<" before
// its start, "<=" up to its end, no operator within it; a..b from a's start
// to b's end.
func (s *Server) timeRange(v qval) (lo, hi int64, err error) {
	alo, ahi, err := s.interval(v.a, v.field)
	if err != nil {
		return 0, 0, err
	}
	if v.b != nil {
		if v.op != "" {
			return 0, 0, qerr("Query syntax error at position %d: a range cannot have %s", v.pos+1, v.op)
		}
		_, bhi, err := s.interval(*v.b, v.field)
		if err != nil {
			return 0, 0, err
		}
		return alo, bhi - 1, nil
	}
	switch v.op {
	case ">":
		return ahi, math.MaxInt64, nil
	case ">=":
		return alo, math.MaxInt64, nil
	case "<":
		return math.MinInt64, alo - 1, nil
	case "<=":
		return math.MinInt64, ahi - 1, nil
	}
	return alo, ahi - 1, nil
}

func isFunc(o operand, names ...string) bool {
	if o.kind != 'f' {
		return false
	}
	for _, n := range names {
		if o.text == n {
			return true
		}
	}
	return false
}

// addTerm compiles one term into a predicate.
func (s *Server) addTerm(c *criteria, field string, vals []qval) error {
	fname := strings.ToLower(strings.ReplaceAll(field, " ", ""))
	var pos, neg []func(v *view) bool
	full := false
	add := func(q qval, fn func(v *view) bool) {
		if q.neg {
			neg = append(neg, fn)
		} else {
			pos = append(pos, fn)
		}
	}
	for _, q := range vals {
		if q.op != "" || q.b != nil {
			switch fname {
			case "updated", "created", "resolved":
			default:
				return qerr("Field %q does not support comparisons", field)
			}
		}
		switch fname {
		case "queue":
			key := strings.ToUpper(q.a.text)
			qs := s.queueList()
			idx := -1
			for i := range qs {
				if qs[i].key == key {
					idx = i
				}
			}
			if q.a.kind == 'f' {
				return qerr("Function %s() cannot be used with field %q", q.a.text, field)
			}
			add(q, func(v *view) bool { return v.queue() == idx })
		case "key", "issue":
			key := strings.ToUpper(q.a.text)
			add(q, func(v *view) bool { return v.key() == key || v.alias() == key })
		case "status":
			st, err := lookupNamed(q.a, len(statusDefs), func(i int) (string, [2]string) { return statusDefs[i].key, statusDefs[i].name }, field)
			if err != nil {
				return err
			}
			full = true
			add(q, func(v *view) bool { return v.full().st.status == st })
		case "type":
			t, err := lookupNamed(q.a, len(issueTypeDefs), func(i int) (string, [2]string) { return issueTypeDefs[i].key, issueTypeDefs[i].name }, field)
			if err != nil {
				return err
			}
			full = true
			add(q, func(v *view) bool { return v.full().st.typ == t })
		case "priority":
			t, err := lookupNamed(q.a, len(priorityDefs), func(i int) (string, [2]string) { return priorityDefs[i].key, priorityDefs[i].name }, field)
			if err != nil {
				return err
			}
			full = true
			add(q, func(v *view) bool { return v.full().st.prio == t })
		case "resolution":
			full = true
			switch {
			case isFunc(q.a, "empty"):
				add(q, func(v *view) bool { return v.full().st.res < 0 })
			case isFunc(q.a, "notempty"):
				add(q, func(v *view) bool { return v.full().st.res >= 0 })
			default:
				t, err := lookupNamed(q.a, len(resolutionDefs), func(i int) (string, [2]string) { return resolutionDefs[i].key, resolutionDefs[i].name }, field)
				if err != nil {
					return err
				}
				add(q, func(v *view) bool { return v.full().st.res == t })
			}
		case "assignee", "author", "createdby":
			full = true
			get := func(v *view) int { return v.full().st.assignee }
			if fname != "assignee" {
				get = func(v *view) int { return v.full().createdBy }
			}
			switch {
			case isFunc(q.a, "empty"):
				add(q, func(v *view) bool { return get(v) < 0 })
			case isFunc(q.a, "notempty"):
				add(q, func(v *view) bool { return get(v) >= 0 })
			case isFunc(q.a, "me"):
				add(q, func(v *view) bool { return get(v) == 0 })
			case q.a.kind == 'f':
				return qerr("Function %s() cannot be used with field %q", q.a.text, field)
			default:
				u := lookupUser(q.a.text)
				add(q, func(v *view) bool { return u >= 0 && get(v) == u })
			}
		case "tags":
			full = true
			switch {
			case isFunc(q.a, "empty"):
				add(q, func(v *view) bool { return len(v.full().st.tags) == 0 })
			case isFunc(q.a, "notempty"):
				add(q, func(v *view) bool { return len(v.full().st.tags) > 0 })
			default:
				t := int32(-1)
				for i, tag := range tagBank {
					if strings.EqualFold(tag, q.a.text) {
						t = int32(i)
					}
				}
				add(q, func(v *view) bool { return contains(v.full().st.tags, t) })
			}
		case "epic", "parent":
			full = true
			get := func(v *view) int { return v.full().epic }
			if fname == "parent" {
				get = func(v *view) int { return v.full().parent }
			}
			switch {
			case isFunc(q.a, "empty"):
				add(q, func(v *view) bool { return get(v) < 0 })
			case isFunc(q.a, "notempty"):
				add(q, func(v *view) bool { return get(v) >= 0 })
			case q.a.kind == 'f':
				return qerr("Function %s() cannot be used with field %q", q.a.text, field)
			default:
				key := strings.ToUpper(q.a.text)
				add(q, func(v *view) bool {
					j := get(v)
					if j < 0 {
						return false
					}
					_, cur, _ := s.queuesOf(j)
					return s.synthKey(cur, j+1) == key
				})
			}
		case "updated", "created", "resolved":
			if fname == "resolved" && isFunc(q.a, "empty", "notempty") {
				full = true
				want := q.a.text == "notempty"
				add(q, func(v *view) bool { return (v.full().st.res >= 0) == want })
				continue
			}
			lo, hi, err := s.timeRange(q)
			if err != nil {
				return err
			}
			switch fname {
			case "updated":
				if !q.neg && len(vals) == 1 {
					c.updLo, c.updHi = max(c.updLo, lo), min(c.updHi, hi)
				}
				add(q, func(v *view) bool { t := v.updated(); return lo <= t && t <= hi })
			case "created":
				add(q, func(v *view) bool { t := v.created(); return lo <= t && t <= hi })
			default:
				full = true
				add(q, func(v *view) bool {
					st := &v.full().st
					return st.res >= 0 && lo <= st.resAt && st.resAt <= hi
				})
			}
		default:
			return qerr("Field %q is not supported by the emulator's query language", field)
		}
	}
	c.preds = append(c.preds, pred{full: full, fn: func(v *view) bool {
		for _, f := range neg {
			if f(v) {
				return false
			}
		}
		if len(pos) == 0 {
			return true
		}
		for _, f := range pos {
			if f(v) {
				return true
			}
		}
		return false
	}})
	return nil
}

// lookupNamed finds a directory entry by key or localized name.
func lookupNamed(o operand, n int, get func(int) (string, [2]string), field string) (int, error) {
	if o.kind == 'f' {
		return 0, qerr("Function %s() cannot be used with field %q", o.text, field)
	}
	for i := range n {
		key, names := get(i)
		if strings.EqualFold(key, o.text) || strings.EqualFold(names[0], o.text) || strings.EqualFold(names[1], o.text) {
			return i, nil
		}
	}
	return -1, nil
}

// lookupUser finds a user by login or uid; -1 if unknown.
func lookupUser(s string) int {
	s = strings.TrimPrefix(s, "login:")
	for u, d := range userDefs {
		if strings.EqualFold(d.login, s) || strconv.FormatInt(userUID(u), 10) == s {
			return u
		}
	}
	return -1
}
