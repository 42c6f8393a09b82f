package stream

import (
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name     string
		change   func(*Config)
		embedded bool
		want     []string
	}{
		{"default, one process", func(*Config) {}, true, nil},
		{"default, a stage", func(*Config) {}, false, nil},
		{"bad servers", func(c *Config) { c.URL = "nats://u:p@a:4222, http://b" }, false,
			[]string{"URL (value hidden): server 2: want nats://host:port, tls://host:port or host:port"}},
		{"no store", func(c *Config) { c.DataDir = " " }, true, []string{"DataDir: must not be empty"}},
		{"no store, a stage", func(c *Config) { c.DataDir = "" }, false, nil},
		{"replicas", func(c *Config) { c.Replicas = 2; c.URL = "a:4222" }, false, []string{`Replicas="2": want 1 or 3`}},
		{"replicas embedded", func(c *Config) { c.Replicas = 3 }, true,
			[]string{`Replicas="3": the embedded NATS server (URL empty) is a single node and keeps 1 replica: set URL to the servers of a NATS cluster, or Replicas=1`}},
		{"payload", func(c *Config) { c.MaxPayload = 100 }, true, []string{`MaxPayload="100": want 1KiB..64MiB`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			err := c.Validate(tt.embedded)
			var got []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					if _, ok := e.(*setting.Problem); !ok {
						t.Errorf("problem %v is %T, want *setting.Problem", e, e)
					}
					got = append(got, e.Error())
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Validate(%v) of %+v = %q, want %q", tt.embedded, c, got, tt.want)
			}
		})
	}
}
