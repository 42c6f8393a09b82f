package query

import (
	"strconv"
	"strings"
	"unicode"
)

// Parse reads query-language text into a plan.
func Parse(text string, cat *Catalog) (*Plan, error) {
	c := &compiler{cat: cat, plan: NewPlan()}
	p := &parser{s: text}
	for !p.eof() {
		if p.matchWord("and") {
			continue
		}
		if p.matchSortBy() {
			if err := p.parseSortTail(c.plan); err != nil {
				return nil, err
			}
			break
		}
		field, vals, err := p.parseTerm()
		if err != nil {
			return nil, err
		}
		if err := c.addTerm(field, vals); err != nil {
			return nil, err
		}
	}
	return c.plan, nil
}

// operand is a word, a quoted string or a function call with its offset.
type operand struct {
	kind   byte // 'w' word, 's' string, 'f' function
	text   string
	offset int64 // ms, for functions
}

// isFunc tells whether o calls one of the (lower-case) functions.
func (o operand) isFunc(names ...string) bool {
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

// value is one value of a term.
type value struct {
	neg   bool
	op    string // "", ">", ">=", "<", "<="
	a     operand
	b     *operand // range a..b
	pos   int
	field string // as written, for messages
}

type parser struct {
	s   string
	pos int
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

func (p *parser) eof() bool { p.skipSpace(); return p.pos >= len(p.s) }

func (p *parser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func isWordByte(c byte) bool {
	return c >= 0x80 || c == '_' || c == '-' || c == '.' || c == '@' || c == '/' ||
		('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func (p *parser) word() string {
	start := p.pos
	for p.pos < len(p.s) && isWordByte(p.s[p.pos]) {
		if p.s[p.pos] == '.' && p.pos+1 < len(p.s) && p.s[p.pos+1] == '.' {
			break // range operator
		}
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *parser) quoted() (string, error) {
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
	return "", errorf("Query syntax error at position %d: unterminated string", start+1)
}

// name reads a quoted string or a word.
func (p *parser) name() (string, error) {
	if p.peek() == '"' {
		return p.quoted()
	}
	return p.word(), nil
}

// matchWord consumes w (case-insensitive) when it is followed by a
// non-word character.
func (p *parser) matchWord(w string) bool {
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

// matchSortBy consumes `Sort by:` or `"Sort by":`.
func (p *parser) matchSortBy() bool {
	save := p.pos
	if !p.sortBy() {
		p.pos = save
		return false
	}
	p.pos++ // ':'
	return true
}

// sortBy reads up to the colon of "Sort by"; false if it is not there.
func (p *parser) sortBy() bool {
	quotedForm := p.peek() == '"'
	if quotedForm {
		p.pos++
	}
	if !p.matchWord("sort") {
		return false
	}
	p.skipSpace()
	if !p.matchWord("by") {
		return false
	}
	if quotedForm {
		if p.peek() != '"' {
			return false
		}
		p.pos++
	}
	p.skipSpace()
	return p.peek() == ':'
}

// parseSortTail reads the keys after "Sort by:", which end the query.
func (p *parser) parseSortTail(plan *Plan) error {
	if err := p.parseSort(plan); err != nil {
		return err
	}
	if !p.eof() {
		return errorf("Query syntax error at position %d: unexpected text after \"Sort by\"", p.pos+1)
	}
	return nil
}

func (p *parser) parseSort(plan *Plan) error {
	for {
		p.skipSpace()
		name, err := p.name()
		if err != nil {
			return err
		}
		f, err := sortField(name)
		if err != nil {
			return err
		}
		key := SortKey{Field: f}
		p.skipSpace()
		if p.matchWord("desc") {
			key.Desc = true
		} else {
			p.matchWord("asc")
		}
		plan.Sort = append(plan.Sort, key)
		p.skipSpace()
		if p.peek() != ',' {
			return nil
		}
		p.pos++
	}
}

// ParseOrder reads one key of a search's order: "+f", "-f" (descending)
// or "f", where f is updated(At), created(At) or key.
func ParseOrder(o string) (SortKey, error) {
	o = strings.TrimSpace(o)
	f, err := sortField(strings.TrimLeft(o, "+-"))
	return SortKey{Field: f, Desc: strings.HasPrefix(o, "-")}, err
}

func sortField(name string) (Field, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "updated", "updatedat":
		return Updated, nil
	case "created", "createdat":
		return Created, nil
	case "key":
		return Key, nil
	case "":
		return 0, errorf("Query syntax error: field name expected after \"Sort by\"")
	}
	return 0, errorf("Sorting by %q is not supported", name)
}

// parseTerm reads `field: value, …`.
func (p *parser) parseTerm() (string, []value, error) {
	p.skipSpace()
	start := p.pos
	field, err := p.name()
	if err != nil {
		return "", nil, err
	}
	if field == "" {
		return "", nil, errorf("Query syntax error at position %d: field name expected", start+1)
	}
	p.skipSpace()
	if p.peek() != ':' {
		return "", nil, errorf("Query syntax error at position %d: \":\" expected after %q", p.pos+1, field)
	}
	p.pos++
	var vals []value
	for {
		v, err := p.parseValue()
		if err != nil {
			return "", nil, err
		}
		v.field = field
		vals = append(vals, v)
		p.skipSpace()
		if p.peek() != ',' {
			return field, vals, nil
		}
		p.pos++
	}
}

func (p *parser) parseValue() (value, error) {
	p.skipSpace()
	v := value{pos: p.pos}
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

func (p *parser) parseOperand() (operand, error) {
	start := p.pos
	if p.peek() == '"' {
		t, err := p.quoted()
		return operand{kind: 's', text: t}, err
	}
	w := p.word()
	if w == "" {
		return operand{}, errorf("Query syntax error at position %d: value expected", start+1)
	}
	if p.peek() != '(' {
		return operand{kind: 'w', text: w}, nil
	}
	p.pos++
	p.skipSpace()
	if p.peek() != ')' {
		return operand{}, errorf("Query syntax error at position %d: function %s() takes no arguments", p.pos+1, w)
	}
	p.pos++
	op := operand{kind: 'f', text: strings.ToLower(w)}
	// optional "± N unit", spaces allowed: now()-5d, now() - 1y
	save := p.pos
	p.skipSpace()
	c := p.peek()
	if c != '-' && c != '+' {
		p.pos = save
		return op, nil
	}
	var err error
	op.offset, err = p.parseOffset(c)
	return op, err
}

// Units of function offsets, in ms.
var offsetUnits = map[string]int64{"h": 3600 * 1000, "d": msPerDay, "w": 7 * msPerDay, "y": 365 * msPerDay}

// parseOffset reads "N unit" after the sign c of a function's offset.
func (p *parser) parseOffset(c byte) (int64, error) {
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
		return 0, errorf("Query syntax error at position %d: number expected after %c", p.pos+1, c)
	}
	n, _ := strconv.ParseInt(p.s[numStart:p.pos], 10, 64)
	unitStart := p.pos
	for p.pos < len(p.s) && unicode.IsLetter(rune(p.s[p.pos])) {
		p.pos++
	}
	unit, ok := offsetUnits[p.s[unitStart:p.pos]]
	if !ok {
		return 0, errorf("Query syntax error at position %d: unknown time unit %q (use h, d, w or y)", unitStart+1, p.s[unitStart:p.pos])
	}
	return sign * n * unit, nil
}
