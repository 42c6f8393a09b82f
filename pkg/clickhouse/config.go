// Package clickhouse is the ClickHouse sink of tracker-exporter: the
// connection, the embedded migrations runner and the batch inserts of the
// rows the transformer produces (pkg/wire).
//
// It speaks the native protocol (ports 9000, 9440 with TLS) and HTTP(S)
// (8123, 8443 and the Yandex Cloud serverless proxy). The DDL runs on
// ClickHouse 18.16 and on current servers; HTTP mode is supported for current
// servers only (clickhouse-go sends a setting 18.16 does not know) and is
// untested against 18.16.
//
// Deduplication: every table is a ReplacingMergeTree keyed by the stable
// issue id plus the row's own key, with version _version (the snapshot's
// source version, never now()). The *_view views read with FINAL, and the
// views of the derived tables show only the rows of the latest
// snapshot and transform generation.
package clickhouse

import (
	"errors"
	"fmt"
	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"time"
)

// Strategies accepted in Config.ConnOpenStrategy.
const (
	ConnInOrder    = "in_order"
	ConnRoundRobin = "round_robin"
)

// Protocols accepted in Config.Protocol.
const (
	ProtocolNative = "native"
	ProtocolHTTP   = "http"
)

// TableNames are the names of the tables in Config.Database (see
// wire.Tables, their one home).
type TableNames wire.Tables

// DefaultTableNames returns the old tool's names plus the new tables'.
func DefaultTableNames() TableNames { return TableNames(wire.DefaultTables()) }

// list returns the names with the configuration field each comes from.
func (t TableNames) list() [][2]string {
	w := wire.Tables(t)
	var out [][2]string
	for _, r := range w.Refs() {
		out = append(out, [2]string{r.Field, *r.Name})
	}
	return out
}

// Config says where ClickHouse is and how to talk to it.
type Config struct {
	// Addr lists host:port pairs; the client connects to the first that
	// answers (ConnOpenStrategy) and, when a host stops answering, to the
	// next.
	Addr []string
	// ConnOpenStrategy is ConnInOrder (default: the first host that
	// answers, the others as failover) or ConnRoundRobin.
	ConnOpenStrategy string
	// Cluster, when set, is the cluster (the servers' remote_servers) the
	// schema lives on: the migrations run ON CLUSTER, tables are
	// ReplicatedReplacingMergeTree and, with several shards, the loader
	// writes and the views read Distributed tables. Empty: one server.
	Cluster string
	// ZooKeeperPath and ReplicaName are the first two arguments of the
	// replicated engines (defaults DefaultZooKeeperPath, DefaultReplicaName);
	// {database} and {table} are expanded by the migrator.
	ZooKeeperPath string
	ReplicaName   string
	// Protocol is ProtocolNative or ProtocolHTTP; empty chooses HTTP when a
	// port is 8123 or 8443 (the old tool's defaults) and native otherwise.
	Protocol string
	// TLS enables TLS (ports 9440 and 8443 by convention).
	TLS bool
	// CACertPath is a PEM file of CA certificates to trust instead of the
	// system pool (TLS only).
	CACertPath string
	Username   string
	Password   setting.Secret
	// Database holds the tables; it is created by Migrate.
	Database string
	Tables   TableNames
	// DialTimeout bounds connecting; ReadTimeout bounds waiting for each
	// server response.
	DialTimeout time.Duration
	ReadTimeout time.Duration
	// MaxExecutionTime is sent as max_execution_time with every query: a
	// cancelled context does not stop a query on the server, this does.
	// Zero sends nothing.
	MaxExecutionTime time.Duration
	// Debug makes the driver log its protocol exchanges to Logger at debug
	// level (or to stdout when Logger is nil).
	Debug  bool
	Logger *slog.Logger
	// ServerlessProxyID is the Yandex Cloud serverless proxy id; it is sent
	// as the connection's database (HTTPS only), as the old tool did.
	ServerlessProxyID string
	// OnInsert, when set, is told about every insert that succeeded: the
	// table, its rows and how long it took (for metrics). It must be safe
	// for concurrent use.
	OnInsert func(table string, rows int, took time.Duration)
	// CustomColumns are extra typed columns of the issues table (configured
	// custom fields); Migrate adds the missing ones.
	CustomColumns []CustomColumn
}

