package setting

import (
	"errors"
	"maps"
	"testing"
)

func TestProblemNamesFieldsOrVariables(t *testing.T) {
	var p Problems
	p.Add("RateCeiling", 30, "want at least %s (%g)", Ref("RateLimit"), 50.0)
	p.AddSecret("Token", "not a token; see %s", Ref("IAMToken"))
	p.IntRange("MaxRetries", 101, 0, 100)
	p.IntRange("Concurrency", 5, 1, 10) // in range: no problem
	p.OneOf("Language", "de", "en", "ru")
	p.Positive("Timeout", 0)
	p.NonEmpty("Key", " ")
	err := p.Err()
	want := []string{
		`RateCeiling="30": want at least RateLimit (50)`,
		`Token (value hidden): not a token; see IAMToken`,
		`MaxRetries="101": want 0..100`,
		`Language="de": want en or ru`,
		`Timeout="0s": want a positive duration`,
		`Key: must not be empty`,
	}
	got := err.(interface{ Unwrap() []error }).Unwrap()
	if len(got) != len(want) {
		t.Fatalf("Err() = %v, want %d problems", err, len(want))
	}
	for i, e := range got {
		if e.Error() != want[i] {
			t.Errorf("problem %d = %q, want %q", i, e, want[i])
		}
	}
	var first *Problem
	if !errors.As(got[0], &first) {
		t.Fatalf("problem 0 is %T, want *Problem", got[0])
	}
	names := map[string]string{"RateLimit": "EXPORTER_RATE", "RateCeiling": "EXPORTER_MAX"}
	if s := first.Explain(names); s != "want at least EXPORTER_RATE (50)" {
		t.Errorf("Explain = %q, want the variable of RateLimit", s)
	}
	if (Problems{}).Err() != nil {
		t.Error("no problems: Err() != nil")
	}
}

func TestNamesWalksNestedAndEmbeddedStructs(t *testing.T) {
	type inner struct {
		Range int `env:"X_RANGE"`
	}
	type embedded struct {
		Token Secret `env:"X_TOKEN"`
	}
	type outer struct {
		embedded
		Search   inner
		Untagged string
		Level    string `env:"X_LEVEL"`
	}
	type root struct {
		Tracker outer
	}
	got := Names(&root{}, "env")
	want := map[string]string{"Tracker.Token": "X_TOKEN", "Tracker.Search.Range": "X_RANGE", "Tracker.Level": "X_LEVEL"}
	if !maps.Equal(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
}
