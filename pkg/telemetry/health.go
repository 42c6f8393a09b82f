package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Health serves the probes that docker compose, Kubernetes or a load
// balancer ask a stage:
//
//   - GET /healthz (liveness) answers 200 as long as the process runs and
//     serves HTTP;
//   - GET /readyz (readiness) answers 200 after SetReady(true) and 503
//     before it, after SetReady(false), and while a dependency is lost
//     (Lost until Back: a connection being re-established).
//
// Both accept HEAD too and answer with a one-line text body. There is no
// /metrics: metrics go to DogStatsD. The zero value is usable and not
// ready. Health is safe for concurrent use.
type Health struct {
	ready atomic.Bool

	mu   sync.Mutex
	lost map[string]bool // dependencies whose connection is lost
}

// SetReady sets what /readyz answers: 200 when ready, 503 otherwise.
func (h *Health) SetReady(ready bool) { h.ready.Store(ready) }

// Lost marks the dependency what as unreachable: /readyz answers 503,
// naming it, until Back(what).
func (h *Health) Lost(what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost == nil {
		h.lost = map[string]bool{}
	}
	h.lost[what] = true
}

// Back marks the dependency what as reachable again.
func (h *Health) Back(what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.lost, what)
}

// Ready reports whether /readyz answers 200: SetReady(true) was the last
// call and no dependency is lost.
func (h *Health) Ready() bool { return h.ready.Load() && h.missing() == "" }

// missing names the lost dependencies, sorted ("" if none).
func (h *Health) missing() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.lost))
	for n := range h.lost {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Handler returns the HTTP handler of /healthz and /readyz; other paths
// answer 404.
func (h *Health) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		probeReply(w, r, http.StatusOK, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		switch lost := h.missing(); {
		case lost != "":
			probeReply(w, r, http.StatusServiceUnavailable, "not ready: lost "+lost)
		case h.ready.Load():
			probeReply(w, r, http.StatusOK, "ready")
		default:
			probeReply(w, r, http.StatusServiceUnavailable, "not ready")
		}
	})
	return mux
}

func probeReply(w http.ResponseWriter, r *http.Request, code int, body string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method == http.MethodGet {
		_, _ = fmt.Fprintln(w, body)
	}
}

// healthShutdownTimeout bounds how long Serve waits for probes in flight
// once its context ends.
const healthShutdownTimeout = 2 * time.Second

// Serve listens on addr (host:port or :port, e.g. ":8080") and serves the
// probes until ctx ends. It blocks; it returns nil after ctx ends and an
// error when it cannot listen or the server fails.
func (h *Health) Serve(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("health: listen %s: %w", addr, err)
	}
	return h.ServeListener(ctx, ln)
}

// ServeListener is Serve on a listener the caller opened (tests use port
// 0). It closes ln. It blocks until ctx ends (then returns nil) or the
// server fails.
func (h *Health) ServeListener(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           h.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       30 * time.Second,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("health: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("health: serve %s: %w", ln.Addr(), err)
	}
	return nil
}
