package e2e

// The pipeline on a three-node NATS cluster (scripts/services.sh starts it
// and exports TEST_NATS_CLUSTER_URLS): streams of three replicas survive
// the kill -9 of the server leading them, and a changed
// EXPORTER_NATS__REPLICAS updates existing streams.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// projectStreams are the streams every stage declares.
var projectStreams = []string{wire.RawStream, wire.RowsStream, wire.PassStream, wire.DeadStream}

// natsCluster is the test cluster of scripts/services.sh: nodes n1..n3,
// which a test may kill -9 and start again through the script.
type natsCluster struct {
	t    *testing.T
	urls string
	conn *stream.Conn
}

// useNATSCluster connects to TEST_NATS_CLUSTER_URLS (skipped when unset,
// failed under CI), deletes the project's streams so that the test starts
// from nothing (the cluster serves tests only), and at the end starts
// again any node the test left down.
func useNATSCluster(t *testing.T) *natsCluster {
	t.Helper()
	urls := testenv.Require(t, "TEST_NATS_CLUSTER_URLS")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := stream.Connect(ctx, urls, "e2e-nats-cluster")
	if err != nil {
		t.Fatalf("NATS cluster at %s: %v", urls, err)
	}
	c := &natsCluster{t: t, urls: urls, conn: conn}
	t.Cleanup(func() {
		conn.Close()
		for _, n := range []string{"n1", "n2", "n3"} {
			c.script("start", n)
		}
	})
	// A node a previous test restarted may still be rejoining (no
	// JetStream meta leader for a while): each attempt has a deadline of
	// its own, and the cluster time to settle.
	for _, name := range projectStreams {
		waitUntil(t, "stream "+name+" deleted", 2*time.Minute, func() bool {
			actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer acancel()
			err := conn.JS.DeleteStream(actx, name)
			return err == nil || errors.Is(err, jetstream.ErrStreamNotFound)
		})
	}
	return c
}

// script runs scripts/services.sh nats-node verb node.
func (c *natsCluster) script(verb, node string) {
	c.t.Helper()
	out, err := exec.Command("../scripts/services.sh", "nats-node", verb, node).CombinedOutput()
	if err != nil {
		c.t.Fatalf("services.sh nats-node %s %s: %v\n%s", verb, node, err, out)
	}
}

// info is a stream's info, nil while it cannot be had (no leader).
func (c *natsCluster) info(name string) *jetstream.StreamInfo {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.conn.JS.Stream(ctx, name)
	if err != nil {
		return nil
	}
	return s.CachedInfo()
}

// leader names the server leading a stream ("" while there is none).
func (c *natsCluster) leader(name string) string {
	if i := c.info(name); i != nil && i.Cluster != nil {
		return i.Cluster.Leader
	}
	return ""
}

// consumerLeader names the server leading a durable consumer.
func (c *natsCluster) consumerLeader(streamName, consumer string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cons, err := c.conn.JS.Consumer(ctx, streamName, consumer)
	if err != nil || cons.CachedInfo().Cluster == nil {
		return ""
	}
	return cons.CachedInfo().Cluster.Leader
}

// replicated reports whether a stream has want replicas, each current
// with its leader.
func (c *natsCluster) replicated(name string, want int) bool {
	i := c.info(name)
	if i == nil || i.Config.Replicas != want || i.Cluster == nil || i.Cluster.Leader == "" || len(i.Cluster.Replicas) != want-1 {
		return false
	}
	for _, r := range i.Cluster.Replicas {
		if !r.Current || r.Offline {
			return false
		}
	}
	return true
}

// stepDown asks the leader of a stream, or of a consumer, to hand over
// to the server named to.
func (c *natsCluster) stepDown(subject, to string) {
	body, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": to}})
	_, _ = c.conn.NC.Request(subject, body, 2*time.Second)
}

