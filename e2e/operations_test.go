package e2e

// Runs without babysitting: clean stops, stages that wait for what they
// depend on, recovery from NATS restarts, kills and 429 storms.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ready reports what /readyz answers on addr (0 when it does not answer).
func ready(addr string) int {
	c := http.Client{Timeout: time.Second}
	res, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// natsServer is a standalone NATS server with a fixed port and store that
// a test can stop and start again.
type natsServer struct {
	t    *testing.T
	port int
	dir  string
	srv  *server.Server
}

func startNATS(t *testing.T) *natsServer {
	n := &natsServer{t: t, port: freePort(t), dir: t.TempDir()}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *natsServer) start() {
	n.t.Helper()
	srv, err := stream.StartEmbedded(stream.EmbeddedConfig{DataDir: n.dir, Listen: fmt.Sprintf("127.0.0.1:%d", n.port)})
	if err != nil {
		n.t.Fatalf("start nats: %v", err)
	}
	n.srv = srv
}

func (n *natsServer) stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// rawSnapshots is the number of issue snapshots in the raw stream.
func (f *fixture) rawSnapshots(conn *stream.Conn) uint64 {
	f.t.Helper()
	n, err := stream.CountUnder(context.Background(), conn.JS, wire.RawStream, wire.RawIssuePrefix)
	if err != nil {
		return 0
	}
	return n
}

// SIGTERM to a stage mid-pass stops it cleanly (exit 0, no failed issue),
// and a restart completes the work exactly.
func TestSIGTERMIsACleanStop(t *testing.T) {
	f := newFixtureWith(t, trackertest.Options{Issues: 800, Seed: 7, Latency: 15 * time.Millisecond})
	state := f.stateful()
	f.set("EXPORTER_TRACKER__CONCURRENCY", "8")
	conn := f.natsConn()

	// The distributed extractor.
	ex := f.startProc(f.env, "extractor", "--run-once")
	waitUntil(t, "200 snapshots published", time.Minute, func() bool { return f.rawSnapshots(conn) >= 200 })
	code, out := ex.signal(syscall.SIGTERM)
	if code != 0 || strings.Contains(out, "issue failed") || !strings.Contains(out, "pass interrupted by shutdown") {
		t.Fatalf("extractor after SIGTERM: exit %d:\n%s", code, lastLines(out, 30))
	}
	if got := f.rawSnapshots(conn); got >= uint64(f.em.IssueCount()) {
		t.Fatalf("the extractor finished before the signal (%d snapshots)", got)
	}
	if wm := f.watermark(state); wm.IsZero() {
		t.Errorf("no watermark saved at the clean stop")
	}
	if code, out := f.run("extractor", "--run-once"); code != 0 {
		t.Fatalf("restarted extractor: exit %d:\n%s", code, lastLines(out, 30))
	}
	if got := f.rawSnapshots(conn); got != uint64(f.em.IssueCount()) {
		t.Fatalf("%d snapshots after the restart, want %d", got, f.em.IssueCount())
	}

	// The transformer and the loader, each stopped mid-work and started
	// again.
	pending := func(streamName, consumer string) uint64 {
		n, err := stream.Pending(context.Background(), conn.JS, streamName, consumer)
		if err != nil {
			return 1 << 40
		}
		return n
	}
	total := uint64(f.em.IssueCount())
	tr := f.startProc(f.env, "transformer")
	waitUntil(t, "the transformer at work", time.Minute, func() bool { return pending(wire.RawStream, stream.TransformerConsumer) < total })
	if code, out := tr.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("transformer after SIGTERM: exit %d:\n%s", code, lastLines(out, 30))
	}
	t.Logf("transformer stopped with %d snapshots left", pending(wire.RawStream, stream.TransformerConsumer))
	ld := f.startProc(withEnv(f.env, "EXPORTER_CLICKHOUSE__BATCH_ROWS=2000"), "loader")
	waitUntil(t, "the loader at work", time.Minute, func() bool { return f.issuesLoaded() > 0 })
	if code, out := ld.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("loader after SIGTERM: exit %d:\n%s", code, lastLines(out, 30))
	}
	t.Logf("loader stopped with %d issues loaded", f.issuesLoaded())
	f.startProc(f.env, "transformer")
	f.startProc(f.env, "loader")
	f.waitLoaded(2 * time.Minute)
	f.verify()
}

