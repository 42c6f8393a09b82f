// Package testenv decides whether an integration test runs, from the
// environment variables that point it at its real service.
//
// Outside CI a test whose service is not configured is skipped; in CI
// (CI=true, or any value strconv.ParseBool reads as true) it fails, so that
// a service missing from the CI script fails the run instead of passing
// silently.
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

// Require returns the value of the environment variable name. When it is
// empty, Require skips the test, or fails it (t.Fatalf) under CI; either way
// it does not return. Call it from the test goroutine.
func Require(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if InCI() {
		t.Fatalf("%s is not set and CI is true: a missing service fails the run (start the service in .ci/run and export %s)", name, name)
	}
	t.Skipf("%s is not set: skipping this integration test (in CI, with CI=true, it would fail)", name)
	return ""
}
