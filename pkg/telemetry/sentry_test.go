package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
)

// password is a secret as pkg/config has them: it logs as REDACTED.
type password string

func (password) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// recordingTransport keeps the events a client sends.
type recordingTransport struct {
	mu     sync.Mutex
	events []*sentry.Event
}

func (t *recordingTransport) Configure(sentry.ClientOptions)        {}
func (t *recordingTransport) Flush(time.Duration) bool              { return true }
func (t *recordingTransport) FlushWithContext(context.Context) bool { return true }
func (t *recordingTransport) Close()                                {}
func (t *recordingTransport) SendEvent(ev *sentry.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, ev)
}

func (t *recordingTransport) got() []*sentry.Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*sentry.Event(nil), t.events...)
}

// testHub returns a hub whose client records its events.
func testHub(t *testing.T) (*sentry.Hub, *recordingTransport) {
	t.Helper()
	tr := &recordingTransport{}
	c, err := sentry.NewClient(sentry.ClientOptions{Dsn: "http://public@127.0.0.1:9/1", Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return sentry.NewHub(c, sentry.NewScope()), tr
}

func TestSentryHandler(t *testing.T) {
	type want struct {
		events    int
		level     sentry.Level
		message   string
		exception string // the outermost exception value; "" for none
		stageTag  string
		fields    map[string]any
	}
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want want
	}{
		{
			name: "info is not sent",
			log:  func(l *slog.Logger) { l.Info("extraction finished", "found", 3) },
			want: want{events: 0},
		},
		{
			name: "warning is not sent",
			log:  func(l *slog.Logger) { l.Warn("issue failed", "issue", "TEST-1") },
			want: want{events: 0},
		},
		{
			name: "error with attributes, an error and a secret",
			log: func(l *slog.Logger) {
				l.With("stage", "loader").Error("rows dead-lettered",
					"subject", "tracker.rows.issue.1", "err", fmt.Errorf("insert issues: %w", io.ErrUnexpectedEOF),
					"password", password("hunter2"), "rows", 12, "took", 1500*time.Millisecond)
			},
			want: want{events: 1, level: sentry.LevelError, message: "rows dead-lettered",
				exception: "insert issues: unexpected EOF", stageTag: "loader",
				fields: map[string]any{
					"stage": "loader", "subject": "tracker.rows.issue.1", "err": "insert issues: unexpected EOF",
					"password": "REDACTED", "rows": int64(12), "took": "1.5s",
				}},
		},
		{
			name: "groups flatten to dotted keys",
			log: func(l *slog.Logger) {
				l.WithGroup("batch").With("table", "issues").Error("insert failed",
					slog.Group("ch", slog.String("host", "clickhouse"), slog.Int("port", 9000)))
			},
			want: want{events: 1, level: sentry.LevelError, message: "insert failed",
				fields: map[string]any{"batch.table": "issues", "batch.ch.host": "clickhouse", "batch.ch.port": int64(9000)}},
		},
		{
			name: "above error is fatal",
			log: func(l *slog.Logger) {
				l.Log(context.Background(), slog.LevelError+4, "cannot start")
			},
			want: want{events: 1, level: sentry.LevelFatal, message: "cannot start"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, tr := testHub(t)
			var out bytes.Buffer
			next := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo})
			l := slog.New(&sentryHandler{next: next, hub: func() *sentry.Hub { return hub }})
			tt.log(l)
			hub.Flush(time.Second)

			if out.Len() == 0 {
				t.Errorf("next handler got nothing; want every record passed on")
			}
			if strings.Contains(out.String(), "hunter2") {
				t.Errorf("log output holds the secret: %s", out.String())
			}
			evs := tr.got()
			if len(evs) != tt.want.events {
				t.Fatalf("sent %d events, want %d", len(evs), tt.want.events)
			}
			if tt.want.events == 0 {
				return
			}
			ev := evs[0]
			if ev.Level != tt.want.level || ev.Message != tt.want.message {
				t.Errorf("event level %q message %q, want %q %q", ev.Level, ev.Message, tt.want.level, tt.want.message)
			}
			if len(ev.Fingerprint) != 1 || ev.Fingerprint[0] != tt.want.message {
				t.Errorf("fingerprint %v, want [%q]", ev.Fingerprint, tt.want.message)
			}
			gotExc := ""
			if n := len(ev.Exception); n > 0 {
				gotExc = ev.Exception[n-1].Value // Sentry lists the outermost error last
			}
			if gotExc != tt.want.exception {
				t.Errorf("exception %q (all: %+v), want %q", gotExc, ev.Exception, tt.want.exception)
			}
			if ev.Tags["stage"] != tt.want.stageTag {
				t.Errorf("stage tag %q, want %q", ev.Tags["stage"], tt.want.stageTag)
			}
			fields := ev.Contexts["log"]
			for k, v := range tt.want.fields {
				if fields[k] != v {
					t.Errorf("log context %s = %#v, want %#v (all: %v)", k, fields[k], v, fields)
				}
			}
			if len(fields) != len(tt.want.fields) {
				t.Errorf("log context has %d fields %v, want %d", len(fields), fields, len(tt.want.fields))
			}
		})
	}
}

