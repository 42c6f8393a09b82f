// Package bench holds the end-to-end benchmarks of `make bench`: the
// extractor against the Tracker emulator (throughput, requests against the
// API's minimum, rate-limit use, peak RSS of the real binary) and the
// replay of stored snapshots into ClickHouse. Every figure is printed with
// b.ReportMetric; nothing is asserted on time. See README.md.
package bench

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/internal/app"
	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binary builds the commands once per benchmark process and returns the
// path of one of them.
func binary(b *testing.B, name string) string {
	b.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tracker-exporter-bench-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator), "./cmd/...")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

// TestMain removes the built binaries after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// requireLarge skips a large variant unless BENCH_LARGE is true or the
// -bench pattern names it (contains "Large"), so that `-bench .` leaves it
// out.
func requireLarge(b *testing.B) {
	b.Helper()
	if v, err := strconv.ParseBool(os.Getenv("BENCH_LARGE")); err == nil && v {
		return
	}
	if f := flag.Lookup("test.bench"); f != nil && strings.Contains(f.Value.String(), "Large") {
		return
	}
	b.Skip("large variant: set BENCH_LARGE=1 or select it with -bench ...Large (make bench-large)")
}

// emulator is the Tracker emulator served over loopback HTTP by this
// process, with the arrival times of the first and last request (for the
// sustained request rate).
type emulator struct {
	*trackertest.Server
	url         string
	srv         *http.Server
	first, last atomic.Int64 // unix nanoseconds
}

func startEmulator(b *testing.B, opts trackertest.Options) *emulator {
	b.Helper()
	e := &emulator{Server: trackertest.New(opts)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("emulator listen: %v", err)
	}
	h := e.Handler()
	e.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UnixNano()
		e.first.CompareAndSwap(0, now)
		for {
			l := e.last.Load()
			if now <= l || e.last.CompareAndSwap(l, now) {
				break
			}
		}
		h.ServeHTTP(w, r)
	})}
	e.url = "http://" + ln.Addr().String()
	go func() { _ = e.srv.Serve(ln) }()
	b.Cleanup(func() { _ = e.srv.Close() })
	return e
}

// span is the time from the first to the last request that reached the
// emulator.
func (e *emulator) span() time.Duration {
	return time.Duration(e.last.Load() - e.first.Load())
}

// changelogStats is the emulator's ground truth for its issues: mean and
// maximum changelog length and the fewest changelog requests that fetch
// every changelog with pages of perPage entries (an empty changelog still
// costs one request).
type changelogStats struct {
	Issues   int
	Mean     float64
	Max      int
	Over500  int
	MinPages int64
}

func statsOf(em *trackertest.Server, perPage int) changelogStats {
	keys := em.IssueKeys()
	st := changelogStats{Issues: len(keys)}
	var total int64
	for _, k := range keys {
		n := em.ChangelogLen(k)
		total += int64(n)
		st.Max = max(st.Max, n)
		if n > 500 {
			st.Over500++
		}
		st.MinPages += int64(max(1, (n+perPage-1)/perPage))
	}
	if len(keys) > 0 {
		st.Mean = float64(total) / float64(len(keys))
	}
	return st
}

// rssSampler polls /proc/<pid>/status of a process: its peak RSS
// (VmHWM, which only grows, so polling misses at most the last interval),
// and the largest VmRSS seen in the first and in the second half of the
// process's life, which shows whether memory grows with the number of
// issues processed.
//
// rusage's Maxrss is not used: Go starts children with vfork, and at exec
// Linux folds the high-water mark of the memory the child shared with its
// parent (this benchmark process, with the emulator and NATS) into it.
type rssSampler struct {
	mu      sync.Mutex
	samples []rssSample
	hwm     int64
	stop    chan struct{}
	done    chan struct{}
}

