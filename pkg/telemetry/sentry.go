package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"
)

// SentryFlushTimeout bounds how long the flush function of InitSentry waits
// for queued events.
const SentryFlushTimeout = 2 * time.Second

// InitSentry creates a Sentry client for dsn and binds it to Sentry's
// current (process-wide) hub, which SentryHandler reports to. release and
// env name the release (e.g. tracker-exporter@1.2.3) and the environment
// (e.g. production); either may be empty.
//
// The returned flush waits up to SentryFlushTimeout for the events still
// queued; call it before the process exits. An empty dsn turns Sentry off:
// InitSentry then returns a flush that does nothing and no error (unlike
// the Sentry SDK, it does not fall back to SENTRY_DSN).
//
// The DSN holds a key: it never appears in the returned error, and events
// are scrubbed of it. Events carry no personal data by default.
func InitSentry(dsn, release, env string) (flush func(), err error) {
	nop := func() {}
	dsn = strings.TrimSpace(dsn)
	if dsn == "" {
		return nop, nil
	}
	if err := checkDSN(dsn); err != nil {
		return nop, err
	}
	secrets := dsnSecrets(dsn)
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:            dsn,
		Release:        release,
		Environment:    env,
		SendDefaultPII: false,
		BeforeSend: func(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
			scrubEvent(ev, secrets)
			return ev
		},
	})
	if err != nil {
		// The SDK's parse errors may quote the URL: never pass them on.
		return nop, errors.New("sentry: invalid DSN: " + scrub(err.Error(), secrets))
	}
	sentry.CurrentHub().BindClient(client)
	return func() { client.Flush(SentryFlushTimeout) }, nil
}

// checkDSN validates the DSN's shape with messages that do not quote it.
func checkDSN(dsn string) error {
	u, err := url.Parse(dsn)
	switch {
	case err != nil:
		return errors.New("sentry: invalid DSN: not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("sentry: invalid DSN: want an http or https URL like https://KEY@HOST/PROJECT")
	case u.User == nil || u.User.Username() == "":
		return errors.New("sentry: invalid DSN: no public key (https://KEY@HOST/PROJECT)")
	case u.Hostname() == "":
		return errors.New("sentry: invalid DSN: no host")
	case strings.Trim(u.Path, "/") == "":
		return errors.New("sentry: invalid DSN: no project id")
	}
	return nil
}

// dsnSecrets returns the strings an event must never contain: the DSN and
// its secret key (legacy DSNs have one).
func dsnSecrets(dsn string) []string {
	s := []string{dsn}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && len(p) >= 4 {
			s = append(s, p)
		}
	}
	return s
}

func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "REDACTED")
		}
	}
	return s
}

func scrubEvent(ev *sentry.Event, secrets []string) {
	ev.Message = scrub(ev.Message, secrets)
	for i := range ev.Exception {
		ev.Exception[i].Value = scrub(ev.Exception[i].Value, secrets)
	}
	for _, c := range ev.Contexts {
		for k, v := range c {
			if s, ok := v.(string); ok {
				c[k] = scrub(s, secrets)
			}
		}
	}
	for k, v := range ev.Tags {
		ev.Tags[k] = scrub(v, secrets)
	}
}

// SentryHandler wraps a slog handler so that every record at level Error or
// above is also sent to Sentry through the hub bound by InitSentry (or the
// hub in the record's context, see sentry.SetHubOnContext). Records go on
// to next as before, whatever their level.
//
// The event's message is the log message, its fingerprint the message (so
// that one kind of failure is one Sentry issue however its details vary),
// the first error-valued attribute its exception, a "stage" attribute a
// tag, and every attribute, resolved through slog.LogValuer (so secrets
// show as REDACTED), is in the "log" context. Records above Error, such as
// the old tool's critical level, are sent as fatal.
//
// Without a bound client the wrapper only forwards. Handle does not block
// on the network: Sentry sends in the background. Safe for concurrent use.
func SentryHandler(next slog.Handler) slog.Handler {
	return &sentryHandler{next: next, hub: sentry.CurrentHub}
}

