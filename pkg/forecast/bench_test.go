package forecast

import (
	"testing"
)

var benchHistory = []uint32{3, 0, 7, 12, 4, 5, 0, 9, 6, 8, 2, 10}

// BenchmarkHowMany: one 12-week "how many" forecast of 10 000 trials;
// reports trials per second.
func BenchmarkHowMany(b *testing.B) {
	n := 0
	for b.Loop() {
		if _, err := HowMany(benchHistory, 12, Options{}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*DefaultTrials)/b.Elapsed().Seconds(), "trials/s")
}

// BenchmarkWhen: one "when" forecast of 200 open issues (about 36 weeks
// per trial at this pace) of 10 000 trials; reports trials per second.
func BenchmarkWhen(b *testing.B) {
	n := 0
	for b.Loop() {
		if _, err := When(benchHistory, 200, start, Options{}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*DefaultTrials)/b.Elapsed().Seconds(), "trials/s")
}
