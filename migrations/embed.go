// Package migrations holds the ClickHouse DDL of tracker-exporter as
// embedded, numbered files (NNNN_name.sql), applied in order by
// pkg/clickhouse's migrator.
//
// Each file is a text/template expanded with the configured names:
// {{.Database}} and, for each field F of wire.Tables, {{.FTable}}
// ({{.IssuesTable}}, {{.IssueMetricsTable}}, {{.CommentsTable}}, ...). A file holds one statement, or several separated by
// semicolons; every statement is sent on its own. Statements must run on
// ClickHouse 18.16 and on current servers: no DateTime64, Map, Bool or JSON
// types, no ADD COLUMN IF NOT EXISTS (the migrator guards
// "ALTER TABLE t ADD COLUMN c T" itself through system.columns), no
// CREATE OR REPLACE VIEW.
//
// Migrations are forward only and never edited once released: the migrator
// records a checksum of every applied file and refuses to run when an
// applied file has changed. A later migration that adds a column to a table
// must also drop and re-create that table's *_view, whose column list is
// fixed when it is created.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
