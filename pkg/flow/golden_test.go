package flow

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/want.json from the current output")

// goldenInput is testdata/<case>/input.json.
type goldenInput struct {
	Statuses           []StatusInfo      `json:"statuses"` // default: goldenDirectory
	TypeOverrides      map[string]string `json:"type_overrides"`
	Closed             []string          `json:"closed"` // default: the old tool's list
	CreatedAt          time.Time         `json:"created_at"`
	InitialStatus      string            `json:"initial_status"`
	CurrentStatus      string            `json:"current_status"`
	CurrentStatusSince time.Time         `json:"current_status_since"`
	AsOf               time.Time         `json:"as_of"`
	Transitions        []struct {
		At   time.Time `json:"at"`
		From string    `json:"from"`
		To   string    `json:"to"`
		Seq  int       `json:"seq"`
	} `json:"transitions"`
}

var goldenDirectory = []StatusInfo{
	{Key: "open", Name: "Open", Type: TypeNew},
	{Key: "inProgress", Name: "In progress", Type: TypeInProgress},
	{Key: "testing", Name: "Testing", Type: TypeInProgress},
	{Key: "needInfo", Name: "Need info", Type: TypePaused},
	{Key: "readyForRelease", Name: "Ready for release", Type: TypeInProgress},
	{Key: "resolved", Name: "Resolved", Type: TypeDone},
	{Key: "closed", Name: "Closed", Type: TypeDone},
	{Key: "cancelled", Name: "Cancelled", Type: TypeCancelled},
}

func loadGolden(t *testing.T, dir string) (Input, *Rules) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "input.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenInput
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		t.Fatalf("%s/input.json: %v", dir, err)
	}
	if g.Statuses == nil {
		g.Statuses = goldenDirectory
	}
	if g.Closed == nil {
		g.Closed = []string{"closed", "rejected", "resolved", "cancelled", "released"}
	}
	r := &Rules{Statuses: map[string]StatusInfo{}, TypeOverrides: g.TypeOverrides, Closed: g.Closed, Calendar: moscow(t)}
	for _, s := range g.Statuses {
		r.Statuses[s.Key] = s
	}
	in := Input{
		CreatedAt: g.CreatedAt, InitialStatus: g.InitialStatus, CurrentStatus: g.CurrentStatus,
		CurrentStatusSince: g.CurrentStatusSince, AsOf: g.AsOf,
	}
	for _, tr := range g.Transitions {
		in.Transitions = append(in.Transitions, Transition{At: tr.At, From: tr.From, To: tr.To, Seq: tr.Seq})
	}
	return in, r
}

// goldenFacts are the points of each case checked by hand, in addition to
// the whole result in want.json.
type goldenFacts struct {
	visits    []string // status keys of the visits, in order
	durations []int64  // their calendar seconds
	anomalies []AnomalyKind
	unknown   []string
	reopens   int
	doneAt    string // "" for empty
	startedAt string
	lead      string // fmtPtr form
	cycle     string
	active    int64
	paused    int64
}

