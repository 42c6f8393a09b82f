package clickhouse

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tracker-exporter/tracker-exporter/migrations"
)

// migrationsTable records the applied migrations in the target database.
const migrationsTable = "schema_migrations"

// migration is one embedded file, rendered.
type migration struct {
	version    uint32
	name       string // file name without .sql, e.g. 0001_create_issues
	statements []string
	checksum   string
}

// templateData is what the migration templates see: Database and, for
// each table, <Field>Table (IssuesTable, CommentsTable, ...; see
// wire.Tables).
type templateData map[string]string

// newTemplateData is the template data of a database and its tables.
func newTemplateData(db string, t TableNames) templateData {
	d := templateData{"Database": db}
	for _, r := range t.list() {
		d[r[0]+"Table"] = r[1]
	}
	return d
}

var migrationFileRE = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// loadMigrations reads, renders and orders the *.sql files of fsys.
func loadMigrations(fsys fs.FS, data templateData) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var out []migration
	seen := map[uint32]string{}
	for _, file := range names {
		v, err := migrationVersion(file)
		if err != nil {
			return nil, err
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migration files %s and %s have the same version", other, file)
		}
		seen[v] = file
		sql, err := renderMigration(fsys, file, data)
		if err != nil {
			return nil, err
		}
		stmts, err := migrationStatements(file, sql)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(strings.Join(stmts, "\n;\n")))
		out = append(out, migration{
			version:    v,
			name:       strings.TrimSuffix(path.Base(file), ".sql"),
			statements: stmts,
			checksum:   hex.EncodeToString(sum[:]),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrationVersion is the version that a migration file's name
// (NNNN_name.sql) gives, from 1.
func migrationVersion(file string) (uint32, error) {
	m := migrationFileRE.FindStringSubmatch(file)
	if m == nil {
		return 0, fmt.Errorf("migration file %s: name is not NNNN_name.sql", file)
	}
	v, _ := strconv.ParseUint(m[1], 10, 32)
	if v == 0 {
		return 0, fmt.Errorf("migration file %s: versions start at 0001", file)
	}
	return uint32(v), nil
}

// renderMigration reads a migration file and executes it as a template
// with data; a key that data lacks is an error.
func renderMigration(fsys fs.FS, file string, data templateData) (string, error) {
	src, err := fs.ReadFile(fsys, file)
	if err != nil {
		return "", fmt.Errorf("read migration %s: %w", file, err)
	}
	tmpl, err := template.New(file).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return "", fmt.Errorf("migration %s: %w", file, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("migration %s: %w", file, err)
	}
	return buf.String(), nil
}

// migrationStatements splits the rendered migration file into its
// statements: at least one, and every ALTER one that can be guarded.
func migrationStatements(file, sql string) ([]string, error) {
	stmts, err := splitStatements(sql)
	if err != nil {
		return nil, fmt.Errorf("migration %s: %w", file, err)
	}
	if len(stmts) == 0 {
		return nil, fmt.Errorf("migration %s: no statement", file)
	}
	for _, s := range stmts {
		if isAlterAddColumn(s) {
			if _, ok := parseAddColumn(s); !ok {
				return nil, fmt.Errorf("migration %s: an ALTER TABLE must add exactly one column (ALTER TABLE t ADD COLUMN c Type) so that it can be guarded: %s", file, s)
			}
		}
	}
	return stmts, nil
}

// splitStatements splits SQL on semicolons outside quotes and drops
// comments and empty statements.
func splitStatements(sql string) ([]string, error) {
	var (
		stmts []string
		cur   strings.Builder
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			stmts = append(stmts, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case strings.HasPrefix(sql[i:], "--"):
			i = lineCommentEnd(sql, i)
			cur.WriteByte('\n')
		case strings.HasPrefix(sql[i:], "/*"):
			end, err := blockCommentEnd(sql, i)
			if err != nil {
				return nil, err
			}
			i = end
			cur.WriteByte(' ')
		case c == '\'' || c == '`' || c == '"':
			end, err := quoteEnd(sql, i)
			if err != nil {
				return nil, err
			}
			cur.WriteString(sql[i : end+1])
			i = end
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return stmts, nil
}

// lineCommentEnd returns the index of the newline that ends the -- comment
// at sql[i], len(sql) when none does.
func lineCommentEnd(sql string, i int) int {
	for i < len(sql) && sql[i] != '\n' {
		i++
	}
	return i
}

// blockCommentEnd returns the index of the last byte of the /* comment at
// sql[i] (the slash of its */).
func blockCommentEnd(sql string, i int) (int, error) {
	end := strings.Index(sql[i+2:], "*/")
	if end < 0 {
		return 0, errors.New("unterminated /* comment")
	}
	return i + 2 + end + 1, nil
}

// quoteEnd returns the index of the quote that closes the one at sql[i]:
// a backslash escapes the next byte and a doubled quote is part of the
// quoted text.
func quoteEnd(sql string, i int) (int, error) {
	q := sql[i]
	for j := i + 1; j < len(sql); j++ {
		if sql[j] == '\\' {
			j++
			continue
		}
		if sql[j] != q {
			continue
		}
		if j+1 < len(sql) && sql[j+1] == q { // doubled quote
			j++
			continue
		}
		return j, nil
	}
	return 0, fmt.Errorf("unterminated %c quote", q)
}

var (
	alterAddRE = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s.*\bADD\s+COLUMN\b`)
	// ALTER TABLE [`db`.]`t` ADD COLUMN `c` definition
	addColumnRE = regexp.MustCompile("(?is)^ALTER\\s+TABLE\\s+(?:(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\\.)?(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\\s+ADD\\s+COLUMN\\s+(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\\s+(.+)$")
	// another command of a multi-command ALTER
	moreAlterRE = regexp.MustCompile(`(?i),\s*(ADD|DROP|MODIFY|CLEAR|COMMENT|RENAME)\s+(COLUMN|INDEX)\b`)
)

func isAlterAddColumn(stmt string) bool { return alterAddRE.MatchString(stmt) }

// addColumn is a parsed "ALTER TABLE [db.]t ADD COLUMN c definition".
type addColumn struct {
	db, table, column string
	// definition is what follows the column name: type, DEFAULT, COMMENT...
	definition string
}

// parseAddColumn parses a single-column ADD COLUMN statement.
func parseAddColumn(stmt string) (addColumn, bool) {
	m := addColumnRE.FindStringSubmatch(strings.TrimSpace(stmt))
	if m == nil || moreAlterRE.MatchString(m[4]) {
		return addColumn{}, false
	}
	unq := func(s string) string { return strings.Trim(s, "`") }
	return addColumn{db: unq(m[1]), table: unq(m[2]), column: unq(m[3]), definition: strings.TrimSpace(m[4])}, true
}

// Migrate creates the database when missing and applies the embedded
// migrations that are not applied yet, in order, one statement per call. It
// returns what it did: the names of the applied migrations, preceded by a
// note for every table of the old Python tool it renamed out of the way.
//
// It is idempotent and safe to run from several processes at once (every
// statement is IF NOT EXISTS or guarded). It refuses, with
// ErrChecksumMismatch, to run when an applied migration has changed since.
// It blocks for the duration of the DDL.
func (c *Client) Migrate(ctx context.Context) (applied []string, err error) {
	return c.migrate(ctx, migrations.FS)
}

func (c *Client) migrate(ctx context.Context, fsys fs.FS) ([]string, error) {
	wrap := func(err error) error { return newError("migrate", "", err) }
	ms, err := loadMigrations(fsys, c.templateData())
	if err != nil {
		return nil, &Error{Op: "migrate", Permanent: true, Err: err}
	}
	if err := c.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+c.db+"`"+c.cluster.onCluster()); err != nil {
		return nil, wrap(fmt.Errorf("create database %s: %w", c.db, err))
	}
	if err := c.conn.Exec(ctx, c.migrationsTableDDL()); err != nil {
		return nil, wrap(fmt.Errorf("create %s: %w", migrationsTable, err))
	}
	done, err := c.appliedMigrations(ctx)
	if err != nil {
		return nil, wrap(err)
	}

	if err := c.checkApplied(ms, done); err != nil {
		return nil, err
	}
	var report []string
	if len(done) == 0 {
		notes, err := c.moveLegacyTables(ctx)
		report = append(report, notes...)
		if err != nil {
			return report, wrap(err)
		}
	}
	applied, err := c.applyMigrations(ctx, ms, done)
	report = append(report, applied...)
	if err != nil {
		return report, wrap(err)
	}
	added, err := c.addCustomColumns(ctx)
	report = append(report, added...)
	if err != nil {
		return report, wrap(err)
	}
	return report, nil
}

// checkApplied refuses, with a permanent *Error, the migrations ms when
// one of them is not applied but a later one is, or when one was applied
// (done: the checksums recorded per version) with another checksum.
func (c *Client) checkApplied(ms []migration, done map[uint32][]string) error {
	var maxApplied uint32
	for v := range done {
		maxApplied = max(maxApplied, v)
	}
	for _, m := range ms {
		sums, ok := done[m.version]
		if !ok {
			if m.version < maxApplied {
				return &Error{Op: "migrate", Permanent: true, Err: fmt.Errorf(
					"migration %s is not applied but the later migration %04d is: migrations were applied out of order", m.name, maxApplied)}
			}
			continue
		}
		for _, s := range sums {
			if s != m.checksum {
				return &Error{Op: "migrate", Permanent: true, Err: fmt.Errorf(
					"%w: %s in database %s was applied with checksum %.12s but now renders to %.12s (edited file, or table names changed since)",
					ErrChecksumMismatch, m.name, c.db, s, m.checksum)}
			}
		}
	}
	return nil
}

// migrateTries bounds the attempts of applyMigrations.
const migrateTries = 6

// applyMigrations applies the migrations not in done, in order. Several
// migrators may run at once (loaders starting together): a statement can
// then fail because another one is between the DROP and the CREATE of a
// view this one reads, or added the column just checked. Such a failure
// restarts from the migrations recorded by then, after a pause; every
// migration re-creates its views in full, so the last migrator to finish
// leaves the latest definitions.
func (c *Client) applyMigrations(ctx context.Context, ms []migration, done map[uint32][]string) ([]string, error) {
	var applied []string
	for attempt := 1; ; attempt++ {
		err := c.applyOnce(ctx, ms, done, &applied)
		if err == nil || attempt >= migrateTries || ctx.Err() != nil {
			return applied, err
		}
		select {
		case <-ctx.Done():
			return applied, err
		case <-time.After(time.Duration(attempt)*200*time.Millisecond + time.Duration(rand.Int64N(int64(200*time.Millisecond)))):
		}
		if done, err = c.appliedMigrations(ctx); err != nil {
			return applied, err
		}
	}
}

func (c *Client) applyOnce(ctx context.Context, ms []migration, done map[uint32][]string, applied *[]string) error {
	tables := c.replicatedTables()
	for _, m := range ms {
		if _, ok := done[m.version]; ok {
			continue
		}
		for _, stmt := range m.statements {
			for _, s := range c.cluster.statements(stmt, tables) {
				if err := c.execMigrationStatement(ctx, s); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
			}
		}
		if err := c.recordMigration(ctx, m); err != nil {
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
		*applied = append(*applied, m.name)
	}
	return nil
}

func (c *Client) templateData() templateData { return newTemplateData(c.db, c.tables) }

// migrationsTableDDL creates schema_migrations (see cluster.migrationsEngine).
func (c *Client) migrationsTableDDL() string {
	return "CREATE TABLE IF NOT EXISTS " + c.qualified(migrationsTable) + c.cluster.onCluster() +
		" (`version` UInt32, `name` String, `checksum` String, `applied_at` DateTime('UTC'))" +
		" " + c.cluster.migrationsEngine(c.db) + " ORDER BY `version`"
}

// replicatedTables is the set of the tables of the schema (not views):
// the ones that have a Distributed table on several shards.
func (c *Client) replicatedTables() map[string]bool {
	out := map[string]bool{ForecastsTable: true}
	for _, t := range c.tables.list() {
		out[t[1]] = true
	}
	return out
}

// appliedMigrations returns the checksums recorded for every applied
// version (several rows per version when migrators raced).
func (c *Client) appliedMigrations(ctx context.Context) (map[uint32][]string, error) {
	rows, err := c.conn.Query(ctx, "SELECT `version`, `checksum` FROM "+c.qualified(migrationsTable))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", migrationsTable, err)
	}
	defer rows.Close()
	done := map[uint32][]string{}
	for rows.Next() {
		var (
			v   uint32
			sum string
		)
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("read %s: %w", migrationsTable, err)
		}
		done[v] = append(done[v], sum)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", migrationsTable, err)
	}
	return done, nil
}

func (c *Client) recordMigration(ctx context.Context, m migration) error {
	batch, err := c.conn.PrepareBatch(ctx, "INSERT INTO "+c.qualified(migrationsTable)+
		" (`version`, `name`, `checksum`, `applied_at`)")
	if err != nil {
		return err
	}
	defer func() { _ = batch.Close() }()
	if err := batch.Append(m.version, m.name, m.checksum, time.Now().UTC().Truncate(time.Second)); err != nil {
		return err
	}
	return batch.Send()
}

// execMigrationStatement runs one statement; an ADD COLUMN runs only when
// the column is missing.
func (c *Client) execMigrationStatement(ctx context.Context, stmt string) error {
	if !isAlterAddColumn(stmt) {
		return c.conn.Exec(ctx, stmt)
	}
	add, ok := parseAddColumn(stmt)
	if !ok {
		return fmt.Errorf("unguardable ALTER: %s", stmt)
	}
	if add.db != "" && add.db != c.db {
		return fmt.Errorf("ALTER of a table outside database %s: %s", c.db, stmt)
	}
	_, err := c.AddColumnIfMissing(ctx, add.table, add.column, add.definition)
	return err
}

// AddColumnIfMissing adds a column to a table of the database unless
// system.columns already lists it (ClickHouse 18.16 has no ADD COLUMN IF NOT
// EXISTS). definition is what follows the column name: the type and
// optionally DEFAULT, COMMENT or AFTER clauses. It reports whether it added
// the column. On several shards the table's Distributed table gets the
// column too, on every host that lacks it (also when the table had it: a
// migrator that stopped in between).
func (c *Client) AddColumnIfMissing(ctx context.Context, table, column, definition string) (added bool, err error) {
	if !identRE.MatchString(table) || !identRE.MatchString(column) {
		return false, &Error{Op: "migrate", Table: table, Permanent: true,
			Err: fmt.Errorf("invalid table or column name %q.%q", table, column)}
	}
	has, err := c.hasColumn(ctx, table, column)
	if err != nil {
		return false, newError("migrate", table, err)
	}
	if !has {
		if err := c.addColumn(ctx, table, column, definition); err != nil {
			// A concurrent migrator may have added it in between.
			if has, err2 := c.hasColumn(ctx, table, column); err2 != nil || !has {
				return false, newError("migrate", table, fmt.Errorf("add column %s: %w", column, err))
			}
		} else {
			added = true
		}
	}
	if c.cluster.sharded && c.replicatedTables()[table] {
		colDef, _ := splitModifyOrderBy(c.cluster.stripComments(definition))
		if err := c.addDistributedColumn(ctx, table+DistributedSuffix, column, colDef); err != nil {
			return added, newError("migrate", table+DistributedSuffix, fmt.Errorf("add column %s: %w", column, err))
		}
	}
	return added, nil
}

// addColumn runs the ADD COLUMN: as is on one server; on a cluster ON
// CLUSTER, except a MODIFY ORDER BY with it, which 18.16 does not run ON
// CLUSTER and which therefore goes to one replica of each shard (a
// replicated table passes it on).
func (c *Client) addColumn(ctx context.Context, table, column, definition string) error {
	if c.cluster.name == "" {
		return c.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN `%s` %s", c.qualified(table), column, definition))
	}
	definition = c.cluster.stripComments(definition)
	if _, modify := splitModifyOrderBy(definition); modify != "" {
		return c.onEachShard(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN `%s` %s", c.qualified(table), column, definition))
	}
	return c.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s%s ADD COLUMN `%s` %s", c.qualified(table), c.cluster.onCluster(), column, definition))
}

// addDistributedColumn adds a column to the Distributed table dist on
// every host of the cluster that lacks it. Not ON CLUSTER: 18.16 runs an
// ALTER ON CLUSTER of a table that is not replicated only where the shards
// have internal_replication off, and the replicated tables need it on.
func (c *Client) addDistributedColumn(ctx context.Context, dist, column, colDef string) error {
	return c.onEveryHost(ctx, func(ctx context.Context, conn driver.Conn) error {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?", c.db, dist, column).Scan(&n); err != nil || n > 0 {
			return err
		}
		err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN `%s` %s", c.qualified(dist), column, colDef))
		if err != nil {
			// A concurrent migrator may have added it in between.
			if err2 := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?", c.db, dist, column).Scan(&n); err2 == nil && n > 0 {
				return nil
			}
		}
		return err
	})
}

func (c *Client) hasColumn(ctx context.Context, table, column string) (bool, error) {
	var n uint64
	err := c.conn.QueryRow(ctx,
		"SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
		c.db, table, column).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up column %s.%s: %w", table, column, err)
	}
	return n > 0, nil
}

