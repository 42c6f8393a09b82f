package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/forecast"
	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
)

// Scope kinds of the forecasts table.
const (
	ScopeAll   = "all"
	ScopeQueue = "queue"
	ScopeEpic  = "epic"
	// ScopeFilter is a named filter of the forecast subcommand's
	// --filter: the issues matching a condition, at their own pace.
	ScopeFilter = "filter"
)

// ForecastFilter is a named set of issues to forecast: those of
// issues_view for which Where (a ClickHouse boolean expression on its
// columns) holds.
type ForecastFilter struct{ Name, Where string }

// ParseForecastFilter reads a --filter value, NAME=CONDITION.
func ParseForecastFilter(v string) (ForecastFilter, error) {
	name, where, ok := strings.Cut(v, "=")
	name, where = strings.TrimSpace(name), strings.TrimSpace(where)
	if !ok || name == "" || where == "" || strings.ContainsAny(name, " \t") {
		return ForecastFilter{}, fmt.Errorf("--filter %q: want NAME=CONDITION, a name without spaces and a ClickHouse condition on the columns of issues_view, e.g. bugs=issue_type = 'bug'", v)
	}
	return ForecastFilter{Name: name, Where: where}, nil
}

// ForecastOptions tune the forecasts of Forecast and RunForecast.
type ForecastOptions struct {
	// WindowWeeks is how many complete weeks of throughput history are
	// sampled (the weeks before the current one).
	WindowWeeks int
	// Horizons are the "how many in the next N weeks" horizons.
	Horizons []int
	// Trials is the number of simulated futures; Seed selects the draws.
	Trials int
	Seed   uint64
	// Filters are named sets of issues forecast besides the queues and
	// epics (the subcommand's --filter).
	Filters []ForecastFilter
	// Out, when set, receives a table of the forecasts of all queues and of
	// each queue (the subcommand prints it).
	Out io.Writer
	// flagErrs are the flag values ForecastOptionsFrom could not read.
	flagErrs []error
}

// DefaultForecastOptions returns the defaults: the last 12 weeks, horizons
// of 2, 4, 8 and 12 weeks, 10 000 trials, seed 1.
func DefaultForecastOptions() ForecastOptions {
	return ForecastOptions{
		WindowWeeks: forecast.DefaultWindowWeeks,
		Horizons:    []int{2, 4, 8, 12},
		Trials:      forecast.DefaultTrials,
		Seed:        forecast.DefaultSeed,
	}
}

// Validate reports every invalid option at once.
func (o ForecastOptions) Validate() error {
	errs := slices.Clone(o.flagErrs)
	if o.WindowWeeks < 1 || o.WindowWeeks > 520 {
		errs = append(errs, fmt.Errorf("--window %d: want 1..520 weeks", o.WindowWeeks))
	}
	if len(o.Horizons) == 0 {
		errs = append(errs, errors.New("--horizons: want at least one horizon"))
	}
	for _, h := range o.Horizons {
		if h < 1 || h > 520 {
			errs = append(errs, fmt.Errorf("--horizons %d: want 1..520 weeks", h))
		}
	}
	if o.Trials < 1 || o.Trials > forecast.MaxTrials {
		errs = append(errs, fmt.Errorf("--trials %d: want 1..%d", o.Trials, forecast.MaxTrials))
	}
	seen := map[string]bool{}
	for _, f := range o.Filters {
		if seen[f.Name] {
			errs = append(errs, fmt.Errorf("--filter %s: the name is given twice", f.Name))
		}
		seen[f.Name] = true
	}
	return errors.Join(errs...)
}

// Forecast computes the Monte Carlo forecasts as of now from what
// ClickHouse holds and stores them in the forecasts table: "how many
// issues in the next N weeks" for all queues together and for each queue,
// and "when will the open issues be done" for all queues, each queue and
// each epic with open issues (an epic at the pace of the queue holding
// most of its open issues). A series whose latest row says it had open
// issues gets a row even when it has none left, so forecasts_latest never
// keeps a stale forecast. A series whose inputs are unchanged since its
// latest row of the same day gets no new row. It blocks for the queries
// and the insert; errors are ClickHouse's.
func Forecast(ctx context.Context, env *Env, ch *clickhouse.Client, now time.Time) error {
	return forecastWith(ctx, env, ch, now, DefaultForecastOptions())
}

