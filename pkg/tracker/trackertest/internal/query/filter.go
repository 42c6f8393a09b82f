package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strings"
)

// ForQueue returns the plan of a search body's "queue": the issues of the
// queue with that key (none for an unknown key).
func ForQueue(key string, cat *Catalog) *Plan {
	c := &compiler{cat: cat, plan: NewPlan()}
	_ = c.addTerm("queue", []value{{a: operand{kind: 's', text: key}}})
	return c.plan
}

// ParseFilter compiles a search body's filter object: {"field": value |
// [values] | {"from": x, "to": y}}, fields as in the query language (plus
// updatedAt, createdAt, resolvedAt and keys), values strings, numbers or
// "func()". A range is two terms (>= from, <= to); fields are read in
// name order.
func ParseFilter(filter map[string]json.RawMessage, cat *Catalog) (*Plan, error) {
	c := &compiler{cat: cat, plan: NewPlan()}
	names := make([]string, 0, len(filter))
	for k := range filter {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, field := range names {
		if err := c.addFilterField(field, filter[field]); err != nil {
			return nil, err
		}
	}
	return c.plan, nil
}

// filterFieldName maps a filter key to the name of its term.
func filterFieldName(field string) string {
	fname := strings.ToLower(field)
	switch fname {
	case "updatedat", "createdat", "resolvedat":
		return strings.TrimSuffix(fname, "at")
	case "keys":
		return "key"
	}
	return fname
}

func (c *compiler) addFilterField(field string, raw json.RawMessage) error {
	fname := filterFieldName(field)
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '{' {
		return c.addFilterRange(field, fname, raw)
	}
	list := []json.RawMessage{raw}
	if len(t) > 0 && t[0] == '[' {
		list = nil
		if err := json.Unmarshal(raw, &list); err != nil {
			return errorf("Invalid value of filter field %q", field)
		}
	}
	vals := make([]value, 0, len(list))
	for _, m := range list {
		o, err := filterOperand(m)
		if err != nil {
			return errorf("Invalid value of filter field %q: %v", field, err)
		}
		vals = append(vals, value{a: o, field: field})
	}
	if len(vals) == 0 {
		return nil
	}
	return c.addTerm(fname, vals)
}

// addFilterRange compiles {"from": x, "to": y} (either may be missing or
// null) into a term per end.
func (c *compiler) addFilterRange(field, fname string, raw json.RawMessage) error {
	var rng struct {
		From *json.RawMessage `json:"from"`
		To   *json.RawMessage `json:"to"`
	}
	if err := json.Unmarshal(raw, &rng); err != nil {
		return errorf("Invalid value of filter field %q", field)
	}
	for _, part := range []struct {
		m  *json.RawMessage
		op string
	}{{rng.From, ">="}, {rng.To, "<="}} {
		if part.m == nil || string(*part.m) == "null" {
			continue
		}
		o, err := filterOperand(*part.m)
		if err != nil {
			return errorf("Invalid value of filter field %q: %v", field, err)
		}
		if err := c.addTerm(fname, []value{{op: part.op, a: o, field: field}}); err != nil {
			return err
		}
	}
	return nil
}

// filterOperand reads a filter value: a string, a number or "func()".
func filterOperand(m json.RawMessage) (operand, error) {
	var str string
	if err := json.Unmarshal(m, &str); err != nil {
		var n json.Number
		if err := json.Unmarshal(m, &n); err != nil {
			return operand{}, errors.New("a string or a number is expected")
		}
		str = n.String()
	}
	if name, ok := strings.CutSuffix(strings.TrimSpace(str), "()"); ok {
		return operand{kind: 'f', text: strings.ToLower(name)}, nil
	}
	return operand{kind: 's', text: str}, nil
}
