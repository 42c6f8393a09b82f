package extractor

import (
	"reflect"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// The ledger keeps its issues packed; what it gives back is what it was
// given, and it tells issues apart by id even when their hashes are equal.
func TestLedgerKeepsIssuesExactly(t *testing.T) {
	for name, hash := range map[string]func(string) uint64{
		"maphash":        nil,
		"every hash one": func(string) uint64 { return 7 },
	} {
		t.Run(name, func(t *testing.T) {
			since := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			l := newLedger(since)
			if hash != nil {
				l.hash = hash
			}
			at := time.Date(2024, 3, 11, 7, 0, 0, 123456789, time.UTC)
			in := []wire.PassIssue{
				{ID: "5f1d0c8e9a7b6c5d4e3f2a10", Key: "DEV-1", Version: 1, Updated: at, Changes: 3},
				{ID: "5f1d0c8e9a7b6c5d4e3f2a11", Key: "DEV-2", Version: 2, Updated: at.Add(time.Hour), Reason: "kept"},
				{ID: "", Key: "", Updated: at.Add(2 * time.Hour)},
				{ID: "x", Key: "QUEUE-1234567", Version: 4, Updated: at.Add(3 * time.Hour), Outcome: wire.OutcomePublished},
			}
			for i, is := range in {
				if pos, isNew := l.add(is); !isNew || pos != i {
					t.Fatalf("add %d: position %d, new %v", i, pos, isNew)
				}
			}
			for i, is := range in {
				again := is
				again.Key = "OTHER-1"
				if pos, isNew := l.add(again); isNew || pos != i {
					t.Errorf("add %q again: position %d, new %v; want %d, false", is.ID, pos, isNew, i)
				}
			}
			if got := l.snapshot(); !reflect.DeepEqual(got, in) {
				t.Fatalf("snapshot:\n%+v\nwant\n%+v", got, in)
			}
			l.finish(0, func(pi *wire.PassIssue) {
				pi.Outcome, pi.Reason, pi.Version, pi.Changes = wire.OutcomeFailed, "fetch: boom", 9, 5
			})
			l.finish(1, func(pi *wire.PassIssue) { pi.Outcome, pi.Reason = wire.OutcomePublished, "" })
			want := append([]wire.PassIssue(nil), in...)
			want[0].Outcome, want[0].Reason, want[0].Version, want[0].Changes = wire.OutcomeFailed, "fetch: boom", 9, 5
			want[1].Outcome, want[1].Reason = wire.OutcomePublished, ""
			if got := l.issuesAt([]int{1, 0}); !reflect.DeepEqual(got, []wire.PassIssue{want[1], want[0]}) {
				t.Errorf("issuesAt: %+v", got)
			}
			if got := l.snapshot(); !reflect.DeepEqual(got, want) {
				t.Errorf("after finish:\n%+v\nwant\n%+v", got, want)
			}
			// Issue 0 failed: the watermark stays at its update time.
			l.complete()
			if wm := l.watermark(since, false); !wm.Equal(at) {
				t.Errorf("watermark %v, want %v", wm, at)
			}
			if got := l.unconfirmed(10); len(got) != 0 {
				t.Errorf("unconfirmed %v: the first issue is not stored", got)
			}
		})
	}
}
