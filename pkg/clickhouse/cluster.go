package clickhouse

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Defaults of Config.ZooKeeperPath and Config.ReplicaName: ClickHouse's
// usual macros. {database} and {table} are expanded by the migrator (18.16
// does not know them), {shard} and {replica} by each server from its
// <macros>.
const (
	DefaultZooKeeperPath = "/clickhouse/tables/{shard}/{database}/{table}"
	DefaultReplicaName   = "{replica}"
)

// DistributedSuffix names the Distributed table of a table on a cluster of
// several shards: <table>_distributed is what the loader inserts into and
// what the views read.
const DistributedSuffix = "_distributed"

// cluster says how the migrations rewrite the one-server DDL for a cluster
// (see clusterStatements). The zero value is one server: no rewriting.
type cluster struct {
	name    string // remote_servers cluster name; "" for one server
	zkPath  string
	replica string
	// sharded is true when the cluster has several shards: Distributed
	// tables are created, written and read.
	sharded bool
	// noComments drops the column comments of replicated tables: 18.16
	// refuses to create a replicated table with them ("Table structure in
	// ZooKeeper is too different from local table structure").
	noComments bool
}

var (
	// CREATE TABLE [IF NOT EXISTS] `db`.`t` / CREATE VIEW ... / DROP TABLE ...:
	// the ON CLUSTER clause goes right after the name.
	ddlNameRE     = regexp.MustCompile("(?is)^((?:CREATE\\s+(?:TABLE|VIEW)|DROP\\s+TABLE)(?:\\s+IF\\s+(?:NOT\\s+)?EXISTS)?\\s+`([^`]+)`\\.`([^`]+)`)")
	createTableRE = regexp.MustCompile("(?is)^CREATE\\s+TABLE\\b")
	createViewRE  = regexp.MustCompile("(?is)^CREATE\\s+VIEW\\b")
	engineRE      = regexp.MustCompile("(?s)\\bENGINE\\s*=\\s*ReplacingMergeTree(?:\\(([^)]*)\\))?")
	orderByRE     = regexp.MustCompile("(?is)\\bORDER\\s+BY\\s+(\\([^)]*\\)|`[^`]+`)")
	issueIDColRE  = regexp.MustCompile("(?m)^\\s*`issue_id`\\s+String\\b")
	modifyOrderRE = regexp.MustCompile("(?is),\\s*MODIFY\\s+ORDER\\s+BY\\b.*$")
	commentRE     = regexp.MustCompile(`(?s)\s+COMMENT\s+'(?:[^'\\]|\\.|'')*'`)
)

// onCluster is the ON CLUSTER clause, "" for one server.
func (k cluster) onCluster() string {
	if k.name == "" {
		return ""
	}
	return " ON CLUSTER `" + k.name + "`"
}

// replicatedEngine is the engine clause of a replicated table db.table
// with the version column of the one-server engine (may be empty).
func (k cluster) replicatedEngine(db, table, version string) string {
	path := strings.NewReplacer("{database}", db, "{table}", table).Replace(k.zkPath)
	args := "'" + escapeQuote(path) + "', '" + escapeQuote(k.replica) + "'"
	if strings.TrimSpace(version) != "" {
		args += ", " + strings.TrimSpace(version)
	}
	return "ENGINE = ReplicatedReplacingMergeTree(" + args + ")"
}

// stripComments removes COMMENT '...' clauses when noComments is set.
func (k cluster) stripComments(ddl string) string {
	if !k.noComments {
		return ddl
	}
	return commentRE.ReplaceAllString(ddl, "")
}

