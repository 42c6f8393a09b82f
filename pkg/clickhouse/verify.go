package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tracker-exporter/tracker-exporter/migrations"
)

// ErrSchemaMissing is returned (wrapped) by CheckSchema when the database
// lacks migrations that this version needs.
var ErrSchemaMissing = errors.New("schema not migrated")

// CheckSchema reports whether every embedded migration is applied to the
// database (and unchanged since). It returns an error wrapping
// ErrSchemaMissing that names what is missing, or ErrChecksumMismatch, or
// the server's error when it cannot be asked.
func (c *Client) CheckSchema(ctx context.Context) error {
	ms, err := loadMigrations(migrations.FS, c.templateData())
	if err != nil {
		return &Error{Op: "check schema", Permanent: true, Err: err}
	}
	done, err := c.appliedMigrations(ctx)
	var ex *ch.Exception
	if errors.As(err, &ex) && (ex.Code == 60 || ex.Code == 81) { // UNKNOWN_TABLE, UNKNOWN_DATABASE
		done, err = nil, nil
	}
	if err != nil {
		return newError("check schema", migrationsTable, err)
	}
	var pending []string
	for _, m := range ms {
		sums, ok := done[m.version]
		if !ok {
			pending = append(pending, m.name)
			continue
		}
		for _, s := range sums {
			if s != m.checksum {
				return &Error{Op: "check schema", Permanent: true, Err: fmt.Errorf("%w: %s in database %s", ErrChecksumMismatch, m.name, c.db)}
			}
		}
	}
	if len(pending) > 0 {
		what := fmt.Sprintf("%d of %d migrations are not applied (first: %s)", len(pending), len(ms), pending[0])
		if len(pending) == len(ms) {
			what = "it has none of the tables"
		}
		return &Error{Op: "check schema", Permanent: true, Err: fmt.Errorf("%w: database %s: %s", ErrSchemaMissing, c.db, what)}
	}
	return nil
}

// verifyBatch bounds the ids of one query (ClickHouse's max_query_size is
// 256 KiB by default).
const verifyBatch = 2000

// IssueVersions returns, for each of the ids present in the issues table,
// the largest _version stored (what issues_view shows). Ids absent from the
// table are absent from the map.
func (c *Client) IssueVersions(ctx context.Context, ids []string) (map[string]uint64, error) {
	out := make(map[string]uint64, len(ids))
	err := c.perIssue(ctx, ids, "SELECT `issue_id`, max(`_version`) FROM "+c.qualified(c.tables.Issues)+" WHERE `issue_id` IN (%s) GROUP BY `issue_id`",
		func(id string, v uint64) { out[id] = v })
	return out, err
}

// ChangelogRows returns, for each of the ids with rows in the changelog
// view (the rows of the issue's current version and transform), their
// number.
func (c *Client) ChangelogRows(ctx context.Context, ids []string) (map[string]uint64, error) {
	out := make(map[string]uint64, len(ids))
	err := c.perIssue(ctx, ids, "SELECT `issue_id`, count() FROM "+c.qualified(c.tables.IssuesChangelog+"_view")+" WHERE `issue_id` IN (%s) GROUP BY `issue_id`",
		func(id string, n uint64) { out[id] = n })
	return out, err
}

// perIssue runs query (with %s standing for the quoted ids) in batches and
// hands each (issue_id, UInt64) row to fn.
func (c *Client) perIssue(ctx context.Context, ids []string, query string, fn func(string, uint64)) error {
	for start := 0; start < len(ids); start += verifyBatch {
		part := ids[start:min(start+verifyBatch, len(ids))]
		var b strings.Builder
		for i, id := range part {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quote(id))
		}
		rows, err := c.conn.Query(ctx, fmt.Sprintf(query, b.String()))
		if err != nil {
			return newError("query", "", err)
		}
		for rows.Next() {
			var (
				id string
				v  uint64
			)
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return newError("query", "", err)
			}
			fn(id, v)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return newError("query", "", err)
		}
	}
	return nil
}

// quote writes a ClickHouse string literal.
func quote(s string) string { return "'" + escapeQuote(s) + "'" }

// literalEscaper escapes what ends or escapes a quoted string. Built once:
// a Replacer builds its tables at first use, which per call (every issue
// id of a slot look-up) was 3 % of a replay's allocations.
var literalEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// escapeQuote escapes s for the inside of a ClickHouse string literal.
func escapeQuote(s string) string { return literalEscaper.Replace(s) }
