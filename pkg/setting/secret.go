// Package setting holds what every component's configuration shares: the
// Secret type, and the Problem a Validate method reports for each invalid
// field. It imports nothing of this module, so that every component and
// pkg/config can use it.
package setting

import (
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what every rendering of a non-empty Secret prints.
const Redacted = "REDACTED"

// Secret is a credential: a token, a password, a DSN. Every way of printing
// it (String, fmt verbs including %#v and %x, slog, JSON, text marshalling)
// shows "REDACTED" when it is set and "" when it is empty, so that a Config
// can be logged or dumped safely. Reveal returns the real value; call it only
// where the credential is handed to a client.
type Secret string

// Reveal returns the secret value itself.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

// String returns "REDACTED" for a non-empty secret and "" for an empty one.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString implements fmt.GoStringer with the redacted text, quoted.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// Format implements fmt.Formatter so that no verb (%v, %s, %q, %x, %#v, ...)
// can print the secret value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || f.Flag('#') {
		_, _ = fmt.Fprintf(f, "%q", s.String())
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// LogValue implements slog.LogValuer with the redacted text.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler (and so JSON encoding) with
// the redacted text.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
