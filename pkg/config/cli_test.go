package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// runCLI runs an app with Flags() and returns what fromCLI loaded.
func runCLI(t *testing.T, environ []string, args ...string) (Config, error) {
	t.Helper()
	var cfg Config
	var loadErr error
	app := &cli.App{
		Name:   "tracker-exporter",
		Flags:  Flags(),
		Writer: &bytes.Buffer{},
		Action: func(c *cli.Context) error {
			cfg, _, loadErr = fromCLI(c, environ)
			return nil
		},
	}
	if err := app.Run(append([]string{"tracker-exporter"}, args...)); err != nil {
		t.Fatalf("app.Run(%q) = %v", args, err)
	}
	return cfg, loadErr
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	envFile := filepath.Join(dir, "x.env")
	if err := os.WriteFile(envFile, []byte("EXPORTER_CLICKHOUSE__HOST=file-host\nEXPORTER_TRACKER__ORG_ID=file-org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{"EXPORTER_CLICKHOUSE__PORT=9000", "EXPORTER_TRACKER__ORG_ID=env-org", "EXPORTER_STATEFUL=false", "EXPORTER_TRACKER__TIMEOUT=3"}
	c, err := runCLI(t, environ,
		"--env-file", envFile,
		"--clickhouse-port", "9440",
		"--stateful",
		"--clickhouse-enable-upload=false",
		"--tracker-search-queues", "dev,!test",
		"--tracker-search-query", `Queue: DEV "Sort by": Updated ASC`,
	)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"port: flag over environment", c.ClickHouse.Port, 9440},
		{"host: file", c.ClickHouse.Host, "file-host"},
		{"org: environment over file", c.Tracker.OrgID, "env-org"},
		{"stateful: bool flag", c.Extractor.Query.Stateful, true},
		{"enable upload: --x=false", c.ClickHouse.EnableUpload, false},
		{"queues", strings.Join(c.Extractor.Query.Queues, ","), "DEV,!TEST"},
		{"query", c.Extractor.Query.Custom, `Queue: DEV "Sort by": Updated ASC`},
		{"timeout: unset flag leaves the environment", c.Tracker.Timeout, 3 * time.Second},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}

	// -e is --env-file, as in the old tool.
	c, err = runCLI(t, nil, "-e", envFile)
	if err != nil || c.Tracker.OrgID != "file-org" {
		t.Errorf("-e: org %q, %v; want file-org", c.Tracker.OrgID, err)
	}

	// A bad flag value is reported with the flag's name, once.
	_, err = runCLI(t, environ, "--clickhouse-port", "http", "--tracker-token", "tok-flag-secret", "--tracker-timeout", "x")
	lines := Problems(err)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `EXPORTER_TRACKER__TIMEOUT (from --tracker-timeout)="x"`) ||
		!strings.HasPrefix(lines[1], `EXPORTER_CLICKHOUSE__PORT (from --clickhouse-port)="http"`) {
		t.Errorf("bad flags: %q", lines)
	}
}

func TestFromCLIReadsTheProcessEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("EXPORTER_TRACKER__CLOUD_ORG_ID", "cloud-from-env")
	// Other variables of the env file reach the process environment, unless
	// already set there (python-dotenv semantics).
	t.Setenv("TE_TEST_PRESET", "from-env")
	t.Setenv("TE_TEST_FROM_FILE", "")
	os.Unsetenv("TE_TEST_FROM_FILE")
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("TE_TEST_FROM_FILE=file\nTE_TEST_PRESET=file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg Config
	app := &cli.App{Name: "x", Flags: Flags(), Action: func(c *cli.Context) error {
		var err error
		cfg, err = FromCLI(c)
		return err
	}}
	if err := app.Run([]string{"x", "--tracker-language", "ru"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Tracker.CloudOrgID != "cloud-from-env" || cfg.Tracker.Language != "ru" {
		t.Errorf("FromCLI: cloud org %q language %q", cfg.Tracker.CloudOrgID, cfg.Tracker.Language)
	}
	if got, want := os.Getenv("TE_TEST_FROM_FILE")+","+os.Getenv("TE_TEST_PRESET"), "file,from-env"; got != want {
		t.Errorf("exported env file variables = %q, want %q", got, want)
	}
}

func TestFlagsMirrorEveryVariable(t *testing.T) {
	flags := Flags()
	names := map[string]bool{}
	for _, f := range flags {
		for _, n := range f.Names() {
			if names[n] {
				t.Errorf("flag %q declared twice", n)
			}
			names[n] = true
		}
	}
	for _, v := range Variables() {
		if !names[v.Flag] {
			t.Errorf("%s has no flag --%s", v.Name, v.Flag)
		}
	}
	if len(flags) != len(Variables())+1 {
		t.Errorf("%d flags for %d variables, want one each plus --env-file", len(flags), len(Variables()))
	}
	for env, flag := range map[string]string{
		"EXPORTER_TRACKER__SEARCH__QUERY":        "tracker-search-query",
		"EXPORTER_STATEFUL":                      "stateful",
		"EXPORTER_CLICKHOUSE__CACERT_PATH":       "clickhouse-cacert-path",
		"EXPORTER_STATE__JSONFILE_S3_ACCESS_KEY": "state-jsonfile-s3-access-key",
	} {
		if got := flagName(env); got != flag {
			t.Errorf("flagName(%s) = %s, want %s", env, got, flag)
		}
	}
	var help bytes.Buffer
	app := &cli.App{Name: "x", Flags: flags, Writer: &help, Action: func(*cli.Context) error { return nil }}
	if err := app.Run([]string{"x", "--help"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--tracker-search-query", "$EXPORTER_TRACKER__SEARCH__QUERY", "--env-file FILE, -e FILE", "(default: 1w)"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if strings.Contains(help.String(), "redis://localhost:6379") {
		t.Errorf("help shows a secret's default")
	}
}
