package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
)

// replicaClient opens one replica of the test cluster on database db.
func replicaClient(t *testing.T, addr, db string) *clickhouse.Client {
	t.Helper()
	cfg := clickhouse.Default()
	cfg.Host, cfg.Port, cfg.Proto = addr, 9000, clickhouse.ProtoNative
	cfg.Database = db
	c, err := clickhouse.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("replica %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// servicesDir is where scripts/services.sh keeps its instances.
func servicesDir() string {
	if d := os.Getenv("SERVICES_DIR"); d != "" {
		return d
	}
	return "/tmp/tracker-exporter-services"
}

// stopReplica stops ClickHouse replica r1 or r2 started by
// scripts/services.sh (SIGTERM to the pid it recorded), and waits until it
// is gone.
func stopReplica(t *testing.T, name string) {
	t.Helper()
	pidfile := filepath.Join(servicesDir(), "ch-"+name, "clickhouse.pid")
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatalf("stop replica %s: %v", name, err)
	}
	if out, err := exec.Command("kill", "-TERM", strings.TrimSpace(string(b))).CombinedOutput(); err != nil {
		t.Fatalf("stop replica %s: %v %s", name, err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command("kill", "-0", strings.TrimSpace(string(b))).Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("replica %s still runs 30s after SIGTERM", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startServices runs scripts/services.sh start, which starts what is not
// running (here: the stopped replica).
func startServices(t *testing.T) {
	t.Helper()
	cmd := exec.Command(filepath.Join("..", "scripts", "services.sh"), "start")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("services.sh start: %v\n%s", err, out)
	}
}

// syncReplica waits (SYSTEM SYNC REPLICA) until every replicated table of
// the database on c has caught up with the other replica.
func syncReplica(t *testing.T, c *clickhouse.Client) {
	t.Helper()
	ctx := context.Background()
	rows, err := c.Conn().Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine LIKE 'Replicated%'", c.Database())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		if err := c.Conn().Exec(ctx, "SYSTEM SYNC REPLICA `"+c.Database()+"`.`"+n+"`"); err != nil {
			t.Fatalf("SYSTEM SYNC REPLICA %s: %v", n, err)
		}
	}
}

// failoverBound is the longest pause of the loads after the replica in use
// stops. The insert in flight fails at once (the server closed the
// connection) and is retried after 0.2 s and 0.3 s
// (EXPORTER_CLICKHOUSE__BACKOFF_* below, three tries); each new connection
// dials r1, refused at once, then r2. If all three failed, the batch
// would come back after a 0.3 s redelivery delay, a fetch waiting at most
// 1 s and a batch filling for at most 1 s (BatchAge): under 3 s in all.
// OPTIMIZE runs beside the inserts and does not wait for the stopped
// replica. The rest is room for slow inserts on a busy 2-core machine,
// and the bound stays far below the 2-minute read timeout that anything
// waiting on the stopped replica would take (the stall this catches).
const failoverBound = 20 * time.Second

// TestClickHouseReplicaFailover loads into a two-replica cluster through
// both hosts, stops the replica the loader writes to mid-run, checks that
// loading goes on on the other within failoverBound, brings the stopped
// one back, and checks every issue exactly once on both replicas.
func TestClickHouseReplicaFailover(t *testing.T) {
	addrs := strings.Split(testenv.Require(t, "TEST_CLICKHOUSE_CLUSTER_ADDRS"), ",")
	cluster := testenv.Require(t, "TEST_CLICKHOUSE_CLUSTER")
	if len(addrs) != 2 {
		t.Fatalf("TEST_CLICKHOUSE_CLUSTER_ADDRS=%v: want two replicas", addrs)
	}
	f := newFixture(t, 600)
	f.set("EXPORTER_CLICKHOUSE__HOST", strings.Join(addrs, ","))
	f.set("EXPORTER_CLICKHOUSE__CLUSTER", cluster)
	f.set("EXPORTER_CLICKHOUSE__MIGRATE_ON_START", "false")
	// Short retries: the failover pause is what is measured.
	f.set("EXPORTER_CLICKHOUSE__BACKOFF_BASE_DELAY", "0.2")
	f.set("EXPORTER_CLICKHOUSE__BACKOFF_EXPO_FACTOR", "1.5")
	f.set("EXPORTER_CLICKHOUSE__BATCH_ROWS", "2000")
	// OPTIMIZE ... FINAL (on by default) as often as the loader is caught
	// up, so that some run while r1 is down: on a replicated table they
	// must not wait for it, nor hold up the inserts.
	f.set("EXPORTER_CLICKHOUSE__AUTO_DEDUPLICATE", "true")
	f.set("EXPORTER_CLICKHOUSE__OPTIMIZE_EVERY", "1")
	// Issues arrive over some 20 s, so that loads go on well after r1
	// stops: without the stall, what is left would otherwise load while
	// r1 shuts down, before the pause can be measured.
	f.set("EXPORTER_TRACKER__RATE_LIMIT", "40")
	f.set("EXPORTER_TRACKER__RATE_LIMIT_ADAPTIVE", "false")
	if code, out := f.run("loader", "migrate"); code != 0 {
		t.Fatalf("loader migrate on the cluster exit %d:\n%s", code, out)
	}
	t.Cleanup(func() {
		c := replicaClient(t, addrs[1], "system")
		_ = c.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+f.db+"` ON CLUSTER `"+cluster+"`")
	})
	r1, r2 := replicaClient(t, addrs[0], f.db), replicaClient(t, addrs[1], f.db)
	countOn := func(c *clickhouse.Client) uint64 {
		n, err := c.Count(context.Background(), "issues_view")
		if err != nil {
			return 0
		}
		return n
	}

	stopT := f.start("transformer")
	stopL := f.start("loader")
	extracted := make(chan string, 1)
	go func() {
		code, out := f.run("extractor", "--run-once")
		if code != 0 {
			out = "exit " + string(rune('0'+code)) + ":\n" + out
		} else {
			out = ""
		}
		extracted <- out
	}()

	// Stop r1 (the first host: the one the loader writes to) once some
	// issues are in.
	deadline := time.Now().Add(2 * time.Minute)
	for countOn(r1) < 60 {
		if time.Now().After(deadline) {
			t.Fatalf("no issues loaded on r1 within 2m")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Everything on r2 above what r1 had when told to stop, and above what
	// r2 has once r1 is gone (no more fetches from it), was loaded on r2
	// after r1 stopped.
	onR1 := countOn(r1)
	_ = r1.Close()
	sigterm := time.Now()
	// Others use the replicas too: a failure below must not leave r1 down.
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			startServices(t)
		}
	})
	stopReplica(t, "r1")
	stopped := time.Now()
	before := max(onR1, countOn(r2))
	var pause time.Duration
	for {
		if n := countOn(r2); n > before {
			pause = time.Since(stopped)
			break
		}
		if time.Since(stopped) > 2*time.Minute {
			t.Fatalf("no load on r2 within 2m of stopping r1 (%d issues there, %d on r1 when stopped)", before, onR1)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("r1 stopped (SIGTERM, gone %s later) with %d issues on it, %d on r2; loads continued on r2 %s after r1 was gone",
		stopped.Sub(sigterm).Round(time.Millisecond), onR1, before, pause.Round(time.Millisecond))
	if pause > failoverBound {
		t.Errorf("loads continued on r2 %s after r1 stopped, want at most %s", pause.Round(time.Millisecond), failoverBound)
	}
	time.Sleep(2 * time.Second)
	restart := time.Now()
	startServices(t)
	restarted = true
	t.Logf("r1 back after %s down (restart took %s)", time.Since(stopped).Round(time.Millisecond), time.Since(restart).Round(time.Millisecond))
	if out := <-extracted; out != "" {
		t.Fatalf("extractor %s", out)
	}

	// Every issue exactly once, on both replicas, once r1 has caught up.
	f.ch = r2
	f.waitLoaded(3 * time.Minute)
	loaded := time.Now()
	r1 = replicaClient(t, addrs[0], f.db)
	syncReplica(t, r1)
	t.Logf("r1 caught up %s after the last issue was on r2 (SYSTEM SYNC REPLICA)", time.Since(loaded).Round(time.Millisecond))
	for _, c := range []*clickhouse.Client{r2, r1} {
		f.ch = c
		f.waitLoaded(30 * time.Second)
		f.verify()
	}
	for name, stop := range map[string]func() (int, string){"transformer": stopT, "loader": stopL} {
		code, out := stop()
		if code != 0 {
			t.Errorf("%s exit %d after SIGTERM:\n%s", name, code, out)
		}
		if name == "loader" {
			n := 0
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
					if n++; n <= 8 {
						t.Logf("loader: %.300s", l)
					}
				}
			}
		}
	}
}
