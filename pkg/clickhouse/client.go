package clickhouse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Client is a connection pool to one ClickHouse database with the
// tracker-exporter tables. It is safe for concurrent use.
type Client struct {
	conn   driver.Conn
	db     string
	tables TableNames
	custom []CustomColumn
	// opts are the connection options (to reach single shards).
	opts    *ch.Options
	cluster cluster
	// onInsert observes successful inserts (nil: nobody).
	onInsert func(table string, rows int, took time.Duration)
}

// Open validates cfg, connects and pings the server. It blocks until the
// server answers or ctx or the dial timeout ends. Errors are *Error; a
// connection failure is retryable.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, &Error{Op: "open", Permanent: true, Err: err}
	}
	opts, err := options(cfg)
	if err != nil {
		return nil, &Error{Op: "open", Permanent: true, Err: err}
	}
	conn, err := ch.Open(opts)
	if err != nil {
		return nil, newError("open", "", err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, newError("open", "", fmt.Errorf("ping %v: %w", cfg.Addrs(), err))
	}
	c := &Client{conn: conn, db: cfg.Database, tables: cfg.Tables, custom: cfg.CustomColumns, onInsert: cfg.OnInsert, opts: opts}
	if cfg.Cluster != "" {
		c.cluster = cluster{name: cfg.Cluster, zkPath: cfg.ZooKeeperPath, replica: cfg.ReplicaName}
		n, err := c.shardCount(ctx, cfg.Cluster)
		if err != nil {
			_ = conn.Close()
			return nil, newError("open", "", err)
		}
		if n == 0 {
			_ = conn.Close()
			return nil, &Error{Op: "open", Permanent: true, Err: fmt.Errorf("cluster %q is not defined on the server (system.clusters)", cfg.Cluster)}
		}
		c.cluster.sharded = n > 1
		v, err := c.ServerVersion(ctx)
		if err != nil {
			_ = conn.Close()
			return nil, err
		}
		c.cluster.noComments = strings.HasPrefix(v, "18.")
	}
	return c, nil
}

// options translates cfg into clickhouse-go options.
func options(cfg Config) (*ch.Options, error) {
	settings := ch.Settings{
		// Needed by ClickHouse 18.16 for LowCardinality columns (DDL and
		// inserts); later servers accept and ignore it.
		"allow_experimental_low_cardinality_type": 1,
	}
	if cfg.MaxExecutionTime > 0 {
		settings["max_execution_time"] = int(math.Ceil(cfg.MaxExecutionTime.Seconds()))
	}
	opts := &ch.Options{
		Addr: cfg.Addrs(),
		// A failed dial tries the next address: failover between hosts.
		ConnOpenStrategy: ch.ConnOpenInOrder,
		Auth: ch.Auth{
			Username: cfg.Username,
			Password: cfg.Password.Reveal(),
		},
		Settings: settings,
		// An Insert holds a connection per table it writes (ten at most)
		// while the generation slots are looked up and an OPTIMIZE runs
		// aside: Go's default of 10 could leave it waiting for itself.
		MaxOpenConns: 24,
		MaxIdleConns: 12,
		// An idle connection keeps no buffer grown by a large block.
		FreeBufOnConnRelease: true,
		DialTimeout:          cfg.DialTimeout,
		ReadTimeout:          cfg.ReadTimeout,
		ClientInfo: ch.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "tracker-exporter", Version: "1"}},
		},
	}
	if cfg.HostStrategy == ConnRoundRobin {
		opts.ConnOpenStrategy = ch.ConnOpenRoundRobin
	}
	if cfg.Cluster != "" {
		// On several shards an insert into a Distributed table returns
		// once every shard has the rows (nothing left queued on the host
		// that took it); ignored by the local tables of one shard.
		settings["insert_distributed_sync"] = 1
	}
	switch {
	case !cfg.Native():
		opts.Protocol = ch.HTTP
		// Statements name their database, so the connection's database only
		// matters to the serverless proxy, which routes by it.
		opts.Auth.Database = cfg.ServerlessProxyID
	default:
		opts.Protocol = ch.Native
		opts.Compression = &ch.Compression{Method: ch.CompressionLZ4}
	}
	if cfg.TLS() {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		opts.TLS = tc
	}
	if cfg.Debug {
		if cfg.Logger != nil {
			opts.Logger = cfg.Logger
		} else {
			opts.Debug = true
		}
	}
	return opts, nil
}

