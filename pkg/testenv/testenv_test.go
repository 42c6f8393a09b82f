package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB whose Fatalf and Skipf record the outcome and
// stop the goroutine, as the real ones do.
type recorder struct {
	testing.TB
	outcome string
	msg     string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.outcome, r.msg = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Skipf(format string, args ...any) {
	r.outcome, r.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestRequire(t *testing.T) {
	const name = "TESTENV_TEST_SERVICE_ADDR"
	tests := []struct {
		value, ci   string
		short       bool
		wantOutcome string
		wantValue   string
	}{
		{value: "127.0.0.1:1", ci: "", wantOutcome: "return", wantValue: "127.0.0.1:1"},
		{value: "127.0.0.1:1", ci: "true", wantOutcome: "return", wantValue: "127.0.0.1:1"},
		{value: "", ci: "", wantOutcome: "skip"},
		{value: "", ci: "false", wantOutcome: "skip"},
		{value: "", ci: "nonsense", wantOutcome: "skip"},
		{value: "", ci: "true", wantOutcome: "fatal"},
		{value: "", ci: "1", wantOutcome: "fatal"},
		// In short mode integration tests are out of scope, in CI too.
		{value: "127.0.0.1:1", ci: "", short: true, wantOutcome: "skip"},
		{value: "127.0.0.1:1", ci: "true", short: true, wantOutcome: "skip"},
		{value: "", ci: "", short: true, wantOutcome: "skip"},
		{value: "", ci: "true", short: true, wantOutcome: "skip"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("value=%q,CI=%q,short=%v", tt.value, tt.ci, tt.short), func(t *testing.T) {
			t.Setenv(name, tt.value)
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t, outcome: "return"}
			var got string
			done := make(chan struct{})
			go func() {
				defer close(done)
				got = require(r, name, tt.short)
			}()
			<-done
			if r.outcome != tt.wantOutcome || got != tt.wantValue {
				t.Fatalf("Require(%s=%q, CI=%q, short %v) = %q, outcome %s (%q); want %q, outcome %s",
					name, tt.value, tt.ci, tt.short, got, r.outcome, r.msg, tt.wantValue, tt.wantOutcome)
			}
			if r.outcome != "return" && !strings.Contains(r.msg, name) {
				t.Errorf("message %q does not name %s", r.msg, name)
			}
		})
	}
}

func TestIntegration(t *testing.T) {
	for _, tt := range []struct {
		ci          string
		short       bool
		wantOutcome string
	}{
		{ci: "", short: false, wantOutcome: "return"},
		{ci: "true", short: false, wantOutcome: "return"},
		{ci: "", short: true, wantOutcome: "skip"},
		{ci: "true", short: true, wantOutcome: "skip"},
	} {
		t.Run(fmt.Sprintf("CI=%q,short=%v", tt.ci, tt.short), func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t, outcome: "return"}
			done := make(chan struct{})
			go func() {
				defer close(done)
				integration(r, "starts python3", tt.short)
			}()
			<-done
			if r.outcome != tt.wantOutcome {
				t.Fatalf("Integration(CI=%q, short %v): outcome %s (%q), want %s", tt.ci, tt.short, r.outcome, r.msg, tt.wantOutcome)
			}
			if r.outcome == "skip" && !strings.Contains(r.msg, "starts python3") {
				t.Errorf("message %q does not say why the test is an integration test", r.msg)
			}
		})
	}
}