// gatherLeaders moves the leadership of the rows stream and of both
// durable consumers to the server that leads the raw stream, so that
// killing that one server takes every leader the pipeline uses at once.
func (c *natsCluster) gatherLeaders(to string) {
	c.t.Helper()
	waitUntil(c.t, "every leader on "+to, time.Minute, func() bool {
		ok := true
		if c.leader(wire.RowsStream) != to {
			ok = false
			c.stepDown("$JS.API.STREAM.LEADER.STEPDOWN."+wire.RowsStream, to)
		}
		for _, cs := range []consumer{{wire.RawStream, stream.TransformerConsumer}, {wire.RowsStream, stream.LoaderConsumer}} {
			if c.consumerLeader(cs.stream, cs.name) != to {
				ok = false
				c.stepDown(fmt.Sprintf("$JS.API.CONSUMER.LEADER.STEPDOWN.%s.%s", cs.stream, cs.name), to)
			}
		}
		return ok && c.leader(wire.RawStream) == to
	})
}

type consumer struct{ stream, name string }

// The distributed pipeline on streams of three replicas: the server
// leading the raw and rows streams and both consumers is killed -9 in the
// middle of a run; the run finishes (exit 0) with every issue loaded
// exactly once, and the server, started again, catches up.
func TestNATSClusterLeaderKill(t *testing.T) {
	c := useNATSCluster(t)
	f := newFixtureWith(t, trackertest.Options{Issues: 1500, Seed: 7, Latency: 10 * time.Millisecond})
	f.nats = c.urls
	f.set("EXPORTER_NATS__URL", c.urls)
	f.set("EXPORTER_NATS__REPLICAS", "3")
	f.set("EXPORTER_TRACKER__CONCURRENCY", "8")
	if code, out := f.run("loader", "migrate"); code != 0 {
		t.Fatalf("loader migrate: exit %d:\n%s", code, out)
	}
	tr := f.startProc(f.env, "transformer")
	ld := f.startProc(f.env, "loader")
	waitUntil(t, "the streams declared with 3 replicas and the consumers", time.Minute, func() bool {
		for _, name := range projectStreams {
			if !c.replicated(name, 3) {
				return false
			}
		}
		return c.consumerLeader(wire.RawStream, stream.TransformerConsumer) != "" && c.consumerLeader(wire.RowsStream, stream.LoaderConsumer) != ""
	})
	victim := c.leader(wire.RawStream)
	c.gatherLeaders(victim)

	total := uint64(f.em.IssueCount())
	ex := f.startProc(f.env, "extractor", "--run-once")
	waitUntil(t, "a fifth of the snapshots published", 2*time.Minute, func() bool { return f.rawSnapshots(c.conn) >= total/5 })
	rawAtKill, loadedAtKill := f.rawSnapshots(c.conn), f.issuesLoaded()
	if rawAtKill >= total {
		t.Fatalf("the extraction finished before the kill (%d snapshots)", rawAtKill)
	}
	c.script("kill", victim)
	killed := time.Now()

	waitUntil(t, "new leaders of the raw and rows streams", time.Minute, func() bool {
		r, w := c.leader(wire.RawStream), c.leader(wire.RowsStream)
		return r != "" && r != victim && w != "" && w != victim
	})
	elected := time.Since(killed)
	waitUntil(t, "snapshots published again", time.Minute, func() bool { return f.rawSnapshots(c.conn) > rawAtKill })
	published := time.Since(killed)
	waitUntil(t, "issues loaded again", time.Minute, func() bool { return f.issuesLoaded() > loadedAtKill })
	loaded := time.Since(killed)
	t.Logf("killed %s (leader of raw, rows and both consumers) at %d/%d snapshots, %d issues loaded; new stream leaders after %s, publishing resumed after %s, loading after %s",
		victim, rawAtKill, total, loadedAtKill, elected.Round(time.Millisecond), published.Round(time.Millisecond), loaded.Round(time.Millisecond))

	code, out := ex.wait(5 * time.Minute)
	if code != 0 {
		t.Fatalf("extractor --run-once across the leader's loss: exit %d:\n%s", code, lastLines(out, 40))
	}
	if testing.Verbose() {
		t.Logf("extractor's warnings across the kill:\n%s", warnings(out))
	}
	f.waitLoaded(3 * time.Minute)
	t.Logf("run finished and everything loaded %s after the kill", time.Since(killed).Round(time.Millisecond))
	f.verify()
	if got := f.rawSnapshots(c.conn); got != total {
		t.Errorf("raw stream holds %d snapshots, want %d", got, total)
	}

	// The node comes back and catches up with the streams it missed.
	c.script("start", victim)
	back := time.Now()
	waitUntil(t, "the restarted node current on every stream", 2*time.Minute, func() bool {
		for _, name := range projectStreams {
			if !c.replicated(name, 3) {
				return false
			}
		}
		return true
	})
	t.Logf("%s current on every stream %s after its restart", victim, time.Since(back).Round(time.Millisecond))
	for name, p := range map[string]*proc{"transformer": tr, "loader": ld} {
		code, out := p.signal(syscall.SIGTERM)
		if code != 0 {
			t.Errorf("%s after SIGTERM: exit %d:\n%s", name, code, lastLines(out, 30))
		}
		if testing.Verbose() {
			t.Logf("%s's warnings across the kill:\n%s", name, warnings(out))
		}
	}
	f.verify()
}

