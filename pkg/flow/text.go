package flow

import (
	"strconv"
	"strings"
	"unicode"
)

// SnakeCase converts a display name to the old tool's snake_case key, exactly
// as its to_snake_case did: quotes are dropped, runs of '_' and '-' become
// spaces, every word is title-cased (Python's str.title: a letter after a
// non-letter starts a word) and the spaces removed, then camel case is split
// with '_' and the result lower-cased. "Ready for release" becomes
// "ready_for_release" and "В работе" becomes "вработе".
func SnakeCase(s string) string {
	if s == "" {
		return ""
	}
	// Quotes out, [_-]+ to one space, title case, spaces out.
	var b strings.Builder
	b.Grow(len(s))
	prevCased, inSep := false, false
	for _, r := range s {
		switch r {
		case '\'', '"':
			continue
		case '_', '-':
			if !inSep {
				inSep = true
				prevCased = false // a space: not cased
			}
			continue
		}
		inSep = false
		switch {
		case unicode.IsUpper(r) || unicode.IsTitle(r):
			if prevCased {
				r = unicode.ToLower(r)
			}
			prevCased = true
		case unicode.IsLower(r):
			if !prevCased {
				r = unicode.ToTitle(r)
			}
			prevCased = true
		default:
			prevCased = false
		}
		if r == ' ' {
			continue
		}
		b.WriteRune(r)
	}
	rs := []rune(b.String())
	// re.sub('(.)([A-Z][a-z]+)', r'\1_\2', s)
	out := make([]rune, 0, len(rs)+8)
	for i := 0; i < len(rs); {
		if rs[i] != '\n' && i+2 < len(rs) && isASCIIUpper(rs[i+1]) && isASCIILower(rs[i+2]) {
			j := i + 3
			for j < len(rs) && isASCIILower(rs[j]) {
				j++
			}
			out = append(out, rs[i], '_')
			out = append(out, rs[i+1:j]...)
			i = j
			continue
		}
		out = append(out, rs[i])
		i++
	}
	// re.sub('([a-z0-9])([A-Z])', r'\1_\2', s), then lower().
	rs, out = out, rs[:0]
	for i := 0; i < len(rs); {
		if (isASCIILower(rs[i]) || ('0' <= rs[i] && rs[i] <= '9')) && i+1 < len(rs) && isASCIIUpper(rs[i+1]) {
			out = append(out, rs[i], '_', rs[i+1])
			i += 2
			continue
		}
		out = append(out, rs[i])
		i++
	}
	return strings.ToLower(string(out))
}

func isASCIIUpper(r rune) bool { return 'A' <= r && r <= 'Z' }
func isASCIILower(r rune) bool { return 'a' <= r && r <= 'z' }

var humanUnits = [...]struct {
	name string
	secs int64
}{
	{"y", 31104000}, {"mo", 2592000}, {"w", 604800}, {"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1},
}

// HumanDuration formats seconds as the old tool's to_human_time did: the
// first two non-zero units of y (360 days), mo (30 days), w, d, h, m, s,
// joined by a space ("2w 3d", "1d 5m"), "0s" for zero and a leading '-' for
// negative values.
func HumanDuration(seconds int64) string {
	if seconds == 0 {
		return "0s"
	}
	neg := seconds < 0
	u := uint64(seconds)
	if neg {
		u = -u
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	n := 0
	for _, unit := range humanUnits {
		v := u / uint64(unit.secs)
		if v == 0 {
			continue
		}
		u -= v * uint64(unit.secs)
		if n == 2 {
			break
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(v, 10))
		b.WriteString(unit.name)
		n++
	}
	return b.String()
}
