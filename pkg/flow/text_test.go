package flow

import "testing"

// TestSnakeCase pins SnakeCase to 2.0.0: every want is what Python 3.11
// printed for to_snake_case(name.lower()) with to_snake_case copied from
// tracker_exporter/utils/helpers.py at tag v2.0.0.
func TestSnakeCase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Open", "open"},
		{"In Progress", "in_progress"},
		{"In progress", "in_progress"},
		{"Ready for release", "ready_for_release"},
		{"Need info", "need_info"},
		{"Won't fix", "won_t_fix"},
		{"Stage 2", "stage_2"},
		{"Stage2A", "stage_2_a"},
		{"inReview", "inreview"},
		{"Code review (QA)", "code_review__qa_"},
		{"A  B", "a__b"},
		{" Open ", "_open_"},
		{"   ", ""},
		{"", ""},
		{"\t\n", ""},
		{"v2beta", "v_2_beta"},
		{"123abc", "123_abc"},
		{"a1B2c3", "a_1_b_2_c_3"},
		{"x\nY", "x_y"},
		{"In\tWork", "in_work"},
		{"Ünïcode Straße", "_n_code_stra_e"},
		{"Don't \"touch\"", "don_t__touch_"},
		{"kebab-case", "kebab_case"},
		{"__init__", "__init__"},
		{"HTTPServer", "httpserver"},
		{"Fixed/Done", "fixed_done"},
		{"Duplicate.", "duplicate_"},
		{"50%", "50_"},
		{"В работе", "в_работе"},
		{"Готово к релизу", "готово_к_релизу"},
		{"Ёлка", "ёлка"},
		{"ЁЖИК", "ёжик"},
		{"Тест2", "тест_2"},
		{"2Этап", "2_этап"},
		{"тест-QA_review", "тест_qa_review"},
		{"Решено!", "решено_"},
		{"Этап 3а", "этап_3_а"},
		{"🔥 Hot", "__hot"},
		{"Done ✅", "done__"},
		{"\u2764\ufe0f Love", "___love"},
		{"🚀", "_"},
		{"İstanbul", "i_stanbul"},
		{"ΣΟΦΙΑΣ", "______"},
		{"Ⅻ", "_"},
		{"Stage٣b", "stage___b"},
		{"Ｓｔａｇｅ", "_____"},
		{"\u212aey", "key"},
		{"ẞ", "_"},
		{"ß", "_"},
		{"café", "caf_"},
		{"naïve 2", "na_ve_2"},
		{"done\u200b", "done_"},
		{"Ready\u00a0to\u00a0go", "ready_to_go"},
		// The 2.0.0 test suite's own to_snake_case examples
		// (tests/test_helpers.py), lower-cased first as 2.0.0 did with
		// every name.
		{"русскаястрока", "русскаястрока"},
		{"РусскийВерблюд", "русскийверблюд"},
		{"русскийВерблюд2", "русскийверблюд_2"},
		{"Русские пробелы", "русские_пробелы"},
		{"русский-кебаб", "русский_кебаб"},
		{"РУССКИЕ_БОЛЬШИЕ", "русские_большие"},
		{"русская_змея", "русская_змея"},
		{"РусскийДлинныйВерблюдПлюсЧисло1", "русскийдлинныйверблюдплюсчисло_1"},
		{"singlestring", "singlestring"},
		{"camelCase", "camelcase"},
		{"longCamelCase", "longcamelcase"},
		{"longCamelCaseWithNumber1", "longcamelcasewithnumber_1"},
		{"PascalCase", "pascalcase"},
		{"LongPascalCase", "longpascalcase"},
		{"LongPascalCaseWithNumber1", "longpascalcasewithnumber_1"},
		{"snake_case", "snake_case"},
		{"kebab-case", "kebab_case"},
		{"CONSTANT_CASE", "constant_case"},
		{"camelCase-kebab_snakePascalCaseCONSTANT_case", "camelcase_kebab_snakepascalcaseconstant_case"},
		{"separated string case", "separated_string_case"},
		{" ", ""},
	}
	for _, tt := range tests {
		if got := SnakeCase(tt.in); got != tt.want {
			t.Errorf("SnakeCase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSnakeOldSuite runs 2.0.0's own test cases for to_snake_case
// (tests/test_helpers.py, without lower-casing) against snake.
func TestSnakeOldSuite(t *testing.T) {
	tests := []struct{ in, want string }{
		{"русскаястрока", "русскаястрока"},
		{"РусскийВерблюд", "русский_верблюд"},
		{"русскийВерблюд2", "русский_верблюд_2"},
		{"Русские пробелы", "русские_пробелы"},
		{"русский-кебаб", "русский_кебаб"},
		{"РУССКИЕ_БОЛЬШИЕ", "русские_большие"},
		{"русская_змея", "русская_змея"},
		{"РусскийДлинныйВерблюдПлюсЧисло1", "русский_длинный_верблюд_плюс_число_1"},
		{"singlestring", "singlestring"},
		{"camelCase", "camel_case"},
		{"longCamelCase", "long_camel_case"},
		{"longCamelCaseWithNumber1", "long_camel_case_with_number_1"},
		{"PascalCase", "pascal_case"},
		{"LongPascalCase", "long_pascal_case"},
		{"LongPascalCaseWithNumber1", "long_pascal_case_with_number_1"},
		{"snake_case", "snake_case"},
		{"kebab-case", "kebab_case"},
		{"CONSTANT_CASE", "constant_case"},
		{"camelCase-kebab_snakePascalCaseCONSTANT_case", "camel_case_kebab_snake_pascal_case_constant_case"},
		{"separated string case", "separated_string_case"},
		{" ", ""},
	}
	for _, tt := range tests {
		if got := snake(tt.in); got != tt.want {
			t.Errorf("snake(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestLower pins Lower to Python 3.11's str.lower.
func TestLower(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Platform 2.0", "platform 2.0"},
		{"Alice@Example.COM", "alice@example.com"},
		{"КРИТИЧНЫЙ", "критичный"},
		{"İstanbul", "i\u0307stanbul"},
		{"ΣΟΦΙΑΣ", "σοφιας"},
		{"Σ", "σ"},
		{"ΑΣ", "ας"},
		{"ΑΣ.", "ας."},
		{"ΑΣ Β", "ας β"},
		{"ΑΣΑ", "ασα"},
		{"ΑΣ'Α", "ασ'α"},
		{"ΑΣ\u0301", "ας\u0301"},
		{"Ω Σ", "ω σ"},
		{"\u212aelvin", "kelvin"},
		{"ẞ", "ß"},
		{"ǅ", "ǆ"},
	}
	for _, tt := range tests {
		if got := Lower(tt.in); got != tt.want {
			t.Errorf("Lower(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzSnakeCase(f *testing.F) {
	for _, s := range []string{"В работе", "Won't fix", "Stage2A", "İΣ🔥٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SnakeCase(s)
		for _, r := range got {
			if !(isSnakeLower(r) || r == '_' || '0' <= r && r <= '9') {
				t.Fatalf("SnakeCase(%q) = %q: %q is outside [a-zа-яё0-9_]", s, got, r)
			}
		}
		if again := SnakeCase(got); again != got {
			t.Fatalf("SnakeCase(%q) = %q, but SnakeCase of that is %q", s, got, again)
		}
	})
}