type rssSample struct {
	at   time.Time
	rss  int64 // bytes
	file int64 // bytes of RssFile: mapped files, mostly the binary's code
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if st, ok := procStatus(pid); ok {
				s.mu.Lock()
				s.samples = append(s.samples, rssSample{time.Now(), st["VmRSS"] << 10, st["RssFile"] << 10})
				s.hwm = max(s.hwm, st["VmHWM"]<<10)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// result stops the sampler and returns the peak RSS (VmHWM), the peak
// VmRSS of each half and the peak file-backed RSS.
func (s *rssSampler) result() (peak, first, second, file int64) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return 0, 0, 0, 0
	}
	mid := s.samples[0].at.Add(s.samples[len(s.samples)-1].at.Sub(s.samples[0].at) / 2)
	for _, x := range s.samples {
		file = max(file, x.file)
		if x.at.Before(mid) {
			first = max(first, x.rss)
		} else {
			second = max(second, x.rss)
		}
	}
	return s.hwm, first, second, file
}

// procStatus reads the "kB" lines of /proc/<pid>/status (VmRSS, VmHWM,
// RssFile...) in kilobytes.
func procStatus(pid int) (map[string]int64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, false
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		rest = strings.TrimSpace(rest)
		if !ok || !strings.HasSuffix(rest, " kB") {
			continue
		}
		if v, err := strconv.ParseInt(strings.TrimSuffix(rest, " kB"), 10, 64); err == nil {
			out[name] = v
		}
	}
	return out, len(out) > 0
}

// childEnv is the environment of a child process: this process's, without
// any EXPORTER_* variable, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EXPORTER_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// mb converts bytes to MiB.
func mb(v int64) float64 { return float64(v) / (1 << 20) }

// clickHouseCPU is the user and system CPU time of the ClickHouse server
// so far (its queries, merges and background work), read from
// /proc/<pid>/stat of the process named by TEST_CLICKHOUSE_PID_FILE
// (scripts/services.sh env sets it); ok is false when it is not known.
func clickHouseCPU() (cpu time.Duration, ok bool) {
	pidData, err := os.ReadFile(os.Getenv("TEST_CLICKHOUSE_PID_FILE"))
	if err != nil {
		return 0, false
	}
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pidData)) + "/stat")
	if err != nil {
		return 0, false
	}
	// The fields after the command (in parentheses, which may hold
	// spaces): utime and stime are the 14th and 15th, in clock ticks
	// (100 a second on Linux).
	_, rest, found := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	if !found || len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// replayTarget is the ClickHouse the replay benchmarks load into
// (TEST_CLICKHOUSE_ADDR, native protocol), as the configuration of the
// stages built in this process and as the variables of a child process.
type replayTarget struct {
	cfg        config.Config
	env        *app.Env
	host, port string
}

// newReplayTarget is the default configuration with changelog export,
// pointing at TEST_CLICKHOUSE_ADDR (required: skipped without it, a
// failure under CI=true), the schema left to freshDatabase.
func newReplayTarget(b *testing.B) *replayTarget {
	b.Helper()
	addr := testenv.Require(b, "TEST_CLICKHOUSE_ADDR")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		b.Fatalf("TEST_CLICKHOUSE_ADDR %q: %v", addr, err)
	}
	cfg := config.Default()
	cfg.ClickHouse.Host = host
	cfg.ClickHouse.Port, _ = strconv.Atoi(port)
	cfg.ClickHouse.Proto = clickhouse.ProtoNative
	cfg.ClickHouse.MigrateOnStart = false
	cfg.ChangelogExportEnabled = true
	cfg.LogLevel = "warning"
	env, err := app.NewEnv(cfg, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	return &replayTarget{cfg: cfg, env: env, host: host, port: port}
}

// childVars are the environment of a child process loading into the
// database db as the target's configuration does, plus extra and
// BENCH_REPLAY_ENV's variables.
func (t *replayTarget) childVars(db string, extra ...string) []string {
	vars := childEnv(append([]string{
		"EXPORTER_CLICKHOUSE__HOST=" + t.host,
		"EXPORTER_CLICKHOUSE__PORT=" + t.port,
		"EXPORTER_CLICKHOUSE__PROTO=native",
		"EXPORTER_CLICKHOUSE__DATABASE=" + db,
		"EXPORTER_CLICKHOUSE__MIGRATE_ON_START=false",
		"EXPORTER_CHANGELOG_EXPORT_ENABLED=true",
		"EXPORTER_LOGLEVEL=warning",
	}, extra...)...)
	return append(vars, strings.Fields(os.Getenv("BENCH_REPLAY_ENV"))...)
}
