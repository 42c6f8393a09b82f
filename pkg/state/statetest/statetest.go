// Package statetest is the conformance suite every state backend runs.
//
// A backend's test calls Run with a function that opens a Store for a test:
//
//	statetest.Run(t, func(t *testing.T) state.Store {
//		return mustOpen(t, locationFor(t))
//	}, statetest.WithCorrupt(func(t *testing.T, key string) {
//		writeGarbage(t, locationFor(t), key)
//	}))
//
// The open function must return a new Store over a location (file, object,
// key namespace) that belongs to t alone and starts empty; calling it again
// with the same t must return another Store over the same location, as a
// second process sharing the storage would. Deriving the location from
// t.Name() inside a per-run directory, bucket or prefix does both. The suite
// closes every Store it opens.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/state"
)

// Option adds a backend-specific capability to the suite.
type Option func(*suite)

// WithCorrupt gives the suite a way to make the stored data of key in t's
// location unreadable (not valid JSON, say), as a disk error, a manual edit
// or a foreign writer would. Run requires it: the Corrupt test fails
// without it, because every backend must report such data as
// state.ErrCorrupt rather than as missing.
func WithCorrupt(corrupt func(t *testing.T, key string)) Option {
	return func(s *suite) { s.corrupt = corrupt }
}

// WithOldValues gives the suite a way to check that the backend reads the
// old tool's watermark strings as its options say: open returns a new Store
// over t's location whose options give loc and layout as LegacyLocation
// and LegacyLayout (nil and "" being the backend's defaults), and write
// stores value under key in t's location as the old tool left it (a string
// in the JSON document, a bare string in Redis). Run requires it: the
// OldWatermark test fails without it.
func WithOldValues(open func(t *testing.T, loc *time.Location, layout string) state.Store, write func(t *testing.T, key, value string)) Option {
	return func(s *suite) { s.openOld, s.writeOld = open, write }
}

// WithConcurrency sets how many goroutines the concurrency tests run
// (default 8) and how many saves each makes to its own key (default 4).
func WithConcurrency(writers, savesPerWriter int) Option {
	return func(s *suite) { s.writers, s.saves = writers, savesPerWriter }
}

type suite struct {
	open     func(t *testing.T) state.Store
	corrupt  func(t *testing.T, key string)
	openOld  func(t *testing.T, loc *time.Location, layout string) state.Store
	writeOld func(t *testing.T, key, value string)
	writers  int
	saves    int
}

// Run runs the conformance tests as subtests of t, opening Stores with
// open. It checks: a missing key loads as ok=false; a saved state loads
// back (times in UTC, not later than saved and within a millisecond of it,
// UpdatedAt filled when zero); overwriting; keys are independent, also
// across Stores sharing the location; state persists across Close and
// reopen; concurrent saves to different keys from several goroutines and
// Stores all survive; concurrent saves to one key leave exactly one of the
// saved states; corrupt data loads as state.ErrCorrupt; the old tool's
// watermark strings load in the configured zone, with the configured
// layout (its EXPORTER_DATETIME_QUERY_FORMAT) or a fixed one; cancelled
// contexts and empty keys are refused; Close is idempotent and later calls
// fail.
func Run(t *testing.T, open func(t *testing.T) state.Store, opts ...Option) {
	s := &suite{open: open, writers: 8, saves: 4}
	for _, o := range opts {
		o(s)
	}
	t.Run("MissingKey", s.testMissingKey)
	t.Run("RoundTrip", s.testRoundTrip)
	t.Run("Overwrite", s.testOverwrite)
	t.Run("IndependentKeys", s.testIndependentKeys)
	t.Run("Persistence", s.testPersistence)
	t.Run("ConcurrentKeys", s.testConcurrentKeys)
	t.Run("ConcurrentSameKey", s.testConcurrentSameKey)
	t.Run("Corrupt", s.testCorrupt)
	t.Run("OldWatermark", s.testOldWatermark)
	t.Run("CanceledContext", s.testCanceledContext)
	t.Run("EmptyKey", s.testEmptyKey)
	t.Run("Close", s.testClose)
}

