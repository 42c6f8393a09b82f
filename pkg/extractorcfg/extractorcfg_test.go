package extractorcfg

import (
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}
}

func TestValidateNamesFields(t *testing.T) {
	c := Default()
	c.Query = Query{Stateful: false, Range: 0, Queues: []string{"dev"}, Overlap: 25 * time.Hour}
	c.Concurrency = 0
	c.ChangelogPageSize = 1001
	c.ScrollPageSize = 0
	c.StateKey = " "
	want := []string{
		`Query.Zone: not set`,
		`Concurrency="0": want 1..256`,
		`ChangelogPageSize="1001": want 1..1000`,
		`ScrollPageSize="0": want 1..1000`,
		`Query.Queues: queue "dev": want a queue key like DEV, or !DEV to exclude it`,
		`StateKey: must not be empty`,
		`Query.Overlap="25h0m0s": want 0..24h`,
	}
	err := c.Validate()
	got := err.(interface{ Unwrap() []error }).Unwrap()
	if len(got) != len(want) {
		t.Fatalf("Validate() = %v, want %d problems", err, len(want))
	}
	for i, e := range got {
		if e.Error() != want[i] {
			t.Errorf("problem %d = %q, want %q", i, e, want[i])
		}
	}
}

// The reason of "nothing to search" names the other settings by field, so
// that pkg/config can rename them with the variables.
func TestNothingToSearchRefersToFields(t *testing.T) {
	c := Default()
	c.Query.Range = 0
	err := c.Validate()
	var p *setting.Problem
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		p, _ = e.(*setting.Problem)
	}
	if p == nil || p.Field != "Query.Custom" {
		t.Fatalf("Validate() = %v, want a problem with Query.Custom", err)
	}
	names := map[string]string{"Query.Queues": "QUEUES", "Query.Stateful": "STATEFUL"}
	if got := p.Explain(names); !strings.Contains(got, "set it, QUEUES or __RANGE, or STATEFUL=true") {
		t.Errorf("Explain = %q, want the variables named", got)
	}
	if m := (Query{Custom: " x "}).Mode(); m != ModeCustom {
		t.Errorf("Mode of a custom query = %s, want %s", m, ModeCustom)
	}
}
