// Command targets prints every performance target of the project next to
// the figure the benchmarks measured for it: `make bench` and `make
// bench-large` pipe `go test -bench` output into files and run it on them.
//
//	go run ./bench/targets bin/bench.txt [bin/bench-large.txt ...]
//
// A target is "met", "NOT MET", or "not run" when no file holds its
// benchmark (the 100 000-issue variants run only in `make bench-large`).
// It prints, it never fails on a figure: the benchmarks fail only when
// the pipeline loses data. Exit 2 on unreadable input.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: targets FILE... (go test -bench output)")
		os.Exit(2)
	}
	res := results{}
	for _, path := range os.Args[1:] {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "targets:", err)
			os.Exit(2)
		}
		if st, err := f.Stat(); err == nil {
			fmt.Printf("figures from %s (%s)\n", path, st.ModTime().UTC().Format("2006-01-02 15:04 UTC"))
		}
		err = res.read(f)
		_ = f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "targets: %s: %v\n", path, err)
			os.Exit(2)
		}
	}
	report(os.Stdout, res, all)
}

// results are the metrics of each benchmark, by name without the
// -GOMAXPROCS suffix; a later line of a benchmark replaces an earlier.
type results map[string]map[string]float64

// benchLine is a result line of go test -bench: name, iterations, then
// value-unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)

func (r results) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		fields := strings.Fields(m[3])
		metrics := map[string]float64{}
		for i := 0; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				metrics[fields[i+1]] = v
			}
		}
		r[m[1]] = metrics
	}
	return sc.Err()
}

// get is a benchmark's metric; ok is false when it was not measured.
func (r results) get(bench, metric string) (float64, bool) {
	v, ok := r[bench][metric]
	return v, ok
}

// target is one promise, the figure that tells it and its bound.
type target struct {
	what          string // the promise, in words
	bench, metric string // the figure: one benchmark's metric,
	// or, when value is set, the figure it computes and from names
	value  func(results) (float64, bool)
	from   string
	atMost bool // the figure must be ≤ limit (else ≥)
	limit  float64
	unit   string
}

// figure is the target's figure; ok is false when it was not measured.
func (t target) figure(r results) (float64, bool) {
	if t.value != nil {
		return t.value(r)
	}
	return r.get(t.bench, t.metric)
}

// source says where the figure comes from.
func (t target) source() string {
	if t.from != "" {
		return t.from
	}
	if strings.HasSuffix(t.bench, "Large") {
		return t.bench + " " + t.metric + " (make bench-large)"
	}
	return t.bench + " " + t.metric
}

// perUnitGrowth is how many times more a unit of work costs at the larger
// size than at the smaller: ns/op ÷ units of each (1: linear).
func perUnitGrowth(small string, smallUnits float64, large string, largeUnits float64) func(results) (float64, bool) {
	return func(r results) (float64, bool) {
		s, ok1 := r.get(small, "ns/op")
		l, ok2 := r.get(large, "ns/op")
		if !ok1 || !ok2 || s <= 0 {
			return 0, false
		}
		return (l / largeUnits) / (s / smallUnits), true
	}
}

func (t target) verdict(r results) (figure float64, verdict string) {
	v, ok := t.figure(r)
	switch {
	case !ok:
		return 0, "not run"
	case t.atMost && v <= t.limit, !t.atMost && v >= t.limit:
		return v, "met"
	default:
		return v, "NOT MET"
	}
}

func (t target) bound() string {
	op := "≥"
	if t.atMost {
		op = "≤"
	}
	return fmt.Sprintf("%s %s%s", op, strconv.FormatFloat(t.limit, 'f', -1, 64), t.unit)
}