// ForecastAfterPass computes the forecasts after a pass of the one-process
// form when rows go to ClickHouse (a no-op otherwise, and once ctx is
// done). A failure is logged, never returned: forecasts must not fail a
// pass.
func (s *Stages) ForecastAfterPass(ctx context.Context) {
	if s == nil || s.settler == nil || ctx.Err() != nil {
		return
	}
	env := &Env{Log: s.settler.log}
	if err := Forecast(ctx, env, s.settler.ch, time.Now()); err != nil && ctx.Err() == nil {
		s.settler.log.Error("computing the forecasts failed", "err", err)
	}
}

// RunForecast is the forecast subcommand: it computes and stores the
// forecasts once, printing those of all queues and of each queue to
// o.Out.
func RunForecast(ctx context.Context, cfg config.Config, o ForecastOptions) error {
	if err := o.Validate(); err != nil {
		return ConfigExitAs(cfg.LogFormat, err)
	}
	return runStage(ctx, cfg, "forecast", natsNone, func(env *Env, _ *stream.Conn) error {
		ch, err := openChecked(ctx, env)
		if err != nil {
			return err
		}
		defer ch.Close()
		return forecastWith(ctx, env, ch, time.Now(), o)
	})
}

// openChecked opens ClickHouse (migrating when EXPORTER_CLICKHOUSE__
// MIGRATE_ON_START says so) and refuses a database without the schema.
func openChecked(ctx context.Context, env *Env) (*clickhouse.Client, error) {
	c := env.Config.ClickHouse
	ch, err := OpenClickHouse(ctx, env, c.MigrateOnStart)
	if err != nil {
		return nil, err
	}
	if err := ch.CheckSchema(ctx); err != nil {
		_ = ch.Close()
		if errors.Is(err, clickhouse.ErrSchemaMissing) || errors.Is(err, clickhouse.ErrChecksumMismatch) {
			return nil, ConfigExitAs(env.Config.LogFormat, fmt.Errorf("EXPORTER_CLICKHOUSE__DATABASE=%s: %w: run `tracker-exporter migrate` first, or set EXPORTER_CLICKHOUSE__MIGRATE_ON_START=true",
				c.Database, err))
		}
		return nil, err
	}
	return ch, nil
}

// forecastWith reads the inputs, computes and stores the forecasts.
func forecastWith(ctx context.Context, env *Env, ch *clickhouse.Client, now time.Time, o ForecastOptions) error {
	begin := time.Now()
	in, err := readForecastInputs(ctx, ch, now, o.WindowWeeks, o.Filters)
	if err != nil {
		return fmt.Errorf("forecasts: %w", err)
	}
	rows, err := computeForecasts(in, now, o)
	if err != nil {
		return fmt.Errorf("forecasts: %w", err)
	}
	fresh := changedForecasts(rows, in.latest)
	if err := ch.InsertForecasts(ctx, fresh); err != nil {
		return fmt.Errorf("forecasts: %w", err)
	}
	if o.Out != nil {
		printForecasts(o.Out, rows)
	}
	env.Log.Info("forecasts computed", "series", len(rows), "written", len(fresh), "unchanged", len(rows)-len(fresh),
		"window_weeks", o.WindowWeeks, "trials", o.Trials, "took", time.Since(begin).Round(time.Millisecond))
	return nil
}

// forecastInputs is what the forecasts are computed from.
type forecastInputs struct {
	throughput clickhouse.Throughput
	open       clickhouse.OpenIssues
	latest     map[clickhouse.ForecastKey]clickhouse.ForecastRow
	filters    []filterInputs
}

// filterInputs is what a filter's forecasts sample and count.
type filterInputs struct {
	ForecastFilter
	history []uint32
	open    uint32
}

func readForecastInputs(ctx context.Context, ch *clickhouse.Client, now time.Time, weeks int, filters []ForecastFilter) (forecastInputs, error) {
	var in forecastInputs
	from, _ := forecast.Window(now, weeks)
	var err error
	if in.throughput, err = ch.WeeklyThroughput(ctx, from, weeks); err != nil {
		return in, err
	}
	if in.open, err = ch.OpenIssues(ctx); err != nil {
		return in, err
	}
	for _, f := range filters {
		fi := filterInputs{ForecastFilter: f}
		if fi.history, fi.open, err = ch.FilteredInputs(ctx, f.Where, from, weeks); err != nil {
			return in, fmt.Errorf("--filter %s: %w", f.Name, err)
		}
		in.filters = append(in.filters, fi)
	}
	in.latest, err = ch.LatestForecasts(ctx)
	return in, err
}

