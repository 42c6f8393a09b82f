package grafana

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// grafanaContext is what a panel query is expanded with: the dashboard's
// time range and the selection of each template variable.
//
// expand does what Grafana and grafana-clickhouse-datasource (4.x) do to a
// panel's rawSql before ClickHouse sees it, in the same order:
//
//  1. the plugin's frontend (applyTemplateVariables) replaces every
//     $__conditionalAll(condition, $var) by 1=1 when the variable selects
//     All, else by the condition;
//  2. Grafana's templateSrv.replace substitutes the variables: ${v:singlequote}
//     is each value in single quotes (a quote inside escaped as \') joined
//     by commas; $v and ${v} use the plugin's format (several values: 'a','b'
//     without escaping; one value: as it is); All without a custom all
//     value stands for every option; unknown names stay as written;
//  3. the plugin's backend expands its macros: $__timeFilter(c) is
//     c >= toDateTime(from) AND c <= toDateTime(to) (Unix seconds),
//     $__dateFilter(c) is c >= toDate('from') AND c <= toDate('to') (UTC
//     dates), $__fromTime and $__toTime are toDateTime(from|to).
//
// The millisecond macros ($__timeFilter_ms, $__fromTime_ms, ...) produce
// DateTime64, which ClickHouse 18.16 lacks; expand refuses them, and any
// other $ left outside a string literal.
type grafanaContext struct {
	from, to time.Time
	vars     map[string]selection
}

// selection is a variable's current value: All (every option) or the
// values picked.
type selection struct {
	all    bool
	values []string // the picked values, or every option when all
}

func (c grafanaContext) expand(sql string) (string, error) {
	s, err := c.conditionalAll(sql)
	if err != nil {
		return "", err
	}
	s = c.replaceVariables(s)
	if s, err = c.macros(s); err != nil {
		return "", err
	}
	if i := strings.IndexByte(stripLiterals(s), '$'); i >= 0 {
		return "", fmt.Errorf("a $ is left after the substitutions at %q", s[i:min(len(s), i+40)])
	}
	return s, nil
}

const conditionalAllMacro = "$__conditionalAll("

// conditionalAll mirrors the plugin's applyConditionalAll: macros are
// replaced from the last one back; the arguments split at commas directly
// inside the macro's parentheses.
func (c grafanaContext) conditionalAll(sql string) (string, error) {
	varRE := regexp.MustCompile(`^\s*\$\{?(\w+)\}?\s*$`)
	for i := strings.LastIndex(sql, conditionalAllMacro); i >= 0; i = strings.LastIndex(sql, conditionalAllMacro) {
		args, end := macroArgs(sql, i+len(conditionalAllMacro)-1)
		if len(args) != 2 {
			return "", fmt.Errorf("$__conditionalAll with %d arguments (want a condition and a $variable)", len(args))
		}
		m := varRE.FindStringSubmatch(args[1])
		if m == nil {
			return "", fmt.Errorf("$__conditionalAll second argument %q is not a plain $variable", args[1])
		}
		sel, ok := c.vars[m[1]]
		if !ok {
			return "", fmt.Errorf("$__conditionalAll names the unknown variable %s", m[1])
		}
		phrase := args[0]
		if sel.all || len(sel.values) == 1 && sel.values[0] == "" {
			phrase = "1=1"
		}
		sql = sql[:i] + phrase + sql[end:]
	}
	return sql, nil
}

// macroArgs returns the arguments of the call whose "(" is at open, split
// at the commas of depth one, and the index just past its ")"; nil when the
// parentheses do not close.
func macroArgs(s string, open int) ([]string, int) {
	depth, last := 0, open+1
	var args []string
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return append(args, s[last:i]), i + 1
			}
		case ',':
			if depth == 1 {
				args = append(args, s[last:i])
				last = i + 1
			}
		}
	}
	return nil, len(s)
}