// tableEngine returns the engine of a table or view, "" when it does not
// exist.
func (c *Client) tableEngine(ctx context.Context, table string) (string, error) {
	rows, err := c.conn.Query(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = ?", c.db, table)
	if err != nil {
		return "", fmt.Errorf("look up table %s: %w", table, err)
	}
	defer rows.Close()
	var engine string
	for rows.Next() {
		if err := rows.Scan(&engine); err != nil {
			return "", fmt.Errorf("look up table %s: %w", table, err)
		}
	}
	return engine, rows.Err()
}

// moveLegacyTables runs before the first migration of a database: a table
// with one of the old tool's names that lacks _version was created by the
// Python tool (ORDER BY issue_key, partitioned by month, other columns).
// CREATE TABLE IF NOT EXISTS would keep it and every insert would fail, so
// it is renamed to <name>_legacy (data kept, to copy from or drop) and its
// old *_view, which selects by table name, is dropped to be re-created.
func (c *Client) moveLegacyTables(ctx context.Context) ([]string, error) {
	var notes []string
	for _, t := range []string{c.tables.Issues, c.tables.IssueMetrics, c.tables.IssuesChangelog} {
		legacy, err := c.isLegacyTable(ctx, t)
		if err != nil {
			return notes, err
		}
		if !legacy {
			continue
		}
		moved, err := c.moveLegacyTable(ctx, t)
		notes = append(notes, moved...)
		if err != nil {
			return notes, err
		}
	}
	return notes, nil
}

// isLegacyTable reports whether t is a table (not a view) without the
// _version column: one the old tool created.
func (c *Client) isLegacyTable(ctx context.Context, t string) (bool, error) {
	engine, err := c.tableEngine(ctx, t)
	if err != nil {
		return false, err
	}
	if engine == "" || engine == "View" {
		return false, nil
	}
	has, err := c.hasColumn(ctx, t, "_version")
	if err != nil {
		return false, err
	}
	return !has, nil
}

// moveLegacyTable renames the old tool's table t to <t>_legacy, unless
// that exists too, and drops the view <t>_view when there is one. It
// returns a note for each of the two it did.
func (c *Client) moveLegacyTable(ctx context.Context, t string) ([]string, error) {
	target := t + "_legacy"
	if e, err := c.tableEngine(ctx, target); err != nil {
		return nil, err
	} else if e != "" {
		return nil, &Error{Op: "migrate", Table: t, Permanent: true, Err: fmt.Errorf(
			"table %s.%s was created by the old tool and %s.%s exists too: rename or drop one of them", c.db, t, c.db, target)}
	}
	if err := c.conn.Exec(ctx, fmt.Sprintf("RENAME TABLE %s TO %s%s", c.qualified(t), c.qualified(target), c.cluster.onCluster())); err != nil {
		return nil, fmt.Errorf("rename legacy table %s: %w", t, err)
	}
	notes := []string{fmt.Sprintf("renamed %s.%s (old tool's layout) to %s.%s", c.db, t, c.db, target)}
	view := t + "_view"
	if e, err := c.tableEngine(ctx, view); err != nil {
		return notes, err
	} else if e == "View" {
		if err := c.conn.Exec(ctx, "DROP TABLE "+c.qualified(view)+c.cluster.onCluster()); err != nil {
			return notes, fmt.Errorf("drop legacy view %s: %w", view, err)
		}
		notes = append(notes, fmt.Sprintf("dropped the old view %s.%s", c.db, view))
	}
	return notes, nil
}
