package setting

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Problem is one invalid field of a component's configuration, as its
// Validate method reports it. Field is the Go field path in the component's
// Config ("Timeout", "Search.Range"); the reason may name other fields with
// Ref arguments. A configuration loader renames both with the variables the
// fields are tagged with (Names, Explain): the component never needs to know
// where a value came from.
type Problem struct {
	// Field is the field path, e.g. "Timeout".
	Field string
	// Value is the offending value; empty when it is a secret or when the
	// reason quotes what is wrong.
	Value string
	// Secret marks a problem with a secret: its value is never shown.
	Secret bool
	// Format and Args say what is wrong and what is wanted (fmt.Sprintf);
	// an argument of type Ref names another field.
	Format string
	Args   []any
}

// Ref is an argument of a Problem's reason that names another field by its
// path.
type Ref string

// Error formats the problem on one line: Field="value": reason, the fields
// the reason refers to named by their paths.
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Field)
	switch {
	case p.Secret:
		b.WriteString(" (value hidden)")
	case p.Value != "":
		fmt.Fprintf(&b, "=%q", p.Value)
	}
	b.WriteString(": ")
	b.WriteString(p.Explain(nil))
	return b.String()
}

// Explain returns the reason with each Ref argument replaced by
// names[path], or by the path when names has none.
func (p *Problem) Explain(names map[string]string) string {
	args := make([]any, len(p.Args))
	for i, a := range p.Args {
		args[i] = a
		if r, ok := a.(Ref); ok {
			args[i] = string(r)
			if n, ok := names[string(r)]; ok {
				args[i] = n
			}
		}
	}
	return fmt.Sprintf(p.Format, args...)
}

// Problems collects the problems of one Validate call. The zero value is
// ready to use; Err returns them joined.
type Problems []error

// Add reports a problem with field; a non-nil value is shown with it.
func (p *Problems) Add(field string, value any, format string, args ...any) {
	pr := &Problem{Field: field, Format: format, Args: args}
	if value != nil {
		pr.Value = fmt.Sprint(value)
	}
	*p = append(*p, pr)
}

// AddSecret reports a problem with a secret field, never showing its value.
func (p *Problems) AddSecret(field, format string, args ...any) {
	*p = append(*p, &Problem{Field: field, Secret: true, Format: format, Args: args})
}

// IntRange reports v outside lo..hi.
func (p *Problems) IntRange(field string, v, lo, hi int) {
	if v < lo || v > hi {
		p.Add(field, v, "want %d..%d", lo, hi)
	}
}

// Positive reports a duration that is not above zero.
func (p *Problems) Positive(field string, d time.Duration) {
	if d <= 0 {
		p.Add(field, d, "want a positive duration")
	}
}

// OneOf reports v not among allowed.
func (p *Problems) OneOf(field, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		p.Add(field, v, "want %s", OrList(allowed))
	}
}

// NonEmpty reports a blank v.
func (p *Problems) NonEmpty(field, v string) {
	if strings.TrimSpace(v) == "" {
		p.Add(field, nil, "must not be empty")
	}
}

// Err returns the problems joined (errors.Join), or nil.
func (p Problems) Err() error { return errors.Join(p...) }

// OrList renders "a", "a or b", "a, b or c".
func OrList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Names returns the value of the struct tag key of every field of the
// struct v (or the struct v points to), by field path: nested and embedded
// structs are walked, their fields' paths joined with dots, except that an
// embedded struct adds no element (its fields are promoted). Fields without
// the tag are left out.
func Names(v any, key string) map[string]string {
	out := map[string]string{}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	names(t, "", key, out)
	return out
}

func names(t reflect.Type, prefix, key string, out map[string]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		path := prefix + f.Name
		if f.Anonymous {
			path = strings.TrimSuffix(prefix, ".")
		}
		if tag := f.Tag.Get(key); tag != "" {
			out[path] = tag
		}
		if f.Type.Kind() == reflect.Struct {
			p := path + "."
			if path == "" {
				p = ""
			}
			names(f.Type, p, key, out)
		}
	}
}