// Default returns the configuration of a local server: native protocol on
// localhost:9000, database "agile", the old tool's table names.
func Default() Config {
	return Config{
		Addr:             []string{"localhost:9000"},
		Username:         "default",
		Database:         "agile",
		Tables:           DefaultTableNames(),
		DialTimeout:      10 * time.Second,
		ReadTimeout:      2 * time.Minute,
		MaxExecutionTime: 2 * time.Minute,
	}
}

// identRE is what a database or table name may be. Names are quoted in the
// DDL, but a strict rule keeps templates and error messages simple.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,190}$`)

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Addr) == 0 {
		errs = append(errs, errors.New("clickhouse: no address"))
	}
	for _, a := range c.Addr {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			errs = append(errs, fmt.Errorf("clickhouse: address %q is not host:port", a))
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("clickhouse: address %q has an invalid port", a))
		}
	}
	switch c.ConnOpenStrategy {
	case "", ConnInOrder, ConnRoundRobin:
	default:
		errs = append(errs, fmt.Errorf("clickhouse: connection strategy %q is not %q or %q", c.ConnOpenStrategy, ConnInOrder, ConnRoundRobin))
	}
	if err := c.validateCluster(); err != nil {
		errs = append(errs, err)
	}
	switch c.Protocol {
	case "", ProtocolNative, ProtocolHTTP:
	default:
		errs = append(errs, fmt.Errorf("clickhouse: protocol %q is not %q or %q", c.Protocol, ProtocolNative, ProtocolHTTP))
	}
	if c.CACertPath != "" && !c.TLS {
		errs = append(errs, errors.New("clickhouse: a CA certificate path is set but TLS is off"))
	}
	if c.ServerlessProxyID != "" && (c.protocol() != ProtocolHTTP || !c.TLS) {
		errs = append(errs, errors.New("clickhouse: the serverless proxy needs HTTPS (protocol http with TLS)"))
	}
	if !identRE.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse: database name %q must be letters, digits and _ not starting with a digit", c.Database))
	}
	for _, cc := range c.CustomColumns {
		if !identRE.MatchString(cc.Name) {
			errs = append(errs, fmt.Errorf("clickhouse: custom column %q must be letters, digits and _ not starting with a digit", cc.Name))
		}
		if !validCustomType(cc.Type) {
			errs = append(errs, fmt.Errorf("clickhouse: custom column %s has unsupported type %q", cc.Name, cc.Type))
		}
	}
	seen := map[string]string{}
	for _, t := range c.Tables.list() {
		field, name := t[0], t[1]
		if !identRE.MatchString(name) {
			errs = append(errs, fmt.Errorf("clickhouse: table name %s=%q must be letters, digits and _ not starting with a digit", field, name))
			continue
		}
		if name == migrationsTable || name == ForecastsTable || name == ForecastsLatestView {
			errs = append(errs, fmt.Errorf("clickhouse: table name %s=%q is reserved (the migrations and forecasts tables)", field, name))
		}
		if other, dup := seen[name]; dup {
			errs = append(errs, fmt.Errorf("clickhouse: table names %s and %s are both %q", other, field, name))
		}
		seen[name] = field
	}
	// A table must not take the name of a view the migrations create.
	views := map[string]bool{}
	for _, t := range c.Tables.list() {
		views[t[1]+"_view"] = true
	}
	for _, v := range c.Tables.AnalyticViews().List() {
		views[v] = true
	}
	for _, t := range c.Tables.list() {
		if views[t[1]] {
			errs = append(errs, fmt.Errorf("clickhouse: table name %s=%q is the name of a view of the schema", t[0], t[1]))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"dial timeout", c.DialTimeout}, {"read timeout", c.ReadTimeout}, {"max execution time", c.MaxExecutionTime}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("clickhouse: %s %s is negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// protocol is the protocol in effect: the configured one, else guessed from
// the ports.
func (c Config) protocol() string {
	if c.Protocol != "" {
		return c.Protocol
	}
	for _, a := range c.Addr {
		if _, port, err := net.SplitHostPort(a); err == nil && (port == "8123" || port == "8443") {
			return ProtocolHTTP
		}
	}
	return ProtocolNative
}