var goldenCases = map[string]goldenFacts{
	// open → inProgress → closed → inProgress → testing → closed → open →
	// inProgress → closed: two reopens, done_at the last closing.
	"reopen_loops": {
		visits:    []string{"open", "inProgress", "closed", "inProgress", "testing", "closed", "open", "inProgress", "closed"},
		durations: []int64{3600, 86400, 3600, 7200, 3600, 86400, 3600, 7200, 86400},
		reopens:   2, doneAt: "2024-03-13T15:00:00Z", startedAt: "2024-03-11T08:00:00Z",
		lead: "201600", cycle: "198000", active: 86400 + 7200 + 3600 + 7200, paused: 0,
	},
	// The issue is moved to another queue whose workflow resets it to that
	// queue's "open" (status change inside IssueMoved), with a status the
	// directory does not know ("triage").
	"moved": {
		visits:    []string{"open", "inProgress", "triage", "open", "inProgress", "resolved"},
		durations: []int64{7200, 3600, 1800, 1800, 7200, 86400},
		unknown:   []string{"triage"},
		doneAt:    "2024-03-04T13:00:00Z", startedAt: "2024-03-04T09:00:00Z",
		lead: "21600", cycle: "14400", active: 10800,
	},
	// The changelog is out of order, two entries share a timestamp (the
	// first gives a zero-length visit) and one is dated before creation.
	"out_of_order_duplicates": {
		visits:    []string{"open", "needInfo", "open", "inProgress", "testing", "inProgress"},
		durations: []int64{0, 3600, 3600, 0, 7200, 259200 - 14400},
		anomalies: []AnomalyKind{AnomalyReordered, AnomalyBeforeVisitStart},
		startedAt: "2024-03-04T09:00:00Z", active: 7200 + 259200 - 14400,
	},
	// A status known to no one: no type, not final unless the closed list
	// names it ("released" is in the default list).
	"unknown_statuses": {
		visits:    []string{"open", "qaDone", "released"},
		durations: []int64{3600, 7200, 0 + 86400 - 10800},
		unknown:   []string{"qaDone", "released"},
		doneAt:    "2024-03-04T10:00:00Z", lead: "10800",
	},
	// Created directly in a final status, never started.
	"created_final": {
		visits:    []string{"closed"},
		durations: []int64{86400},
		doneAt:    "2024-03-04T07:00:00Z", lead: "0",
	},
	// The second transition says it leaves testing, but the issue was in
	// inProgress: inProgress ends there, testing gets a zero-length visit.
	"from_mismatch": {
		visits:    []string{"open", "inProgress", "testing", "needInfo"},
		durations: []int64{7200, 14400, 0, 86400 - 21600},
		anomalies: []AnomalyKind{AnomalyFromMismatch},
		startedAt: "2024-03-04T09:00:00Z", active: 14400, paused: 86400 - 21600,
	},
	// The snapshot says closed (since 12:00Z) but the changelog ends in
	// testing.
	"current_mismatch": {
		visits:    []string{"open", "inProgress", "testing", "closed"},
		durations: []int64{7200, 3600, 3600 * 2, 86400 - 18000},
		anomalies: []AnomalyKind{AnomalyCurrentMismatch},
		doneAt:    "2024-03-04T12:00:00Z", startedAt: "2024-03-04T09:00:00Z",
		lead: "18000", cycle: "10800", active: 10800,
	},
	// An entry dated after as_of is moved to as_of: a zero-length current
	// visit to closed, done at as_of.
	"after_as_of": {
		visits:    []string{"open", "inProgress", "closed"},
		durations: []int64{7200, 79200, 0},
		anomalies: []AnomalyKind{AnomalyAfterAsOf},
		doneAt:    "2024-03-05T07:00:00Z", startedAt: "2024-03-04T09:00:00Z",
		lead: "86400", cycle: "79200", active: 79200,
	},
	// resolved → closed: done_at stays when the issue became final; the
	// readyForRelease override to paused counts as paused time.
	"final_to_final": {
		visits:    []string{"open", "inProgress", "readyForRelease", "resolved", "closed"},
		durations: []int64{3600, 3600, 3600, 3600, 86400 - 14400},
		doneAt:    "2024-03-04T10:00:00Z", startedAt: "2024-03-04T08:00:00Z",
		lead: "10800", cycle: "7200", active: 3600, paused: 3600,
	},
	// Initial status unknown everywhere: the first transition's from is used;
	// an entry without a target is ignored.
	"initial_from_first_transition": {
		visits:    []string{"needInfo", "inProgress", "cancelled"},
		durations: []int64{3600, 3600, 86400 - 7200},
		anomalies: []AnomalyKind{AnomalyEmptyTo},
		doneAt:    "2024-03-04T09:00:00Z", startedAt: "2024-03-04T08:00:00Z",
		lead: "7200", cycle: "3600", active: 3600,
	},
}

func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.json")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range dirs {
		dir := filepath.Dir(p)
		name := filepath.Base(dir)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			in, r := loadGolden(t, dir)
			res := Compute(in, r)
			checkInvariants(t, in, r, res)

			facts, ok := goldenCases[name]
			if !ok {
				t.Fatalf("no goldenCases entry for %s", name)
			}
			var keys []string
			var durs []int64
			for _, v := range res.Visits {
				keys = append(keys, v.StatusKey)
				durs = append(durs, v.Duration)
			}
			var kinds []AnomalyKind
			for _, a := range res.Anomalies {
				kinds = append(kinds, a.Kind)
			}
			f := res.Issue
			if !slices.Equal(keys, facts.visits) || !slices.Equal(durs, facts.durations) {
				t.Errorf("visits %v %v, want %v %v", keys, durs, facts.visits, facts.durations)
			}
			if !slices.Equal(kinds, facts.anomalies) || !slices.Equal(res.UnknownStatuses, facts.unknown) {
				t.Errorf("anomalies %v unknown %v, want %v %v", kinds, res.UnknownStatuses, facts.anomalies, facts.unknown)
			}
			want := func(s string) string {
				if s == "" {
					return "<empty>"
				}
				return s
			}
			if f.ReopenCount != facts.reopens || fmtPtr(f.DoneAt) != want(facts.doneAt) || fmtPtr(f.StartedAt) != want(facts.startedAt) ||
				fmtPtr(f.LeadTime) != want(facts.lead) || fmtPtr(f.CycleTime) != want(facts.cycle) ||
				f.ActiveTime != facts.active || f.PausedTime != facts.paused {
				t.Errorf("issue: reopens %d done %s started %s lead %s cycle %s active %d paused %d\nwant:  reopens %d done %s started %s lead %s cycle %s active %d paused %d",
					f.ReopenCount, fmtPtr(f.DoneAt), fmtPtr(f.StartedAt), fmtPtr(f.LeadTime), fmtPtr(f.CycleTime), f.ActiveTime, f.PausedTime,
					facts.reopens, want(facts.doneAt), want(facts.startedAt), want(facts.lead), want(facts.cycle), facts.active, facts.paused)
			}

			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			wantPath := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(wantPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			wantJSON, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, wantJSON) {
				t.Errorf("result differs from %s (run go test -update and review the diff):\n%s", wantPath, got)
			}
		})
	}
	for name := range goldenCases {
		if !seen[name] {
			t.Errorf("case %s has no testdata/%s/input.json", name, name)
		}
	}
}