// clusterStatements rewrites one statement of the one-server migrations
// for the cluster; for one server it returns the statement unchanged.
//
//   - CREATE TABLE gets ON CLUSTER and ReplicatedReplacingMergeTree; on
//     several shards a Distributed table <table>_distributed follows, sharded
//     by cityHash64(issue_id) (else by the table's sorting key), so that all
//     the versions of one issue's rows meet on one shard.
//   - CREATE VIEW and DROP TABLE get ON CLUSTER; on several shards a view
//     reads the Distributed tables, except inside IN (...), which every shard
//     evaluates against its own rows (one issue lives on one shard).
//
// Guarded ALTERs are not rewritten here (see AddColumnIfMissing). tables
// lists the names of the replicated tables (to tell them from views).
func (k cluster) statements(stmt string, tables map[string]bool) []string {
	if k.name == "" {
		return []string{stmt}
	}
	m := ddlNameRE.FindStringSubmatchIndex(stmt)
	if m == nil {
		return []string{stmt}
	}
	head := stmt[:m[1]]
	db, table := stmt[m[4]:m[5]], stmt[m[6]:m[7]]
	rest := stmt[m[1]:]
	switch {
	case createTableRE.MatchString(stmt):
		em := engineRE.FindStringSubmatchIndex(rest)
		if em == nil {
			return []string{head + k.onCluster() + rest}
		}
		version := ""
		if em[2] >= 0 {
			version = rest[em[2]:em[3]]
		}
		rest = rest[:em[0]] + k.replicatedEngine(db, table, version) + rest[em[1]:]
		rest = k.stripComments(rest)
		out := []string{head + k.onCluster() + rest}
		if k.sharded {
			out = append(out, k.distributedTable(db, table, stmt))
		}
		return out
	case createViewRE.MatchString(stmt):
		if k.sharded {
			rest = k.readDistributed(rest, db, tables)
		}
		return []string{head + k.onCluster() + rest}
	default: // DROP TABLE
		return []string{head + k.onCluster() + rest}
	}
}

// distributedTable is the Distributed table over db.table (created by
// create, a CREATE TABLE).
func (k cluster) distributedTable(db, table, create string) string {
	key := "cityHash64(`issue_id`)"
	if !issueIDColRE.MatchString(create) {
		key = "cityHash64(tuple())"
		if om := orderByRE.FindStringSubmatch(create); om != nil {
			key = "cityHash64(" + om[1] + ")"
		}
	}
	return "CREATE TABLE IF NOT EXISTS `" + db + "`.`" + table + DistributedSuffix + "`" + k.onCluster() +
		" AS `" + db + "`.`" + table + "` ENGINE = Distributed(`" + k.name + "`, `" + db + "`, `" + table + "`, " + key + ")"
}

