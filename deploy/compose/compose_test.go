// Package compose holds the docker compose deployment (docker-compose.yml,
// .env.example, nats.conf) and the tests that check it without a Docker
// engine: the variables it names are ones the binaries read, the example
// settings pass each stage's validation, the stages' health check works
// against the real health server, and the Dockerfile builds every binary.
//
// The structural checks need the file as data: they use `docker compose
// config` when the compose plugin is installed, else python3 with PyYAML
// (Debian: python3-yaml), and skip when neither is there.
package compose

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
)

const (
	composeFile = "docker-compose.yml"
	envExample  = ".env.example"
	dockerfile  = "../Dockerfile"
)

func knownVariables() map[string]bool {
	known := map[string]bool{}
	for _, v := range config.Variables() {
		known[v.Name] = true
	}
	return known
}

var exporterVarRE = regexp.MustCompile(`\bEXPORTER_[A-Z0-9_]*[A-Z0-9]`)

func TestNamedVariablesAreKnown(t *testing.T) {
	known := knownVariables()
	// Group names that the texts mention as prefixes ("__HOST/__PORT").
	prefixes := map[string]bool{"EXPORTER_CLICKHOUSE": true, "EXPORTER_STATE": true, "EXPORTER_TRACKER": true, "EXPORTER_MONITORING": true, "EXPORTER_NATS": true}
	for _, file := range []string{composeFile, envExample} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := exporterVarRE.FindAllString(string(data), -1)
		if len(names) < 5 {
			t.Fatalf("%s names %d EXPORTER_ variables, want 5 or more", file, len(names))
		}
		for _, n := range names {
			if !known[n] && !prefixes[n] {
				t.Errorf("%s names %s, which no binary reads (config.Variables)", file, n)
			}
		}
	}
}

// envAssignments returns the NAME=value lines of an env file, commented
// examples ("# NAME=value") included, with their line numbers.
func envAssignments(t *testing.T, file string) (set, commented map[string]string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set, commented = map[string]string{}, map[string]string{}
	assign := regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=(.*)$`)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		target := set
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			line, target = strings.TrimSpace(rest), commented
		}
		if m := assign.FindStringSubmatch(line); m != nil {
			if _, dup := target[m[1]]; dup {
				t.Errorf("%s:%d sets %s twice", file, n, m[1])
			}
			target[m[1]] = m[2]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return set, commented
}

func TestEnvExample(t *testing.T) {
	set, commented := envAssignments(t, envExample)
	for _, need := range []string{
		"EXPORTER_TRACKER__TOKEN", "EXPORTER_TRACKER__ORG_ID", "EXPORTER_STATEFUL",
		"EXPORTER_CLICKHOUSE__USERNAME", "EXPORTER_CLICKHOUSE__PASSWORD", "EXPORTER_CLICKHOUSE__DATABASE",
	} {
		if _, ok := set[need]; !ok {
			t.Errorf("%s does not set %s", envExample, need)
		}
	}
	// The addresses belong to the compose file; set here they would be
	// overridden and only mislead.
	for _, owned := range []string{"EXPORTER_NATS__URL", "EXPORTER_HEALTH_ADDR", "EXPORTER_CLICKHOUSE__HOST",
		"EXPORTER_CLICKHOUSE__PORT", "EXPORTER_CLICKHOUSE__PROTO", "EXPORTER_STATE__STORAGE", "EXPORTER_STATE__REDIS_DSN"} {
		if _, ok := set[owned]; ok {
			t.Errorf("%s sets %s, which docker-compose.yml sets for every stage", envExample, owned)
		}
		if _, ok := commented[owned]; ok {
			t.Errorf("%s suggests %s, which docker-compose.yml sets for every stage", envExample, owned)
		}
	}
	// Secrets are placeholders, never something that looks real.
	for _, s := range []string{"EXPORTER_TRACKER__TOKEN", "EXPORTER_CLICKHOUSE__PASSWORD"} {
		if !strings.Contains(set[s], "REPLACE") {
			t.Errorf("%s=%q: want a REPLACE_... placeholder", s, set[s])
		}
	}
}

// composeModel returns the compose file as data, from `docker compose
// config` or PyYAML, or skips.
func composeModel(t *testing.T) map[string]any {
	t.Helper()
	var out []byte
	if exec.Command("docker", "compose", "version").Run() == nil {
		dir := copyForCompose(t)
		cmd := exec.Command("docker", "compose", "-f", filepath.Join(dir, "deploy/compose", composeFile), "config", "--format", "json")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("docker compose config: %v\n%s", err, stderr.String())
		}
		out = b
	} else if py := pythonWithYAML(); py != "" {
		cmd := exec.Command(py, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", composeFile)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s is not valid YAML: %v\n%s", composeFile, err, stderr.String())
		}
		out = b
	} else {
		// .ci/run installs python3-yaml: in CI this check never skips.
		if testenv.InCI() {
			t.Fatal("neither the docker compose plugin nor python3 with PyYAML (python3-yaml) is installed")
		}
		t.Skip("neither the docker compose plugin nor python3 with PyYAML (python3-yaml) is installed")
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("compose model: %v", err)
	}
	return m
}