// variableRE is Grafana's variable syntax: $name, [[name:format]] and
// ${name:format}.
var variableRE = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}`)

func (c grafanaContext) replaceVariables(sql string) string {
	return variableRE.ReplaceAllStringFunc(sql, func(m string) string {
		g := variableRE.FindStringSubmatch(m)
		name, format := g[1]+g[2]+g[4], g[3]+g[5]
		sel, ok := c.vars[name]
		if !ok {
			return m // Grafana leaves unknown names, the $__ macros among them
		}
		switch format {
		case "singlequote":
			quoted := make([]string, len(sel.values))
			for i, v := range sel.values {
				quoted[i] = "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
			}
			return strings.Join(quoted, ",")
		case "":
			// The plugin's own format: a multi-value variable's values
			// (always an array) quoted and joined.
			return "'" + strings.Join(sel.values, "','") + "'"
		default:
			return "${unsupported format " + format + "}"
		}
	})
}

var macroRE = regexp.MustCompile(`\$__(\w+)`)

// macros expands the backend macros the dashboards may use; string
// literals are left alone, as the plugin does.
func (c grafanaContext) macros(sql string) (string, error) {
	var b strings.Builder
	for {
		loc := macroRE.FindStringSubmatchIndex(stripLiterals(sql))
		if loc == nil {
			b.WriteString(sql)
			return b.String(), nil
		}
		b.WriteString(sql[:loc[0]])
		name, rest := sql[loc[2]:loc[3]], sql[loc[1]:]
		var args []string
		if strings.HasPrefix(rest, "(") {
			var end int
			if args, end = macroArgs(rest, 0); args == nil {
				return "", fmt.Errorf("$__%s: unclosed (", name)
			}
			rest = rest[end:]
		}
		out, err := c.macro(name, args)
		if err != nil {
			return "", err
		}
		b.WriteString(out)
		sql = rest
	}
}

func (c grafanaContext) macro(name string, args []string) (string, error) {
	seconds := func(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
	date := func(t time.Time) string { return "toDate('" + t.UTC().Format(time.DateOnly) + "')" }
	column := func() (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("$__%s expected 1 argument, received %d", name, len(args))
		}
		return strings.TrimSpace(args[0]), nil
	}
	switch name {
	case "timeFilter", "dateFilter":
		col, err := column()
		if err != nil {
			return "", err
		}
		if name == "dateFilter" {
			return fmt.Sprintf("%s >= %s AND %s <= %s", col, date(c.from), col, date(c.to)), nil
		}
		return fmt.Sprintf("%s >= %s AND %s <= %s", col, seconds(c.from), col, seconds(c.to)), nil
	case "fromTime", "toTime":
		if args != nil {
			return "", fmt.Errorf("$__%s takes no arguments", name)
		}
		if name == "fromTime" {
			return seconds(c.from), nil
		}
		return seconds(c.to), nil
	case "timeFilter_ms", "fromTime_ms", "toTime_ms", "timeInterval_ms":
		return "", fmt.Errorf("$__%s makes DateTime64, which ClickHouse 18.16 does not have", name)
	}
	return "", fmt.Errorf("$__%s: a macro these tests do not expand (add it to grafanaContext.macro, as the plugin defines it)", name)
}

// stripLiterals blanks out the contents of '...' string literals (with
// backslash escapes), so that a $ inside one is not taken for a macro.
func stripLiterals(s string) string {
	b := []byte(s)
	in := false
	for i := 0; i < len(b); i++ {
		switch {
		case in && b[i] == '\\':
			b[i] = ' '
			if i+1 < len(b) {
				i++
				b[i] = ' '
			}
		case b[i] == '\'':
			in = !in
		case in:
			b[i] = ' '
		}
	}
	return string(b)
}

// TestExpandMatchesThePlugin: the substitutions give what the plugin's
// documentation and code give for the same input.
func TestExpandMatchesThePlugin(t *testing.T) {
	from, to := time.Unix(1415792726, 0), time.Unix(1447328726, 0)
	c := grafanaContext{from: from, to: to, vars: map[string]selection{
		"queue":    {all: true, values: []string{"DEV", "OPS"}},
		"type":     {values: []string{"bug", "task"}},
		"assignee": {values: []string{"o'neil@example.com"}},
	}}
	tests := []struct{ in, want string }{
		{"WHERE $__timeFilter(done_at)", "WHERE done_at >= toDateTime(1415792726) AND done_at <= toDateTime(1447328726)"},
		{"WHERE $__dateFilter(day)", "WHERE day >= toDate('2014-11-12') AND day <= toDate('2015-11-12')"},
		{"SELECT arrayJoin([$__fromTime, $__toTime])", "SELECT arrayJoin([toDateTime(1415792726), toDateTime(1447328726)])"},
		{"WHERE $__conditionalAll(queue IN (${queue:singlequote}), $queue)", "WHERE 1=1"},
		{"WHERE $__conditionalAll(issue_type IN (${type:singlequote}), $type)", "WHERE issue_type IN ('bug','task')"},
		{"WHERE $__conditionalAll(assignee IN (${assignee:singlequote}), ${assignee})", `WHERE assignee IN ('o\'neil@example.com')`},
		{"WHERE queue IN (${queue:singlequote})", "WHERE queue IN ('DEV','OPS')"},
		{"WHERE queue IN ($queue) AND t IN (${type})", "WHERE queue IN ('DEV','OPS') AND t IN ('bug','task')"},
		{"SELECT '$__literal'", "SELECT '$__literal'"},
	}
	for _, tt := range tests {
		got, err := c.expand(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		"WHERE $__timeFilter_ms(t)", "WHERE $__unknown(t)", "WHERE x = $nope",
		"WHERE $__conditionalAll(a, b, $queue)", "WHERE $__timeFilter(a, b)", "WHERE $__conditionalAll(x IN (1), $nope)",
	} {
		if got, err := c.expand(bad); err == nil {
			t.Errorf("expand(%q) = %q, want an error", bad, got)
		}
	}
}
