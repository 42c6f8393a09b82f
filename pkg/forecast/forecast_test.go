package forecast

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/want.json from the current output")

var start = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)

// goldenInput is testdata/<case>/input.json.
type goldenInput struct {
	Question  string    `json:"question"`
	History   []uint32  `json:"history"`
	Weeks     int       `json:"weeks,omitempty"`
	Remaining int       `json:"remaining,omitempty"`
	Start     time.Time `json:"start,omitzero"`
	Trials    int       `json:"trials,omitempty"`
	Seed      uint64    `json:"seed,omitempty"`
	MaxWeeks  int       `json:"max_weeks,omitempty"`
}

// goldenOutput is testdata/<case>/want.json: stable, diff-friendly.
type goldenOutput struct {
	Fingerprint string   `json:"fingerprint"`
	Note        string   `json:"note"`
	Trials      int      `json:"trials"`
	Done        []int    `json:"done_p50_p85_p95,omitempty"`
	Days        []int    `json:"days_p50_p85_p95,omitempty"`
	Dates       []string `json:"dates_p50_p85_p95,omitempty"`
}

func runGolden(in goldenInput) (goldenOutput, error) {
	o := Options{Trials: in.Trials, Seed: in.Seed, MaxWeeks: in.MaxWeeks}
	if in.Question == QuestionHowMany {
		r, err := HowMany(in.History, in.Weeks, o)
		return goldenOutput{Fingerprint: r.Fingerprint, Note: r.Note, Trials: r.Trials, Done: r.Done[:]}, err
	}
	r, err := When(in.History, in.Remaining, in.Start, o)
	out := goldenOutput{Fingerprint: r.Fingerprint, Note: r.Note, Trials: r.Trials, Days: r.Days[:]}
	for i := range Levels {
		d, ok := r.Date(i)
		s := "none"
		if ok {
			s = d.Format(time.DateOnly)
		}
		out.Dates = append(out.Dates, s)
	}
	return out, err
}

func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil || len(dirs) < 8 {
		t.Fatalf("golden cases: %v (%d found, want 8 or more)", err, len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { goldenCase(t, dir) })
	}
}

