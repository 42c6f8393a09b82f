package loadercfg

import (
	"errors"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}
	got := Config{}.WithDefaults()
	want := Default()
	want.AutoDeduplicate, want.Backoff.Jitter = false, false // switches stay as given
	if got != want {
		t.Errorf("Config{}.WithDefaults() = %+v, want %+v", got, want)
	}
}

func TestValidateNamesFields(t *testing.T) {
	c := Default()
	c.BatchRows = 0
	c.BatchBytes = 100
	c.BatchAge = 0
	c.MaxDeliveries = 1001
	c.Backoff = Backoff{BaseDelay: 0, ExpoFactor: 0.5, MaxTries: 0}
	c.OptimizeEvery = 0
	want := []string{
		`OptimizeEvery="0s": want a positive duration`,
		`Backoff.BaseDelay="0s": want a positive duration`,
		`Backoff.ExpoFactor="0.5": want 1..100`,
		`Backoff.MaxTries="0": want 1..100`,
		`BatchRows="0": want 1..10000000`,
		`BatchBytes="100": want 1KiB or more`,
		`BatchAge="0s": want a positive duration`,
		`MaxDeliveries="1001": want 1..1000`,
	}
	err := c.Validate()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Validate() = %v, want joined problems", err)
	}
	got := joined.Unwrap()
	if len(got) != len(want) {
		t.Fatalf("Validate() = %v, want %d problems", err, len(want))
	}
	for i, e := range got {
		var p *setting.Problem
		if !errors.As(e, &p) {
			t.Errorf("problem %d is %T, want *setting.Problem", i, e)
		}
		if e.Error() != want[i] {
			t.Errorf("problem %d = %q, want %q", i, e, want[i])
		}
	}
	c.AutoDeduplicate = false // OPTIMIZE off: its interval does not matter
	if err := c.Validate(); err == nil || len(err.(interface{ Unwrap() []error }).Unwrap()) != len(want)-1 {
		t.Errorf("AutoDeduplicate off: Validate() = %v, want OptimizeEvery not checked", err)
	}
}
