// Package ledger reconciles what an extraction pass found with what
// ClickHouse holds: for every issue of the pass, loaded, already current,
// or missing with the reason. It is pure: the facts are gathered by the
// caller.
package ledger

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Fact is what ClickHouse holds of one issue.
type Fact struct {
	// Version is the largest _version of the issue's rows (0: absent).
	Version uint64
	// ChangelogRows is the number of rows of the issue in the changelog
	// view, when known.
	ChangelogRows  uint64
	ChangelogKnown bool
}

// Status is what became of one issue of the pass.
type Status uint8

// Statuses of an issue after reconciliation.
const (
	// Missing: not in ClickHouse at the version the pass found.
	Missing Status = iota
	// Loaded: the pass (or a redrive of it) put it in ClickHouse.
	Loaded
	// Current: ClickHouse already held it at that version or a newer one.
	Current
)

// Account is the reconciliation of one pass.
type Account struct {
	Found, Loaded, Current, Missing int
	// Reasons counts the missing issues by reason class.
	Reasons map[string]int
	// Status is each issue's status, in the order of the pass.
	Status []Status
	// Why is each missing issue's reason (empty for the others).
	Why []string
}

// OK reports, per issue, whether it is in ClickHouse (loaded or current).
func (a *Account) OK() []bool {
	ok := make([]bool, len(a.Status))
	for i, s := range a.Status {
		ok[i] = s != Missing
	}
	return ok
}

// Complete reports whether nothing is missing.
func (a *Account) Complete() bool { return a.Missing == 0 }

// ReasonText lists the reasons as "class: n, class: n", most frequent first.
func (a *Account) ReasonText() string {
	type rc struct {
		r string
		n int
	}
	var rs []rc
	for r, n := range a.Reasons {
		rs = append(rs, rc{r, n})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].n > rs[j].n || rs[i].n == rs[j].n && rs[i].r < rs[j].r })
	parts := make([]string, len(rs))
	for i, x := range rs {
		parts[i] = fmt.Sprintf("%s: %d", x.r, x.n)
	}
	return strings.Join(parts, ", ")
}

// Input is what Reconcile compares.
type Input struct {
	Issues []wire.PassIssue
	// Facts holds ClickHouse's facts by issue id; an absent id is absent
	// from ClickHouse.
	Facts map[string]Fact
	// Changelog checks the changelog rows of issues stored at exactly the
	// version found (changelog export on).
	Changelog bool
	// Redriven marks issues published again by a redrive.
	Redriven map[string]bool
	// DeadLetters gives the reason of issues that were dead-lettered.
	DeadLetters map[string]string
}

// Reconcile classifies every issue of a pass. An issue is in ClickHouse
// when its rows there have the version the pass found or a newer one (and,
// with Changelog, as many changelog rows as its snapshot has changed
// fields, when the versions are equal). It is Loaded when this pass
// published (or redrove) it, Current when ClickHouse already held it; else
// Missing with the reason: the extraction failure's class, the dead
// letter's stage, or "not in ClickHouse".
func Reconcile(in Input) Account {
	a := Account{Found: len(in.Issues), Reasons: map[string]int{}, Status: make([]Status, len(in.Issues)), Why: make([]string, len(in.Issues))}
	for i := range in.Issues {
		is := &in.Issues[i]
		st, why := classify(is, in)
		a.Status[i] = st
		switch st {
		case Loaded:
			a.Loaded++
		case Current:
			a.Current++
		default:
			a.Missing++
			class, _, _ := strings.Cut(why, ": ")
			a.Reasons[class]++
			a.Why[i] = why
		}
	}
	return a
}

func classify(is *wire.PassIssue, in Input) (Status, string) {
	f, present := in.Facts[is.ID]
	atVersion := present && f.Version >= is.Version && is.Version > 0
	if atVersion && in.Changelog && f.Version == is.Version && is.Outcome.Stored() {
		if !f.ChangelogKnown {
			f.ChangelogRows = 0
		}
		if f.ChangelogRows != uint64(is.Changes) {
			return Missing, fmt.Sprintf("changelog incomplete: %d of %d rows", f.ChangelogRows, is.Changes)
		}
	}
	switch {
	case atVersion && (is.Outcome == wire.OutcomePublished || in.Redriven[is.ID]):
		return Loaded, ""
	case atVersion:
		return Current, ""
	case is.Outcome == wire.OutcomeFailed:
		if is.Reason == "" {
			return Missing, "failed"
		}
		return Missing, is.Reason
	case is.Outcome == wire.OutcomePending:
		return Missing, "interrupted: the pass ended before the issue was fetched"
	}
	if why, ok := in.DeadLetters[is.ID]; ok {
		return Missing, why
	}
	if present {
		return Missing, fmt.Sprintf("not in ClickHouse: version %d, found %d", f.Version, is.Version)
	}
	return Missing, "not in ClickHouse"
}
