// Package forecast answers two planning questions by Monte Carlo simulation
// over a weekly throughput history (the issues done in each of the last
// weeks):
//
//   - how many issues will be done in the next N weeks (HowMany), and
//   - when will the M open issues of a queue, an epic or any filter be done
//     (When).
//
// Every trial of the simulation builds a possible future by drawing each
// future week's throughput at random, with replacement, from the weeks of
// the history. The answers are percentiles over the trials (10 000 by
// default):
//
//   - For "how many", the percentile p is the number of issues that at
//     least p % of the trials completed: p85 means "85 % of the trials did
//     at least this many". The confident end of such a forecast is the low
//     one, so p50 ≥ p85 ≥ p95.
//   - For "when", the percentile p is the day by which p % of the trials
//     had finished: p85 means "85 % of the trials were done by this date",
//     so p50 ≤ p85 ≤ p95.
//
// The assumptions are those of the method: the future looks like the
// window (same team, same mix of work, same way of splitting it), weeks are
// independent of each other, and the remaining work does not grow. A
// history with no throughput gives no forecast (Note says so) rather than
// dividing by zero, and "when" simulates at most MaxWeeks weeks per trial:
// a percentile later than that has no date.
//
// The package is pure computation: no clock, no I/O. A run is a function of
// its inputs and Options.Seed: the same inputs give the same percentiles on
// every platform and Go version (the random generator and the draws are
// specified here, not taken from math/rand).
package forecast

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults of Options and of the callers' window.
const (
	// DefaultTrials is the number of simulated futures.
	DefaultTrials = 10000
	// DefaultWindowWeeks is how many complete weeks of history a forecast
	// samples by default.
	DefaultWindowWeeks = 12
	// DefaultMaxWeeks caps the weeks one "when" trial simulates (ten years).
	DefaultMaxWeeks = 520
	// DefaultSeed is the seed of Options' zero value.
	DefaultSeed = 1
	// MaxTrials bounds Options.Trials.
	MaxTrials = 10_000_000
)

// The questions, as stored in the forecasts table.
const (
	QuestionHowMany = "how_many"
	QuestionWhen    = "when"
)

// Notes that explain a forecast without an answer.
const (
	// NoThroughput is the Note of a forecast whose history holds no done
	// issue: nothing can be said about the future pace.
	NoThroughput = "no forecast: no throughput in the window"
	// NothingOpen is the Note of a "when" forecast with no remaining issue.
	NothingOpen = "nothing open: done already"
)

// Levels are the percentiles every forecast reports, in this order.
var Levels = [3]int{50, 85, 95}

// Options tune a simulation. The zero value is the default: 10 000 trials,
// seed 1, 520 weeks at most per "when" trial.
type Options struct {
	// Trials is the number of simulated futures (0: DefaultTrials).
	Trials int
	// Seed selects the random draws (0: DefaultSeed). The draws of a
	// forecast depend on the seed and on its inputs, so two scopes with
	// different histories get independent draws.
	Seed uint64
	// MaxWeeks caps the weeks one "when" trial simulates (0:
	// DefaultMaxWeeks).
	MaxWeeks int
}

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	if o.Trials == 0 {
		o.Trials = DefaultTrials
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.MaxWeeks == 0 {
		o.MaxWeeks = DefaultMaxWeeks
	}
	return o
}

// Validate reports every invalid field at once.
func (o Options) Validate() error {
	var errs []error
	if o.Trials < 0 || o.Trials > MaxTrials {
		errs = append(errs, fmt.Errorf("forecast: trials %d is not in 1..%d", o.Trials, MaxTrials))
	}
	if o.MaxWeeks < 0 || o.MaxWeeks > 100_000 {
		errs = append(errs, fmt.Errorf("forecast: max weeks %d is not in 1..100000", o.MaxWeeks))
	}
	return errors.Join(errs...)
}

// HowManyResult answers "how many issues will be done in the next Weeks
// weeks".
type HowManyResult struct {
	// Weeks is the horizon.
	Weeks int
	// History is the weekly throughput sampled, oldest week first.
	History []uint32
	// Trials is the number of simulated futures.
	Trials int
	// Done[i] is the number of issues that at least Levels[i] % of the
	// trials completed in the horizon: Done[0] ≥ Done[1] ≥ Done[2].
	Done [3]int
	// Fingerprint identifies the inputs (question, horizon, history,
	// trials, seed): equal fingerprints give equal results.
	Fingerprint string
	// Note is "" or why there is no forecast (NoThroughput); Done is then
	// all zero.
	Note string
}

// HowMany simulates Options.Trials futures of weeks weeks each and returns
// the number of issues done at the percentiles Levels. It returns an error
// only for invalid arguments (weeks < 1, invalid Options).
func HowMany(history []uint32, weeks int, o Options) (HowManyResult, error) {
	if err := o.Validate(); err != nil {
		return HowManyResult{}, err
	}
	if weeks < 1 || weeks > 100_000 {
		return HowManyResult{}, fmt.Errorf("forecast: horizon %d weeks is not in 1..100000", weeks)
	}
	o = o.withDefaults()
	res := HowManyResult{Weeks: weeks, History: clone(history), Trials: o.Trials}
	key := fingerprint(QuestionHowMany, "weeks="+strconv.Itoa(weeks), history, o)
	res.Fingerprint = key.text
	if !hasThroughput(history) {
		res.Note = NoThroughput
		return res, nil
	}
	done := simulateHowMany(newRNG(key.seed), history, weeks, o.Trials)
	sortInts(done)
	for i, p := range Levels {
		res.Done[i] = atLeast(done, p)
	}
	return res, nil
}

