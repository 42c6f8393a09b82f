package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// clusterTestConfig returns a configuration for the test cluster (both
// replicas) with a fresh database, and each replica's address.
func clusterTestConfig(t *testing.T) (Config, []string) {
	t.Helper()
	addrs := strings.Split(testenv.Require(t, "TEST_CLICKHOUSE_CLUSTER_ADDRS"), ",")
	name := testenv.Require(t, "TEST_CLICKHOUSE_CLUSTER")
	cfg := testConfig(t)
	if len(addrs) < 2 {
		t.Fatalf("TEST_CLICKHOUSE_CLUSTER_ADDRS=%v: want two replicas", addrs)
	}
	cfg.Host = strings.Join(addrs, ",")
	cfg.Cluster = name
	return cfg, addrs
}

// openReplica opens one replica (no cluster: plain queries).
func openReplica(t *testing.T, cfg Config, addr string) *Client {
	t.Helper()
	one := cfg
	one.Host = addr
	one.Cluster = ""
	c, err := Open(context.Background(), one)
	if err != nil {
		t.Fatalf("open replica %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// openClusterTest opens cfg and drops the database on every host when the
// test ends.
func openClusterTest(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open(%v, cluster %s): %v", cfg.Host, cfg.Cluster, err)
	}
	t.Cleanup(func() {
		if err := c.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+cfg.Database+"` ON CLUSTER `"+cfg.Cluster+"`"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
		_ = c.Close()
	})
	return c
}

// schemaOf lists name=engine of every table and view of the database on one
// replica, and its applied migrations.
func schemaOf(t *testing.T, r *Client, db string) (tables map[string]string, migrations string) {
	t.Helper()
	ctx := context.Background()
	rows, err := r.Conn().Query(ctx, "SELECT name, engine FROM system.tables WHERE database = ?", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	tables = map[string]string{}
	for rows.Next() {
		var n, e string
		if err := rows.Scan(&n, &e); err != nil {
			t.Fatal(err)
		}
		tables[n] = e
	}
	var list []string
	mrows, err := r.Conn().Query(ctx, "SELECT toString(version) || ' ' || name || ' ' || checksum FROM "+r.qualified(migrationsTable)+" FINAL ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer mrows.Close()
	for mrows.Next() {
		var s string
		if err := mrows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		list = append(list, s)
	}
	return tables, strings.Join(list, "\n")
}

// syncReplicas waits until every replicated table of db on r has fetched
// what the other replicas have (SYSTEM SYNC REPLICA).
func syncReplicas(t *testing.T, r *Client, db string) {
	t.Helper()
	ctx := context.Background()
	tables, _ := schemaOf(t, r, db)
	for n, e := range tables {
		if strings.HasPrefix(e, "Replicated") {
			if err := r.Conn().Exec(ctx, "SYSTEM SYNC REPLICA "+r.qualified(n)); err != nil {
				t.Fatalf("SYSTEM SYNC REPLICA %s: %v", n, err)
			}
		}
	}
}

func TestClusterMigrate(t *testing.T) {
	cfg, addrs := clusterTestConfig(t)
	ctx := context.Background()
	c := openClusterTest(t, cfg)
	if c.cluster.sharded {
		t.Fatalf("cluster %s: want one shard", cfg.Cluster)
	}
	start := time.Now()
	applied, err := c.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate on cluster: %v", err)
	}
	t.Logf("%d migrations ON CLUSTER in %s", len(applied), time.Since(start).Round(time.Millisecond))

	single := openTest(t, testConfig(t))
	if _, err := single.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	want, _ := schemaOf(t, single, single.db)

	var firstMigrations string
	for i, addr := range addrs {
		r := openReplica(t, cfg, addr)
		syncReplicas(t, r, cfg.Database)
		got, ms := schemaOf(t, r, cfg.Database)
		for name, engine := range want {
			g, ok := got[name]
			switch {
			case !ok:
				t.Errorf("replica %s: %s (%s on one server) is missing", addr, name, engine)
			case engine == "View" && g != "View":
				t.Errorf("replica %s: %s is %s, want View", addr, name, g)
			case engine != "View" && g != "Replicated"+engine:
				t.Errorf("replica %s: %s is %s, want Replicated%s", addr, name, g, engine)
			}
		}
		if len(got) != len(want) {
			t.Errorf("replica %s has %d tables and views, one server %d", addr, len(got), len(want))
		}
		if strings.Count(ms, "\n")+1 != len(applied) {
			t.Errorf("replica %s: schema_migrations lists\n%s\nwant %d migrations", addr, ms, len(applied))
		}
		if i == 0 {
			firstMigrations = ms
		} else if ms != firstMigrations {
			t.Errorf("schema_migrations differs between replicas:\n%s\n---\n%s", firstMigrations, ms)
		}
	}

	// Re-running is a no-op, from either host.
	for _, addr := range addrs {
		one := cfg
		one.Host = addr
		again, err := Open(ctx, one)
		if err != nil {
			t.Fatal(err)
		}
		applied, err := again.Migrate(ctx)
		_ = again.Close()
		if err != nil || len(applied) != 0 {
			t.Errorf("Migrate again via %s = %q, %v; want nothing to do", addr, applied, err)
		}
	}
}

func TestClusterMigrateConcurrently(t *testing.T) {
	cfg, addrs := clusterTestConfig(t)
	ctx := context.Background()
	c := openClusterTest(t, cfg)
	const n = 3
	errs := make(chan error, n)
	for i := range n {
		go func() {
			one := cfg
			one.Host = addrs[i%len(addrs)]
			other, err := Open(ctx, one)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = other.Close() }()
			_, err = other.Migrate(ctx)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Migrate on the cluster: %v", err)
		}
	}
	if applied, err := c.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Errorf("Migrate after the concurrent ones = %q, %v; want nothing to do", applied, err)
	}
	for _, addr := range addrs {
		r := openReplica(t, cfg, addr)
		for _, view := range []string{"issues_view", "issue_metrics_view"} {
			var ddl string
			if err := r.Conn().QueryRow(ctx, "SHOW CREATE TABLE "+r.qualified(view)).Scan(&ddl); err != nil {
				t.Fatalf("replica %s: %v", addr, err)
			}
			if !strings.Contains(ddl, "is_deleted") {
				t.Errorf("replica %s: %s is not the latest definition: %s", addr, view, ddl)
			}
		}
	}
}

// TestClusterInsertReplicates loads through the cluster client and reads
// the views on both replicas.
func TestClusterInsertReplicates(t *testing.T) {
	cfg, addrs := clusterTestConfig(t)
	ctx := context.Background()
	c := openClusterTest(t, cfg)
	if _, err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var batch []*wire.IssueRows
	for i := range 5 {
		batch = append(batch, sample(fmt.Sprintf("id%d", i), fmt.Sprintf("T-%d", i), 1, t0, "g1", []string{"open", "done"}, 2, 3))
	}
	if err := c.InsertRows(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, addr := range addrs {
		r := openReplica(t, cfg, addr)
		syncReplicas(t, r, cfg.Database)
		for view, want := range map[string]uint64{"issues_view": 5, "issue_metrics_view": 10} {
			if n, err := r.Count(ctx, view); err != nil || n != want {
				t.Errorf("replica %s: %s has %d rows (%v), want %d", addr, view, n, err, want)
			}
		}
	}
}

// TestClusterOptimizeWithReplicaDown: with the table of one replica out of
// service (detached: to ZooKeeper, a stopped replica), Optimize returns at
// once and the live replica merges. With the server's default
// (replication_alter_partitions_sync=1) the OPTIMIZE waits for the
// detached replica until it is attached again.
func TestClusterOptimizeWithReplicaDown(t *testing.T) {
	cfg, addrs := clusterTestConfig(t)
	ctx := context.Background()
	cfg.Host = addrs[0]
	c := openClusterTest(t, cfg)
	if _, err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for v := range uint64(3) {
		if err := c.InsertRows(ctx, []*wire.IssueRows{sample("id1", "T-1", v+1, t0, "g1", []string{"open"}, 1, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	r2 := openReplica(t, cfg, addrs[1])
	syncReplicas(t, r2, cfg.Database)
	table := c.tables.Issues
	if err := r2.Conn().Exec(ctx, "DETACH TABLE "+r2.qualified(table)); err != nil {
		t.Fatal(err)
	}
	attached := false
	attach := func() {
		if !attached {
			attached = true
			if err := r2.Conn().Exec(ctx, "ATTACH TABLE "+r2.qualified(table)); err != nil {
				t.Errorf("attach %s on %s again: %v", table, addrs[1], err)
			}
		}
	}
	// Attached before the database is dropped (cleanups run last first),
	// which also frees an OPTIMIZE left waiting by a failure.
	t.Cleanup(attach)

	// Waiting for the detached replica would take until it is attached;
	// assigning the merge takes milliseconds. Right after the detach the
	// other replica may not be the leader yet ("Leader was suddenly
	// changed"): such a failure returns at once too, and the loader would
	// try again when due; here, again at once.
	const bound = 10 * time.Second
	var (
		tries   int
		longest time.Duration
		err     error
	)
	for start := time.Now(); ; {
		octx, cancel := context.WithTimeout(ctx, bound)
		t0 := time.Now()
		err = c.Optimize(octx, table)
		took := time.Since(t0)
		cancel()
		tries, longest = tries+1, max(longest, took)
		if took >= bound/2 {
			t.Fatalf("Optimize with replica %s detached took %s (%v), want it not to wait for the replica", addrs[1], took.Round(time.Millisecond), err)
		}
		if err == nil {
			break
		}
		if time.Since(start) > bound {
			t.Fatalf("Optimize with replica %s detached keeps failing: %v", addrs[1], err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("Optimize with a replica down: %d calls, the longest %s", tries, longest.Round(time.Millisecond))
	r1 := openReplica(t, cfg, addrs[0])
	q := fmt.Sprintf("SELECT count() FROM system.parts WHERE active AND database = '%s' AND table = '%s'", cfg.Database, table)
	deadline := time.Now().Add(bound)
	for {
		var parts uint64
		if err := r1.Conn().QueryRow(ctx, q).Scan(&parts); err != nil {
			t.Fatal(err)
		}
		if parts == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s still has %d active parts %s after OPTIMIZE FINAL, want 1", table, addrs[0], parts, bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
	attach()
	syncReplicas(t, r2, cfg.Database)
	if n, err := r2.Count(ctx, "issues_view"); err != nil || n != 1 {
		t.Errorf("replica %s after attach: issues_view has %d rows (%v), want 1", addrs[1], n, err)
	}
}

// Names of the cluster where each test instance is a shard of its own
// (scripts/services.sh, section "ClickHouse cluster"), and of the macro
// that names that shard.
const (
	twoShardsCluster = "tracker_two_shards"
	twoShardsZKPath  = "/clickhouse/tables/{two_shards_shard}/{database}/{table}"
)

// issueIDsOn returns the issue ids of the local table on one host, and
// how many rows it holds.
func issueIDsOn(t *testing.T, r *Client, table string) (map[string]bool, uint64) {
	t.Helper()
	ids := map[string]bool{}
	for _, id := range strs(t, r, "SELECT DISTINCT issue_id FROM "+r.qualified(table)) {
		ids[id] = true
	}
	return ids, count(t, r, r.qualified(table))
}

// TestClusterTwoShards migrates on a cluster of two shards and loads
// through the Distributed tables: one issue's rows all live on one shard,
// the views (through the Distributed tables) show every issue once on
// every host, and a newer version replaces the older one.
func TestClusterTwoShards(t *testing.T) {
	cfg, addrs := clusterTestConfig(t)
	cfg.Cluster = twoShardsCluster
	cfg.ZooKeeperPath = twoShardsZKPath
	ctx := context.Background()
	c := openClusterTest(t, cfg)
	if !c.cluster.sharded {
		t.Fatalf("cluster %s: want several shards", cfg.Cluster)
	}
	start := time.Now()
	applied, err := c.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate on %s: %v", cfg.Cluster, err)
	}
	t.Logf("%d migrations ON CLUSTER %s in %s", len(applied), cfg.Cluster, time.Since(start).Round(time.Millisecond))
	replicas := []*Client{openReplica(t, cfg, addrs[0]), openReplica(t, cfg, addrs[1])}
	var firstMigrations string
	for i, r := range replicas {
		syncReplicas(t, r, cfg.Database) // schema_migrations, one table over both shards
		tables, ms := schemaOf(t, r, cfg.Database)
		if e := tables[c.tables.Issues+DistributedSuffix]; e != "Distributed" {
			t.Errorf("host %s: %s%s is %q, want Distributed", addrs[i], c.tables.Issues, DistributedSuffix, e)
		}
		if strings.Count(ms, "\n")+1 != len(applied) {
			t.Errorf("host %s: schema_migrations lists\n%s\nwant %d migrations", addrs[i], ms, len(applied))
		}
		if i == 0 {
			firstMigrations = ms
		} else if ms != firstMigrations {
			t.Errorf("schema_migrations differs between the shards:\n%s\n---\n%s", firstMigrations, ms)
		}
	}
	for _, addr := range addrs {
		one := cfg
		one.Host = addr
		again, err := Open(ctx, one)
		if err != nil {
			t.Fatal(err)
		}
		applied, err := again.Migrate(ctx)
		_ = again.Close()
		if err != nil || len(applied) != 0 {
			t.Errorf("Migrate again via %s = %q, %v; want nothing to do", addr, applied, err)
		}
	}

	// Version 1 of every issue, then version 2 of a third of them (fewer
	// metric rows), through the loader's insert path.
	const issues = 60
	statuses1, statuses2 := []string{"open", "inProgress", "closed"}, []string{"closed"}
	var batch []*wire.IssueRows
	for i := range issues {
		batch = append(batch, withEntities(sample(fmt.Sprintf("id%02d", i), fmt.Sprintf("DEV-%d", i), 1, t0, "g1", statuses1, 3, 4), "v1"))
	}
	if err := c.InsertRows(ctx, batch); err != nil {
		t.Fatal(err)
	}
	newer := map[string]bool{}
	batch = batch[:0]
	for i := 0; i < issues; i += 3 {
		id := fmt.Sprintf("id%02d", i)
		newer[id] = true
		batch = append(batch, withEntities(sample(id, fmt.Sprintf("DEV-%d", i), 2, t0.Add(time.Hour), "g2", statuses2, 1, 2), "v2"))
	}
	if err := c.InsertRows(ctx, batch); err != nil {
		t.Fatal(err)
	}

	// One issue, one shard: in every table with issue_id the shards'
	// issue ids are disjoint and cover every issue.
	for _, table := range []string{c.tables.Issues, c.tables.IssueMetrics, c.tables.StatusIntervals, c.tables.IssuesChangelog, c.tables.Comments, c.tables.Worklogs} {
		ids0, n0 := issueIDsOn(t, replicas[0], table)
		ids1, n1 := issueIDsOn(t, replicas[1], table)
		var both []string
		for id := range ids0 {
			if ids1[id] {
				both = append(both, id)
			}
		}
		if len(both) > 0 || len(ids0)+len(ids1) != issues {
			t.Errorf("%s: %d issues on shard 1, %d on shard 2, %d on both (%v); want %d, each on one shard", table, len(ids0), len(ids1), len(both), both, issues)
		}
		if n0 == 0 || n1 == 0 {
			t.Errorf("%s: %d rows on shard 1, %d on shard 2; want both used", table, n0, n1)
		}
		if table == c.tables.Issues {
			t.Logf("%s: %d issues on shard 1, %d on shard 2 (rows %d and %d, both versions)", table, len(ids0), len(ids1), n0, n1)
		}
	}

	// The views through the Distributed tables, read on either host:
	// every issue once, at its latest version.
	for i, r := range replicas {
		db := r.qualified("")
		db = db[:len(db)-3] // `db`.
		if n, d := count(t, r, db+".`issues_view`"), count(t, r, "(SELECT DISTINCT issue_id FROM "+db+".`issues_view`)"); n != issues || d != issues {
			t.Errorf("host %s: issues_view has %d rows, %d distinct issues; want %d, each once", addrs[i], n, d, issues)
		}
		for _, row := range strs(t, r, "SELECT concat(issue_id, ' ', toString(_version)) FROM "+db+".`issues_view`") {
			id, v, _ := strings.Cut(row, " ")
			if want := map[bool]string{true: "2", false: "1"}[newer[id]]; v != want {
				t.Errorf("host %s: issues_view shows %s at version %s, want %s", addrs[i], id, v, want)
			}
		}
		wantMetrics := uint64(len(newer)*len(statuses2) + (issues-len(newer))*len(statuses1))
		if n := count(t, r, db+".`issue_metrics_view`"); n != wantMetrics {
			t.Errorf("host %s: issue_metrics_view has %d rows, want %d (latest snapshot of each issue)", addrs[i], n, wantMetrics)
		}
		if n := count(t, r, db+".`"+c.tables.Comments+"_view`"); n == 0 {
			t.Errorf("host %s: %s_view is empty", addrs[i], c.tables.Comments)
		}
	}
}