// The one-process run stopped by a signal exits 0, keeps its watermark
// honest, and the next run completes.
func TestOneProcessSIGTERMThenRerun(t *testing.T) {
	f := newFixtureWith(t, trackertest.Options{Issues: 1500, Seed: 7, Latency: 30 * time.Millisecond})
	f.oneProcess()
	state := f.stateful()
	f.set("EXPORTER_TRACKER__CONCURRENCY", "8")
	p := f.startProc(f.env, "tracker-exporter", "--run-once")
	waitUntil(t, "a checkpoint", time.Minute, func() bool { return !f.watermark(state).IsZero() || p.exited() })
	code, out := p.signal(syscall.SIGTERM)
	if code != 0 || strings.Contains(out, "issue failed") {
		t.Fatalf("tracker-exporter after SIGTERM: exit %d:\n%s", code, lastLines(out, 30))
	}
	if !strings.Contains(out, "run stopped by a signal") {
		t.Errorf("the run did not say it was stopped:\n%s", lastLines(out, 10))
	}
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("rerun: exit %d:\n%s", code, lastLines(out, 30))
	}
	f.verify()
	if got, want := f.watermark(state), f.lastUpdate(); !got.Equal(want) {
		t.Errorf("watermark %s, want %s", got, want)
	}
}