// EXPORTER_NATS__REPLICAS changed from 1 to 3 (and back) updates the
// streams a stage finds at start, keeping their messages; a single server
// asked for 3 replicas is refused at once, saying why.
func TestNATSClusterReplicasUpdate(t *testing.T) {
	c := useNATSCluster(t)
	f := newFixture(t, 40)
	single := f.nats
	f.nats = c.urls
	f.set("EXPORTER_NATS__URL", c.urls)
	ctx := context.Background()
	run := func(replicas string) {
		t.Helper()
		if code, out := f.runEnv(withEnv(f.env, "EXPORTER_NATS__REPLICAS="+replicas), "extractor", "--run-once"); code != 0 {
			t.Fatalf("extractor with EXPORTER_NATS__REPLICAS=%s: exit %d:\n%s", replicas, code, lastLines(out, 30))
		}
	}
	check := func(want int) {
		t.Helper()
		waitUntil(t, fmt.Sprintf("every stream with %d current replicas", want), time.Minute, func() bool {
			for _, name := range projectStreams {
				if !c.replicated(name, want) {
					return false
				}
			}
			return true
		})
		waitUntil(t, fmt.Sprintf("the transformer's consumer on %d servers", want), time.Minute, func() bool {
			cons, err := c.conn.JS.Consumer(ctx, wire.RawStream, stream.TransformerConsumer)
			return err == nil && cons.CachedInfo().Cluster != nil && len(cons.CachedInfo().Cluster.Replicas) == want-1
		})
		if got, want := f.rawSnapshots(c.conn), uint64(f.em.IssueCount()); got != want {
			t.Errorf("raw stream holds %d snapshots, want %d", got, want)
		}
	}

	run("1")
	// A durable consumer made on the one-replica stream follows it.
	if _, err := c.conn.JS.CreateOrUpdateConsumer(ctx, wire.RawStream, stream.ConsumerConfig(stream.TransformerConsumer, -1, 0)); err != nil {
		t.Fatal(err)
	}
	check(1)
	run("3")
	check(3)
	run("1")
	check(1)

	code, out := f.runEnv(withEnv(f.env, "EXPORTER_NATS__URL="+single, "EXPORTER_NATS__REPLICAS=3", "EXPORTER_START_TIMEOUT=2m"), "extractor", "--run-once")
	if code != 1 || !strings.Contains(out, "not clustered") || strings.Contains(out, "waiting for NATS") {
		t.Errorf("extractor asking one server for 3 replicas: exit %d, want 1 at once saying the server is not clustered:\n%s", code, lastLines(out, 10))
	}
}

// warnings keeps the lines of a stage's log at warning level or above,
// each distinct message once with its count and its first error.
func warnings(out string) string {
	var order []string
	seen := map[string]int{}
	first := map[string]string{} // the error of the first
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, "level=WARN") && !strings.Contains(l, "level=ERROR") {
			continue
		}
		msg := l
		if _, rest, ok := strings.Cut(l, `msg="`); ok {
			msg, _, _ = strings.Cut(rest, `"`)
		}
		if seen[msg] == 0 {
			order = append(order, msg)
			if _, err, ok := strings.Cut(l, " err="); ok {
				first[msg] = err
			}
		}
		seen[msg]++
	}
	var b strings.Builder
	for _, m := range order {
		fmt.Fprintf(&b, "%5d× %s (first: %s)\n", seen[m], m, first[m])
	}
	return b.String()
}