// forecastScope is one scope to forecast and the history it samples.
type forecastScope struct {
	kind, scope, throughputScope string
	remaining                    uint32
	// howMany: also answer "how many" (not for epics, which share their
	// queue's pace).
	howMany bool
	// filter is the index of a filter scope's inputs.
	filter int
}

// scopes lists what to forecast: all queues, every queue seen (with done
// or open issues, or with a stored forecast), every epic with open issues
// or whose latest forecast had some.
func (in forecastInputs) scopes() []forecastScope {
	out := []forecastScope{{kind: ScopeAll, remaining: in.open.Total(), howMany: true}}
	queues := map[string]bool{}
	for q := range in.throughput.Queues {
		queues[q] = true
	}
	for q := range in.open.Queues {
		queues[q] = true
	}
	epics := map[string]string{} // epic → throughput scope
	for e := range in.open.Epics {
		epics[e], _ = in.open.EpicQueue(e)
	}
	for k, r := range in.latest {
		switch {
		case k.ScopeKind == ScopeQueue:
			queues[k.Scope] = true
		case k.ScopeKind == ScopeEpic && r.Remaining > 0 && epics[k.Scope] == "":
			epics[k.Scope] = r.ThroughputScope
		}
	}
	for _, q := range slices.Sorted(maps.Keys(queues)) {
		out = append(out, forecastScope{kind: ScopeQueue, scope: q, throughputScope: q, remaining: in.open.Queues[q], howMany: true})
	}
	for _, e := range slices.Sorted(maps.Keys(epics)) {
		_, open := in.open.EpicQueue(e)
		out = append(out, forecastScope{kind: ScopeEpic, scope: e, throughputScope: epics[e], remaining: open})
	}
	for i, f := range in.filters {
		// The condition is kept with the rows: what the name meant then.
		out = append(out, forecastScope{kind: ScopeFilter, scope: f.Name, throughputScope: f.Where, remaining: f.open, howMany: true, filter: i})
	}
	return out
}

// history returns the weekly throughput a scope samples.
func (in forecastInputs) history(s forecastScope) []uint32 {
	switch s.kind {
	case ScopeAll:
		return in.throughput.All
	case ScopeFilter:
		return in.filters[s.filter].history
	}
	if h, ok := in.throughput.Queues[s.throughputScope]; ok {
		return h
	}
	return make([]uint32, in.throughput.Weeks)
}

// computeForecasts runs the simulations of every scope.
func computeForecasts(in forecastInputs, now time.Time, o ForecastOptions) ([]clickhouse.ForecastRow, error) {
	opts := forecast.Options{Trials: o.Trials, Seed: o.Seed}
	computed := now.UTC().Truncate(time.Second)
	var out []clickhouse.ForecastRow
	for _, s := range in.scopes() {
		hist := in.history(s)
		base := clickhouse.ForecastRow{
			ComputedAt: computed, ScopeKind: s.kind, Scope: s.scope, Trials: uint32(o.Trials),
			WindowWeeks: uint16(len(hist)), WeeklyThroughput: hist, Version: uint64(now.UnixMilli()),
			WindowStart: in.throughput.From, ThroughputScope: s.throughputScope,
		}
		if s.howMany {
			for _, h := range o.Horizons {
				r, err := forecast.HowMany(hist, h, opts)
				if err != nil {
					return nil, err
				}
				out = append(out, howManyRow(base, r))
			}
		}
		r, err := forecast.When(hist, int(s.remaining), now, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, whenRow(base, r))
	}
	return out, nil
}

func howManyRow(row clickhouse.ForecastRow, r forecast.HowManyResult) clickhouse.ForecastRow {
	row.Question = forecast.QuestionHowMany
	row.HorizonWeeks = uint16(r.Weeks)
	row.P50, row.P85, row.P95 = float64(r.Done[0]), float64(r.Done[1]), float64(r.Done[2])
	row.Fingerprint, row.Note = r.Fingerprint, r.Note
	return row
}