func TestSentryHandlerWithoutClientOnlyForwards(t *testing.T) {
	var out bytes.Buffer
	next := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})
	unbound := sentry.NewHub(nil, sentry.NewScope())
	h := &sentryHandler{next: next, hub: func() *sentry.Hub { return unbound }}
	ctx := context.Background()
	if h.Enabled(ctx, slog.LevelInfo) {
		t.Error("Enabled(info) = true with next at warning and no Sentry client")
	}
	if !h.Enabled(ctx, slog.LevelError) {
		t.Error("Enabled(error) = false, want true (next handles it)")
	}
	slog.New(h).Error("boom")
	if !strings.Contains(out.String(), "boom") {
		t.Errorf("next got %q, want the record", out.String())
	}
}

func TestSentryHandlerEnabledForErrorsBelowNextLevel(t *testing.T) {
	hub, tr := testHub(t)
	var out bytes.Buffer
	// A logger at "critical" (above error) still reports errors to Sentry.
	next := slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelError + 4})
	l := slog.New(&sentryHandler{next: next, hub: func() *sentry.Hub { return hub }})
	l.Error("quiet failure")
	hub.Flush(time.Second)
	if n := len(tr.got()); n != 1 {
		t.Errorf("sent %d events, want 1", n)
	}
	if out.Len() != 0 {
		t.Errorf("next printed %q below its level", out.String())
	}
}

func TestSentryHandlerUsesHubFromContext(t *testing.T) {
	global, globalTr := testHub(t)
	local, localTr := testHub(t)
	l := slog.New(&sentryHandler{next: slog.NewTextHandler(io.Discard, nil), hub: func() *sentry.Hub { return global }})
	l.ErrorContext(sentry.SetHubOnContext(context.Background(), local), "from a request")
	global.Flush(time.Second)
	local.Flush(time.Second)
	if g, lc := len(globalTr.got()), len(localTr.got()); g != 0 || lc != 1 {
		t.Errorf("events: global %d, context hub %d; want 0 and 1", g, lc)
	}
}

// sentryServer is a local Sentry ingestion endpoint that keeps what it
// receives.
type sentryServer struct {
	*httptest.Server
	mu    sync.Mutex
	posts []sentryPost
}

type sentryPost struct {
	path, auth, body string
}

func newSentryServer(t *testing.T) *sentryServer {
	s := &sentryServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.posts = append(s.posts, sentryPost{path: r.URL.Path, auth: r.Header.Get("X-Sentry-Auth"), body: string(b)})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"00000000000000000000000000000000"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sentryServer) got() []sentryPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sentryPost(nil), s.posts...)
}

// envelopeEvent returns the JSON of the event item of a Sentry envelope
// (a header line, then item-header and payload lines).
func envelopeEvent(t *testing.T, envelope string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(envelope), "\n")
	for i := 1; i+1 < len(lines); i += 2 {
		var h struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &h); err != nil {
			t.Fatalf("envelope item header %q: %v", lines[i], err)
		}
		if h.Type == "event" {
			return lines[i+1]
		}
	}
	t.Fatalf("no event item in envelope:\n%s", envelope)
	return ""
}