// readDistributed replaces `db`.`t` by `db`.`t_distributed` for every
// table t of tables, outside IN (...) subqueries and string literals.
func (k cluster) readDistributed(sql, db string, tables map[string]bool) string {
	var (
		b      strings.Builder
		parens inParens
	)
	prefix := "`" + db + "`.`"
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\'':
			j, err := quoteEnd(sql, i)
			if err != nil {
				j = len(sql) // unterminated: the rest is the string
			}
			b.WriteString(sql[i:min(j+1, len(sql))])
			i = j
		case c == '(':
			parens.open(precededByIn(sql[:i]))
			b.WriteByte(c)
		case c == ')':
			parens.close()
			b.WriteByte(c)
		case c == '`' && strings.HasPrefix(sql[i:], prefix):
			end := strings.IndexByte(sql[i+len(prefix):], '`')
			if end < 0 {
				b.WriteString(sql[i:])
				return b.String()
			}
			name := sql[i+len(prefix) : i+len(prefix)+end]
			if parens.inIn == 0 && tables[name] {
				name += DistributedSuffix
			}
			b.WriteString(prefix + name + "`")
			i += len(prefix) + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// inParens follows the open parentheses of a statement and counts those
// that open an IN (...) list.
type inParens struct {
	stack []bool // per open parenthesis: inside IN (...)
	inIn  int
}

// open records an open parenthesis; isIn says it follows IN.
func (p *inParens) open(isIn bool) {
	p.stack = append(p.stack, isIn)
	if isIn {
		p.inIn++
	}
}

// close records a closing parenthesis; one without its opening one is
// ignored.
func (p *inParens) close() {
	n := len(p.stack)
	if n == 0 {
		return
	}
	if p.stack[n-1] {
		p.inIn--
	}
	p.stack = p.stack[:n-1]
}

var inTailRE = regexp.MustCompile(`(?i)\bIN\s*$`)

func precededByIn(s string) bool { return inTailRE.MatchString(s) }

// splitModifyOrderBy splits an ADD COLUMN definition into the column part
// and a trailing ", MODIFY ORDER BY ..." (18.16 runs no MODIFY ORDER BY
// ON CLUSTER).
func splitModifyOrderBy(definition string) (column, modify string) {
	if loc := modifyOrderRE.FindStringIndex(definition); loc != nil {
		return strings.TrimSpace(definition[:loc[0]]), definition[loc[0]:]
	}
	return definition, ""
}

// migrationsEngine is the engine of schema_migrations. On a cluster it is
// replicated over every host of every shard (a macro of the ZooKeeper path
// whose name says shard, {shard} or another like {two_shards_shard},
// becomes "all"), so that every host reads the same applied migrations
// wherever the record was written. This needs a replica name that is
// unique in the whole cluster (the host name, as Yandex Managed ClickHouse
// sets {replica}).
func (k cluster) migrationsEngine(db string) string {
	if k.name == "" {
		return "ENGINE = ReplacingMergeTree"
	}
	kk := k
	kk.zkPath = shardMacroRE.ReplaceAllString(k.zkPath, "all")
	return kk.replicatedEngine(db, migrationsTable, "")
}

var shardMacroRE = regexp.MustCompile(`\{[A-Za-z0-9_]*shard[A-Za-z0-9_]*\}`)

// writeTable is the table to insert into (and to read a table's rows
// from): on several shards the Distributed table over table.
func (c *Client) writeTable(table string) string {
	if c.cluster.sharded {
		return table + DistributedSuffix
	}
	return table
}

// shardCount returns the number of shards of the cluster as the connected
// server defines it, 0 when it does not know the cluster.
func (c *Client) shardCount(ctx context.Context, name string) (int, error) {
	var n uint64
	if err := c.conn.QueryRow(ctx, "SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = ?", name).Scan(&n); err != nil {
		return 0, fmt.Errorf("look up cluster %s: %w", name, err)
	}
	return int(n), nil
}

// clusterHosts lists the hosts (host:port) of every shard of the
// cluster, by shard number, in the order the server lists them.
func (c *Client) clusterHosts(ctx context.Context) (shards map[uint32][]string, order []uint32, err error) {
	rows, err := c.conn.Query(ctx, "SELECT shard_num, host_address, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", c.cluster.name)
	if err != nil {
		return nil, nil, fmt.Errorf("list hosts of %s: %w", c.cluster.name, err)
	}
	defer rows.Close()
	shards = map[uint32][]string{}
	for rows.Next() {
		var (
			shard uint32
			host  string
			port  uint16
		)
		if err := rows.Scan(&shard, &host, &port); err != nil {
			return nil, nil, fmt.Errorf("list hosts of %s: %w", c.cluster.name, err)
		}
		if _, ok := shards[shard]; !ok {
			order = append(order, shard)
		}
		shards[shard] = append(shards[shard], net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("list hosts of %s: %w", c.cluster.name, err)
	}
	return shards, order, nil
}

// onHosts runs fn on a connection to the first of addrs that answers.
func (c *Client) onHosts(ctx context.Context, addrs []string, fn func(context.Context, driver.Conn) error) error {
	opts := *c.opts
	opts.Addr = addrs
	conn, err := ch.Open(&opts)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	return fn(ctx, conn)
}

// onEachShard runs stmt on one host of every shard of the cluster (the
// first that answers), for the ALTERs 18.16 does not run ON CLUSTER:
// a replicated table passes them on to the other replicas of its shard.
func (c *Client) onEachShard(ctx context.Context, stmt string) error {
	if !c.cluster.sharded {
		return c.conn.Exec(ctx, stmt)
	}
	shards, order, err := c.clusterHosts(ctx)
	if err != nil {
		return err
	}
	for _, s := range order {
		if err := c.onHosts(ctx, shards[s], func(ctx context.Context, conn driver.Conn) error { return conn.Exec(ctx, stmt) }); err != nil {
			return fmt.Errorf("shard %d (%s): %w", s, strings.Join(shards[s], ", "), err)
		}
	}
	return nil
}

// onEveryHost runs fn on every host of the cluster, for what each host
// keeps on its own (the Distributed tables).
func (c *Client) onEveryHost(ctx context.Context, fn func(context.Context, driver.Conn) error) error {
	shards, order, err := c.clusterHosts(ctx)
	if err != nil {
		return err
	}
	for _, s := range order {
		for _, addr := range shards[s] {
			if err := c.onHosts(ctx, []string{addr}, fn); err != nil {
				return fmt.Errorf("host %s: %w", addr, err)
			}
		}
	}
	return nil
}