func whenRow(row clickhouse.ForecastRow, r forecast.WhenResult) clickhouse.ForecastRow {
	row.Question = forecast.QuestionWhen
	row.Remaining = uint32(r.Remaining)
	dates := []*time.Time{&row.DateP50, &row.DateP85, &row.DateP95}
	for i := range forecast.Levels {
		if d, ok := r.Date(i); ok {
			*dates[i] = d
		}
	}
	row.Fingerprint, row.Note = r.Fingerprint, r.Note
	return row
}

// changedForecasts drops the rows whose series' latest row already says
// the same: same inputs (fingerprint, window, sampled queue) on the same
// day, hence the same answer.
func changedForecasts(rows []clickhouse.ForecastRow, latest map[clickhouse.ForecastKey]clickhouse.ForecastRow) []clickhouse.ForecastRow {
	out := make([]clickhouse.ForecastRow, 0, len(rows))
	for _, r := range rows {
		prev, ok := latest[clickhouse.ForecastKey{ScopeKind: r.ScopeKind, Scope: r.Scope, Question: r.Question, HorizonWeeks: r.HorizonWeeks}]
		if ok && prev.Fingerprint == r.Fingerprint && prev.ThroughputScope == r.ThroughputScope &&
			prev.WindowStart.Equal(r.WindowStart) && forecast.Day(prev.ComputedAt).Equal(forecast.Day(r.ComputedAt)) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// printForecasts writes the forecasts of all queues and of each queue as
// a table; epics are counted.
func printForecasts(w io.Writer, rows []clickhouse.ForecastRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scope\tquestion\tp50\tp85\tp95\tnote")
	epics := 0
	for _, r := range rows {
		if r.ScopeKind == ScopeEpic {
			epics++
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", scopeLabel(r), questionLabel(r),
			answer(r, 0), answer(r, 1), answer(r, 2), r.Note)
	}
	_ = tw.Flush()
	if epics > 0 {
		fmt.Fprintf(w, "and %d epic forecasts (forecasts_latest WHERE scope_kind = 'epic')\n", epics)
	}
}

func scopeLabel(r clickhouse.ForecastRow) string {
	if r.ScopeKind == ScopeAll {
		return "all queues"
	}
	return r.ScopeKind + " " + r.Scope
}

func questionLabel(r clickhouse.ForecastRow) string {
	if r.Question == forecast.QuestionHowMany {
		if r.HorizonWeeks == 1 {
			return "done next week"
		}
		return fmt.Sprintf("done in %d weeks", r.HorizonWeeks)
	}
	return fmt.Sprintf("%d open done by", r.Remaining)
}

// answer formats percentile i of a row: a count, a date, or "-".
func answer(r clickhouse.ForecastRow, i int) string {
	if r.Question == forecast.QuestionHowMany {
		if r.Note != "" {
			return "-"
		}
		return fmt.Sprint([]float64{r.P50, r.P85, r.P95}[i])
	}
	d := []time.Time{r.DateP50, r.DateP85, r.DateP95}[i]
	if d.IsZero() {
		return "-"
	}
	return d.Format(time.DateOnly)
}

// parseHorizons sorts and deduplicates the horizons of a flag.
func parseHorizons(h []int) []int {
	out := slices.Clone(h)
	slices.Sort(out)
	return slices.Compact(out)
}

// FilterValues is the value of a repeatable flag whose values may hold
// commas (a string slice flag would split them): the --filter of the
// forecast subcommand.
type FilterValues []string

// Set adds one value.
func (f *FilterValues) Set(v string) error { *f = append(*f, v); return nil }

// String lists the values.
func (f *FilterValues) String() string { return strings.Join(*f, "; ") }

// ForecastOptionsFrom builds the options from the subcommand's flags;
// Validate reports the --filter values it could not read.
func ForecastOptionsFrom(window int, horizons []int, trials int, seed uint64, filters []string) ForecastOptions {
	o := DefaultForecastOptions()
	o.WindowWeeks, o.Trials, o.Seed = window, trials, seed
	for _, v := range filters {
		f, err := ParseForecastFilter(v)
		if err != nil {
			o.flagErrs = append(o.flagErrs, err)
			continue
		}
		o.Filters = append(o.Filters, f)
	}
	if len(horizons) > 0 {
		o.Horizons = parseHorizons(horizons)
	}
	o.Out = os.Stdout
	return o
}
