package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	chcolumn "github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"github.com/tracker-exporter/tracker-exporter/migrations"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr []string // substrings; nil means valid
	}{
		{name: "default", mod: func(*Config) {}},
		{name: "native", mod: func(c *Config) { c.Proto, c.Port = ProtoNative, 9000 }},
		{name: "hosts with ports", mod: func(c *Config) { c.Host = "a:8123, b:18123,c" }},
		{name: "https with serverless proxy", mod: func(c *Config) {
			c.Host, c.Proto, c.Port, c.ServerlessProxyID = "x.serverless", ProtoHTTPS, 8443, "akf123"
		}},
		{name: "no host", mod: func(c *Config) { c.Host = "" }, wantErr: []string{"Host: must not be empty"}},
		{name: "empty host in the list", mod: func(c *Config) { c.Host = "a,,b" }, wantErr: []string{`Host="a,,b": an empty host in the list`}},
		{name: "bad port", mod: func(c *Config) { c.Host = "localhost:99999" }, wantErr: []string{`Host="localhost:99999": invalid port`}},
		{name: "bad strategy", mod: func(c *Config) { c.HostStrategy = "random" }, wantErr: []string{`HostStrategy="random": want in_order or round_robin`}},
		{name: "bad protocol", mod: func(c *Config) { c.Proto = "grpc" }, wantErr: []string{`Proto="grpc": want http, https, native or native+tls`}},
		{name: "native on the http port", mod: func(c *Config) { c.Proto = ProtoNative }, wantErr: []string{`Port="8123": is ClickHouse's http port but Proto is native`}},
		{name: "https needs a CA", mod: func(c *Config) { c.Proto, c.Port = ProtoHTTPS, 8443 }, wantErr: []string{"CACertPath: must be set when Proto is https"}},
		// The old tool's .env.example sets it with http: ignored, not refused.
		{name: "CA without TLS", mod: func(c *Config) { c.CACertPath = "/ca.pem" }},
		{name: "CA with native", mod: func(c *Config) { c.Proto, c.Port, c.CACertPath = ProtoNative, 9000, "/ca.pem" }},
		{name: "proxy over http", mod: func(c *Config) { c.ServerlessProxyID = "akf" }, wantErr: []string{"ServerlessProxyID: needs Proto=https"}},
		{name: "cluster", mod: func(c *Config) { c.Cluster, c.ZooKeeperPath, c.ReplicaName = "1c", "/zk", "" }, wantErr: []string{
			`Cluster="1c": want a name`, `ZooKeeperPath="/zk": must contain {table}`, "ReplicaName: must not be empty"}},
		{name: "no user", mod: func(c *Config) { c.Username = "" }, wantErr: []string{"Username: must not be empty"}},
		{name: "bad database", mod: func(c *Config) { c.Database = "agile; DROP" }, wantErr: []string{`Database="agile; DROP": want a name`}},
		{name: "bad table", mod: func(c *Config) { c.Tables.Issues = "1issues" }, wantErr: []string{`Tables.Issues="1issues"`}},
		{name: "duplicate tables", mod: func(c *Config) { c.Tables.IssueMetrics = "issues" }, wantErr: []string{`Tables.IssueMetrics="issues": same table as Tables.Issues`}},
		{name: "reserved table", mod: func(c *Config) { c.Tables.Statuses = migrationsTable }, wantErr: []string{"reserved"}},
		{name: "table named like a view", mod: func(c *Config) { c.Tables.IssueMetrics = "issues_view" }, wantErr: []string{`Tables.IssueMetrics="issues_view": is the name of a view`}},
		{name: "table named like an analytic view", mod: func(c *Config) { c.Tables.Statuses = "issues_wip" }, wantErr: []string{`Tables.Statuses="issues_wip": is the name of a view`}},
		{name: "bad custom column", mod: func(c *Config) { c.CustomColumns = []CustomColumn{{Name: "a b", Type: "Blob"}} }, wantErr: []string{`column "a b"`, `unsupported type "Blob"`}},
		{name: "negative timeout", mod: func(c *Config) { c.ReadTimeout = -time.Second }, wantErr: []string{`ReadTimeout="-1s": want 0 or more`}},
		{name: "every problem at once", mod: func(c *Config) {
			c.Host, c.Database, c.Tables.Statuses = "", "", ""
		}, wantErr: []string{"Host: must not be empty", `Database: want a name`, "Tables.Statuses"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.mod(&cfg)
			err := cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors containing %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestConfigAddrs(t *testing.T) {
	c := Default()
	c.Host, c.Port = "a, b:9001,[::1]", 9000
	if got, want := c.Addr(), "a:9000,b:9001,[::1]:9000"; got != want {
		t.Errorf("Addr() = %q, want %q", got, want)
	}
	for _, tt := range []struct {
		proto       string
		native, tls bool
	}{{ProtoHTTP, false, false}, {ProtoHTTPS, false, true}, {ProtoNative, true, false}, {ProtoNativeTLS, true, true}} {
		c.Proto = tt.proto
		if c.Native() != tt.native || c.TLS() != tt.tls {
			t.Errorf("Proto %s: Native() %v, TLS() %v; want %v, %v", tt.proto, c.Native(), c.TLS(), tt.native, tt.tls)
		}
	}
}

func TestOptions(t *testing.T) {
	cfg := Default()
	cfg.Proto, cfg.Port = ProtoNative, 9000
	cfg.Password = "s3cret"
	cfg.MaxExecutionTime = 1500 * time.Millisecond
	opts, err := options(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Protocol != ch.Native || opts.Auth.Password != "s3cret" || opts.Auth.Database != "" {
		t.Errorf("native options = protocol %v, password %q, database %q", opts.Protocol, opts.Auth.Password, opts.Auth.Database)
	}
	if got := opts.Settings["max_execution_time"]; got != 2 {
		t.Errorf("max_execution_time = %v, want 2 (rounded up)", got)
	}
	if got := opts.Settings["allow_experimental_low_cardinality_type"]; got != 1 {
		t.Errorf("allow_experimental_low_cardinality_type = %v, want 1", got)
	}

	cfg = Default()
	cfg.Host, cfg.Port, cfg.Proto, cfg.ServerlessProxyID = "proxy.example", 8443, ProtoHTTPS, "akfproxy"
	opts, err = options(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Protocol != ch.HTTP || opts.Auth.Database != "akfproxy" || opts.TLS == nil || opts.TLS.ServerName != "proxy.example" {
		t.Errorf("serverless options = protocol %v, database %q, TLS %+v", opts.Protocol, opts.Auth.Database, opts.TLS)
	}

	cfg.CACertPath = t.TempDir() + "/missing.pem"
	if _, err := options(cfg); err == nil {
		t.Error("options with a missing CA file: no error")
	}

	// Without TLS the CA file is ignored, not read: a leftover of the old
	// tool's .env.example must not stop the loader.
	for _, proto := range []string{ProtoHTTP, ProtoNative} {
		cfg := Default()
		cfg.Proto, cfg.CACertPath = proto, t.TempDir()+"/missing.pem"
		opts, err := options(cfg)
		if err != nil {
			t.Errorf("options(%s with a missing CA file): %v, want no error", proto, err)
		} else if opts.TLS != nil {
			t.Errorf("options(%s with a CA file) has TLS %+v, want none", proto, opts.TLS)
		}
	}
}

func TestTLSConfigRejectsCAWithoutPEM(t *testing.T) {
	cfg := Default()
	cfg.Host, cfg.Port, cfg.Proto = "proxy.example", 8443, ProtoHTTPS
	cfg.CACertPath = t.TempDir() + "/ca.pem"
	if err := os.WriteFile(cfg.CACertPath, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsConfig(cfg); err == nil || !strings.Contains(err.Error(), "no PEM certificate found") {
		t.Errorf("tlsConfig with a CA file without PEM = %v, want an error saying no PEM certificate found", err)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	cfg := Default()
	cfg.Password = "hunter2"
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("cfg", "password", cfg.Password)
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s %q %x", cfg, cfg, cfg, cfg.Password, cfg.Password, cfg.Password),
		logged.String(),
	} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("secret printed: %s", s)
		}
	}
	if cfg.Password.Reveal() != "hunter2" {
		t.Errorf("Reveal() = %q", cfg.Password.Reveal())
	}
}

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one", "SELECT 1", []string{"SELECT 1"}},
		{"trailing semicolon and comments", "-- c; x\nSELECT 1; -- after\n", []string{"SELECT 1"}},
		{"two", "CREATE TABLE a (x UInt8) ENGINE = Log;\nCREATE TABLE b (x UInt8) ENGINE = Log;", []string{
			"CREATE TABLE a (x UInt8) ENGINE = Log", "CREATE TABLE b (x UInt8) ENGINE = Log"}},
		{"semicolon in string", "SELECT 'a;b', `c;d`, \"e;f\"", []string{"SELECT 'a;b', `c;d`, \"e;f\""}},
		{"escaped quotes", `SELECT 'it\'s; ok', 'x''y;z'`, []string{`SELECT 'it\'s; ok', 'x''y;z'`}},
		{"quote in comment", "-- the issue's key\nSELECT 1", []string{"SELECT 1"}},
		{"block comment", "SELECT /* ; */ 1", []string{"SELECT   1"}},
		{"only comments", "-- nothing\n;\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitStatements(tt.in)
			if err != nil {
				t.Fatalf("splitStatements(%q): %v", tt.in, err)
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("splitStatements(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	for _, bad := range []string{"SELECT 'open", "SELECT /* open"} {
		if _, err := splitStatements(bad); err == nil {
			t.Errorf("splitStatements(%q): no error", bad)
		}
	}
}

func TestParseAddColumn(t *testing.T) {
	tests := []struct {
		in   string
		want addColumn
		ok   bool
	}{
		{"ALTER TABLE `db`.`t` ADD COLUMN `c` UInt8 DEFAULT 0", addColumn{"db", "t", "c", "UInt8 DEFAULT 0"}, true},
		{"alter table t add column c Decimal(10, 2) COMMENT 'a, b'", addColumn{"", "t", "c", "Decimal(10, 2) COMMENT 'a, b'"}, true},
		{"ALTER TABLE t ADD COLUMN a UInt8, ADD COLUMN b UInt8", addColumn{}, false},
		{"ALTER TABLE t ADD COLUMN a UInt8, DROP COLUMN b", addColumn{}, false},
	}
	for _, tt := range tests {
		got, ok := parseAddColumn(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseAddColumn(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLoadEmbeddedMigrations(t *testing.T) {
	names := DefaultTableNames()
	names.Issues, names.IssueMetrics, names.IssuesChangelog, names.StatusIntervals, names.Statuses = "iss", "met", "chl", "ivl", "sts"
	names.Comments, names.Worklogs, names.Links, names.IssueSprints, names.Boards, names.Sprints = "cmt", "wkl", "lnk", "isp", "brd", "spr"
	data := newTemplateData("mydb", names)
	ms, err := loadMigrations(migrations.FS, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 10 {
		t.Fatalf("%d migrations, want at least 10", len(ms))
	}
	all := ""
	for i, m := range ms {
		if m.version != uint32(i+1) {
			t.Errorf("migration %d has version %d: versions must be 1..n without gaps", i, m.version)
		}
		for _, s := range m.statements {
			all += s + "\n"
			if !strings.Contains(s, "`mydb`.") {
				t.Errorf("%s: statement does not name the database: %s", m.name, s)
			}
		}
	}
	// Types and syntax that ClickHouse 18.16 lacks, outside string literals.
	code := regexp.MustCompile(`'(?:[^'\\]|\\.)*'`).ReplaceAllString(all, "''")
	for _, banned := range []string{"{{", "DateTime64", "Map(", "Bool", "JSON", "ADD COLUMN IF NOT EXISTS", "OR REPLACE", "toYYYYMM", "`issues`", "`issue_metrics`"} {
		if strings.Contains(code, banned) {
			t.Errorf("rendered migrations contain %q", banned)
		}
	}
	for _, want := range []string{"`mydb`.`iss`", "`mydb`.`met_view`", "`mydb`.`chl`", "`mydb`.`ivl_view`", "`mydb`.`sts`"} {
		if !strings.Contains(all, want) {
			t.Errorf("rendered migrations lack %s", want)
		}
	}
	// Rendering is deterministic, and names are part of the checksum.
	again, _ := loadMigrations(migrations.FS, data)
	renamed := names
	renamed.Issues = "issues2"
	other, _ := loadMigrations(migrations.FS, newTemplateData("mydb", renamed))
	if again[0].checksum != ms[0].checksum {
		t.Error("checksum differs between two renderings")
	}
	if other[0].checksum == ms[0].checksum {
		t.Error("checksum ignores the table name")
	}
}

func TestLoadMigrationsRejects(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"bad name", fstest.MapFS{"1_x.sql": {Data: []byte("SELECT 1")}}, "NNNN_name.sql"},
		{"duplicate version", fstest.MapFS{"0001_a.sql": {Data: []byte("SELECT 1")}, "0001_b.sql": {Data: []byte("SELECT 1")}}, "same version"},
		{"version zero", fstest.MapFS{"0000_a.sql": {Data: []byte("SELECT 1")}}, "start at 0001"},
		{"empty", fstest.MapFS{"0001_a.sql": {Data: []byte("-- nothing")}}, "no statement"},
		{"unknown template field", fstest.MapFS{"0001_a.sql": {Data: []byte("SELECT {{.Nope}}")}}, "Nope"},
		{"multi-column alter", fstest.MapFS{"0001_a.sql": {Data: []byte("ALTER TABLE t ADD COLUMN a UInt8, ADD COLUMN b UInt8")}}, "exactly one column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadMigrations(tt.fs, newTemplateData("d", DefaultTableNames()))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("loadMigrations = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestCheckApplied(t *testing.T) {
	c := &Client{db: "d"}
	ms := []migration{{version: 1, name: "0001_a", checksum: "sum1"}, {version: 2, name: "0002_b", checksum: "sum2"}}
	tests := []struct {
		name     string
		done     map[uint32][]string
		want     string // substring of the error; "" means none
		mismatch bool
	}{
		{name: "nothing applied", done: map[uint32][]string{}},
		{name: "first applied", done: map[uint32][]string{1: {"sum1"}}},
		{name: "all applied by racing migrators", done: map[uint32][]string{1: {"sum1", "sum1"}, 2: {"sum2"}}},
		{name: "later applied", done: map[uint32][]string{2: {"sum2"}}, want: "migration 0001_a is not applied but the later migration 0002 is"},
		{name: "unknown later applied", done: map[uint32][]string{1: {"sum1"}, 7: {"x"}}, want: "migration 0002_b is not applied but the later migration 0007 is"},
		{name: "changed", done: map[uint32][]string{1: {"sum1", "other"}}, want: "0001_a in database d", mismatch: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.checkApplied(ms, tt.done)
			if tt.want == "" {
				if err != nil {
					t.Errorf("checkApplied(%v) = %v, want nil", tt.done, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !IsPermanent(err) || errors.Is(err, ErrChecksumMismatch) != tt.mismatch {
				t.Errorf("checkApplied(%v) = %v, want a permanent error containing %q (ErrChecksumMismatch: %v)", tt.done, err, tt.want, tt.mismatch)
			}
		})
	}
}

func TestTimeConversion(t *testing.T) {
	msk := time.FixedZone("MSK", 3*3600)
	tests := []struct {
		in       time.Time
		wantTime time.Time
		wantDate time.Time
	}{
		{time.Time{}, time.Unix(0, 0).UTC(), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(1960, 5, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, 0).UTC(), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2024, 3, 10, 1, 30, 0, 0, msk), time.Date(2024, 3, 9, 22, 30, 0, 0, time.UTC), time.Date(2024, 3, 9, 0, 0, 0, 0, time.UTC)},
		{time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)},
		{time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := dateTime(tt.in); !got.Equal(tt.wantTime) || got.Location() != time.UTC {
			t.Errorf("dateTime(%v) = %v, want %v UTC", tt.in, got, tt.wantTime)
		}
		if got := date(tt.in); !got.Equal(tt.wantDate) {
			t.Errorf("date(%v) = %v, want %v", tt.in, got, tt.wantDate)
		}
	}
}

type netErr struct{ timeout bool }

func (e netErr) Error() string   { return "net" }
func (e netErr) Timeout() bool   { return e.timeout }
func (e netErr) Temporary() bool { return true }

var _ net.Error = netErr{}

func TestIsPermanent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"unknown column", &ch.Exception{Code: 16, Message: "No such column x"}, true},
		{"type mismatch wrapped", fmt.Errorf("insert: %w", &ch.Exception{Code: 53}), true},
		{"unknown table", &ch.Exception{Code: 60}, true},
		{"too many parts", &ch.Exception{Code: 252}, false},
		{"timeout exceeded", &ch.Exception{Code: 159}, false},
		{"memory limit", &ch.Exception{Code: 241}, false},
		{"auth", &ch.Exception{Code: 516}, false},
		{"converter", fmt.Errorf("column x: %w", &chcolumn.ColumnConverterError{Op: "Append", To: "UInt8", From: "string"}), true},
		{"batch invalid", fmt.Errorf("%w: boom", ch.ErrBatchInvalid), true},
		{"invalid rows", fmt.Errorf("x: %w", ErrInvalidRows), true},
		{"net error", &net.OpError{Op: "dial", Err: netErr{}}, false},
		{"eof", io.ErrUnexpectedEOF, false},
		{"canceled", context.Canceled, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"acquire timeout", ch.ErrAcquireConnTimeout, false},
		{"unknown", errors.New("something"), false},
		{"typed permanent", &Error{Op: "insert", Permanent: true, Err: errors.New("x")}, true},
		{"typed retryable wrapping a permanent cause", &Error{Op: "insert", Permanent: false, Err: &ch.Exception{Code: 16}}, false},
	}
	for _, tt := range tests {
		if got := IsPermanent(tt.err); got != tt.want {
			t.Errorf("IsPermanent(%s: %v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
	err := newError("insert", "issues", &ch.Exception{Code: 16, Message: "No such column"})
	var e *Error
	if !errors.As(err, &e) || !e.Permanent || e.Table != "issues" || !strings.Contains(err.Error(), "permanent") {
		t.Errorf("newError = %#v (%v), want a permanent *Error for table issues", err, err)
	}
	if newError("x", "", nil) != nil {
		t.Error("newError(nil) != nil")
	}
}

func TestInsertRowsRejectsForeignRows(t *testing.T) {
	// Validation happens before any I/O, so a Client without a connection
	// suffices.
	c := &Client{db: "d", tables: DefaultTableNames()}
	tests := []struct {
		name string
		rows *wire.IssueRows
	}{
		{"no issue id", &wire.IssueRows{IssueKey: "A-1"}},
		{"issue row of another issue", &wire.IssueRows{IssueID: "1", Issue: wire.IssueRow{IssueID: "2"}}},
		{"metric of another issue", &wire.IssueRows{IssueID: "1", Metrics: []wire.MetricRow{{IssueID: "2"}}}},
		{"interval of another issue", &wire.IssueRows{IssueID: "1", Intervals: []wire.IntervalRow{{IssueID: "2"}}}},
		{"changelog of another issue", &wire.IssueRows{IssueID: "1", Changelog: []wire.ChangelogRow{{IssueID: "2"}}}},
	}
	for _, tt := range tests {
		err := c.InsertRows(context.Background(), []*wire.IssueRows{tt.rows})
		if !errors.Is(err, ErrInvalidRows) || !IsPermanent(err) {
			t.Errorf("%s: InsertRows = %v, want a permanent ErrInvalidRows", tt.name, err)
		}
	}
	if err := c.InsertStatuses(context.Background(), []wire.Status{{Name: "Open"}}); !errors.Is(err, ErrInvalidRows) || !IsPermanent(err) {
		t.Errorf("InsertStatuses without key = %v, want a permanent ErrInvalidRows", err)
	}
}

func TestLatestPerIssue(t *testing.T) {
	msg := func(id string, v uint64, gen string) *wire.IssueRows {
		return &wire.IssueRows{IssueID: id, SourceVersion: v, Generation: gen}
	}
	show := func(rows []*wire.IssueRows) string {
		var s []string
		for _, r := range rows {
			s = append(s, fmt.Sprintf("%s@%d%s", r.IssueID, r.SourceVersion, r.Generation))
		}
		return strings.Join(s, " ")
	}
	tests := []struct {
		name string
		in   []*wire.IssueRows
		want string
	}{
		{"distinct issues kept in order", []*wire.IssueRows{msg("2", 1, "a"), msg("1", 1, "a")}, "2@1a 1@1a"},
		{"newer version wins wherever it is", []*wire.IssueRows{msg("1", 5, "a"), msg("2", 1, "a"), msg("1", 3, "a")}, "1@5a 2@1a"},
		{"tie: the later wins", []*wire.IssueRows{msg("1", 5, "a"), msg("1", 5, "b")}, "1@5b"},
		{"nil skipped", []*wire.IssueRows{nil, msg("1", 1, "a"), nil}, "1@1a"},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		got, err := latestPerIssue(tt.in)
		if err != nil || show(got) != tt.want {
			t.Errorf("%s: latestPerIssue = %q, %v; want %q", tt.name, show(got), err, tt.want)
		}
	}
}
