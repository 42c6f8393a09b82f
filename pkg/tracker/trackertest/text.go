package trackertest

// Generated texts: summaries and descriptions in English, Russian and
// Chinese with emoji and characters that need JSON escaping. A text is
// stored as a seed and rendered on demand.

var (
	wordsEN = []string{
		"fix", "login", "timeout", "dashboard", "release", "export", "metrics", "crash",
		"cache", "report", "API", "ClickHouse", "migration", "flaky", "test", "pipeline",
		"latency", "memory", "leak", "button", "page", "user", "profile", "search",
		"sort", "invoice", "SLA", "queue", "webhook", "retry", "deploy", "config",
		"the", "on", "in", "after", "for", "with", "broken", "slow", "add", "remove",
	}
	wordsRU = []string{
		"исправить", "ошибка", "авторизация", "отчёт", "выгрузка", "метрики", "релиз",
		"падение", "кэш", "страница", "пользователь", "поиск", "сортировка", "счёт",
		"утечка", "памяти", "таймаут", "интеграция", "с", "в", "на", "при", "после",
		"добавить", "удалить", "медленно", "ёлка", "Щёлково",
	}
	wordsZH = []string{"修复", "登录", "超时", "报告", "导出", "错误", "页面", "用户", "性能", "数据库"}
	emoji   = []string{"🚀", "🔥", "✅", "🐛", "⚠️", "📈", "🎉", "💥", "👩‍💻", "🇷🇺"}
	tricky  = []string{`"quoted"`, `<b>bold</b>`, `C:\temp\new`, `50% & more`, "tab\there", `back\slash`, "a/b", "{json: [1]}"}
)

func capitalizeASCII(b []byte, start int) {
	if start < len(b) && 'a' <= b[start] && b[start] <= 'z' {
		b[start] -= 'a' - 'A'
	}
}

func appendWords(b []byte, r *rng, style, n int) []byte {
	for w := range n {
		if w > 0 {
			b = append(b, ' ')
		}
		switch style {
		case 0:
			b = append(b, wordsEN[r.intn(len(wordsEN))]...)
		case 1:
			b = append(b, wordsRU[r.intn(len(wordsRU))]...)
		case 2:
			if r.intn(4) == 0 {
				b = append(b, emoji[r.intn(len(emoji))]...)
			} else {
				b = append(b, wordsEN[r.intn(len(wordsEN))]...)
			}
		case 3:
			b = append(b, wordsZH[r.intn(len(wordsZH))]...)
		default:
			if r.intn(3) == 0 {
				b = append(b, tricky[r.intn(len(tricky))]...)
			} else {
				b = append(b, wordsEN[r.intn(len(wordsEN))]...)
			}
		}
	}
	return b
}

func textStyle(r *rng) int {
	return r.weighted([]int{55, 25, 10, 5, 5})
}

// appendText appends the raw (unescaped) text of a generated text value.
func appendText(b []byte, seed uint64, kind int) []byte {
	r := &rng{seed}
	style := textStyle(r)
	switch kind {
	case textSummary:
		start := len(b)
		b = appendWords(b, r, style, 3+r.intn(7))
		capitalizeASCII(b, start)
		if r.intn(10) == 0 {
			b = append(b, ' ')
			b = append(b, emoji[r.intn(len(emoji))]...)
		}
		return b
	case textComment, textCommentLong:
		// The first line is the summary of the seed: the display the
		// changelog shows for the comment.
		b = appendText(b, seed, textSummary)
		r2 := &rng{mix(seed, 0x636f6d6d656e74)}
		style2 := textStyle(r2)
		if kind == textCommentLong {
			start := len(b)
			limit := 10_500 + r2.intn(5000)
			for p := 1; len(b)-start < limit; p++ {
				b = appendParagraph(b, r2, style2, p)
			}
			return b
		}
		for p := range r2.intn(3) {
			b = appendParagraph(b, r2, style2, p+1)
		}
		return b
	case textLong:
		start := len(b)
		limit := 10_500 + r.intn(8000)
		for p := 0; len(b)-start < limit; p++ {
			b = appendParagraph(b, r, style, p)
		}
		return b
	default:
		paras := 1 + r.intn(3)
		for p := range paras {
			b = appendParagraph(b, r, style, p)
		}
		return b
	}
}

func appendParagraph(b []byte, r *rng, style, p int) []byte {
	if p > 0 {
		b = append(b, "\n\n"...)
	}
	switch r.intn(6) {
	case 0:
		b = append(b, "**"...)
		b = appendWords(b, r, style, 2+r.intn(3))
		b = append(b, "**\n"...)
	case 1:
		for range 1 + r.intn(3) {
			b = append(b, "- "...)
			b = appendWords(b, r, style, 2+r.intn(5))
			b = append(b, '\n')
		}
	case 2:
		b = append(b, "```\n$ tracker-exporter --dry-run\nerror: \"timeout\"\n```\n"...)
	}
	for range 1 + r.intn(4) {
		start := len(b)
		b = appendWords(b, r, style, 4+r.intn(12))
		capitalizeASCII(b, start)
		b = append(b, ". "...)
	}
	return b
}
