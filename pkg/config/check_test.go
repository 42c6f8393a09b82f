package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestCheckDropsProblemsOfVariablesThatFailedToParse(t *testing.T) {
	t.Chdir(t.TempDir())
	environ := []string{
		"EXPORTER_TRACKER__TOKEN=tok",
		"EXPORTER_TRACKER__ORG_ID=1",
		"EXPORTER_BUSINESS_HOURS_START=23:00",
		"EXPORTER_BUSINESS_HOURS_END=late", // parse error; default 22:00 would be "before start"
		"EXPORTER_CLICKHOUSE__PROTO=grpc",  // Validate error
	}
	cfg, err := Load(environ, "")
	got := Problems(Check(cfg, err, RoleAll))
	want := []string{
		`EXPORTER_BUSINESS_HOURS_END="late": want a time of day like 09:00:00`,
		`EXPORTER_CLICKHOUSE__PROTO="grpc": want http, https, native or native+tls`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Check = %q, want %q", got, want)
	}
	if err := Check(cfg, nil, RoleExtractor); err != nil {
		t.Errorf("Check(extractor) = %v, want nil", err)
	}
	if got := FormatError(nil); got != "" {
		t.Errorf("FormatError(nil) = %q", got)
	}
	if got := FormatError(Check(cfg, err, RoleAll)); !strings.HasPrefix(got, "config: EXPORTER_BUSINESS_HOURS_END=") || strings.Count(got, "\nconfig: ") != 1 {
		t.Errorf("FormatError = %q", got)
	}
}

func TestNamesIgnoreCaseExactSpellingWins(t *testing.T) {
	t.Chdir(t.TempDir())
	c := mustLoad(t, "exporter_clickhouse__host=lower", "EXPORTER_CLICKHOUSE__HOST=upper", "Exporter_ClickHouse__Database=mixed")
	if c.ClickHouse.Host != "upper" || c.ClickHouse.Database != "mixed" {
		t.Errorf("host %q database %q, want upper and mixed", c.ClickHouse.Host, c.ClickHouse.Database)
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{"1w", "2w 3d 1h 20m", `["project:internal",]`, "[0,1,2]", "09:00:00", "%Y-%m-%d %H:%M:%S.%f%z",
		"a:b:Array(String)", `['x', "y\"z"]`, "1.5h", "16MiB", "", "[", `"`, "%", "24:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseDuration(s, 0)
		_, _ = parseDuration(s, 1e9)
		_, _ = parseList(s)
		_, _ = parseWorkdays(s)
		_, _ = parseTimeOfDay(s)
		_, _ = parseStatusTypes(s)
		_, _ = parseCustomFields(s)
		_, _ = parseSize(s)
		if layout, err := StrftimeLayout(s); err == nil && layout == "" {
			t.Errorf("StrftimeLayout(%q) = empty layout without error", s)
		}
		if d, err := parseDuration(s, 0); err == nil && (d < 0 || d > maxDuration) {
			t.Errorf("parseDuration(%q) = %v out of range", s, d)
		}
		_, _ = Load([]string{"EXPORTER_TRACKER=" + s, "EXPORTER_WORKDAYS=" + s, "EXPORTER_CUSTOM_FIELDS=" + s}, "/dev/null")
	})
}

// TestOldEnvCACertWithoutTLS starts from what the old tool's .env.example
// leaves behind: a CA file with plain http. It is accepted with a warning
// (the file is not used, so not checked), while https still checks it.
func TestOldEnvCACertWithoutTLS(t *testing.T) {
	t.Chdir(t.TempDir())
	missing := "/nonexistent/CA.pem"
	const warning = "EXPORTER_CLICKHOUSE__CACERT_PATH: accepted for compatibility, no effect: EXPORTER_CLICKHOUSE__PROTO="
	tests := []struct {
		name      string
		env       []string
		warn      bool
		wantCheck string // "" for no problem, else a fragment of the one line
	}{
		{"http", []string{"EXPORTER_CLICKHOUSE__PROTO=http"}, true, ""},
		{"default proto", nil, true, ""},
		{"native", []string{"EXPORTER_CLICKHOUSE__PROTO=native", "EXPORTER_CLICKHOUSE__PORT=9000"}, true, ""},
		{"https", []string{"EXPORTER_CLICKHOUSE__PROTO=https", "EXPORTER_CLICKHOUSE__PORT=8443"}, false,
			`EXPORTER_CLICKHOUSE__CACERT_PATH="` + missing + `": no such file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"EXPORTER_TRACKER__TOKEN=tok", "EXPORTER_TRACKER__ORG_ID=1", "EXPORTER_CLICKHOUSE__CACERT_PATH=" + missing}, tt.env...)
			cfg, err := Load(env, "")
			got := Problems(Check(cfg, err, RoleAll))
			switch {
			case tt.wantCheck == "" && len(got) > 0:
				t.Errorf("Check(%q) = %q, want no problem", env, got)
			case tt.wantCheck != "" && (len(got) != 1 || !strings.Contains(got[0], tt.wantCheck)):
				t.Errorf("Check(%q) = %q, want one line with %q", env, got, tt.wantCheck)
			}
			warned := slices.ContainsFunc(cfg.Warnings, func(w string) bool { return strings.HasPrefix(w, warning) })
			if warned != tt.warn {
				t.Errorf("Load(%q) warnings = %q; want the CA warning: %v", env, cfg.Warnings, tt.warn)
			}
		})
	}
}
