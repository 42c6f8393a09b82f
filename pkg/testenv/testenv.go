// Package testenv decides whether an integration test runs, from the
// environment variables that point it at its real service and from the
// -short flag.
//
// A unit test needs nothing outside the test process but in-process
// servers (the NATS server as a library, the Tracker emulator): `go test
// -short ./...` runs those only. Every other test (one that needs a
// service, an installed program, builds binaries or starts processes) is
// an integration test and is skipped in short mode, whatever CI says.
//
// Outside short mode, outside CI a test whose service is not configured
// is skipped; in CI (CI=true, or any value strconv.ParseBool reads as
// true) it fails, so that a service missing from the CI script fails the
// run instead of passing silently.
package testenv

import (
	"os"
	"strconv"
	"testing"
)

// InCI reports whether the CI environment variable is set to a true value.
func InCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// Integration skips t in short mode (go test -short), saying what makes
// it an integration test (what, e.g. "starts python3"); otherwise it
// returns. Call it from the test goroutine, before the work it guards.
func Integration(t testing.TB, what string) {
	t.Helper()
	integration(t, what, testing.Short())
}

func integration(t testing.TB, what string, short bool) {
	t.Helper()
	if short {
		t.Skipf("integration test (%s): skipped in short mode", what)
	}
}

// Require returns the value of the environment variable name. In short
// mode it skips the test (see Integration); otherwise, when the variable
// is empty, it skips the test, or fails it (t.Fatalf) under CI; either way
// it does not return. Call it from the test goroutine.
func Require(t testing.TB, name string) string {
	t.Helper()
	return require(t, name, testing.Short())
}

func require(t testing.TB, name string, short bool) string {
	t.Helper()
	integration(t, "needs "+name, short)
	if v := os.Getenv(name); v != "" {
		return v
	}
	if InCI() {
		t.Fatalf("%s is not set and CI is true: a missing service fails the run (start the service in .ci/run and export %s)", name, name)
	}
	t.Skipf("%s is not set: skipping this integration test (in CI, with CI=true, it would fail)", name)
	return ""
}