// copyForCompose lays the compose directory out in a temporary tree with
// .env made from .env.example, as a user would, and returns its root.
func copyForCompose(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "deploy", "compose")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{composeFile: composeFile, "nats.conf": "nats.conf", envExample: ".env"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func strs(v any) []string {
	var out []string
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
	case string:
		out = strings.Fields(v)
	}
	return out
}

// environment returns a service's environment as NAME=value lines.
func environment(svc map[string]any) []string {
	var env []string
	switch e := svc["environment"].(type) {
	case map[string]any:
		for k, v := range e {
			if v == nil {
				continue
			}
			env = append(env, k+"="+fmt.Sprint(v))
		}
	case []any:
		for _, kv := range e {
			env = append(env, fmt.Sprint(kv))
		}
	}
	slices.Sort(env)
	return env
}

func lookup(env []string, name string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// stageRoles maps the command of each tracker-exporter service to the role
// its binary validates.
var stageRoles = map[string]config.Role{
	"extractor":   config.RoleExtractor,
	"transformer": config.RoleTransformer,
	"loader":      config.RoleLoader,
	"migrate":     config.RoleLoader,
}

func TestComposeStructure(t *testing.T) {
	m := composeModel(t)
	services := obj(m["services"])
	var names []string
	for n := range services {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"clickhouse", "extractor", "loader", "migrate", "nats", "redis", "transformer"}
	if !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	for _, n := range names {
		svc := obj(services[n])
		if _, ok := svc["container_name"]; ok {
			t.Errorf("%s has a container_name: it cannot be scaled", n)
		}
		restart := fmt.Sprint(svc["restart"])
		if n == "migrate" && restart != "no" || n != "migrate" && restart != "unless-stopped" {
			t.Errorf("%s: restart %q", n, restart)
		}
		hc := obj(svc["healthcheck"])
		if n != "migrate" && (hc == nil || len(strs(hc["test"])) == 0 || hc["disable"] == true) {
			t.Errorf("%s has no health check", n)
		}
	}

	nats := obj(services["nats"])
	cmd := strings.Join(strs(nats["command"]), " ")
	for _, flag := range []string{"-js", "-sd /data", "-m 8222"} {
		if !strings.Contains(cmd, flag) {
			t.Errorf("nats command %q lacks %s", cmd, flag)
		}
	}
	if !strings.Contains(strings.Join(strs(obj(nats["healthcheck"])["test"]), " "), ":8222/healthz") {
		t.Errorf("nats health check does not ask :8222/healthz")
	}

	loader := obj(services["loader"])
	if _, ok := loader["ports"]; ok {
		t.Error("loader publishes ports: --scale loader=3 would collide")
	}
	deps := obj(loader["depends_on"])
	for dep, cond := range map[string]string{"migrate": "service_completed_successfully", "clickhouse": "service_healthy", "nats": "service_healthy"} {
		if got := fmt.Sprint(obj(deps[dep])["condition"]); got != cond {
			t.Errorf("loader depends_on %s: condition %q, want %q", dep, got, cond)
		}
	}
	migrate := obj(services["migrate"])
	if got := strs(migrate["command"]); !slices.Equal(got, []string{"loader", "migrate"}) {
		t.Errorf("migrate command %v, want [loader migrate]", got)
	}
	if got := fmt.Sprint(obj(obj(migrate["depends_on"])["clickhouse"])["condition"]); got != "service_healthy" {
		t.Errorf("migrate waits for clickhouse %q, want service_healthy", got)
	}
	if got := strs(obj(services["extractor"])["command"]); !slices.Equal(got, []string{"extractor"}) {
		t.Errorf("extractor command %v, want [extractor] (interval mode, no --run-once)", got)
	}

	for name, role := range stageRoles {
		t.Run(name, func(t *testing.T) {
			svc := obj(services[name])
			env := environment(svc)
			if got := lookup(env, "EXPORTER_NATS__URL"); got != "nats://nats:4222" {
				t.Errorf("EXPORTER_NATS__URL=%q, want nats://nats:4222", got)
			}
			if !strings.Contains(fmt.Sprint(svc["env_file"]), ".env") {
				t.Errorf("env_file %v, want .env", svc["env_file"])
			}
			if name != "migrate" {
				addr := lookup(env, "EXPORTER_HEALTH_ADDR")
				_, port, err := net.SplitHostPort(addr)
				probe := strings.Join(strs(obj(svc["healthcheck"])["test"]), " ")
				if err != nil || !strings.Contains(probe, "/"+port+" ") || !strings.Contains(probe, "/healthz") {
					t.Errorf("health check %q does not ask /healthz on EXPORTER_HEALTH_ADDR=%q", probe, addr)
				}
			}
			if name == "extractor" && (lookup(env, "EXPORTER_STATE__STORAGE") != "redis" || !strings.HasPrefix(lookup(env, "EXPORTER_STATE__REDIS_DSN"), "redis://redis:")) {
				t.Errorf("extractor keeps its state in %q %q, want redis at redis:6379", lookup(env, "EXPORTER_STATE__STORAGE"), lookup(env, "EXPORTER_STATE__REDIS_DSN"))
			}
			// The example settings, with what compose adds, pass the
			// validation of the stage's binary, without warnings.
			cfg, err := config.Load(env, envExample)
			if err := config.Check(cfg, err, role); err != nil {
				t.Errorf("%s with %s is refused:\n%s", name, envExample, config.FormatError(err))
			}
			for _, w := range cfg.Warnings {
				t.Errorf("%s with %s: warning: %s", name, envExample, w)
			}
		})
	}
}

// probeCommand returns the stages' health check command from the compose
// file; it is written as a one-line flow sequence, which is JSON.
func probeCommand(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "test:")
		if !ok || !strings.Contains(rest, "/dev/tcp/") {
			continue
		}
		var cmd []string
		if err := json.Unmarshal([]byte(strings.TrimSpace(rest)), &cmd); err != nil {
			t.Fatalf("stage health check %q: %v", rest, err)
		}
		return cmd
	}
	t.Fatalf("%s has no stage health check (test: [...] with /dev/tcp/)", composeFile)
	return nil
}

