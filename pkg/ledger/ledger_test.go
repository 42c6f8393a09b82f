package ledger

import (
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

func TestReconcile(t *testing.T) {
	iss := func(id string, v uint64, changes int, o wire.Outcome, reason string) wire.PassIssue {
		return wire.PassIssue{ID: id, Key: "K-" + id, Version: v, Changes: changes, Outcome: o, Reason: reason}
	}
	cases := []struct {
		name  string
		issue wire.PassIssue
		fact  *Fact
		in    Input
		want  Status
		why   string
	}{
		{"published and loaded", iss("a", 10, 3, wire.OutcomePublished, ""), &Fact{Version: 10, ChangelogRows: 3, ChangelogKnown: true}, Input{Changelog: true}, Loaded, ""},
		{"loaded newer since", iss("a", 10, 3, wire.OutcomePublished, ""), &Fact{Version: 12, ChangelogRows: 9, ChangelogKnown: true}, Input{Changelog: true}, Loaded, ""},
		{"duplicate already there", iss("a", 10, 3, wire.OutcomeDuplicate, ""), &Fact{Version: 10, ChangelogRows: 3, ChangelogKnown: true}, Input{Changelog: true}, Current, ""},
		{"duplicate redriven", iss("a", 10, 0, wire.OutcomeDuplicate, ""), &Fact{Version: 10}, Input{Redriven: map[string]bool{"a": true}}, Loaded, ""},
		{"fetch failed but current", iss("a", 10, 0, wire.OutcomeFailed, "fetch: 503"), &Fact{Version: 10}, Input{}, Current, ""},
		{"fetch failed", iss("a", 10, 0, wire.OutcomeFailed, "fetch: 503"), nil, Input{}, Missing, "fetch: 503"},
		{"interrupted", iss("a", 10, 0, wire.OutcomePending, ""), nil, Input{}, Missing, "interrupted: the pass ended before the issue was fetched"},
		{"older version stored", iss("a", 10, 0, wire.OutcomePublished, ""), &Fact{Version: 9}, Input{}, Missing, "not in ClickHouse: version 9, found 10"},
		{"absent", iss("a", 10, 0, wire.OutcomePublished, ""), nil, Input{}, Missing, "not in ClickHouse"},
		{"dead-lettered", iss("a", 10, 0, wire.OutcomePublished, ""), nil, Input{DeadLetters: map[string]string{"a": "dead-lettered by loader: no table"}}, Missing, "dead-lettered by loader: no table"},
		{"changelog short", iss("a", 10, 3, wire.OutcomePublished, ""), &Fact{Version: 10, ChangelogRows: 2, ChangelogKnown: true}, Input{Changelog: true}, Missing, "changelog incomplete: 2 of 3 rows"},
		{"changelog absent", iss("a", 10, 3, wire.OutcomePublished, ""), &Fact{Version: 10}, Input{Changelog: true}, Missing, "changelog incomplete: 0 of 3 rows"},
		{"changelog not checked", iss("a", 10, 3, wire.OutcomePublished, ""), &Fact{Version: 10}, Input{}, Loaded, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.Issues = []wire.PassIssue{c.issue}
			in.Facts = map[string]Fact{}
			if c.fact != nil {
				in.Facts["a"] = *c.fact
			}
			a := Reconcile(in)
			if a.Status[0] != c.want || a.Why[0] != c.why {
				t.Fatalf("got %v %q, want %v %q", a.Status[0], a.Why[0], c.want, c.why)
			}
			if got := a.Loaded + a.Current + a.Missing; got != 1 || a.Found != 1 {
				t.Fatalf("counts %+v", a)
			}
			if a.OK()[0] != (c.want != Missing) || a.Complete() != (c.want != Missing) {
				t.Fatalf("OK/Complete disagree with the status")
			}
		})
	}
	a := Reconcile(Input{Issues: []wire.PassIssue{iss("a", 1, 0, wire.OutcomeFailed, "fetch: x"), iss("b", 1, 0, wire.OutcomeFailed, "fetch: y"), iss("c", 1, 0, wire.OutcomePublished, "")}})
	if got, want := a.ReasonText(), "fetch: 2, not in ClickHouse: 1"; got != want {
		t.Errorf("ReasonText %q, want %q", got, want)
	}
}
