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
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Strategies accepted in Config.HostStrategy.
const (
	ConnInOrder    = "in_order"
	ConnRoundRobin = "round_robin"
)

// Protocols accepted in Config.Proto: the old tool's HTTP(S) and
// ClickHouse's native TCP protocol, each with or without TLS.
const (
	ProtoHTTP      = "http"
	ProtoHTTPS     = "https"
	ProtoNative    = "native"
	ProtoNativeTLS = "native+tls"
)

// wellKnownPorts maps ClickHouse's default ports to their protocol.
var wellKnownPorts = map[int]string{8123: ProtoHTTP, 8443: ProtoHTTPS, 9000: ProtoNative, 9440: ProtoNativeTLS}

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

// Config says where ClickHouse is and how to talk to it: a plain value,
// built with Default and checked with Validate. The env tag of a field
// names the variable that sets it (pkg/config maps it; Validate's problems
// name fields, which pkg/config turns into these names).
type Config struct {
	// Host is one host or a comma-separated list (host or host:port, the
	// port defaulting to Port): the client connects to the first that
	// answers (HostStrategy) and, when a host stops answering, to the next.
	Host string `env:"EXPORTER_CLICKHOUSE__HOST"`
	// Port is the port of the hosts that name none.
	Port int `env:"EXPORTER_CLICKHOUSE__PORT"`
	// HostStrategy is ConnInOrder (the first host that answers, the others
	// as failover) or ConnRoundRobin.
	HostStrategy string `env:"EXPORTER_CLICKHOUSE__HOST_STRATEGY"`
	// Cluster, when set, is the cluster (the servers' remote_servers) the
	// schema lives on: the migrations run ON CLUSTER, tables are
	// ReplicatedReplacingMergeTree and, with several shards, the loader
	// writes and the views read Distributed tables. Empty: one server.
	Cluster string `env:"EXPORTER_CLICKHOUSE__CLUSTER"`
	// ZooKeeperPath and ReplicaName are the first two arguments of the
	// replicated engines (DefaultZooKeeperPath, DefaultReplicaName);
	// {database} and {table} are expanded by the migrator, the other
	// macros by each server.
	ZooKeeperPath string `env:"EXPORTER_CLICKHOUSE__ZOOKEEPER_PATH"`
	ReplicaName   string `env:"EXPORTER_CLICKHOUSE__REPLICA_NAME"`
	// Proto is ProtoHTTP or ProtoHTTPS (the old tool's, ports 8123/8443) or
	// ProtoNative or ProtoNativeTLS (ports 9000/9440). The protocol is
	// chosen by Proto alone, never guessed from the port; Validate refuses
	// the well-known mismatches (http on 9000, native on 8123, ...).
	Proto string `env:"EXPORTER_CLICKHOUSE__PROTO"`
	// CACertPath is a PEM file of CA certificates to trust instead of the
	// system pool; required for https (the old rule) unless
	// ServerlessProxyID is set. Without TLS (http, native) it is ignored,
	// not read: the old tool's .env.example sets it with http.
	CACertPath string `env:"EXPORTER_CLICKHOUSE__CACERT_PATH"`
	// ServerlessProxyID is the Yandex Cloud serverless proxy id; it is sent
	// as the connection's database (https only), as the old tool did.
	ServerlessProxyID string         `env:"EXPORTER_CLICKHOUSE__SERVERLESS_PROXY_ID"`
	Username          string         `env:"EXPORTER_CLICKHOUSE__USERNAME"`
	Password          setting.Secret `env:"EXPORTER_CLICKHOUSE__PASSWORD"`
	// Database holds the tables; it is created by Migrate.
	Database string `env:"EXPORTER_CLICKHOUSE__DATABASE"`
	// Tables names every table (the env tags of wire.Tables).
	Tables TableNames
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
	Logger *slog.Logger `json:"-"`
	// OnInsert, when set, is told about every insert that succeeded: the
	// table, its rows and how long it took (for metrics). It must be safe
	// for concurrent use.
	OnInsert func(table string, rows int, took time.Duration) `json:"-"`
	// CustomColumns are extra typed columns of the issues table (configured
	// custom fields); Migrate adds the missing ones.
	CustomColumns []CustomColumn
}

// Default returns the old tool's settings: HTTP on localhost:8123, user
// "default", database "agile", the old tool's table names (and the new
// tables'), the default replicated-engine arguments.
func Default() Config {
	return Config{
		Host:             "localhost",
		Port:             8123,
		HostStrategy:     ConnInOrder,
		ZooKeeperPath:    DefaultZooKeeperPath,
		ReplicaName:      DefaultReplicaName,
		Proto:            ProtoHTTP,
		Username:         "default",
		Database:         "agile",
		Tables:           DefaultTableNames(),
		DialTimeout:      10 * time.Second,
		ReadTimeout:      2 * time.Minute,
		MaxExecutionTime: 2 * time.Minute,
	}
}

// Addrs returns every host of Host as host:port (Port when a host names
// none).
func (c Config) Addrs() []string {
	var out []string
	for _, h := range strings.Split(c.Host, ",") {
		h = strings.TrimSpace(h)
		if _, _, err := net.SplitHostPort(h); err == nil {
			out = append(out, h)
			continue
		}
		out = append(out, net.JoinHostPort(strings.Trim(h, "[]"), strconv.Itoa(c.Port)))
	}
	return out
}