func TestStageHealthCheckAgainstHealthServer(t *testing.T) {
	cmd := probeCommand(t)
	if len(cmd) != 4 || cmd[0] != "CMD" || cmd[1] != "bash" || cmd[2] != "-c" || !strings.Contains(cmd[3], "/dev/tcp/127.0.0.1/8080 ") {
		t.Fatalf("health check %q: want [CMD bash -c \"...\"] on 127.0.0.1:8080", cmd)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	run := func(port int) error {
		script := strings.Replace(cmd[3], "/127.0.0.1/8080 ", fmt.Sprintf("/127.0.0.1/%d ", port), 1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bash, "-c", script).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	var h telemetry.Health
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.ServeListener(ctx, ln) }()
	if err := run(port); err != nil {
		t.Errorf("health check against a running stage failed: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := run(port); err == nil {
		t.Error("health check passed with nothing listening")
	}

	// A server that answers something else than 200 fails the check.
	bad, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	go func() {
		for {
			c, err := bad.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.0 503 Service Unavailable\r\n\r\n"))
			c.Close()
		}
	}()
	if err := run(bad.Addr().(*net.TCPAddr).Port); err == nil {
		t.Error("health check passed on a 503")
	}
}

func TestDockerfileBuildsEveryBinary(t *testing.T) {
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	mains, err := filepath.Glob("../../cmd/*/main.go")
	if err != nil || len(mains) == 0 {
		t.Fatalf("no cmd/*/main.go found: %v", err)
	}
	for _, m := range mains {
		bin := filepath.Base(filepath.Dir(m))
		if !strings.Contains(df, "./cmd/"+bin+" ") && !strings.Contains(df, "./cmd/"+bin+"\n") {
			t.Errorf("%s does not build ./cmd/%s", dockerfile, bin)
		}
	}
	// The builder's Go is the go.mod's.
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(mod))
	arg := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)`).FindStringSubmatch(df)
	if goLine == nil || arg == nil || arg[1] != goLine[1] {
		t.Errorf("Dockerfile GO_VERSION %v, go.mod go %v: want the same major.minor", arg, goLine)
	}
	if !strings.Contains(df, "CGO_ENABLED=0") {
		t.Error("Dockerfile builds with cgo: the binaries would need the builder's libc")
	}
}

// pythonWithYAML returns a python3 that can import yaml: the one on PATH
// or Debian's (python3-yaml installs there), else "".
func pythonWithYAML() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import yaml").Run() == nil {
			return py
		}
	}
	return ""
}
