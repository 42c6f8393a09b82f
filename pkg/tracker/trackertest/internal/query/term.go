package query

import "strings"

// compiler turns parsed terms into the terms of a plan, resolving names
// against the catalog.
type compiler struct {
	cat  *Catalog
	plan *Plan
}

// addTerm compiles one term; field is its name as the messages show it.
func (c *compiler) addTerm(field string, vals []value) error {
	f, known := fieldNames[strings.ToLower(strings.ReplaceAll(field, " ", ""))]
	t := Term{Field: f, Conds: make([]Cond, 0, len(vals))}
	for _, v := range vals {
		if (v.op != "" || v.b != nil) && !f.isTime() {
			return errorf("Field %q does not support comparisons", field)
		}
		if !known {
			return errorf("Field %q is not supported by the emulator's query language", field)
		}
		cond, err := c.cond(f, field, v)
		if err != nil {
			return err
		}
		cond.Neg = v.neg
		if f == Updated && cond.Op == Range && !v.neg && len(vals) == 1 {
			c.plan.UpdatedFrom = max(c.plan.UpdatedFrom, cond.Lo)
			c.plan.UpdatedTo = min(c.plan.UpdatedTo, cond.Hi)
		}
		t.Conds = append(t.Conds, cond)
	}
	c.plan.Terms = append(c.plan.Terms, t)
	return nil
}

// cond compiles one value of a term of field f.
func (c *compiler) cond(f Field, field string, v value) (Cond, error) {
	switch f {
	case Queue:
		return c.queueCond(field, v.a)
	case Key:
		return Cond{Op: Eq, Key: strings.ToUpper(v.a.text)}, nil
	case Status:
		return namedCond(c.cat.Statuses, field, v.a)
	case Type:
		return namedCond(c.cat.Types, field, v.a)
	case Priority:
		return namedCond(c.cat.Priorities, field, v.a)
	case Resolution:
		return c.resolutionCond(field, v.a)
	case Assignee, Author:
		return c.userCond(field, v.a)
	case Tags:
		return c.tagCond(v.a), nil
	case Epic, Parent:
		return issueCond(field, v.a)
	}
	return c.timeCond(f, v)
}

func funcError(o operand, field string) error {
	return errorf("Function %s() cannot be used with field %q", o.text, field)
}

// emptiness compiles empty() and notEmpty(); ok is false for other operands.
func emptiness(o operand) (Cond, bool) {
	switch {
	case o.isFunc("empty"):
		return Cond{Op: Empty}, true
	case o.isFunc("notempty"):
		return Cond{Op: NotEmpty}, true
	}
	return Cond{}, false
}

func (c *compiler) queueCond(field string, o operand) (Cond, error) {
	if o.kind == 'f' {
		return Cond{}, funcError(o, field)
	}
	key := strings.ToUpper(o.text)
	idx := -1
	for i, q := range c.cat.Queues {
		if q == key {
			idx = i
		}
	}
	return Cond{Op: Eq, Index: idx}, nil
}

// namedCond finds a directory entry by key or localized name; an unknown
// one names nothing (-1).
func namedCond(entries []Entry, field string, o operand) (Cond, error) {
	if o.kind == 'f' {
		return Cond{}, funcError(o, field)
	}
	for i, e := range entries {
		if strings.EqualFold(e.Key, o.text) || strings.EqualFold(e.Names[0], o.text) || strings.EqualFold(e.Names[1], o.text) {
			return Cond{Op: Eq, Index: i}, nil
		}
	}
	return Cond{Op: Eq, Index: -1}, nil
}

func (c *compiler) resolutionCond(field string, o operand) (Cond, error) {
	if cond, ok := emptiness(o); ok {
		return cond, nil
	}
	return namedCond(c.cat.Resolutions, field, o)
}

// userCond compiles a value of Assignee or Author: empty(), notEmpty(),
// me(), a login ("login:" optional) or a uid.
func (c *compiler) userCond(field string, o operand) (Cond, error) {
	if cond, ok := emptiness(o); ok {
		return cond, nil
	}
	switch {
	case o.isFunc("me"):
		return Cond{Op: Eq, Index: c.cat.Me}, nil
	case o.kind == 'f':
		return Cond{}, funcError(o, field)
	}
	return Cond{Op: Eq, Index: c.cat.user(o.text)}, nil
}

// user finds a user by login or uid; -1 if unknown.
func (cat *Catalog) user(s string) int {
	s = strings.TrimPrefix(s, "login:")
	for u, d := range cat.Users {
		if strings.EqualFold(d.Login, s) || d.UID == s {
			return u
		}
	}
	return -1
}

func (c *compiler) tagCond(o operand) Cond {
	if cond, ok := emptiness(o); ok {
		return cond
	}
	t := -1
	for i, tag := range c.cat.Tags {
		if strings.EqualFold(tag, o.text) {
			t = i
		}
	}
	return Cond{Op: Eq, Index: t}
}

// issueCond compiles a value of Epic or Parent: empty(), notEmpty() or a key.
func issueCond(field string, o operand) (Cond, error) {
	if cond, ok := emptiness(o); ok {
		return cond, nil
	}
	if o.kind == 'f' {
		return Cond{}, funcError(o, field)
	}
	return Cond{Op: Eq, Key: strings.ToUpper(o.text)}, nil
}

// timeCond compiles a value of Updated, Created or Resolved (which also
// takes empty() and notEmpty()).
func (c *compiler) timeCond(f Field, v value) (Cond, error) {
	if f == Resolved {
		if cond, ok := emptiness(v.a); ok {
			return cond, nil
		}
	}
	lo, hi, err := c.timeRange(v)
	if err != nil {
		return Cond{}, err
	}
	return Cond{Op: Range, Lo: lo, Hi: hi}, nil
}