type prefixedAttr struct {
	prefix string
	attr   slog.Attr
}

type sentryHandler struct {
	next slog.Handler
	hub  func() *sentry.Hub
	// attrs were added with WithAttrs, each with the groups open then.
	attrs []prefixedAttr
	// prefix is the dotted path of the open groups, "" or "a.b.".
	prefix string
}

func (h *sentryHandler) hubFor(ctx context.Context) *sentry.Hub {
	if ctx != nil {
		if hub := sentry.GetHubFromContext(ctx); hub != nil && hub.Client().IsEnabled() {
			return hub
		}
	}
	if hub := h.hub(); hub != nil && hub.Client().IsEnabled() {
		return hub
	}
	return nil
}

// Enabled reports whether next handles the level, or the level is Error
// or above and Sentry is on.
func (h *sentryHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if h.next.Enabled(ctx, l) {
		return true
	}
	return l >= slog.LevelError && h.hubFor(ctx) != nil
}

// Handle sends Error records to Sentry and passes every record to next
// when next is enabled for it.
func (h *sentryHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		if hub := h.hubFor(ctx); hub != nil {
			hub.CaptureEvent(h.event(hub, r))
		}
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

// WithAttrs returns a handler whose records carry attrs too.
func (h *sentryHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := *h
	c.next = h.next.WithAttrs(attrs)
	c.attrs = append([]prefixedAttr(nil), h.attrs...)
	for _, a := range attrs {
		c.attrs = append(c.attrs, prefixedAttr{prefix: h.prefix, attr: a})
	}
	return &c
}

// WithGroup returns a handler that puts later attributes in group name.
func (h *sentryHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.prefix = h.prefix + name + "."
	return &c
}

// event builds the Sentry event of a record.
func (h *sentryHandler) event(hub *sentry.Hub, r slog.Record) *sentry.Event {
	ev := sentry.NewEvent()
	ev.Level = sentry.LevelError
	if r.Level > slog.LevelError {
		ev.Level = sentry.LevelFatal
	}
	ev.Logger = "slog"
	ev.Message = r.Message
	ev.Fingerprint = []string{r.Message}
	if !r.Time.IsZero() {
		ev.Timestamp = r.Time
	}
	fields := map[string]any{}
	var firstErr error
	add := func(key string, v slog.Value) {
		if key == "stage" {
			ev.Tags["stage"] = v.String()
		}
		if v.Kind() == slog.KindAny {
			if err, ok := v.Any().(error); ok {
				if firstErr == nil {
					firstErr = err
				}
				fields[key] = err.Error()
				return
			}
		}
		fields[key] = logValue(v)
	}
	for _, a := range h.attrs {
		flattenAttr(a.prefix, a.attr, add)
	}
	r.Attrs(func(a slog.Attr) bool {
		flattenAttr(h.prefix, a, add)
		return true
	})
	if len(fields) > 0 {
		ev.Contexts["log"] = fields
	}
	if firstErr != nil {
		depth := 10
		if c := hub.Client(); c != nil && c.Options().MaxErrorDepth > 0 {
			depth = c.Options().MaxErrorDepth
		}
		ev.SetException(firstErr, depth)
	}
	return ev
}

// flattenAttr resolves an attribute and calls add for each leaf with its
// dotted key; empty groups and empty attributes are dropped as slog does.
func flattenAttr(prefix string, a slog.Attr, add func(string, slog.Value)) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, g := range v.Group() {
			flattenAttr(p, g, add)
		}
		return
	}
	if a.Key == "" {
		return
	}
	add(prefix+a.Key, v)
}

// logValue converts a resolved slog value to what Sentry shows well.
func logValue(v slog.Value) any {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindInt64:
		return v.Int64()
	case slog.KindUint64:
		return v.Uint64()
	case slog.KindFloat64:
		return v.Float64()
	case slog.KindBool:
		return v.Bool()
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time().UTC().Format(time.RFC3339Nano)
	}
	if s, ok := v.Any().(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(v.Any())
}