func goldenCase(t *testing.T, dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "input.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in goldenInput
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("%s/input.json: %v", dir, err)
	}
	got, err := runGolden(in)
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.MarshalIndent(got, "", "  ")
	gotJSON = append(gotJSON, '\n')
	wantPath := filepath.Join(dir, "want.json")
	if *update {
		if err := os.WriteFile(wantPath, gotJSON, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(wantPath)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(gotJSON, want) {
		t.Errorf("input %s\ngot  %s\nwant %s", data, gotJSON, want)
	}
	checkMonotone(t, in.Question, got)
}

func checkMonotone(t *testing.T, question string, g goldenOutput) {
	t.Helper()
	if question == QuestionHowMany {
		if !(g.Done[0] >= g.Done[1] && g.Done[1] >= g.Done[2]) {
			t.Errorf("how many: p50 %d, p85 %d, p95 %d: want p50 ≥ p85 ≥ p95", g.Done[0], g.Done[1], g.Done[2])
		}
		return
	}
	inf := func(d int) int {
		if d < 0 {
			return 1 << 62
		}
		return d
	}
	if !(inf(g.Days[0]) <= inf(g.Days[1]) && inf(g.Days[1]) <= inf(g.Days[2])) {
		t.Errorf("when: days %v: want p50 ≤ p85 ≤ p95 (-1 meaning later than the cap)", g.Days)
	}
}

// The answers follow from the distribution: with weeks of 0 or 10 issues
// equally likely, two weeks give 0 (25 %), 10 (50 %) or 20 (25 %) issues,
// so 75 % of trials did at least 10 and all did at least 0.
func TestHowManyKnownDistribution(t *testing.T) {
	r, err := HowMany([]uint32{0, 10}, 2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := [3]int{10, 0, 0}; r.Done != want {
		t.Errorf("HowMany([0 10], 2) = %v, want %v", r.Done, want)
	}
	r, _ = HowMany([]uint32{5, 5, 5}, 4, Options{})
	if want := [3]int{20, 20, 20}; r.Done != want || r.Note != "" {
		t.Errorf("HowMany([5 5 5], 4) = %v %q, want %v", r.Done, r.Note, want)
	}
}

// Weeks of 0, 0 or 14 issues: 14 remaining are done by the end of week k
// (on its last day) with probability 1 - (2/3)^k: 55.6 % by week 2, 86.8 %
// by week 5, 96.1 % by week 8 (94.1 % by week 7).
func TestWhenKnownDistribution(t *testing.T) {
	r, err := When([]uint32{0, 0, 14}, 14, start.Add(15*time.Hour), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := [3]int{13, 34, 55}; r.Days != want {
		t.Errorf("When([0 0 14], 14) days = %v, want %v", r.Days, want)
	}
	if !r.Start.Equal(start) {
		t.Errorf("Start = %v, want the start day %v", r.Start, start)
	}
	d, ok := r.Date(1)
	if !ok || !d.Equal(start.AddDate(0, 0, 34)) {
		t.Errorf("Date(p85) = %v %v, want %v", d, ok, start.AddDate(0, 0, 34))
	}
	// Seven a week: one issue is done by the end of the first day, seven
	// by the end of the first week.
	for _, tt := range []struct{ remaining, day int }{{1, 0}, {7, 6}, {8, 7}, {14, 13}} {
		r, _ := When([]uint32{7}, tt.remaining, start, Options{})
		if r.Days != [3]int{tt.day, tt.day, tt.day} {
			t.Errorf("When([7], %d) days = %v, want all %d", tt.remaining, r.Days, tt.day)
		}
	}
}

func TestNoThroughput(t *testing.T) {
	for _, h := range [][]uint32{nil, {}, {0}, make([]uint32, 12)} {
		hm, err := HowMany(h, 4, Options{})
		if err != nil || hm.Note != NoThroughput || hm.Done != [3]int{} {
			t.Errorf("HowMany(%v) = %+v, %v; want the note %q", h, hm, err, NoThroughput)
		}
		w, err := When(h, 10, start, Options{})
		if err != nil || w.Note != NoThroughput || w.Days != [3]int{-1, -1, -1} {
			t.Errorf("When(%v) = %+v, %v; want no dates and the note %q", h, w, err, NoThroughput)
		}
		if _, ok := w.Date(0); ok {
			t.Errorf("When(%v).Date(0) has a date", h)
		}
	}
	w, _ := When([]uint32{0, 0}, 0, start, Options{})
	if w.Note != NothingOpen || w.Days != [3]int{} {
		t.Errorf("When with nothing open = %+v, want day 0 and %q", w, NothingOpen)
	}
}

// A pace far too slow for the work stops at the cap instead of looping.
func TestWhenCap(t *testing.T) {
	begin := time.Now()
	r, err := When([]uint32{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 1_000_000, start, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Days != [3]int{-1, -1, -1} || !strings.Contains(r.Note, "p50, p85, p95") || !strings.Contains(r.Note, "520") {
		t.Errorf("When beyond the cap = %+v", r)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("took %s", took)
	}
}

func TestSeededRunsAreIdentical(t *testing.T) {
	h := []uint32{3, 0, 7, 12, 4, 5, 0, 9, 6, 8, 2, 10}
	a, _ := When(h, 57, start, Options{Seed: 42})
	b, _ := When(h, 57, start.Add(20*time.Hour), Options{Seed: 42})
	if a.Days != b.Days || a.Fingerprint != b.Fingerprint {
		t.Errorf("two runs differ: %+v and %+v", a, b)
	}
	c, _ := When(h, 57, start, Options{Seed: 43})
	if c.Fingerprint == a.Fingerprint {
		t.Error("the fingerprint ignores the seed")
	}
	x, _ := HowMany(h, 6, Options{Seed: 42})
	y, _ := HowMany(h, 6, Options{Seed: 42})
	if x.Done != y.Done || x.Fingerprint != y.Fingerprint {
		t.Errorf("two runs differ: %+v and %+v", x, y)
	}
	// The result does not alias the caller's history.
	h[0] = 99
	if x.History[0] != 3 {
		t.Error("HowManyResult.History aliases the input")
	}
}

func TestInvalidArguments(t *testing.T) {
	if _, err := HowMany([]uint32{1}, 0, Options{}); err == nil {
		t.Error("HowMany with a zero horizon: no error")
	}
	if _, err := When([]uint32{1}, -1, start, Options{}); err == nil {
		t.Error("When with negative remaining: no error")
	}
	if _, err := When([]uint32{1}, 1, start, Options{Trials: -5, MaxWeeks: -1}); err == nil || !strings.Contains(err.Error(), "trials") || !strings.Contains(err.Error(), "max weeks") {
		t.Errorf("invalid options: %v, want both problems", err)
	}
}

func TestWindow(t *testing.T) {
	tests := []struct {
		now      time.Time
		from, to string
	}{
		{time.Date(2026, 12, 7, 0, 52, 0, 0, time.UTC), "2026-09-14", "2026-12-07"},   // a Monday
		{time.Date(2026, 12, 13, 23, 59, 0, 0, time.UTC), "2026-09-14", "2026-12-07"}, // the Sunday after
		{time.Date(2026, 12, 6, 23, 0, 0, 0, time.FixedZone("x", -3*3600)), "2026-09-14", "2026-12-07"},
	}
	for _, tt := range tests {
		from, to := Window(tt.now, 12)
		if from.Format(time.DateOnly) != tt.from || to.Format(time.DateOnly) != tt.to {
			t.Errorf("Window(%v, 12) = %v, %v; want %s, %s", tt.now, from, to, tt.from, tt.to)
		}
	}
}

// randomHistory makes a history of 1 to 20 weeks, some with zeros, some
// with outliers.
func randomHistory(r *rand.Rand) []uint32 {
	h := make([]uint32, 1+r.IntN(20))
	scale := 1 + r.IntN(40)
	for i := range h {
		switch r.IntN(6) {
		case 0:
			h[i] = 0
		case 1:
			h[i] = uint32(r.IntN(5 * scale))
		default:
			h[i] = uint32(r.IntN(scale + 1))
		}
	}
	return h
}

// Properties over random histories: percentiles are monotone and lie
// within what the slowest and fastest weeks allow; seeded runs repeat.
func TestPropertiesRandomHistories(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	o := Options{Trials: 2000}
	for range 300 {
		h := randomHistory(r)
		lo, hi := slices.Min(h), slices.Max(h)
		weeks := 1 + r.IntN(26)
		hm, err := HowMany(h, weeks, o)
		if err != nil {
			t.Fatal(err)
		}
		checkHowMany(t, h, weeks, hm, int(lo), int(hi))
		remaining := r.IntN(300)
		w, err := When(h, remaining, start, o)
		if err != nil {
			t.Fatal(err)
		}
		checkWhen(t, h, remaining, w, int(lo), int(hi))
		again, _ := When(h, remaining, start, o)
		if again.Days != w.Days {
			t.Fatalf("When(%v, %d) not reproducible: %v then %v", h, remaining, w.Days, again.Days)
		}
	}
}

func checkHowMany(t *testing.T, h []uint32, weeks int, r HowManyResult, lo, hi int) {
	t.Helper()
	if hi == 0 {
		if r.Note != NoThroughput {
			t.Errorf("HowMany(%v): note %q, want %q", h, r.Note, NoThroughput)
		}
		return
	}
	d := r.Done
	if !(d[0] >= d[1] && d[1] >= d[2]) {
		t.Errorf("HowMany(%v, %d) = %v: not p50 ≥ p85 ≥ p95", h, weeks, d)
	}
	if d[2] < lo*weeks || d[0] > hi*weeks {
		t.Errorf("HowMany(%v, %d) = %v: outside [%d, %d]", h, weeks, d, lo*weeks, hi*weeks)
	}
}

func checkWhen(t *testing.T, h []uint32, remaining int, r WhenResult, lo, hi int) {
	t.Helper()
	switch {
	case remaining == 0:
		if r.Days != [3]int{} || r.Note != NothingOpen {
			t.Errorf("When(%v, 0) = %+v", h, r)
		}
		return
	case hi == 0:
		if r.Note != NoThroughput {
			t.Errorf("When(%v, %d): note %q, want %q", h, remaining, r.Note, NoThroughput)
		}
		return
	}
	d := r.Days
	for i := range d {
		if d[i] < 0 { // later than the cap: says so, and sorts last
			if !strings.Contains(r.Note, "later than the") {
				t.Errorf("When(%v, %d) = %v with note %q", h, remaining, d, r.Note)
			}
			d[i] = 7 * r.MaxWeeks
		}
	}
	if !(d[0] <= d[1] && d[1] <= d[2]) {
		t.Errorf("When(%v, %d) = %v: not p50 ≤ p85 ≤ p95", h, remaining, d)
	}
	// At the fastest pace the work takes ceil(remaining/hi) weeks; at the
	// slowest (when it is not zero), ceil(remaining/lo).
	fastest := 7 * ((remaining+hi-1)/hi - 1)
	if d[0] < fastest {
		t.Errorf("When(%v, %d) = %v: p50 before day %d, the fastest possible", h, remaining, d, fastest)
	}
	if lo > 0 {
		if slowest := 7*((remaining+lo-1)/lo) - 1; d[2] > slowest {
			t.Errorf("When(%v, %d) = %v: p95 after day %d, the slowest possible", h, remaining, d, slowest)
		}
	}
}

// The draws are uniform: every week of the history is drawn about as
// often (the sampler has no modulo bias to hide).
func TestSamplerUniform(t *testing.T) {
	h := []uint32{0, 1, 2, 3, 4, 5, 6}
	s := newSampler(newRNG(5), h)
	counts := make([]int, len(h))
	const n = 700_000
	for range n {
		counts[s.week()]++
	}
	for i, c := range counts {
		if c < n/7*97/100 || c > n/7*103/100 {
			t.Errorf("week %d drawn %d times of %d, want about %d", i, c, n, n/7)
		}
	}
}