// number writes v with 4 significant digits, without an exponent.
func number(v float64) string {
	if v >= 1000 || v <= -1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// report prints one line per target and a count of each verdict.
func report(w io.Writer, r results, targets []target) {
	counts := map[string]int{}
	fmt.Fprintf(w, "%-8s  %-12s  %-10s  %s  [%s]\n", "verdict", "figure", "target", "what", "measured by")
	for _, t := range targets {
		v, verdict := t.verdict(r)
		counts[verdict]++
		figure := "-"
		if verdict != "not run" {
			figure = number(v) + t.unit
		}
		fmt.Fprintf(w, "%-8s  %-12s  %-10s  %s  [%s]\n", verdict, figure, t.bound(), t.what, t.source())
	}
	fmt.Fprintf(w, "targets: %d met, %d not met, %d not run\n", counts["met"], counts["NOT MET"], counts["not run"])
}

// all are the targets of the issues, with the benchmark that measures each.
var all = []target{
	{what: "extraction requests ÷ the API's minimum (10 000 issues)", bench: "BenchmarkExtract/concurrency16", metric: "x-min", atMost: true, limit: 1.05},
	{what: "429 answers without a server limit", bench: "BenchmarkExtract/concurrency16", metric: "429s", atMost: true, limit: 0},
	{what: "share of a 20/s rate limit used", bench: "BenchmarkExtract/ratelimit20", metric: "limit-%", limit: 95, unit: "%"},
	{what: "429 answers under a known 20/s limit", bench: "BenchmarkExtract/ratelimit20", metric: "429s", atMost: true, limit: 0},
	{what: "extractor peak RSS at 100 000 issues", bench: "BenchmarkExtractLarge", metric: "peak-RSS-MB", atMost: true, limit: 64, unit: " MB"},
	{what: "429 answers under an unknown 5/s limit", bench: "BenchmarkAdaptiveRate/limit5", metric: "429-%", atMost: true, limit: 3, unit: "%"},
	{what: "429 answers under an unknown 20/s limit", bench: "BenchmarkAdaptiveRate/limit20", metric: "429-%", atMost: true, limit: 3, unit: "%"},
	{what: "429 answers under an unknown 50/s limit", bench: "BenchmarkAdaptiveRate/limit50", metric: "429-%", atMost: true, limit: 3, unit: "%"},
	{what: "share of an unknown 5/s limit used once settled", bench: "BenchmarkAdaptiveRate/limit5", metric: "limit-%", limit: 90, unit: "%"},
	{what: "share of an unknown 20/s limit used once settled", bench: "BenchmarkAdaptiveRate/limit20", metric: "limit-%", limit: 90, unit: "%"},
	{what: "share of an unknown 50/s limit used once settled", bench: "BenchmarkAdaptiveRate/limit50", metric: "limit-%", limit: 90, unit: "%"},
	{what: "changelog requests per long issue on a second pass (3 in full)", bench: "BenchmarkIncrementalChangelog", metric: "incremental-req/long-issue", atMost: true, limit: 1},
	{what: "transform, issues per CPU-s at 25 entries", bench: "BenchmarkTransformThroughput/gc=stage/changelog=25", metric: "issues/CPU-s", limit: 10_000},
	{what: "transform, entries per CPU-s at 1 000 entries", bench: "BenchmarkTransformThroughput/gc=stage/changelog=1000", metric: "entries/CPU-s", limit: 500_000},
	{what: "transform, entries per CPU-s at 1 000 transitions", bench: "BenchmarkTransformThroughput/gc=stage/changelog=1000-transitions", metric: "entries/CPU-s", limit: 500_000},
	{what: "metrics, cost per transition at 1 000 ÷ at 25 (1: linear)", from: "BenchmarkCompute transitions=25, =1000 ns/op",
		value: perUnitGrowth("BenchmarkCompute/transitions=25", 25, "BenchmarkCompute/transitions=1000", 1000), atMost: true, limit: 1.5, unit: "×"},
	{what: "metrics, cost per year spanned at 30 years ÷ at 1 (1: linear in days)", from: "BenchmarkComputeLongVisits years=1, =30 ns/op",
		value: perUnitGrowth("BenchmarkComputeLongVisits/years=1", 1, "BenchmarkComputeLongVisits/years=30", 30), atMost: true, limit: 1.5, unit: "×"},
	{what: "replay end to end ÷ inserting the same rows (10 000 issues)", bench: "BenchmarkReplay", metric: "replay/insert-time", atMost: true, limit: 1.25, unit: "×"},
	{what: "`tracker-exporter replay` until all visible ÷ inserts (10 000)", bench: "BenchmarkReplayOneProcess", metric: "visible/insert-time", atMost: true, limit: 1.25, unit: "×"},
	{what: "replay end to end ÷ inserting the same rows (100 000 issues)", bench: "BenchmarkReplayLarge", metric: "replay/insert-time", atMost: true, limit: 1.25, unit: "×"},
	{what: "transformer peak RSS, 100 000-issue replay", bench: "BenchmarkReplayProcessesLarge", metric: "transformer-peak-RSS-MB", atMost: true, limit: 64, unit: " MB"},
	{what: "loader peak RSS, 100 000-issue replay", bench: "BenchmarkReplayProcessesLarge", metric: "loader-peak-RSS-MB", atMost: true, limit: 64, unit: " MB"},
	{what: "transformer peak RSS, 10 000-issue replay", bench: "BenchmarkReplayProcesses", metric: "transformer-peak-RSS-MB", atMost: true, limit: 64, unit: " MB"},
	{what: "loader peak RSS, 10 000-issue replay", bench: "BenchmarkReplayProcesses", metric: "loader-peak-RSS-MB", atMost: true, limit: 64, unit: " MB"},
	{what: "a killed transformer's messages delivered again", bench: "BenchmarkRedelivery/transformer", metric: "redelivered-s", atMost: true, limit: 10, unit: " s"},
	{what: "a killed loader's messages delivered again", bench: "BenchmarkRedelivery/loader", metric: "redelivered-s", atMost: true, limit: 10, unit: " s"},
}
