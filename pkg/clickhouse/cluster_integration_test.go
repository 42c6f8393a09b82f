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