// restoreGlobalHub puts back the client of Sentry's current hub.
func restoreGlobalHub(t *testing.T) {
	prev := sentry.CurrentHub().Client()
	t.Cleanup(func() { sentry.CurrentHub().BindClient(prev) })
}

func TestInitSentrySendsErrorsWithoutSecrets(t *testing.T) {
	restoreGlobalHub(t)
	srv := newSentryServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	// A legacy DSN with a secret key: neither it nor the DSN may leave.
	dsn := "http://publickey:legacysecretkey@" + host + "/42"
	flush, err := InitSentry(dsn, "tracker-exporter@test", "ci")
	if err != nil {
		t.Fatalf("InitSentry: %v", err)
	}
	var out bytes.Buffer
	l := slog.New(SentryHandler(slog.NewTextHandler(&out, nil))).With("stage", "extractor")
	l.Info("not for sentry")
	l.Error("extraction pass failed", "err", errors.New("search: 503 Service Unavailable"),
		"token", password("y0_AgAAAAsecret"), "dsn_by_mistake", dsn)
	flush()

	posts := srv.got()
	if len(posts) != 1 {
		t.Fatalf("Sentry endpoint got %d requests, want 1: %+v", len(posts), posts)
	}
	p := posts[0]
	if p.path != "/api/42/envelope/" {
		t.Errorf("posted to %s, want /api/42/envelope/", p.path)
	}
	if !strings.Contains(p.auth, "sentry_key=publickey") {
		t.Errorf("X-Sentry-Auth %q lacks sentry_key=publickey", p.auth)
	}
	// The envelope's own header names the DSN for Sentry itself (the
	// protocol); the event, which Sentry stores and shows, must hold no
	// secret.
	event := envelopeEvent(t, p.body)
	for _, want := range []string{"extraction pass failed", "search: 503 Service Unavailable", "tracker-exporter@test", `"ci"`, "REDACTED", `"stage":"extractor"`} {
		if !strings.Contains(event, want) {
			t.Errorf("event lacks %q:\n%s", want, event)
		}
	}
	for _, secret := range []string{"y0_AgAAAAsecret", "legacysecretkey", dsn} {
		if strings.Contains(event, secret) {
			t.Errorf("event holds the secret %q:\n%s", secret, event)
		}
	}
	if strings.Contains(p.body, "not for sentry") {
		t.Error("an info record reached Sentry")
	}
	if !strings.Contains(out.String(), "not for sentry") || !strings.Contains(out.String(), "extraction pass failed") {
		t.Errorf("log output lost records: %s", out.String())
	}
}

func TestInitSentryEmptyDSNIsOff(t *testing.T) {
	restoreGlobalHub(t)
	sentry.CurrentHub().BindClient(nil)
	t.Setenv("SENTRY_DSN", "http://public@127.0.0.1:9/1")
	flush, err := InitSentry("  ", "r", "e")
	if err != nil || flush == nil {
		t.Fatalf("InitSentry(\"\") = flush nil %v, err %v; want a no-op flush and nil", flush == nil, err)
	}
	flush()
	if sentry.CurrentHub().Client().IsEnabled() {
		t.Error("InitSentry with an empty DSN bound a client (from SENTRY_DSN?)")
	}
}

func TestInitSentryInvalidDSN(t *testing.T) {
	tests := []struct {
		dsn, want string
	}{
		{"http://key:pw-s3cr3t@host:notaport/1", "not a URL"},
		{"ftp://key-s3cr3t@host/1", "http or https"},
		{"https://sentry.example/1", "no public key"},
		{"https://key-s3cr3t@/1", "no host"},
		{"https://key-s3cr3t@sentry.example", "no project id"},
		{"https://key-s3cr3t@sentry.example/", "no project id"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			restoreGlobalHub(t)
			before := sentry.CurrentHub().Client()
			flush, err := InitSentry(tt.dsn, "", "")
			if err == nil {
				t.Fatalf("InitSentry(%q) = nil error, want one saying %q", tt.dsn, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), tt.dsn) {
				t.Errorf("error %q quotes the DSN", err)
			}
			if flush == nil {
				t.Error("flush is nil on error; want a no-op")
			}
			if sentry.CurrentHub().Client() != before {
				t.Error("a failed InitSentry changed the bound client")
			}
		})
	}
}
