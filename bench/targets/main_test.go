package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
pkg: github.com/tracker-exporter/tracker-exporter/bench
BenchmarkExtract/concurrency16-2         	       1	50772134187 ns/op	       1.003 x-min	         0 429s
BenchmarkReplay
    replay_test.go:70: a log line
BenchmarkReplay-2   	       1	5061956739 ns/op	         1.473 replay/insert-time
BenchmarkTransformThroughput/gc=stage/changelog=1000-transitions-2         	     782	   1503245 ns/op	    619041 entries/CPU-s
BenchmarkCompute/transitions=25-2 	  100	  2000 ns/op
BenchmarkCompute/transitions=1000-2 	  10	  120000 ns/op
BenchmarkRedelivery/loader-2              	       1	8577988793 ns/op	         8.000 ack-wait-s	       312.0 in-flight	         8.503 redelivered-s
PASS
`

func TestReadAndVerdicts(t *testing.T) {
	r := results{}
	if err := r.read(strings.NewReader(sample)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		bench, metric string
		want          float64
	}{
		{"BenchmarkExtract/concurrency16", "x-min", 1.003},
		{"BenchmarkReplay", "replay/insert-time", 1.473},
		{"BenchmarkTransformThroughput/gc=stage/changelog=1000-transitions", "entries/CPU-s", 619041},
		{"BenchmarkRedelivery/loader", "redelivered-s", 8.503},
	} {
		if got, ok := r.get(c.bench, c.metric); !ok || got != c.want {
			t.Errorf("%s %s = %v, %v; want %v", c.bench, c.metric, got, ok, c.want)
		}
	}

	var out strings.Builder
	report(&out, r, all)
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		if i := strings.Index(l, "["); i > 0 {
			lines[l[i:]] = l
		}
	}
	for from, verdict := range map[string]string{
		"[BenchmarkExtract/concurrency16 x-min]":                                           "met",
		"[BenchmarkExtract/concurrency16 429s]":                                            "met",
		"[BenchmarkReplay replay/insert-time]":                                             "NOT MET",
		"[BenchmarkTransformThroughput/gc=stage/changelog=1000-transitions entries/CPU-s]": "met",
		// 120000/1000 ÷ 2000/25 = 1.5: at the bound.
		"[BenchmarkCompute transitions=25, =1000 ns/op]":                        "met",
		"[BenchmarkRedelivery/loader redelivered-s]":                            "met",
		"[BenchmarkReplayProcessesLarge loader-peak-RSS-MB (make bench-large)]": "not run",
	} {
		l, ok := lines[from]
		if !ok {
			t.Errorf("no line for %s in\n%s", from, out.String())
			continue
		}
		if !strings.HasPrefix(l, verdict+" ") {
			t.Errorf("%s: %q, want verdict %q", from, l, verdict)
		}
	}
	if !strings.Contains(out.String(), "619041 ") {
		t.Errorf("a large figure is not written in full:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "targets: 5 met, 1 not met, ") {
		t.Errorf("counts:\n%s", out.String())
	}
}

func TestGrowthAboveTheBoundIsNotMet(t *testing.T) {
	r := results{
		"BenchmarkComputeLongVisits/years=1":  {"ns/op": 1000},
		"BenchmarkComputeLongVisits/years=30": {"ns/op": 60000}, // 2 × per year
	}
	for _, tg := range all {
		if strings.HasPrefix(tg.from, "BenchmarkComputeLongVisits") {
			if v, verdict := tg.verdict(r); verdict != "NOT MET" || v != 2 {
				t.Errorf("growth 2: %v %s", v, verdict)
			}
			return
		}
	}
	t.Fatal("no target on BenchmarkComputeLongVisits")
}