// WhenResult answers "when will Remaining open issues be done".
type WhenResult struct {
	// Remaining is the number of open issues.
	Remaining int
	// History is the weekly throughput sampled, oldest week first.
	History []uint32
	// Trials is the number of simulated futures; MaxWeeks the cap of
	// simulated weeks per trial.
	Trials, MaxWeeks int
	// Start is the first simulated day (midnight UTC).
	Start time.Time
	// Days[i] says that Levels[i] % of the trials had finished by the end
	// of day Start + Days[i] (0: the start day itself), so Days[0] ≤
	// Days[1] ≤ Days[2]; -1 when that percentile lies beyond MaxWeeks or
	// there is no forecast (see Note).
	Days [3]int
	// Fingerprint identifies the inputs (question, remaining, history,
	// trials, seed, cap; not Start): equal fingerprints give equal Days.
	Fingerprint string
	// Note is "" or what explains missing dates: NoThroughput,
	// NothingOpen, or the percentiles beyond the cap.
	Note string
}

// Date returns the date of percentile Levels[i] (the day by the end of
// which that share of the trials had finished), false when there is none.
func (r WhenResult) Date(i int) (time.Time, bool) {
	if r.Days[i] < 0 {
		return time.Time{}, false
	}
	return r.Start.AddDate(0, 0, r.Days[i]), true
}

// When simulates Options.Trials futures from the day of start until the
// remaining issues are done (at most Options.MaxWeeks weeks each) and
// returns the days by which the percentiles Levels of the trials had
// finished. Within the week a trial finishes, the issues of that week are
// taken as evenly spread over its seven days. It returns an error only for
// invalid arguments (remaining < 0, invalid Options).
func When(history []uint32, remaining int, start time.Time, o Options) (WhenResult, error) {
	if err := o.Validate(); err != nil {
		return WhenResult{}, err
	}
	if remaining < 0 || remaining > 1<<31-1 {
		return WhenResult{}, fmt.Errorf("forecast: remaining %d is not in 0..%d", remaining, 1<<31-1)
	}
	o = o.withDefaults()
	res := WhenResult{Remaining: remaining, History: clone(history), Trials: o.Trials, MaxWeeks: o.MaxWeeks,
		Start: Day(start), Days: [3]int{-1, -1, -1}}
	key := fingerprint(QuestionWhen, fmt.Sprintf("remaining=%d|max_weeks=%d", remaining, o.MaxWeeks), history, o)
	res.Fingerprint = key.text
	switch {
	case remaining == 0:
		res.Days, res.Note = [3]int{}, NothingOpen
		return res, nil
	case !hasThroughput(history):
		res.Note = NoThroughput
		return res, nil
	}
	days := simulateWhen(newRNG(key.seed), history, remaining, o.MaxWeeks, o.Trials)
	sortInts(days)
	var beyond []string
	for i, p := range Levels {
		d := within(days, p)
		if d == unfinished {
			beyond = append(beyond, "p"+strconv.Itoa(p))
			d = -1
		}
		res.Days[i] = d
	}
	if len(beyond) > 0 {
		res.Note = fmt.Sprintf("no date for %s: later than the %d simulated weeks", strings.Join(beyond, ", "), o.MaxWeeks)
	}
	return res, nil
}

// Day returns midnight UTC of t's UTC date.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Window returns the span of the weeks complete weeks (Monday to Sunday,
// UTC, as the issues_throughput_weekly view counts them) before the week of
// now: [from, to), to being the Monday of now's week.
func Window(now time.Time, weeks int) (from, to time.Time) {
	day := Day(now)
	offset := (int(day.Weekday()) + 6) % 7 // days since Monday
	to = day.AddDate(0, 0, -offset)
	return to.AddDate(0, 0, -7*weeks), to
}

// hasThroughput reports whether some week of history has a done issue.
func hasThroughput(history []uint32) bool {
	for _, v := range history {
		if v > 0 {
			return true
		}
	}
	return false
}

func clone(h []uint32) []uint32 {
	return append(make([]uint32, 0, len(h)), h...)
}

// inputKey is the fingerprint of a forecast's inputs and the seed of its
// draws derived from it.
type inputKey struct {
	text string
	seed uint64
}

// fingerprint hashes the canonical text of the inputs. The draws' seed is
// taken from the same hash, so the fingerprint pins the result.
func fingerprint(question, args string, history []uint32, o Options) inputKey {
	var b strings.Builder
	fmt.Fprintf(&b, "forecast/v1|%s|%s|trials=%d|seed=%d|history=", question, args, o.Trials, o.Seed)
	for i, v := range history {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(v), 10))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return inputKey{text: hex.EncodeToString(sum[:8]), seed: binary.BigEndian.Uint64(sum[8:16])}
}
