package transformer

import (
	"syscall"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/internal/stagegc"
	"github.com/tracker-exporter/tracker-exporter/pkg/calendar"
	"github.com/tracker-exporter/tracker-exporter/pkg/flow"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker/trackertest"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// benchMessage is one captured raw snapshot: the message body as
// published and its decoded form.
type benchMessage struct {
	body     []byte
	encoding string
	snap     *wire.IssueSnapshot
}

// benchSnapshots runs the real extractor against an emulator for the given
// keys and returns their snapshots as published, in key order.
func benchSnapshots(b *testing.B, em *trackertest.Server, keys []string) []benchMessage {
	b.Helper()
	url := em.Start()
	defer em.Close()
	tc, err := tracker.New(tracker.Config{BaseURL: url, Token: "bench", OrgID: "1"}, tracker.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	// The snapshots are built the way the extractor builds them (the
	// stages do not import each other, tests included).
	byKey := map[string]benchMessage{}
	for _, k := range keys {
		snap := snapshot(b, em, tc, k)
		body, enc, err := wire.Marshal(snap)
		if err != nil {
			b.Fatal(err)
		}
		byKey[k] = benchMessage{body: body, encoding: enc, snap: snap}
	}
	out := make([]benchMessage, 0, len(keys))
	for _, k := range keys {
		m, ok := byKey[k]
		if !ok {
			b.Fatalf("no snapshot of %s", k)
		}
		out = append(out, m)
	}
	return out
}

// benchRules are the default rules: Moscow calendar 09–22, the old
// tool's closed statuses, changelog rows on.
func benchRules(b *testing.B) *Rules {
	b.Helper()
	cfg := calendar.Default()
	cal, err := calendar.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return &Rules{Flow: flow.Rules{Calendar: cal, Closed: []string{"closed", "rejected", "resolved", "cancelled", "released"}},
		ChangelogEnabled: true, Generation: "bench"}
}

// benchCorpus builds the snapshots of one benchmark case.
//   - "25": 32 synthetic issues with exactly 25 entries (the mean).
//   - "1000": two synthetic long-tail issues (i%1000 == 500, 501–800
//     entries of every kind) topped up to 1 000 with field updates.
//   - "1000-transitions": a hand-written issue whose 999 entries after the
//     creation are all status changes, the timeline's worst case.
func benchCorpus(b *testing.B, name string) []benchMessage {
	b.Helper()
	switch name {
	case "25":
		em := trackertest.New(trackertest.Options{Issues: 2_000, Seed: 1})
		var keys []string
		for _, k := range em.IssueKeys() {
			if em.ChangelogLen(k) == 25 && len(keys) < 32 {
				keys = append(keys, k)
			}
		}
		if len(keys) < 8 {
			b.Fatalf("only %d issues with 25 entries", len(keys))
		}
		return benchSnapshots(b, em, keys)
	case "1000":
		em := trackertest.New(trackertest.Options{Issues: 2_000, Seed: 1})
		all := em.IssueKeys()
		keys := []string{all[500], all[1500]}
		for _, k := range keys {
			for em.ChangelogLen(k) < 1000 {
				if err := em.Touch(k, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		return benchSnapshots(b, em, keys)
	case "1000-transitions":
		em := trackertest.New(trackertest.Options{Seed: 1})
		f := trackertest.Fixture{Key: "BENCH-1", CreatedAt: time.Date(2025, 1, 6, 6, 0, 0, 0, time.UTC)}
		cycle := []string{"inProgress", "testing", "inProgress", "testing", "readyForRelease", "closed", "open"}
		at := f.CreatedAt
		for i := range 999 {
			at = at.Add(3 * time.Hour)
			f.Transitions = append(f.Transitions, trackertest.FixtureTransition{At: at, To: cycle[i%len(cycle)]})
		}
		if err := em.AddFixture(f); err != nil {
			b.Fatal(err)
		}
		return benchSnapshots(b, em, []string{f.Key})
	}
	b.Fatalf("unknown corpus %q", name)
	return nil
}

var benchCases = []string{"25", "1000", "1000-transitions"}

// BenchmarkTransformThroughput measures Transform alone, one issue per
// op on one goroutine (so issues/s is per core), on snapshots the real
// extractor took from the emulator.
func BenchmarkTransformThroughput(b *testing.B) {
	rules := benchRules(b)
	asOf := trackertest.DefaultNow
	eachCase(b, func(b *testing.B, m benchMessage) int {
		res, err := Transform(m.snap, rules, asOf)
		if err != nil {
			b.Fatal(err)
		}
		if res.Rows == nil {
			b.Fatal("no rows")
		}
		return len(m.snap.Changelog)
	})
}

// BenchmarkTransformMessage measures what the transformer does per raw
// message besides NATS: decode the snapshot, Transform, encode the rows.
func BenchmarkTransformMessage(b *testing.B) {
	rules := benchRules(b)
	asOf := trackertest.DefaultNow
	var reader wire.SnapshotReader // as prepare decodes
	eachCase(b, func(b *testing.B, m benchMessage) int {
		var snap wire.IssueSnapshot
		if err := reader.Decode(m.body, m.encoding, &snap); err != nil {
			b.Fatal(err)
		}
		res, err := Transform(&snap, rules, asOf)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := wire.Marshal(res.Rows); err != nil {
			b.Fatal(err)
		}
		return len(snap.Changelog)
	})
}

// eachCase runs op over the snapshots of each benchmark case, one per
// iteration, under each collector policy: gc=stage is the transformer
// binary's (stagegc: a 36 MiB soft limit, GOGC=800), gc=go-default is
// Go's (GOGC=100, no limit), under which the benchmark's 2 MB live heap
// is collected every few milliseconds, far more often than in the
// transformer process. op returns the snapshot's changelog entries.
func eachCase(b *testing.B, op func(*testing.B, benchMessage) int) {
	for _, policy := range []string{"stage", "go-default"} {
		b.Run("gc="+policy, func(b *testing.B) {
			if policy == "stage" {
				stagegc.Restore()
				stagegc.Apply()
				defer stagegc.Restore()
			}
			for _, name := range benchCases {
				b.Run("changelog="+name, func(b *testing.B) {
					msgs := benchCorpus(b, name)
					entries := 0
					i := 0
					cpu0 := processCPU()
					for b.Loop() {
						entries += op(b, msgs[i%len(msgs)])
						i++
					}
					reportThroughput(b, msgs, entries, processCPU()-cpu0)
				})
			}
		})
	}
}

// reportThroughput prints issues/s and entries/s of wall time (one
// goroutine: per core, as long as nothing else loads the machine), the
// same per second of CPU time of the process (GC included: per core
// whatever the load), and the snapshots' mean size.
func reportThroughput(b *testing.B, msgs []benchMessage, entries int, cpu time.Duration) {
	sec := b.Elapsed().Seconds()
	if sec <= 0 {
		return
	}
	b.ReportMetric(float64(b.N)/sec, "issues/s")
	b.ReportMetric(float64(entries)/sec, "entries/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "issues/CPU-s")
		b.ReportMetric(float64(entries)/cpu.Seconds(), "entries/CPU-s")
	}
	size := 0
	for _, m := range msgs {
		size += len(m.body)
	}
	b.ReportMetric(float64(size)/float64(len(msgs)), "snapshot-bytes")
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
