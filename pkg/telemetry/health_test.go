package telemetry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthHandler(t *testing.T) {
	tests := []struct {
		name     string
		ready    bool
		method   string
		path     string
		wantCode int
		wantBody string
	}{
		{"live while not ready", false, http.MethodGet, "/healthz", 200, "ok\n"},
		{"live while ready", true, http.MethodGet, "/healthz", 200, "ok\n"},
		{"not ready", false, http.MethodGet, "/readyz", 503, "not ready\n"},
		{"ready", true, http.MethodGet, "/readyz", 200, "ready\n"},
		{"head ready", true, http.MethodHead, "/readyz", 200, ""},
		{"head not ready", false, http.MethodHead, "/readyz", 503, ""},
		{"post refused", true, http.MethodPost, "/healthz", 405, "method not allowed\n"},
		{"no metrics", true, http.MethodGet, "/metrics", 404, "404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Health
			h.SetReady(tt.ready)
			rec := httptest.NewRecorder()
			h.Handler().ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
				t.Errorf("%s %s (ready=%v) = %d %q, want %d %q", tt.method, tt.path, tt.ready, rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
		})
	}
}

// TestHealthLostDependency: a ready stage whose NATS connection is lost
// is not ready until it is back, and says what it lost; liveness holds.
func TestHealthLostDependency(t *testing.T) {
	var h Health
	h.SetReady(true)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	h.Lost("NATS")
	h.Lost("ClickHouse")
	if code, body := get("/readyz"); code != 503 || body != "not ready: lost ClickHouse, NATS\n" || h.Ready() {
		t.Errorf("lost: /readyz = %d %q, Ready %v; want 503 naming both, false", code, body, h.Ready())
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("lost: /healthz = %d, want 200 (alive)", code)
	}
	h.Back("ClickHouse")
	if code, body := get("/readyz"); code != 503 || body != "not ready: lost NATS\n" {
		t.Errorf("one back: /readyz = %d %q", code, body)
	}
	h.Back("NATS")
	if code, body := get("/readyz"); code != 200 || body != "ready\n" || !h.Ready() {
		t.Errorf("both back: /readyz = %d %q, Ready %v; want 200 ready", code, body, h.Ready())
	}
	h.SetReady(false)
	h.Lost("NATS")
	h.Back("NATS")
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("not ready, NATS back: /readyz = %d, want 503", code)
	}
}

func TestHealthZeroValueNotReady(t *testing.T) {
	var h Health
	if h.Ready() {
		t.Fatal("zero Health is ready, want not ready")
	}
	h.SetReady(true)
	h.SetReady(false)
	if h.Ready() {
		t.Fatal("Ready() after SetReady(false) = true")
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthServeListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	var h Health
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.ServeListener(ctx, ln) }()

	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, _ := get(t, base+"/readyz"); code != 503 {
		t.Errorf("/readyz before SetReady = %d, want 503", code)
	}
	h.SetReady(true)
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz after SetReady(true) = %d %q, want 200 \"ready\\n\"", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeListener after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeListener did not return within 5s of cancel")
	}
	if conn, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		conn.Close()
		t.Error("port still accepts connections after ServeListener returned")
	}
}

func TestHealthServeErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		addr string
	}{
		{"port in use", busy.Addr().String()},
		{"bad address", "127.0.0.1:notaport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Health
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := h.Serve(ctx, tt.addr)
			if err == nil || !strings.Contains(err.Error(), tt.addr) {
				t.Fatalf("Serve(%q) = %v, want an error naming the address", tt.addr, err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Serve(%q) blocked until the deadline: %v", tt.addr, err)
			}
		})
	}
}

// TestHealthServeReturnsNilOnCancel cancels Serve once it serves: Serve
// takes an address, so it gets a port found free, and is probed until it
// answers (it says nothing when it starts listening).
func TestHealthServeReturnsNilOnCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var h Health
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, addr) }()
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if resp, err := probe.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Serve(%s) did not answer within 5s", addr)
		}
		select {
		case err := <-done:
			t.Fatalf("Serve(%s) = %v before it was cancelled", addr, err)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5s of cancel")
	}
}
