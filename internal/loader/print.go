package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// PrintSink writes rows as JSON lines instead of loading them (the old
// EXPORTER_CLICKHOUSE__ENABLE_UPLOAD=false). Each row is one line,
//
//	{"table":"issues","row":{"version":"2024-03-04T08:00:00Z","issue_id":"…",…}}
//
// whose row object has the table's column names in table order and the
// values the ClickHouse sink would insert (clickhouse.IssueFields and
// friends, the single source of the column lists), except:
//   - a Date or DateTime column holding the zero date (1970-01-01, an
//     empty date) is left out, as the old tool left empty dates out of
//     the rows it printed; _slot, chosen at insert time, is left out too;
//   - times are RFC 3339 in UTC with whole seconds
//     ("2024-03-04T07:00:00Z"), dates are "2024-03-04";
//   - NULL, and a float that is not a number, is null.
//
// Safe for concurrent use; the zero value with W set prints to W.
type PrintSink struct {
	mu sync.Mutex
	// W receives the lines.
	W io.Writer
	// Tables names the tables; an empty name is the default one.
	Tables wire.Tables
	// Custom lists the custom columns of the issues table. Custom values
	// of a row that it does not list are printed after them, by name.
	Custom []clickhouse.CustomColumn
}

// InsertRows prints every row of rows, a message's issue row first, then
// the rows of its other tables (clickhouse.ChildFields). The lines of one call are
// written at once; it returns the write error.
func (p *PrintSink) InsertRows(_ context.Context, rows []*wire.IssueRows) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := p.names()
	var buf bytes.Buffer
	for _, env := range rows {
		if env == nil {
			continue
		}
		appendRowLine(&buf, names.Issues, p.issueFields(env))
		for _, r := range clickhouse.ChildFields(env, names) {
			appendRowLine(&buf, r.Table, r.Fields)
		}
	}
	return p.write(&buf, "rows")
}

// write writes the lines of one call at once.
func (p *PrintSink) write(buf *bytes.Buffer, what string) error {
	if buf.Len() == 0 {
		return nil
	}
	if _, err := p.W.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("print %s: %w", what, err)
	}
	return nil
}

// InsertDirectory prints the sprints and boards of a directory.
func (p *PrintSink) InsertDirectory(_ context.Context, d *wire.DirectoryRows) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var buf bytes.Buffer
	for _, r := range clickhouse.DirectoryFields(d, p.names()) {
		appendRowLine(&buf, r.Table, r.Fields)
	}
	return p.write(&buf, "boards and sprints")
}

// names are the table names, the default for those Tables leaves empty.
func (p *PrintSink) names() clickhouse.TableNames {
	names := wire.DefaultTables()
	own := p.Tables
	mine := own.Refs()
	for i, r := range names.Refs() {
		if *mine[i].Name != "" {
			*r.Name = *mine[i].Name
		}
	}
	return clickhouse.TableNames(names)
}

// issueFields is the issue row's fields plus the custom values that
// Custom does not list.
func (p *PrintSink) issueFields(env *wire.IssueRows) []clickhouse.Field {
	fields := clickhouse.IssueFields(env, p.Custom)
	var extra []string
	for name := range env.Issue.Custom {
		if !slices.ContainsFunc(p.Custom, func(c clickhouse.CustomColumn) bool { return c.Name == name }) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		fields = append(fields, clickhouse.Field{Name: name, Value: env.Issue.Custom[name]})
	}
	return fields
}

// appendRowLine appends {"table":…,"row":{…}} and a newline to buf.
func appendRowLine(buf *bytes.Buffer, table string, fields []clickhouse.Field) {
	buf.WriteString(`{"table":`)
	appendJSON(buf, table)
	buf.WriteString(`,"row":{`)
	n := 0
	for _, f := range fields {
		v, ok := printValue(f)
		if !ok {
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		appendJSON(buf, f.Name)
		buf.WriteByte(':')
		appendJSON(buf, v)
	}
	buf.WriteString("}}\n")
}

// printValue is what a field prints as; false leaves the field out (an
// empty date).
func printValue(f clickhouse.Field) (any, bool) {
	switch v := f.Value.(type) {
	case time.Time:
		if v.IsZero() || v.Equal(time.Unix(0, 0)) {
			return nil, false
		}
		if f.Type == "Date" {
			return v.UTC().Format(time.DateOnly), true
		}
		return v.UTC().Format(time.RFC3339), true
	case float32:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, true
		}
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, true
		}
	case *float64:
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			return nil, true
		}
	}
	return f.Value, true
}

// appendJSON appends v as JSON without HTML escaping; a value that does
// not encode is written as null.
func appendJSON(buf *bytes.Buffer, v any) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.WriteString("null")
		return
	}
	buf.WriteString(strings.TrimSuffix(b.String(), "\n"))
}
