// Package stream is the JetStream plumbing shared by the stages: connecting
// (to a remote server or an embedded one), declaring the streams and
// consumers idempotently, and measuring how much work is pending.
package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Conn is a NATS connection with its JetStream context.
type Conn struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// Connect dials a NATS server URL. It blocks until connected or ctx ends.
func Connect(ctx context.Context, url, name string) (*Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(500 * time.Millisecond)}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(dl)))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", RedactURL(url), err)
	}
	return wrap(nc)
}

// ConnectInProcess connects to an embedded server without a network socket.
func ConnectInProcess(srv *server.Server, name string) (*Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name(name))
	if err != nil {
		return nil, fmt.Errorf("nats in-process connect: %w", err)
	}
	return wrap(nc)
}

func wrap(nc *nats.Conn) (*Conn, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Conn{NC: nc, JS: js}, nil
}

// Close drains the connection (pending publishes and acks are flushed).
func (c *Conn) Close() {
	if c == nil || c.NC == nil {
		return
	}
	_ = c.NC.Drain()
	deadline := time.Now().Add(5 * time.Second)
	for !c.NC.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c.NC.Close()
}

// EmbeddedConfig configures the in-process NATS server of the one-process
// form.
type EmbeddedConfig struct {
	// DataDir holds the JetStream file store; empty uses memory only.
	DataDir string
	// Listen is host:port for external clients; empty opens no socket.
	Listen string
	// MaxPayload is the largest message accepted (default 8 MiB).
	MaxPayload int32
}

// StartEmbedded starts a NATS server with JetStream and waits until it
// accepts connections.
func StartEmbedded(cfg EmbeddedConfig) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "tracker-exporter",
		JetStream:  true,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: cfg.MaxPayload,
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = 8 << 20
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.DataDir != "" {
		opts.StoreDir = cfg.DataDir
	} else {
		opts.JetStreamMaxStore = 1 << 30
		opts.StoreDir = ""
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("nats server: not ready after 10s")
	}
	return srv, nil
}

func splitHostPort(s string) (string, int, error) {
	var host string
	var port int
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			host = s[:i]
			if _, err := fmt.Sscanf(s[i+1:], "%d", &port); err != nil {
				return "", 0, fmt.Errorf("nats listen %q: bad port", s)
			}
			return host, port, nil
		}
	}
	return "", 0, fmt.Errorf("nats listen %q: want host:port", s)
}

// Streams names the stream settings that deployments may tune.
type Streams struct {
	// Replicas of every stream (1 for a single server).
	Replicas int
	// DuplicateWindow is how long message IDs are remembered for dedup.
	DuplicateWindow time.Duration
	// Memory selects memory storage (tests); default file storage.
	Memory bool
	// MaxMsgSize bounds one message (0: server limit).
	MaxMsgSize int32
}

// Setup declares the raw, rows, pass and dead-letter streams. It is idempotent
// (CreateOrUpdate) and safe to call from every stage at start.
func Setup(ctx context.Context, js jetstream.JetStream, s Streams) error {
	if s.Replicas <= 0 {
		s.Replicas = 1
	}
	if s.DuplicateWindow <= 0 {
		s.DuplicateWindow = 30 * time.Minute
	}
	storage := jetstream.FileStorage
	if s.Memory {
		storage = jetstream.MemoryStorage
	}
	cfgs := []jetstream.StreamConfig{
		{
			// The latest snapshot of every issue, kept for replay.
			Name:              wire.RawStream,
			Description:       "raw Tracker issue snapshots (latest per issue), msgpack",
			Subjects:          []string{wire.RawSubjectRoot + ".>"},
			Retention:         jetstream.LimitsPolicy,
			MaxMsgsPerSubject: 1,
			Discard:           jetstream.DiscardOld,
			Duplicates:        s.DuplicateWindow,
			Storage:           storage,
			Replicas:          s.Replicas,
			MaxMsgSize:        s.MaxMsgSize,
		},
		{
			Name:        wire.RowsStream,
			Description: "table rows per issue for the loaders, msgpack",
			Subjects:    []string{wire.RowsSubjectRoot + ".>"},
			Retention:   jetstream.WorkQueuePolicy,
			Duplicates:  s.DuplicateWindow,
			Storage:     storage,
			Replicas:    s.Replicas,
			MaxMsgSize:  s.MaxMsgSize,
		},
		{
			// What every extraction pass found, for reconciliation.
			Name:        wire.PassStream,
			Description: "extraction pass manifests (issues found, versions, outcomes), msgpack",
			Subjects:    []string{wire.PassSubjectRoot + ".>"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      7 * 24 * time.Hour,
			Duplicates:  s.DuplicateWindow,
			Storage:     storage,
			Replicas:    s.Replicas,
			MaxMsgSize:  s.MaxMsgSize,
		},
		{
			Name:        wire.DeadStream,
			Description: "messages that could never be processed, with the reason",
			Subjects:    []string{wire.DeadSubjectRoot + ".>"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      30 * 24 * time.Hour,
			Storage:     storage,
			Replicas:    s.Replicas,
			MaxMsgSize:  s.MaxMsgSize,
		},
	}
	for _, c := range cfgs {
		if _, err := js.CreateOrUpdateStream(ctx, c); err != nil {
			return fmt.Errorf("stream %s: %w", c.Name, err)
		}
	}
	return nil
}

// Durable consumer names.
const (
	TransformerConsumer = "transformer"
	LoaderConsumer      = "loader"
)

// ConsumerConfig returns the durable pull consumer of a stage.
func ConsumerConfig(name string, maxDeliver int, ackWait time.Duration) jetstream.ConsumerConfig {
	if ackWait <= 0 {
		ackWait = time.Minute
	}
	return jetstream.ConsumerConfig{
		Durable:       name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    maxDeliver,
		MaxAckPending: 10000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// Pending reports the messages a consumer has not yet been delivered plus
// those delivered but not acknowledged. A missing consumer reports an error.
func Pending(ctx context.Context, js jetstream.JetStream, streamName, consumer string) (uint64, error) {
	c, err := js.Consumer(ctx, streamName, consumer)
	if err != nil {
		return 0, fmt.Errorf("consumer %s/%s: %w", streamName, consumer, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s/%s info: %w", streamName, consumer, err)
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// IsPermanent reports a connection error that retrying cannot fix: the
// server refused the credentials.
func IsPermanent(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked)
}

// RedactURL hides credentials embedded in a NATS URL.
func RedactURL(u string) string {
	for i := 0; i+3 <= len(u); i++ {
		if u[i:i+3] == "://" {
			rest := u[i+3:]
			for j := 0; j < len(rest); j++ {
				if rest[j] == '@' {
					return u[:i+3] + "REDACTED@" + rest[j+1:]
				}
				if rest[j] == '/' {
					break
				}
			}
			break
		}
	}
	return u
}
