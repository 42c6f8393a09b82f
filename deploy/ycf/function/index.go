// Command function is the entry point of the Yandex Cloud Functions
// deployment. deploy/ycf/build.sh copies this file to the root of the
// uploaded archive as index.go, so that the function's entry point is
// index.Handler; the Go runtime builds the archive's root package (which
// must be package main) as a plugin and calls Handler for each invocation.
// It never calls main, which exists only so that the package also builds
// in this repository. Keep this file a thin shim: the handler is
// deploy/ycf.Handler.
package main

import (
	"context"

	"github.com/tracker-exporter/tracker-exporter/deploy/ycf"
)

// Handler runs one pass of the pipeline per invocation: see ycf.Handler.
func Handler(ctx context.Context, request []byte) (*ycf.Response, error) {
	return ycf.Handler(ctx, request)
}

func main() {}
