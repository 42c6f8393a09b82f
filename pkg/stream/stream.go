// Package stream is the JetStream plumbing shared by the stages: connecting
// (to a remote server or an embedded one), declaring the streams and
// consumers idempotently, and measuring how much work is pending.
package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// Connect dials NATS at url, one server or a comma-separated list of the
// servers of a cluster (nats://a:4222,nats://b:4222); any one that answers
// will do, and the client learns the rest of the cluster from it. It
// blocks until connected or ctx ends: waiting for a server that is not up
// yet is the caller's loop (it reports readiness meanwhile), so the first
// connection is not retried here. Once connected the connection never
// gives up: a server lost (killed, restarted, partitioned) is replaced by
// another of the cluster, or by itself when it returns, every
// ReconnectWait with jitter, without end; publishes made meanwhile are
// buffered (nats.go's 8 MiB) and JetStream calls fail with timeouts that
// the stages retry. opts add to or override these defaults (handlers for
// the disconnect and reconnect events, say).
func Connect(ctx context.Context, url, name string, opts ...nats.Option) (*Conn, error) {
	all := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(ReconnectWait),
		nats.ReconnectJitter(ReconnectWait/5, ReconnectWait/5),
		// A server that vanished without closing the socket (a host
		// lost, a partition) is noticed after PingInterval times
		// MaxPingsOutstanding, rather than nats.go's 4 minutes.
		nats.PingInterval(PingInterval),
		nats.MaxPingsOutstanding(2),
	}
	if dl, ok := ctx.Deadline(); ok {
		all = append(all, nats.Timeout(time.Until(dl)))
	}
	nc, err := nats.Connect(url, append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", RedactURL(url), err)
	}
	return wrap(nc)
}

// Reconnection timing of Connect.
const (
	// ReconnectWait is the pause between two rounds over the servers
	// after the connection was lost.
	ReconnectWait = 500 * time.Millisecond
	// PingInterval is how often the client checks that the server is
	// still there; two unanswered pings drop the connection.
	PingInterval = 10 * time.Second
)

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
	// Replicas of every stream: 1 for a single server, 3 (or 5) in a
	// JetStream cluster, where a stream survives the loss of a minority
	// of its servers. 0 means 1.
	Replicas int
	// DuplicateWindow is how long message IDs are remembered for dedup.
	DuplicateWindow time.Duration
	// Memory selects memory storage (tests); default file storage.
	Memory bool
	// MaxMsgSize bounds one message (0: server limit).
	MaxMsgSize int32
}

// Setup declares the raw, rows, pass and dead-letter streams. It is idempotent
// (CreateOrUpdate) and safe to call from every stage at start. A stream
// that exists is updated to s, its number of replicas included: in a
// JetStream cluster, raising Replicas from 1 to 3 copies the stored
// messages to two more servers (the durable consumers, whose own replicas
// follow the stream's, move with it), and lowering it drops copies. A
// single server refuses more than one replica with an error wrapping
// ErrReplicasUnsupported.
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
		if err := declare(ctx, js, c); err != nil {
			var api *jetstream.APIError
			if errors.As(err, &api) && api.ErrorCode == errCodeReplicasNotSupported {
				return fmt.Errorf("stream %s: %d replicas: %w", c.Name, c.Replicas, ErrReplicasUnsupported)
			}
			return fmt.Errorf("stream %s: %w", c.Name, err)
		}
	}
	return nil
}

// declare creates or updates one stream. When two stages declare a new
// stream of a cluster at the same moment, the server answers only one of
// them (measured on nats-server 2.15 with three replicas: the other waits
// for an answer that never comes); so each try has a short deadline of its
// own, and a try that ran out of time is repeated, by then as an update of
// the stream the other stage created. After declareTries such tries the
// error goes to the caller, which waits for NATS as for any outage.
func declare(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	var err error
	for range declareTries {
		tctx, cancel := context.WithTimeout(ctx, declareTry)
		_, err = js.CreateOrUpdateStream(tctx, cfg)
		cancel()
		if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	return err
}

// A stream's declaration takes a few hundred milliseconds on a cluster of
// three; declareTry leaves ample margin.
const (
	declareTry   = 3 * time.Second
	declareTries = 3
)

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

// IsPermanent reports an error that retrying cannot fix: the server
// refused the credentials, or a single server (not a cluster) was asked
// for streams of more than one replica.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrReplicasUnsupported) {
		return true
	}
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked)
}

// ErrReplicasUnsupported is returned (wrapped) by Setup when the server is
// not part of a JetStream cluster and more than one replica was asked for.
var ErrReplicasUnsupported = errors.New("the NATS server is not clustered: streams of more than one replica need a JetStream cluster (set EXPORTER_NATS__REPLICAS=1, or point EXPORTER_NATS__URL at a cluster)")

// errCodeReplicasNotSupported is JetStream's "replicas > 1 not supported
// in non-clustered mode".
const errCodeReplicasNotSupported jetstream.ErrorCode = 10074

// RedactURL hides credentials embedded in a NATS URL, or in each URL of a
// comma-separated list.
func RedactURL(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		parts[i] = redactOne(p)
	}
	return strings.Join(parts, ",")
}

func redactOne(u string) string {
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
			return u
		}
	}
	// No scheme: user:pass@host:port.
	if at := strings.LastIndexByte(u, '@'); at >= 0 {
		return "REDACTED@" + u[at+1:]
	}
	return u
}
