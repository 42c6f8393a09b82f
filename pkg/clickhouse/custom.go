package clickhouse

import (
	"context"
	"fmt"
	"time"
)

// CustomColumn is a configured custom field's column in the issues table.
type CustomColumn struct {
	// Name is the column name (an identifier not used by the schema).
	Name string
	// Type is String, Int64, UInt64, Float64, Date, DateTime or
	// Array(String).
	Type string
}

// ddlType is the column type as created: DateTime in UTC like the other
// times.
func (c CustomColumn) ddlType() string {
	if c.Type == "DateTime" {
		return "DateTime('UTC')"
	}
	return c.Type
}

func validCustomType(t string) bool {
	switch t {
	case "String", "Int64", "UInt64", "Float64", "Date", "DateTime", "Array(String)":
		return true
	}
	return false
}

// customIssueColumns appends one insert column per custom column; its
// values come from IssueRow.Custom, coerced to the column type (msgpack
// may decode an int64 as a smaller integer type, an array as []any).
func customIssueColumns(cols []column[issueRec], custom []CustomColumn) []column[issueRec] {
	for _, cc := range custom {
		name := cc.Name
		switch cc.Type {
		case "String":
			cols = append(cols, col(name, cc.ddlType(), func(r issueRec) string { s, _ := r.row.Custom[name].(string); return s }))
		case "Int64":
			cols = append(cols, col(name, cc.ddlType(), func(r issueRec) int64 { return int64(number(r.row.Custom[name])) }))
		case "UInt64":
			cols = append(cols, col(name, cc.ddlType(), func(r issueRec) uint64 {
				if n := number(r.row.Custom[name]); n > 0 {
					return uint64(n)
				}
				return 0
			}))
		case "Float64":
			cols = append(cols, col(name, cc.ddlType(), func(r issueRec) float64 { return number(r.row.Custom[name]) }))
		case "Date":
			cols = append(cols, col(name, cc.ddlType(), func(r issueRec) time.Time { t, _ := r.row.Custom[name].(time.Time); return date(t) }))
		case "DateTime":
			cols = append(cols, col(name, cc.ddlType(), func(r issueRec) time.Time { t, _ := r.row.Custom[name].(time.Time); return dateTime(t) }))
		case "Array(String)":
			cols = append(cols, col(name, cc.ddlType(), func(r issueRec) []string { return stringList(r.row.Custom[name]) }))
		}
	}
	return cols
}

func number(v any) float64 {
	switch n := v.(type) {
	case int8:
		return float64(n)
	case int16:
		return float64(n)
	case int32:
		return float64(n)
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case uint8:
		return float64(n)
	case uint16:
		return float64(n)
	case uint32:
		return float64(n)
	case uint64:
		return float64(n)
	case float32:
		return float64(n)
	case float64:
		return n
	}
	return 0
}

func stringList(v any) []string {
	switch s := v.(type) {
	case []string:
		return s
	case []any:
		out := make([]string, 0, len(s))
		for _, x := range s {
			str, _ := x.(string)
			out = append(out, str)
		}
		return out
	}
	return []string{}
}

// EnsureCustomColumns adds the configured custom columns the issues table
// lacks (the loader calls it at start; Migrate does too) and, when it
// added any, re-creates the issues views (a view keeps the column list it
// was created with). It returns what it did.
func (c *Client) EnsureCustomColumns(ctx context.Context) ([]string, error) {
	return c.addCustomColumns(ctx)
}

func (c *Client) addCustomColumns(ctx context.Context) ([]string, error) {
	var added []string
	for _, cc := range c.custom {
		ok, err := c.AddColumnIfMissing(ctx, c.tables.Issues, cc.Name, cc.ddlType())
		if err != nil {
			return added, fmt.Errorf("custom column %s: %w", cc.Name, err)
		}
		if ok {
			added = append(added, "add column "+c.tables.Issues+"."+cc.Name)
		}
	}
	if len(added) == 0 {
		return nil, nil
	}
	if err := c.recreateView(ctx, c.tables.Issues+"_all_view", "SELECT * FROM "+c.qualified(c.tables.Issues)+" FINAL"); err != nil {
		return added, err
	}
	// As migration 0018 defines it: deleted issues hidden.
	return added, c.recreateView(ctx, c.tables.Issues+"_view", "SELECT * FROM "+c.qualified(c.tables.Issues)+" FINAL WHERE `is_deleted` = 0")
}

// recreateView drops a view and creates it again with query.
func (c *Client) recreateView(ctx context.Context, name, query string) error {
	view := c.qualified(name)
	for _, stmt := range []string{"DROP TABLE IF EXISTS " + view, "CREATE VIEW IF NOT EXISTS " + view + " AS " + query} {
		for _, s := range c.cluster.statements(stmt, c.replicatedTables()) {
			if err := c.conn.Exec(ctx, s); err != nil {
				return fmt.Errorf("re-create %s: %w", view, err)
			}
		}
	}
	return nil
}