// tlsConfig is the TLS configuration of cfg: TLS 1.2 at least, the CA
// certificate of cfg.CACertPath when set (else the system's), and the
// server name of the host when cfg has a single address.
func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CACertPath != "" {
		pem, err := os.ReadFile(cfg.CACertPath)
		if err != nil {
			return nil, fmt.Errorf("read CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificate %s: no PEM certificate found", cfg.CACertPath)
		}
		tc.RootCAs = pool
	}
	if addrs := cfg.Addrs(); len(addrs) == 1 {
		if host, _, err := net.SplitHostPort(addrs[0]); err == nil {
			tc.ServerName = host
		}
	}
	return tc, nil
}

// Close closes every connection of the pool.
func (c *Client) Close() error { return c.conn.Close() }

// Database returns the configured database name.
func (c *Client) Database() string { return c.db }

// Tables returns the configured table names.
func (c *Client) Tables() TableNames { return c.tables }

// Conn returns the underlying clickhouse-go connection, for ad-hoc queries
// (tests, checks). Statements through it must name the database.
func (c *Client) Conn() driver.Conn { return c.conn }

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	return newError("ping", "", c.conn.Ping(ctx))
}

// ServerVersion returns the server version, like "18.16.1".
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	var v string
	if err := c.conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", newError("query", "", err)
	}
	return v, nil
}

// Optimize runs OPTIMIZE TABLE ... FINAL on a table of the database, merging
// all parts so that duplicates disappear from the table itself (the views
// deduplicate anyway). It is heavy: throttle it. On one server it blocks
// until the merge ends, ctx ends or the read timeout passes.
//
// On a cluster it returns once the merge is assigned: each replica merges
// in the background (replication_alter_partitions_sync=0). With the
// default (1) a replicated table's OPTIMIZE waits until every replica has
// merged, a stopped one included, and ClickHouse 18.16 keeps waiting until
// that replica returns, whatever the client does (a closed connection or
// KILL QUERY does not end it).
func (c *Client) Optimize(ctx context.Context, table string) error {
	if !identRE.MatchString(table) {
		return &Error{Op: "optimize", Table: table, Permanent: true, Err: fmt.Errorf("invalid table name %q", table)}
	}
	if c.cluster.name != "" {
		ctx = ch.Context(ctx, ch.WithSettings(optimizeClusterSettings))
	}
	err := c.conn.Exec(ctx, fmt.Sprintf("OPTIMIZE TABLE %s FINAL", c.qualified(table)))
	return newError("optimize", table, err)
}

// optimizeClusterSettings are the settings of OPTIMIZE on a cluster (see
// Client.Optimize).
var optimizeClusterSettings = ch.Settings{"replication_alter_partitions_sync": 0}

// Count returns the number of rows of a table or view of the database.
func (c *Client) Count(ctx context.Context, tableOrView string) (uint64, error) {
	if !identRE.MatchString(tableOrView) {
		return 0, &Error{Op: "query", Table: tableOrView, Permanent: true, Err: fmt.Errorf("invalid table name %q", tableOrView)}
	}
	var n uint64
	err := c.conn.QueryRow(ctx, "SELECT count() FROM "+c.qualified(tableOrView)).Scan(&n)
	if err != nil {
		return 0, newError("query", tableOrView, err)
	}
	return n, nil
}

// qualified returns `db`.`table`.
func (c *Client) qualified(table string) string {
	return "`" + c.db + "`.`" + table + "`"
}
