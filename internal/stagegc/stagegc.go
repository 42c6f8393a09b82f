// Package stagegc is the garbage collector's policy for a stage that runs
// alone (the extractor, transformer and loader binaries): a soft memory
// limit, and below it a collector that runs only as the limit nears.
//
// Their live heap stays under 30 MB whatever the number of issues (a
// loader holds at most 300 fetched messages and one insert batch;
// BenchmarkReplayProcesses); without a limit Go lets the heap grow to
// twice that, and the loader peaked at 85 MB of RSS. 36 MiB keeps the
// loader under 60 MB and the transformer near 49 MB; 40 MiB gave 61-66 MB.
// Under that limit Go's default GOGC=100 still collected whenever the heap
// doubled, which on a small live heap is often: the loader spent about
// half again its CPU (0.33 -> 0.52 ms per issue), and Transform a quarter
// of its time at 25 changelog entries (BenchmarkTransformThroughput,
// gc=go-default against gc=stage). GOGC=800 leaves the limit to decide.
// The limit is soft: a larger live heap (much larger batches) is collected
// more often, never refused. The split binaries apply it in main, whatever
// they are asked to do. The one-process binary, whose commands (replay,
// verify, dlq, reconcile...) run the NATS server and several stages in one
// process, must not: its replay, under this limit with some 100 MB live,
// took 2.8-3.4 ms of CPU per issue, six times as much as without it
// (BenchmarkReplayOneProcess).
package stagegc

import (
	"math"
	"runtime/debug"
)

const (
	// MemoryLimit is the soft memory limit.
	MemoryLimit = 36 << 20
	// GCPercent is GOGC under the limit.
	GCPercent = 800
)

// Apply sets the policy unless GOMEMLIMIT already set a limit (then the
// operator chose, and GOGC is theirs too). A GOGC other than 100 is kept.
// It reports whether it set anything.
func Apply() bool {
	if debug.SetMemoryLimit(-1) != math.MaxInt64 {
		return false
	}
	debug.SetMemoryLimit(MemoryLimit)
	if p := debug.SetGCPercent(GCPercent); p != 100 {
		debug.SetGCPercent(p)
	}
	return true
}

// Restore undoes Apply: Go's defaults (no limit, GOGC=100). For benchmarks
// that compare both.
func Restore() {
	debug.SetMemoryLimit(math.MaxInt64)
	debug.SetGCPercent(100)
}
