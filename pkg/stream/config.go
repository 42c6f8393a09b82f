package stream

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/tracker-exporter/tracker-exporter/pkg/setting"
)

// Config configures the message bus: the servers to connect to, or the
// embedded server, and the streams' replicas. A plain value built with
// Default and checked with Validate. The env tag of a field names the
// variable that sets it (pkg/config maps it; Validate's problems name
// fields, which pkg/config turns into these names).
type Config struct {
	// URL of the NATS server(s), comma-separated; empty runs the embedded
	// server (one-process binary only). Put credentials in a credentials
	// file rather than in the URL: RedactURL strips them, %v does not.
	URL string `env:"EXPORTER_NATS__URL"`
	// DataDir is the JetStream store of the embedded server.
	DataDir string `env:"EXPORTER_NATS__DATA_DIR"`
	// MaxPayload is the embedded server's max_payload in bytes.
	MaxPayload int `env:"EXPORTER_NATS__MAX_PAYLOAD"`
	// Replicas is the number of copies of every stream: 1, or 3 on a
	// JetStream cluster of three servers or more, whose streams then
	// survive the loss of one server. Every stage declares the streams at
	// start, so a changed value updates existing streams; give all stages
	// the same value. The embedded server is one node: 1 only.
	Replicas int `env:"EXPORTER_NATS__REPLICAS"`
}

// Default returns the defaults: the embedded server under ./data/nats,
// 8 MiB messages, one replica.
func Default() Config {
	return Config{DataDir: "./data/nats", MaxPayload: 8 << 20, Replicas: 1}
}

// Validate returns every problem at once (errors.Join of *setting.Problem,
// each naming a field, e.g. "Replicas"), or nil. embedded says whether an
// empty URL runs the embedded server (the one-process binary); a URL is
// never shown, as it may hold credentials.
func (c Config) Validate(embedded bool) error {
	var p setting.Problems
	if c.URL != "" {
		for i, u := range strings.Split(c.URL, ",") {
			if !validURL(strings.TrimSpace(u)) {
				p.AddSecret("URL", "server %d: want nats://host:port, tls://host:port or host:port", i+1)
			}
		}
	} else if embedded {
		p.NonEmpty("DataDir", c.DataDir)
	}
	switch {
	case c.Replicas != 1 && c.Replicas != 3:
		p.Add("Replicas", c.Replicas, "want 1 or 3")
	case c.Replicas != 1 && c.URL == "" && embedded:
		// Refused rather than ignored: whoever asks for three copies
		// expects to survive a server's loss, which one embedded server
		// cannot give.
		p.Add("Replicas", c.Replicas, "the embedded NATS server (%s empty) is a single node and keeps 1 replica: set %s to the servers of a NATS cluster, or %s=1",
			setting.Ref("URL"), setting.Ref("URL"), setting.Ref("Replicas"))
	}
	if c.MaxPayload < 1<<10 || c.MaxPayload > 64<<20 {
		p.Add("MaxPayload", c.MaxPayload, "want 1KiB..64MiB")
	}
	return p.Err()
}

// validURL reports whether s is a server URL Connect accepts:
// nats://, tls://, ws:// or wss:// with a host and an optional port, or a
// bare host:port.
func validURL(s string) bool {
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return false
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return false
	}
	if u.Port() == "" {
		return true
	}
	n, err := strconv.Atoi(u.Port())
	return err == nil && n > 0 && n <= 65535
}
