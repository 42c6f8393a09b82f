package app

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"strings"
)

// version is set at build time by the Makefile (-ldflags -X); empty, the
// module version and VCS revision Go recorded are used.
var version string

// Version says which build this is: the release (or module version),
// then the VCS revision and "+dirty" for a modified tree when Go recorded
// them, e.g. "v2.1.0", "(devel) 4fe42e6c1a2b+dirty".
func Version() string {
	if version != "" {
		return version
	}
	v := "(devel)"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v = bi.Main.Version
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" && !strings.Contains(v, rev) {
		v += " " + rev + dirty
	}
	return v
}

// Release names this build for Sentry: tracker-exporter@<version>.
func Release() string {
	return "tracker-exporter@" + strings.ReplaceAll(Version(), " ", "-")
}

// Close flushes Sentry and the metrics client. Call it (deferred) once the
// stage has stopped.
func (e *Env) Close() {
	if e.flushSentry != nil {
		e.flushSentry()
	}
	_ = e.Metrics.Close()
}

// LogStart logs the effective configuration (secrets redacted) and the
// configuration warnings.
func (e *Env) LogStart(name string) {
	e.Log.Info("starting", "binary", name, "release", Release(), "config", e.Config)
	for _, w := range e.Config.Warnings {
		e.Log.Warn(w)
	}
}

// ServeHealth serves /healthz and /readyz on EXPORTER_HEALTH_ADDR until the
// returned stop is called; readiness drops as soon as ctx ends (shutdown
// starts) while liveness answers until stop. A listen error is returned
// at once so that a taken port fails the start. With no address it does
// nothing.
func ServeHealth(ctx context.Context, env *Env) (stop func(), err error) {
	addr := env.Config.HealthAddr
	if addr == "" {
		return func() {}, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health: listen %s: %w", addr, err)
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- env.Health.ServeListener(hctx, ln) }()
	unhook := context.AfterFunc(ctx, func() { env.Health.SetReady(false) })
	return func() {
		unhook()
		env.Health.SetReady(false)
		cancel()
		if err := <-done; err != nil {
			env.Log.Warn("health endpoints failed", "err", err)
		}
	}, nil
}
