package setting

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const secretText = "y0_AgAAAAD-very-secret-token"

func TestSecretNeverPrints(t *testing.T) {
	s := Secret(secretText)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10s", "%-8v", "%d"} {
		got := fmt.Sprintf(verb, s)
		if strings.Contains(got, secretText) || strings.Contains(got, fmt.Sprintf("%x", secretText)) {
			t.Errorf("Sprintf(%s) = %q reveals the secret", verb, got)
		}
		if !strings.Contains(got, "REDACTED") {
			t.Errorf("Sprintf(%s) = %q, want REDACTED", verb, got)
		}
	}
	if got := fmt.Sprint(s); got != "REDACTED" {
		t.Errorf("Sprint = %q, want REDACTED", got)
	}
	if got := s.Reveal(); got != secretText {
		t.Errorf("Reveal = %q, want %q", got, secretText)
	}
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("empty secret prints %q, want empty", got)
	}
	b, err := json.Marshal(struct{ S Secret }{s})
	if err != nil || string(b) != `{"S":"REDACTED"}` {
		t.Errorf("json = %s, %v; want {\"S\":\"REDACTED\"}", b, err)
	}
}
