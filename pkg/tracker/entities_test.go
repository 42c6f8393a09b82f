package tracker_test

import (
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/tracker"
)

// The durations of the Tracker API documentation's examples, with
// Tracker's meaning: a day is 8 hours, a week 5 days ("if you transmit
// P5D, the request will return P1W").
func TestParseDuration(t *testing.T) {
	const h = 3600
	for in, want := range map[string]int64{
		"":             0,
		"P3W":          3 * 5 * 8 * h, // D-worklog
		"P5DT20M":      5*8*h + 20*60, // new-worklog
		"P5D":          40 * h,
		"P1W":          40 * h,
		"PT1H30M":      90 * 60,
		"P1D":          8 * h,
		"PT45M":        45 * 60,
		"P2DT3H":       19 * h,
		"P1W2DT3H":     (40 + 16 + 3) * h,
		"PT0.5H":       30 * 60,
		"PT1,5H":       90 * 60,
		"PT90S":        90,
		"P0D":          0,
		"P1M":          4 * 40 * h,
		"PT1H1M1S":     h + 61,
		"P1DT0H0M0S":   8 * h,
		"PT100H":       100 * h,
		"P10W":         400 * h,
		"PT1.25M":      75,
		"P1Y":          52 * 40 * h,
		"PT0S":         0,
		"P2W3DT4H5M6S": 2*40*h + 3*8*h + 4*h + 5*60 + 6,
	} {
		got, err := tracker.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"1H", "P", "PT", "P1", "PXD", "PT1D", "P1H", "T1H", "P-1D", "PT1HH"} {
		if n, err := tracker.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %d, want an error", bad, n)
		}
	}
}