// A second signal exits at once (130) without waiting for the work in
// hand; the lines about the signals are in the chosen log format; the
// next run still loads everything.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	f := newFixtureWith(t, trackertest.Options{Issues: 1500, Seed: 7, Latency: 30 * time.Millisecond})
	f.oneProcess()
	state := f.stateful()
	f.set("EXPORTER_TRACKER__CONCURRENCY", "8")
	f.set("EXPORTER_LOG_FORMAT", "json")
	p := f.startProc(f.env, "tracker-exporter", "--run-once")
	waitUntil(t, "a checkpoint", time.Minute, func() bool { return !f.watermark(state).IsZero() || p.exited() })
	if p.exited() {
		t.Fatal("the run ended before the signals")
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(50 * time.Millisecond)
	sent := time.Now()
	code, out := p.signal(syscall.SIGTERM)
	took := time.Since(sent)
	if code != 130 {
		t.Fatalf("exit %d after two signals, want 130:\n%s", code, lastLines(out, 20))
	}
	if took > 5*time.Second {
		t.Errorf("the second signal took %s to end the process", took.Round(time.Millisecond))
	}
	checkJSONLines(t, out)
	if !strings.Contains(out, "second signal: exiting now") {
		t.Errorf("the process did not say why it exited:\n%s", lastLines(out, 5))
	}
	if code, out := f.run("tracker-exporter", "--run-once"); code != 0 {
		t.Fatalf("rerun: exit %d:\n%s", code, lastLines(out, 30))
	}
	f.verify()
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A stage started before its dependencies waits for them (not ready
// meanwhile), then runs; with nothing to wait for within the start timeout
// it exits 1 naming what it waited for.
func TestStagesWaitForTheirDependencies(t *testing.T) {
	f := newFixture(t, 300)
	// ClickHouse down when the loader starts.
	proxy := startProxy(t, f.chAdr)
	proxy.cut()
	host, port, _ := net.SplitHostPort(proxy.addr)
	health := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	env := withEnv(f.env, "EXPORTER_CLICKHOUSE__HOST="+host, "EXPORTER_CLICKHOUSE__PORT="+port, "EXPORTER_HEALTH_ADDR="+health)
	ld := f.startProc(env, "loader")
	time.Sleep(3 * time.Second)
	if ld.exited() {
		_, out := ld.wait(time.Second)
		t.Fatalf("the loader exited with ClickHouse down:\n%s", lastLines(out, 20))
	}
	if got := ready(health); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz answers %d while ClickHouse is down, want 503", got)
	}
	proxy.restore(t)
	waitUntil(t, "the loader ready", 30*time.Second, func() bool { return ready(health) == http.StatusOK })

	// NATS down when the transformer starts: a server appears later on
	// its URL.
	nats := &natsServer{t: t, port: freePort(t), dir: t.TempDir()}
	t.Cleanup(nats.stop)
	health2 := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	tr := f.startProc(withEnv(f.env, "EXPORTER_NATS__URL="+nats.url(), "EXPORTER_HEALTH_ADDR="+health2), "transformer")
	time.Sleep(2 * time.Second)
	if tr.exited() {
		_, out := tr.wait(time.Second)
		t.Fatalf("the transformer exited with NATS down:\n%s", lastLines(out, 20))
	}
	if got := ready(health2); got != http.StatusServiceUnavailable {
		t.Errorf("transformer /readyz answers %d while NATS is down, want 503", got)
	}
	nats.start()
	waitUntil(t, "the transformer ready", 30*time.Second, func() bool { return ready(health2) == http.StatusOK })

	// Nothing comes within the start timeout.
	code, out := f.runEnv(withEnv(f.env, "EXPORTER_NATS__URL=nats://127.0.0.1:"+fmt.Sprint(freePort(t)), "EXPORTER_START_TIMEOUT=2s"), "transformer")
	if code != 1 || !strings.Contains(out, "NATS at nats://127.0.0.1") || !strings.Contains(out, "EXPORTER_START_TIMEOUT") {
		t.Errorf("transformer with no NATS and a 2s start timeout: exit %d:\n%s", code, lastLines(out, 10))
	}
}

// runEnv runs a binary with the given environment to completion.
func (f *fixture) runEnv(env []string, name string, args ...string) (int, string) {
	f.t.Helper()
	p := f.startProc(env, name, args...)
	return p.wait(2 * time.Minute)
}

// A NATS restart in the middle of a distributed run: every stage resumes
// within seconds, extractor --run-once finishes with exit 0, and every
// issue lands exactly once.
func TestNATSRestartMidRun(t *testing.T) {
	f := newFixtureWith(t, trackertest.Options{Issues: 1200, Seed: 7, Latency: 10 * time.Millisecond})
	nats := startNATS(t)
	f.nats = nats.url()
	f.set("EXPORTER_NATS__URL", nats.url())
	f.set("EXPORTER_TRACKER__CONCURRENCY", "8")
	// About 20 s of extraction: NATS goes away while the extractor is
	// still publishing.
	f.set("EXPORTER_TRACKER__RATE_LIMIT", "60")
	f.set("EXPORTER_TRACKER__RATE_LIMIT_ADAPTIVE", "false")
	f.startProc(f.env, "transformer")
	f.startProc(f.env, "loader")
	ex := f.startProc(f.env, "extractor", "--run-once")
	waitUntil(t, "some issues loaded", time.Minute, func() bool { return f.issuesLoaded() > 100 })
	nats.stop()
	if ex.exited() {
		t.Fatal("the extractor finished before NATS stopped: the test exercises nothing")
	}
	time.Sleep(3 * time.Second)
	atRestart := f.issuesLoaded()
	nats.start()
	back := time.Now()
	// Every stage resumes within seconds: the extractor publishes again,
	// the transformer turns those snapshots into rows, the loader loads
	// them — the issues in the views grow again.
	waitUntil(t, "loads resumed after NATS came back", time.Minute, func() bool { return f.issuesLoaded() > atRestart })
	resumed := time.Since(back)
	if resumed > 15*time.Second {
		t.Errorf("loads resumed %s after NATS came back, want within 15 s", resumed.Round(time.Millisecond))
	}
	code, out := ex.wait(3 * time.Minute)
	if code != 0 {
		t.Fatalf("extractor --run-once across the NATS restart: exit %d:\n%s", code, lastLines(out, 40))
	}
	if !strings.Contains(out, fmt.Sprintf("found=%d", f.em.IssueCount())) || !strings.Contains(out, "failed=0") {
		t.Errorf("the extractor's end line does not account for every issue:\n%s", lastLines(out, 5))
	}
	f.waitLoaded(2 * time.Minute)
	t.Logf("loads resumed %s and everything was loaded %s after NATS came back (%d of %d issues loaded at the restart)",
		resumed.Round(time.Millisecond), time.Since(back).Round(time.Millisecond), atRestart, f.em.IssueCount())
	f.verify()
}

// kill -9 of a transformer mid-batch: its messages are redelivered to the
// next one. JetStream redelivers an unacknowledged message when its ack
// wait ends, so the bound is the consumer's ack wait (10 s at most: a
// deterministic check); the time until everything was transformed, the
// remaining work included, is logged, not asserted (it depends on the
// machine's load).
func TestTransformerKill9RedeliveredQuickly(t *testing.T) {
	f := newFixture(t, 1500)
	conn := f.natsConn()
	if code, out := f.run("extractor", "--run-once"); code != 0 {
		t.Fatalf("extractor: exit %d:\n%s", code, lastLines(out, 20))
	}
	tr := f.startProc(f.env, "transformer")
	pending := func() uint64 {
		n, _ := stream.Pending(context.Background(), conn.JS, wire.RawStream, stream.TransformerConsumer)
		return n
	}
	waitUntil(t, "the transformer at work", time.Minute, func() bool { p := pending(); return p > 0 && p < 1400 })
	_ = tr.cmd.Process.Signal(syscall.SIGKILL)
	tr.wait(10 * time.Second)
	killed := time.Now()
	cons, err := conn.JS.Consumer(context.Background(), wire.RawStream, stream.TransformerConsumer)
	if err != nil {
		t.Fatal(err)
	}
	if wait := cons.CachedInfo().Config.AckWait; wait <= 0 || wait > 10*time.Second {
		t.Errorf("the transformer's ack wait is %s: a killed transformer's messages would wait that long, want at most 10 s", wait)
	}
	f.startProc(f.env, "transformer")
	waitUntil(t, "every snapshot transformed", 2*time.Minute, func() bool { return pending() == 0 })
	t.Logf("every snapshot transformed %s after the kill", time.Since(killed).Round(time.Millisecond))
}

// A 429 storm (the server allows 5 requests/s, the client does not know)
// does not keep a pass from finishing: issues that ran out of retries are
// tried again after the others.
func Test429StormFinishesThePass(t *testing.T) {
	f := newFixtureWith(t, trackertest.Options{Issues: 60, Seed: 7, RateLimit: 5, Burst: 5})
	f.oneProcess()
	f.set("EXPORTER_TRACKER__MAX_RETRIES", "2")
	f.set("EXPORTER_TRACKER__CONCURRENCY", "8")
	code, out := f.run("tracker-exporter", "--run-once")
	if f.em.Throttled() == 0 {
		t.Fatal("the server never answered 429")
	}
	if code != 0 {
		t.Fatalf("exit %d under a 429 storm:\n%s", code, lastLines(out, 30))
	}
	if !strings.Contains(out, "retrying issues that failed for a transient reason") {
		t.Errorf("no issue ran out of its retries: the storm did not exercise the retry rounds:\n%s", lastLines(out, 30))
	}
	t.Logf("%d of %d requests answered 429", f.em.Throttled(), f.em.TotalRequests())
	f.verify()
}
