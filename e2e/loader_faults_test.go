package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// proc is a binary running as a process, which a test may kill.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan error
	err  error
	over bool
}

// startProc starts a binary with the given environment.
func (f *fixture) startProc(env []string, name string, args ...string) *proc {
	f.t.Helper()
	p := &proc{t: f.t, name: name, done: make(chan error, 1)}
	p.cmd = exec.Command(filepath.Join(binaries(f.t), name), args...)
	p.cmd.Env = env
	w := writerFunc(func(b []byte) (int, error) { p.mu.Lock(); defer p.mu.Unlock(); return p.out.Write(b) })
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		f.t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	f.t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			p.wait(10 * time.Second)
		}
	})
	return p
}

func (p *proc) exited() bool {
	if p.over {
		return true
	}
	select {
	case p.err = <-p.done:
		p.over = true
	default:
	}
	return p.over
}

// wait waits for the process to end and returns its exit code (-1 when
// killed by a signal) and output.
func (p *proc) wait(timeout time.Duration) (int, string) {
	p.t.Helper()
	if !p.over {
		select {
		case p.err = <-p.done:
			p.over = true
		case <-time.After(timeout):
			_ = p.cmd.Process.Kill()
			p.t.Fatalf("%s did not exit within %s", p.name, timeout)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	code := 0
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		code = ee.ExitCode()
	}
	return code, p.out.String()
}

// signal sends sig and waits for the exit.
func (p *proc) signal(sig syscall.Signal) (int, string) {
	p.t.Helper()
	_ = p.cmd.Process.Signal(sig)
	return p.wait(60 * time.Second)
}

// withEnv returns env with the given KEY=value pairs set (replaced or
// added).
func withEnv(env []string, kv ...string) []string {
	out := append([]string(nil), env...)
	for _, s := range kv {
		key, _, _ := strings.Cut(s, "=")
		found := false
		for i, e := range out {
			if strings.HasPrefix(e, key+"=") {
				out[i], found = s, true
			}
		}
		if !found {
			out = append(out, s)
		}
	}
	return out
}

// natsConn connects the test to the fixture's NATS server.
func (f *fixture) natsConn() *stream.Conn {
	f.t.Helper()
	c, err := stream.Connect(context.Background(), f.nats, "e2e-loader-faults")
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(c.Close)
	return c
}

// prepublish extracts and transforms every issue without a loader, so
// that the rows stream holds one message per issue, and returns the
// number of rows messages.
func (f *fixture) prepublish(js jetstream.JetStream) uint64 {
	f.t.Helper()
	if code, out := f.run("loader", "migrate"); code != 0 {
		f.t.Fatalf("loader migrate exit %d:\n%s", code, out)
	}
	tr := f.startProc(f.env, "transformer")
	if code, out := f.run("extractor", "--run-once"); code != 0 {
		f.t.Fatalf("extractor exit %d:\n%s", code, out)
	}
	ctx := context.Background()
	want := uint64(f.em.IssueCount())
	deadline := time.Now().Add(3 * time.Minute)
	for {
		pending, err := stream.Pending(ctx, js, wire.RawStream, stream.TransformerConsumer)
		msgs, _ := stream.CountUnder(ctx, js, wire.RowsStream, wire.RowsSubject(""))
		if err == nil && pending == 0 && msgs >= want {
			break
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("transformer: %d rows messages, want %d (pending %d, %v)", msgs, want, pending, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, out := tr.signal(syscall.SIGTERM); code != 0 {
		f.t.Fatalf("transformer exit %d:\n%s", code, out)
	}
	n, err := stream.CountUnder(ctx, js, wire.RowsStream, wire.RowsSubject(""))
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// issuesLoaded counts the issues in issues_view (see viewCount).
func (f *fixture) issuesLoaded() uint64 { return f.viewCount("issues_view") }

// viewCount counts the rows of a view of the fixture's database; 0 while
// the view does not exist, which includes the moments when a starting
// loader's migrations drop and create it again (18.16 has no CREATE OR
// REPLACE VIEW). Asking system.tables first is no better: 18.16 fails
// that query too when a view vanishes while it lists them.
func (f *fixture) viewCount(view string) uint64 {
	var n uint64
	err := f.ch.Conn().QueryRow(context.Background(), "SELECT count() FROM `"+f.db+"`.`"+view+"`").Scan(&n)
	switch {
	case err == nil:
		return n
	case strings.Contains(err.Error(), "doesn't exist"):
		return 0
	}
	f.t.Fatalf("count %s: %v", view, err)
	return 0
}

// deadLetters counts the messages in the dead-letter stream.
func deadLetters(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), wire.DeadStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// loadRate is the bytes a second a slowed proxy lets the loader send to
// ClickHouse: 600 issues' rows (some 3 MB compressed) take seconds.
const loadRate = 1 << 20

// TestLoaderKilledMidBatch: kill -9 of a loader while it loads, restart,
// and every issue and row lands exactly once.
func TestLoaderKilledMidBatch(t *testing.T) {
	f := newFixture(t, 600)
	conn := f.natsConn()
	msgs := f.prepublish(conn.JS)
	want := uint64(f.em.IssueCount())
	// Small inserts, sent slowly, so that the load takes long enough to
	// be cut.
	proxy := startProxy(t, f.chAdr)
	proxy.slow(loadRate)
	host, port, _ := net.SplitHostPort(proxy.addr)
	env := withEnv(f.env, "EXPORTER_CLICKHOUSE__HOST="+host, "EXPORTER_CLICKHOUSE__PORT="+port,
		"EXPORTER_CLICKHOUSE__BATCH_ROWS=1500", "EXPORTER_CLICKHOUSE__BATCH_AGE=10ms")
	l := f.startProc(env, "loader")
	var at uint64
	deadline := time.Now().Add(2 * time.Minute)
	for {
		at = f.issuesLoaded()
		if at > 0 {
			break
		}
		if l.exited() || time.Now().After(deadline) {
			_, out := l.wait(time.Second)
			t.Fatalf("the loader loaded nothing:\n%s", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	code, _ := l.signal(syscall.SIGKILL)
	if code != -1 {
		t.Errorf("loader exit code %d after SIGKILL, want -1 (killed)", code)
	}
	cons, err := conn.JS.Consumer(context.Background(), wire.RowsStream, stream.LoaderConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	at = f.issuesLoaded()
	t.Logf("%d rows messages; killed with %d/%d issues in issues_view, %d messages delivered and not acknowledged", msgs, at, want, info.NumAckPending)
	if at >= want {
		t.Fatalf("the loader finished before it was killed (%d/%d): nothing was tested", at, want)
	}
	if info.NumAckPending == 0 {
		t.Errorf("no message was in flight at the kill")
	}
	proxy.slow(0)
	start := time.Now()
	l2 := f.startProc(env, "loader")
	defer func() {
		if t.Failed() {
			if info, err := cons.Info(context.Background()); err == nil {
				t.Logf("consumer: ack wait %s, max deliver %d, pending %d, ack pending %d, redelivered %d, waiting %d",
					info.Config.AckWait, info.Config.MaxDeliver, info.NumPending, info.NumAckPending, info.NumRedelivered, info.NumWaiting)
			}
			_, out := l2.signal(syscall.SIGTERM)
			t.Logf("restarted loader output:\n%s", lastLines(out, 40))
		}
	}()
	f.waitLoaded(90 * time.Second)
	t.Logf("restarted loader finished in %s", time.Since(start).Round(time.Millisecond))
	if code, out := l2.signal(syscall.SIGTERM); code != 0 {
		t.Errorf("loader exit %d after SIGTERM:\n%s", code, out)
	}
	f.verify()
	f.verifyAnalyticViews()
	if n := deadLetters(t, conn.JS); n != 0 {
		t.Errorf("%d messages dead-lettered, want 0", n)
	}
}

// verifyAnalyticViews checks the analytic views on the loaded data: the
// worked example of METRICS.md §7 (alone in its queue) gives known
// figures, and every view agrees with issues_view in total.
func (f *fixture) verifyAnalyticViews() {
	t := f.t
	ctx := context.Background()
	db := "`" + f.db + "`."
	var done, lead, leadB, cycle, cycleB uint64
	err := f.ch.Conn().QueryRow(ctx, "SELECT done_issues, toUInt64(assumeNotNull(lead_time_p95)), toUInt64(assumeNotNull(lead_time_business_p50)), "+
		"toUInt64(assumeNotNull(cycle_time_p85)), toUInt64(assumeNotNull(cycle_time_business_p50)) FROM "+db+"issues_flow_times_monthly "+
		"WHERE queue = 'METRICS' AND month = toDate('2024-03-01')").Scan(&done, &lead, &leadB, &cycle, &cycleB)
	if err != nil {
		t.Fatalf("issues_flow_times_monthly: %v", err)
	}
	if done != 1 || lead != 604800 || leadB != 187200 || cycle != 597600 || cycleB != 180000 {
		t.Errorf("METRICS 2024-03 flow times: done %d, lead %d/%d, cycle %d/%d; want 1, 604800/187200, 597600/180000", done, lead, leadB, cycle, cycleB)
	}
	if n := f.count("SELECT throughput FROM " + db + "issues_throughput_weekly WHERE queue = 'METRICS' AND week = toDate('2024-03-11')"); n != 1 {
		t.Errorf("METRICS throughput in the week of 2024-03-11: %d, want 1", n)
	}
	rows, err := f.ch.Conn().Query(ctx, "SELECT toString(day), status_key FROM "+db+"issues_cfd_daily WHERE queue = 'METRICS' AND day BETWEEN toDate('2024-03-03') AND toDate('2024-03-12') ORDER BY day")
	if err != nil {
		t.Fatal(err)
	}
	var cfd []string
	for rows.Next() {
		var day, status string
		if err := rows.Scan(&day, &status); err != nil {
			t.Fatal(err)
		}
		cfd = append(cfd, day[8:]+":"+status)
	}
	rows.Close()
	wantCFD := "04:inProgress 05:inProgress 06:testing 07:readyForRelease 08:readyForRelease 09:readyForRelease 10:readyForRelease 11:closed 12:closed"
	if got := strings.Join(cfd, " "); got != wantCFD {
		t.Errorf("METRICS-1 at the end of each day of March 2024: %s, want %s", got, wantCFD)
	}
	for _, c := range []struct{ view, total string }{
		{"SELECT sum(throughput + cancelled) FROM " + db + "issues_throughput_weekly", "SELECT count() FROM " + db + "issues_view WHERE toUInt32(done_at) > 0"},
		{"SELECT sum(done_issues) FROM " + db + "issues_flow_times_monthly", "SELECT count() FROM " + db + "issues_view WHERE toUInt32(done_at) > 0"},
		{"SELECT sum(wip) FROM " + db + "issues_wip", "SELECT count() FROM " + db + "issues_view WHERE toUInt32(started_at) > 0 AND toUInt32(done_at) = 0"},
		{"SELECT count() FROM " + db + "issues_wip_ageing WHERE age >= status_age AND status_age >= 0", "SELECT sum(wip) FROM " + db + "issues_wip"},
		{"SELECT sum(issue_count) FROM " + db + "issues_cfd_daily WHERE day = toDate(now(), 'UTC')", "SELECT count() FROM " + db + "issues_view"},
	} {
		got, want := f.count(c.view), f.count(c.total)
		if got != want || want == 0 {
			t.Errorf("%s = %d; %s = %d; want equal and not 0", c.view, got, c.total, want)
		}
	}
}

// tcpProxy forwards 127.0.0.1:port to a target; it can be cut (listener
// and every connection closed) and restored on the same port, and slowed.
type tcpProxy struct {
	target string
	mu     sync.Mutex
	ln     net.Listener
	addr   string
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	// rate bounds the bytes a second sent to the target on each
	// connection (0: no bound); see slow.
	rate atomic.Int64
}

// slow bounds what each connection sends to the target to rate bytes a
// second: a load then lasts seconds on any machine, and a test can act
// in its middle (once the loader's INSERTs took milliseconds, a whole
// load could end between two polls).
func (p *tcpProxy) slow(rate int64) { p.rate.Store(rate) }

// copyOut copies from src to dst as io.Copy does, at most p.rate bytes a
// second when it is set.
func (p *tcpProxy) copyOut(dst io.Writer, src io.Reader) {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if rate := p.rate.Load(); rate > 0 {
				time.Sleep(time.Duration(int64(n) * int64(time.Second) / rate))
			}
		}
		if err != nil {
			return
		}
	}
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tcpProxy) forward(c net.Conn) {
	if !p.track(c) {
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil || !p.track(up) {
		_ = c.Close()
		return
	}
	go func() { p.copyOut(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
	_ = c.Close()
}

// cut closes the listener and every open connection.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	p.wg.Wait()
}

// restore listens again on the same address.
func (p *tcpProxy) restore(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("proxy listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestLoaderClickHouseOutage: ClickHouse becomes unreachable for 30 s in
// the middle of a load (the loader talks to it through a TCP proxy that
// the test cuts: the shared server keeps serving other tests), then comes
// back; nothing is lost or duplicated, nothing is dead-lettered.
func TestLoaderClickHouseOutage(t *testing.T) {
	f := newFixture(t, 600)
	conn := f.natsConn()
	f.prepublish(conn.JS)
	want := uint64(f.em.IssueCount())
	proxy := startProxy(t, f.chAdr)
	proxy.slow(loadRate)
	host, port, _ := net.SplitHostPort(proxy.addr)
	env := withEnv(f.env,
		"EXPORTER_CLICKHOUSE__HOST="+host, "EXPORTER_CLICKHOUSE__PORT="+port,
		"EXPORTER_CLICKHOUSE__BATCH_ROWS=1500", "EXPORTER_CLICKHOUSE__BATCH_AGE=10ms",
		"EXPORTER_CLICKHOUSE__BACKOFF_BASE_DELAY=0.2", "EXPORTER_CLICKHOUSE__BACKOFF_EXPO_FACTOR=1.2",
		"EXPORTER_CLICKHOUSE__BACKOFF_MAX_TRIES=3", "EXPORTER_CLICKHOUSE__MAX_DELIVERIES=2")
	l := f.startProc(env, "loader")
	deadline := time.Now().Add(2 * time.Minute)
	for f.issuesLoaded() == 0 {
		if l.exited() || time.Now().After(deadline) {
			_, out := l.wait(time.Second)
			t.Fatalf("the loader loaded nothing:\n%s", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	proxy.cut()
	proxy.slow(0)
	const outage = 30 * time.Second
	cutAt := time.Now()
	before := f.issuesLoaded()
	t.Logf("ClickHouse cut off with %d/%d issues loaded", before, want)
	if before >= want {
		t.Fatalf("the load finished before the outage: nothing was tested")
	}
	time.Sleep(outage / 2)
	if l.exited() {
		_, out := l.wait(time.Second)
		t.Fatalf("the loader exited during the outage:\n%s", out)
	}
	during := f.issuesLoaded()
	time.Sleep(outage - time.Since(cutAt))
	proxy.restore(t)
	t.Logf("ClickHouse back after %s; %d issues loaded meanwhile (in-flight inserts)", time.Since(cutAt).Round(time.Millisecond), during-before)
	back := time.Now()
	f.waitLoaded(2 * time.Minute)
	t.Logf("load finished %s after ClickHouse came back", time.Since(back).Round(time.Millisecond))
	if code, out := l.signal(syscall.SIGTERM); code != 0 {
		t.Errorf("loader exit %d after SIGTERM:\n%s", code, out)
	} else if !strings.Contains(out, "insert failed") {
		t.Errorf("the loader never reported a failed insert: was ClickHouse really cut off?\n%s", lastLines(out, 20))
	}
	f.verify()
	if n := deadLetters(t, conn.JS); n != 0 {
		t.Errorf("%d messages dead-lettered during the outage, want 0", n)
	}
	if p, err := stream.Pending(context.Background(), conn.JS, wire.RowsStream, stream.LoaderConsumer); err != nil || p != 0 {
		t.Errorf("loader consumer pending %d (%v), want 0", p, err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
