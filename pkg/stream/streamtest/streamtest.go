// Package streamtest starts an in-process NATS server with JetStream for
// tests: a real server, not a mock.
package streamtest

import (
	"context"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
)

// Start runs a JetStream server storing in a temporary directory, listening
// on a random loopback port, declares the streams, and stops it when the
// test ends. It returns the server and its client URL.
func Start(t testing.TB) (*server.Server, string) {
	t.Helper()
	srv, err := stream.StartEmbedded(stream.EmbeddedConfig{DataDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	c, err := stream.ConnectInProcess(srv, "streamtest")
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	defer c.Close()
	if err := stream.Setup(context.Background(), c.JS, stream.Streams{}); err != nil {
		t.Fatalf("setup streams: %v", err)
	}
	return srv, srv.ClientURL()
}
