package telemetry

import (
	"testing"
)

func TestConfigValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v, want nil", err)
	}
	c := Default()
	c.Metrics = MetricsConfig{Enabled: true, Host: " ", Port: 0}
	c.Sentry = SentryConfig{Enabled: true}
	want := []string{
		`Metrics.Host: must not be empty`,
		`Metrics.Port="0": want 1..65535`,
		`Sentry.DSN: must be set when Sentry.Enabled is true`,
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
	c = Default()
	c.Sentry.DSN = "not a dsn"
	if err := c.Validate(); err == nil || err.Error() != "Sentry.DSN (value hidden): want a Sentry DSN like https://KEY@HOST/PROJECT" {
		t.Errorf("a bad DSN: Validate() = %v, want it refused without its value", err)
	}
	if a := (MetricsConfig{Host: "statsd", Port: 8125}).Addr(); a != "statsd:8125" {
		t.Errorf("Addr() = %q, want statsd:8125", a)
	}
}
