package flow

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SnakeCase converts a display name (of a status, an issue type or a
// resolution) to the key the old tool (2.0.0) stored and dashboards filter
// on: the name lower-cased as Python's str.lower does (see Lower), then
// put through 2.0.0's to_snake_case (see snake). "В работе" becomes
// "в_работе", "Won't fix" "won_t_fix", "Stage 2" "stage_2", "Stage2A"
// "stage_2_a" and "inReview" "inreview" (the name is lower-cased first, so
// camel case is not split). A name of only white space gives "".
func SnakeCase(name string) string {
	return snake(Lower(name))
}

// snake is 2.0.0's to_snake_case (tracker_exporter/utils/helpers.py) on
// its own: text that is empty after Python's str.strip() gives ""; else,
// in this order, '_' goes between a letter of [a-zа-яё] and one of
// [A-ZА-ЯЁ], between a letter of [a-zа-яё] and a decimal digit (Python's
// \d: any Unicode digit), and between a decimal digit and a letter of
// [a-zа-яё]; then every character (code point) outside
// [a-zA-Zа-яёА-ЯЁ0-9_] becomes one '_' (no collapsing, no trimming), and
// the result is lower-cased. The insertions never disturb one another, so
// one pass over adjacent pairs gives what the three regex passes gave.
func snake(s string) string {
	if strings.TrimFunc(s, pyIsSpace) == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	prev := rune(-1)
	for _, r := range s {
		if prev >= 0 {
			switch {
			case isSnakeLower(prev) && (isSnakeUpper(r) || unicode.IsDigit(r)),
				unicode.IsDigit(prev) && isSnakeLower(r):
				b.WriteByte('_')
			}
		}
		prev = r
		switch {
		case isSnakeLower(r), r == '_', '0' <= r && r <= '9':
			b.WriteRune(r)
		case isSnakeUpper(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// isSnakeLower reports whether r is in the old pattern's [a-zа-яё].
func isSnakeLower(r rune) bool {
	return 'a' <= r && r <= 'z' || 'а' <= r && r <= 'я' || r == 'ё'
}

// isSnakeUpper reports whether r is in the old pattern's [A-ZА-ЯЁ].
func isSnakeUpper(r rune) bool {
	return 'A' <= r && r <= 'Z' || 'А' <= r && r <= 'Я' || r == 'Ё'
}

// pyIsSpace is Python's str.isspace for one character: Go's white space
// plus the separators U+001C to U+001F.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || 0x1c <= r && r <= 0x1f
}

// Lower lower-cases s as Python's str.lower does, which is how the old
// tool lower-cased names, emails and projects: Go's simple case mapping
// plus Python's two differences, 'İ' (U+0130) becoming "i̇" ('i' and the
// combining dot U+0307) and a capital sigma becoming the final 'ς' at the
// end of a word (the Final_Sigma rule) and 'σ' elsewhere.
func Lower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	for i, r := range s {
		switch r {
		case 'İ':
			b.WriteString("i\u0307")
		case 'Σ':
			if finalSigma(s, i) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether the capital sigma at byte i of s is at the
// end of a word: a cased letter before it and none after it, skipping
// case-ignorable characters on both sides (Unicode's Final_Sigma, as
// CPython applies it).
func finalSigma(s string, i int) bool {
	before := rune(-1)
	for j := i; j > 0; {
		r, n := utf8.DecodeLastRuneInString(s[:j])
		j -= n
		if !caseIgnorable(r) {
			before = r
			break
		}
	}
	if before < 0 || !cased(before) {
		return false
	}
	for _, r := range s[i+len("Σ"):] {
		if !caseIgnorable(r) {
			return !cased(r)
		}
	}
	return true
}

// cased is Unicode's Cased property.
func cased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// caseIgnorable is Unicode's Case_Ignorable property: marks, format
// characters, modifiers and the word-internal punctuation of Word_Break
// MidLetter, MidNumLet and Single_Quote.
func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0x00B7, 0x0387, 0x055F, 0x05F4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

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
