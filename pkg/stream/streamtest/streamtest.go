// Package streamtest starts an in-process NATS server with JetStream for
// tests: a real server, not a mock.
package streamtest

import (
	"context"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats-server/v2/server/ats"

	"github.com/tracker-exporter/tracker-exporter/pkg/stream"
)

// The server's stores share a coarse clock that a goroutine ticks, started
// by the first store of the process and stopped with the last (package
// server/ats). Started by a server inside a synctest bubble, that
// goroutine would belong to the bubble and, waiting on a channel from
// outside it, keep the bubble's clock from ever advancing: it runs from the
// start instead, outside any bubble.
func init() { ats.Register() }

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

// StartInBubble is Start for a test inside a synctest bubble
// (synctest.Test; call it there): the server opens no socket and the
// connection it returns reaches it through an in-memory pipe, so that the
// timers of the server, of the client and of the code under test (ack
// waits and redeliveries, fetch waits, lingers, batch ages) run on the
// bubble's fake clock and the test waits no real time. When the test ends
// the connection is closed and the server shut down. The connection must
// not be drained (stream.Conn.Close, nats.Conn.Drain and Flush): nats.go
// pools the timers of those calls across goroutines, and a timer made in a
// bubble cannot be used outside it.
func StartInBubble(t testing.TB, name string) *stream.Conn {
	t.Helper()
	srv, err := stream.StartEmbedded(stream.EmbeddedConfig{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	c, err := stream.ConnectInProcess(srv, name)
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(c.NC.Close)
	if err := stream.Setup(context.Background(), c.JS, stream.Streams{}); err != nil {
		t.Fatalf("setup streams: %v", err)
	}
	return c
}