// store opens a Store for t and closes it when t ends.
func (s *suite) store(t *testing.T) state.Store {
	t.Helper()
	st := s.open(t)
	if st == nil {
		t.Fatal("open returned a nil Store")
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustSave(t *testing.T, st state.Store, key string, v state.State) {
	t.Helper()
	if err := st.Save(ctxFor(t), key, v); err != nil {
		t.Fatalf("Save(%q, %s): %v", key, describe(v), err)
	}
}

func mustLoad(t *testing.T, st state.Store, key string) state.State {
	t.Helper()
	got, ok, err := st.Load(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	if !ok {
		t.Fatalf("Load(%q): ok=false, want the saved state", key)
	}
	return got
}

func describe(v state.State) string {
	return fmt.Sprintf("{Watermark:%s UpdatedAt:%s FailedKeys:%d %q RunID:%q}",
		v.Watermark.Format(time.RFC3339Nano), v.UpdatedAt.Format(time.RFC3339Nano),
		len(v.FailedKeys), head(v.FailedKeys), v.RunID)
}

func head(keys []string) []string {
	if len(keys) > 3 {
		return append(slices.Clone(keys[:3]), "...")
	}
	return keys
}

// sameTime reports whether got is want in UTC, not later than want and
// less than a millisecond earlier: a store may truncate precision, but never
// move a watermark forward past issues not yet exported.
func sameTime(got, want time.Time) error {
	if got.Location() != time.UTC {
		return fmt.Errorf("location %s, want UTC", got.Location())
	}
	if got.After(want) || want.Sub(got) >= time.Millisecond {
		return fmt.Errorf("got %s, want %s (truncation under 1ms allowed, never later)",
			got.Format(time.RFC3339Nano), want.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// checkEqual compares a loaded state with the saved one.
func checkEqual(t *testing.T, key string, got, want state.State) {
	t.Helper()
	if err := sameTime(got.Watermark, want.Watermark); err != nil {
		t.Errorf("Load(%q).Watermark: %v", key, err)
	}
	if !want.UpdatedAt.IsZero() {
		if err := sameTime(got.UpdatedAt, want.UpdatedAt); err != nil {
			t.Errorf("Load(%q).UpdatedAt: %v", key, err)
		}
	}
	if !slices.Equal(got.FailedKeys, want.FailedKeys) {
		t.Errorf("Load(%q).FailedKeys = %q, want %q", key, head(got.FailedKeys), head(want.FailedKeys))
	}
	if got.RunID != want.RunID {
		t.Errorf("Load(%q).RunID = %q, want %q", key, got.RunID, want.RunID)
	}
}

func (s *suite) testMissingKey(t *testing.T) {
	st := s.store(t)
	for _, key := range []string{state.DefaultKey, "never-saved"} {
		got, ok, err := st.Load(ctxFor(t), key)
		if err != nil || ok {
			t.Errorf("Load(%q) on an empty store = %s, ok=%v, err=%v; want ok=false, no error", key, describe(got), ok, err)
		}
	}
	mustSave(t, st, "present", state.State{Watermark: time.Now()})
	if got, ok, err := st.Load(ctxFor(t), "absent"); err != nil || ok {
		t.Errorf("Load(%q) beside another key = %s, ok=%v, err=%v; want ok=false, no error", "absent", describe(got), ok, err)
	}
}

func (s *suite) testRoundTrip(t *testing.T) {
	msk := time.FixedZone("MSK", 3*60*60)
	many := make([]string, 1000)
	for i := range many {
		many[i] = fmt.Sprintf("QUEUE%d-%d", i%7, i)
	}
	tests := []struct {
		name string
		key  string
		in   state.State
	}{
		{
			name: "nanoseconds in another zone",
			key:  state.DefaultKey,
			in: state.State{
				Watermark:  time.Date(2024, 3, 5, 14, 7, 33, 123456789, msk),
				UpdatedAt:  time.Date(2024, 3, 5, 14, 8, 0, 987654321, msk),
				FailedKeys: []string{"DEV-1", "DEV-20"},
				RunID:      "run-1",
			},
		},
		{
			name: "milliseconds only, no failures",
			key:  "queue-dev",
			in: state.State{
				Watermark: time.Date(2025, 12, 31, 23, 59, 59, 999000000, time.UTC),
				UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 1000000, time.UTC),
			},
		},
		{
			name: "zero UpdatedAt is filled at save",
			key:  "updated-at-filled",
			in:   state.State{Watermark: time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC), RunID: "r"},
		},
		{
			name: "epoch and a unicode key",
			key:  "очередь/DEV:1 x",
			in: state.State{
				Watermark:  time.Unix(0, 0),
				UpdatedAt:  time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC),
				FailedKeys: []string{"ОЧЕРЕДЬ-1", `QUOTE"-2`},
				RunID:      "ünïcode \u2028 run",
			},
		},
		{
			name: "a thousand failed keys",
			key:  "many-failed",
			in: state.State{
				Watermark:  time.Date(2100, 1, 1, 0, 0, 0, 1, time.UTC),
				UpdatedAt:  time.Date(2100, 1, 1, 0, 0, 1, 0, time.UTC),
				FailedKeys: many,
			},
		},
	}
	st := s.store(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			mustSave(t, st, tt.key, tt.in)
			after := time.Now()
			got := mustLoad(t, st, tt.key)
			checkEqual(t, tt.key, got, tt.in)
			if tt.in.UpdatedAt.IsZero() {
				u := got.UpdatedAt
				if u.Location() != time.UTC || u.Before(before.Add(-time.Millisecond)) || u.After(after) {
					t.Errorf("Load(%q).UpdatedAt = %s after saving a zero UpdatedAt between %s and %s; want the save time in UTC",
						tt.key, u.Format(time.RFC3339Nano), before.UTC().Format(time.RFC3339Nano), after.UTC().Format(time.RFC3339Nano))
				}
			}
		})
	}
}

func (s *suite) testOverwrite(t *testing.T) {
	st := s.store(t)
	key := "overwrite"
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	steps := []state.State{
		{Watermark: base, FailedKeys: []string{"A-1", "A-2"}, RunID: "first"},
		{Watermark: base.Add(time.Hour), RunID: "second"},
		// A store keeps what it is given: moving back is the caller's call.
		{Watermark: base.Add(-time.Hour), FailedKeys: []string{"B-1"}, RunID: "third"},
	}
	for i, want := range steps {
		want.UpdatedAt = base.Add(time.Duration(i) * time.Minute)
		mustSave(t, st, key, want)
		checkEqual(t, key, mustLoad(t, st, key), want)
	}
}

func (s *suite) testIndependentKeys(t *testing.T) {
	a, b := s.store(t), s.store(t)
	base := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	want := map[string]state.State{}
	save := func(st state.Store, key string, v state.State) {
		t.Helper()
		mustSave(t, st, key, v)
		want[key] = v
	}
	save(a, "queue-a", state.State{Watermark: base, RunID: "a1"})
	save(b, "queue-b", state.State{Watermark: base.Add(time.Hour), FailedKeys: []string{"B-1"}, RunID: "b1"})
	save(a, "queue-a", state.State{Watermark: base.Add(2 * time.Hour), RunID: "a2"})
	save(b, state.DefaultKey, state.State{Watermark: base.Add(3 * time.Hour), RunID: "default"})
	for key, w := range want {
		for name, st := range map[string]state.Store{"first store": a, "second store": b} {
			got := mustLoad(t, st, key)
			if got.RunID != w.RunID {
				t.Errorf("%s: Load(%q).RunID = %q, want %q (a save of another key clobbered it?)", name, key, got.RunID, w.RunID)
			}
			checkEqual(t, key, got, w)
		}
	}
}

func (s *suite) testPersistence(t *testing.T) {
	first := s.open(t)
	want := state.State{Watermark: time.Date(2024, 8, 9, 10, 11, 12, 13000000, time.UTC), RunID: "persist", FailedKeys: []string{"P-1"}}
	mustSave(t, first, "persist", want)
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	second := s.store(t)
	checkEqual(t, "persist", mustLoad(t, second, "persist"), want)
}

func (s *suite) testConcurrentKeys(t *testing.T) {
	stores := []state.Store{s.store(t), s.store(t)}
	base := time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, s.writers*s.saves)
	for w := range s.writers {
		wg.Go(func() {
			st := stores[w%len(stores)]
			key := fmt.Sprintf("writer-%d", w)
			for i := range s.saves {
				v := state.State{
					Watermark: base.Add(time.Duration(w)*time.Hour + time.Duration(i)*time.Minute),
					RunID:     fmt.Sprintf("w%d-s%d", w, i),
				}
				if err := st.Save(ctxFor(t), key, v); err != nil {
					errs <- fmt.Errorf("writer %d save %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	check := s.store(t)
	for w := range s.writers {
		key := fmt.Sprintf("writer-%d", w)
		want := state.State{
			Watermark: base.Add(time.Duration(w)*time.Hour + time.Duration(s.saves-1)*time.Minute),
			RunID:     fmt.Sprintf("w%d-s%d", w, s.saves-1),
		}
		got, ok, err := check.Load(ctxFor(t), key)
		if err != nil || !ok {
			t.Errorf("after concurrent saves, Load(%q): ok=%v, err=%v; want the last save %s", key, ok, err, describe(want))
			continue
		}
		checkEqual(t, key, got, want)
	}
}

func (s *suite) testConcurrentSameKey(t *testing.T) {
	stores := []state.Store{s.store(t), s.store(t)}
	key := "contended"
	base := time.Date(2024, 10, 1, 0, 0, 0, 0, time.UTC)
	candidates := make([]state.State, s.writers)
	for w := range candidates {
		id := fmt.Sprintf("writer-%d", w)
		candidates[w] = state.State{
			Watermark:  base.Add(time.Duration(w) * time.Second),
			UpdatedAt:  base.Add(time.Duration(w) * time.Minute),
			FailedKeys: slices.Repeat([]string{strings.ToUpper(id)}, w+1),
			RunID:      id,
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, s.writers)
	for w, v := range candidates {
		wg.Go(func() {
			if err := stores[w%len(stores)].Save(ctxFor(t), key, v); err != nil {
				errs <- fmt.Errorf("writer %d: %w", w, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := mustLoad(t, s.store(t), key)
	i := slices.IndexFunc(candidates, func(c state.State) bool { return c.RunID == got.RunID })
	if i < 0 {
		t.Fatalf("after concurrent saves to one key, Load(%q) = %s; want one of the saved states", key, describe(got))
	}
	checkEqual(t, key, got, candidates[i])
}

func (s *suite) testCorrupt(t *testing.T) {
	if s.corrupt == nil {
		t.Fatal("statetest.Run needs statetest.WithCorrupt: every backend must show that corrupt data loads as state.ErrCorrupt")
	}
	st := s.store(t)
	key := "corrupted"
	mustSave(t, st, key, state.State{Watermark: time.Now(), RunID: "before corruption"})
	s.corrupt(t, key)
	for name, st := range map[string]state.Store{"same store": st, "new store": s.store(t)} {
		got, ok, err := st.Load(ctxFor(t), key)
		if !errors.Is(err, state.ErrCorrupt) || ok {
			t.Errorf("%s: Load(%q) of corrupt data = %s, ok=%v, err=%v; want ok=false and an error wrapping state.ErrCorrupt",
				name, key, describe(got), ok, err)
		}
	}
}

func (s *suite) testOldWatermark(t *testing.T) {
	if s.openOld == nil || s.writeOld == nil {
		t.Fatal("statetest.Run needs statetest.WithOldValues: every backend must read the old tool's watermark strings")
	}
	const dayFirst = "02.01.2006 15:04:05" // the query format %d.%m.%Y %H:%M:%S
	msk := time.FixedZone("UTC+3", 3*60*60)
	want := time.Date(2024, 1, 30, 7, 0, 0, 0, time.UTC) // 10:00 in Moscow
	tests := []struct {
		name, value string
		loc         *time.Location
		layout      string
		want        time.Time // zero: corrupt
	}{
		{name: "default format and zone", value: "2024-01-30 10:00:00", want: want},
		{name: "query format", value: "30.01.2024 10:00:00", layout: dayFirst, want: want},
		{name: "query format in a zone", value: "30.01.2024 10:00:00", loc: time.UTC, layout: dayFirst, want: want.Add(3 * time.Hour)},
		{name: "fixed layouts besides the query format", value: "2024-01-30 10:00:00", loc: msk, layout: dayFirst, want: want},
		{name: "query format not configured", value: "30.01.2024 10:00:00"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			s.writeOld(t, state.DefaultKey, tt.value)
			st := s.openOld(t, tt.loc, tt.layout)
			if st == nil {
				t.Fatal("open returned a nil Store")
			}
			t.Cleanup(func() { _ = st.Close() })
			zone := "default"
			if tt.loc != nil {
				zone = tt.loc.String()
			}
			what := fmt.Sprintf("Load of %q (zone %s, layout %q)", tt.value, zone, tt.layout)
			checkOldWatermark(t, st, what, tt.want)
		})
	}
}

// checkOldWatermark loads state.DefaultKey from st and checks that it is
// want in UTC, or state.ErrCorrupt when want is zero.
func checkOldWatermark(t *testing.T, st state.Store, what string, want time.Time) {
	t.Helper()
	got, ok, err := st.Load(ctxFor(t), state.DefaultKey)
	switch {
	case want.IsZero():
		if !errors.Is(err, state.ErrCorrupt) || ok {
			t.Errorf("%s = %s, ok=%v, err=%v; want state.ErrCorrupt", what, describe(got), ok, err)
		}
	case err != nil || !ok:
		t.Errorf("%s: ok=%v, err=%v; want the old watermark", what, ok, err)
	case !got.Watermark.Equal(want) || got.Watermark.Location() != time.UTC:
		t.Errorf("%s = %s, want %s in UTC", what, got.Watermark.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
}

func (s *suite) testCanceledContext(t *testing.T) {
	st := s.store(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.Save(ctx, "canceled", state.State{Watermark: time.Now()}); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with a cancelled context: err=%v, want context.Canceled", err)
	}
	if got, ok, err := st.Load(ctx, "canceled"); !errors.Is(err, context.Canceled) || ok {
		t.Errorf("Load with a cancelled context = %s, ok=%v, err=%v; want ok=false, context.Canceled", describe(got), ok, err)
	}
	if _, ok, err := st.Load(ctxFor(t), "canceled"); err != nil || ok {
		t.Errorf("Load after a cancelled Save: ok=%v, err=%v; want nothing saved", ok, err)
	}
}

func (s *suite) testEmptyKey(t *testing.T) {
	st := s.store(t)
	if err := st.Save(ctxFor(t), "", state.State{Watermark: time.Now()}); err == nil {
		t.Error("Save with an empty key: err=nil, want an error")
	}
	if _, ok, err := st.Load(ctxFor(t), ""); err == nil || ok {
		t.Errorf("Load with an empty key: ok=%v, err=%v; want an error", ok, err)
	}
}

func (s *suite) testClose(t *testing.T) {
	st := s.open(t)
	mustSave(t, st, "closing", state.State{Watermark: time.Now()})
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if err := st.Save(ctxFor(t), "closing", state.State{Watermark: time.Now()}); err == nil {
		t.Error("Save after Close: err=nil, want an error")
	}
	if _, ok, err := st.Load(ctxFor(t), "closing"); err == nil || ok {
		t.Errorf("Load after Close: ok=%v, err=%v; want an error", ok, err)
	}
}