// Addr returns "host:port", or the comma-separated list of them.
func (c Config) Addr() string { return strings.Join(c.Addrs(), ",") }

// Native reports whether Proto selects ClickHouse's native TCP protocol.
func (c Config) Native() bool { return c.Proto == ProtoNative || c.Proto == ProtoNativeTLS }

// TLS reports whether Proto uses TLS.
func (c Config) TLS() bool { return c.Proto == ProtoHTTPS || c.Proto == ProtoNativeTLS }

// identRE is what a database or table name may be. Names are quoted in the
// DDL, but a strict rule keeps templates and error messages simple.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,190}$`)

// identReason is the problem of a name identRE refuses.
const identReason = "want a name of letters, digits and _, not starting with a digit"

// Validate reports every problem of c at once: errors.Join of one
// *setting.Problem per problem, naming the field. It does no I/O: whether
// CACertPath can be read is for Open (or the caller) to find out.
func (c Config) Validate() error {
	var p setting.Problems
	c.validateHosts(&p)
	c.validateCluster(&p)
	c.validateProto(&p)
	p.NonEmpty("Username", c.Username)
	c.validateNames(&p)
	for _, cc := range c.CustomColumns {
		if !identRE.MatchString(cc.Name) {
			p.Add("CustomColumns", nil, "column %q: %s", cc.Name, identReason)
		}
		if !validCustomType(cc.Type) {
			p.Add("CustomColumns", nil, "column %s: unsupported type %q", cc.Name, cc.Type)
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"DialTimeout", c.DialTimeout}, {"ReadTimeout", c.ReadTimeout}, {"MaxExecutionTime", c.MaxExecutionTime}} {
		if d.v < 0 {
			p.Add(d.field, d.v, "want 0 or more")
		}
	}
	return p.Err()
}

func (c Config) validateHosts(p *setting.Problems) {
	p.NonEmpty("Host", c.Host)
	if c.Host != "" {
		for _, h := range strings.Split(c.Host, ",") {
			h = strings.TrimSpace(h)
			if h == "" {
				p.Add("Host", c.Host, "an empty host in the list")
				continue
			}
			if _, port, err := net.SplitHostPort(h); err == nil && !validPort(port) {
				p.Add("Host", h, "invalid port")
			}
		}
	}
	p.OneOf("HostStrategy", c.HostStrategy, ConnInOrder, ConnRoundRobin)
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n <= 65535
}

// validateCluster reports the problems of the cluster settings.
func (c Config) validateCluster(p *setting.Problems) {
	if c.Cluster == "" {
		return
	}
	if !identRE.MatchString(c.Cluster) {
		p.Add("Cluster", c.Cluster, identReason)
	}
	if !strings.Contains(c.ZooKeeperPath, "{table}") {
		p.Add("ZooKeeperPath", c.ZooKeeperPath, "must contain {table}: every table needs its own path")
	}
	p.NonEmpty("ReplicaName", c.ReplicaName)
}

func (c Config) validateProto(p *setting.Problems) {
	protos := []string{ProtoHTTP, ProtoHTTPS, ProtoNative, ProtoNativeTLS}
	p.OneOf("Proto", c.Proto, protos...)
	p.IntRange("Port", c.Port, 1, 65535)
	if want, ok := wellKnownPorts[c.Port]; ok && want != c.Proto && slices.Contains(protos, c.Proto) {
		p.Add("Port", c.Port, "is ClickHouse's %s port but %s is %s: set the protocol to %s or use another port", want, setting.Ref("Proto"), c.Proto, want)
	}
	if c.ServerlessProxyID != "" && c.Proto != ProtoHTTPS {
		p.Add("ServerlessProxyID", nil, "needs %s=https", setting.Ref("Proto"))
	}
	if c.Proto == ProtoHTTPS && c.CACertPath == "" && c.ServerlessProxyID == "" {
		p.Add("CACertPath", nil, "must be set when %s is https", setting.Ref("Proto"))
	}
}

// validateNames checks the database and the table names: each a valid
// name, no table twice, none reserved or taken by a view of the schema.
func (c Config) validateNames(p *setting.Problems) {
	if !identRE.MatchString(c.Database) {
		p.Add("Database", c.Database, identReason)
	}
	views := map[string]bool{}
	for _, t := range c.Tables.list() {
		views[t[1]+"_view"] = true
	}
	for _, v := range c.Tables.AnalyticViews().List() {
		views[v] = true
	}
	seen := map[string]string{}
	for _, t := range c.Tables.list() {
		field, name := "Tables."+t[0], t[1]
		switch other, dup := seen[name]; {
		case !identRE.MatchString(name):
			p.Add(field, name, identReason)
		case dup:
			p.Add(field, name, "same table as %s", setting.Ref(other))
		case name == migrationsTable || name == ForecastsTable || name == ForecastsLatestView:
			p.Add(field, name, "is reserved (the migrations and forecasts tables)")
		case views[name]:
			p.Add(field, name, "is the name of a view of the schema")
		default:
			seen[name] = field
		}
	}
}
