// Package compose holds the docker compose deployment (docker-compose.yml,
// one-process.yml, .env.example, nats.conf) and the tests that check it
// without a Docker engine: the variables it names are ones the binaries
// read; the files work with docker compose v2 and docker-compose v1 (1.29);
// a value in .env always wins over the compose files' defaults, so that an
// old tool's .env keeps its meaning; the bundled ClickHouse and Redis, and
// Grafana with the dashboards of ../grafana, run only with their profiles;
// state and CA files live on mounts; the example
// settings pass each stage's validation; the stages' health check works
// against the real health server; and the Dockerfile builds every binary.
//
// The checks read the compose files as data with python3 and PyYAML
// (Debian: python3-yaml, the YAML library of docker-compose v1 itself) and
// interpolate ${...} themselves, as compose v1 and v2 both do. When
// `docker compose` or `docker-compose` is installed, TestComposeCLIConfig
// also has it validate every file with every example .env.
package compose

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joho/godotenv"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/state"
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
)

const (
	composeFile    = "docker-compose.yml"
	oneProcessFile = "one-process.yml"
	envExample     = ".env.example"
	dockerfile     = "../Dockerfile"
	operationsDoc  = "../../docs/operations.md"
	// dashboardsDocFile documents the grafana service and its GF_ settings.
	dashboardsDocFile = "../../docs/dashboards.md"
	// grafanaDir holds the provisioning and the dashboards Grafana mounts.
	grafanaDir = "../grafana"
)

// composeFiles are the compose files of the directory; each runs with the
// .env beside it.
var composeFiles = []string{composeFile, oneProcessFile}

// deliberatelySet are the EXPORTER_ variables the compose files set whatever
// .env says; docs/operations.md ("Docker compose") must list them. None is a
// variable of the old tool.
var deliberatelySet = map[string]string{
	"EXPORTER_HEALTH_ADDR": "the health checks ask 127.0.0.1:8080",
}

// bundled are the services that run only with their profile, so that a user
// with an external ClickHouse and a JSON-file watermark runs neither.
var bundled = map[string]string{
	"clickhouse": "bundled-clickhouse",
	"redis":      "bundled-redis",
}

// optional are the services that exporting does not need and that run
// only with their profile: the example .env starts them, an old tool's
// .env does not. They depend on no service that may be off.
var optional = map[string]string{
	"grafana": "grafana",
}

// profiled returns the services that run only with their profile, and
// the profile of each.
func profiled() map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]string{bundled, optional} {
		for n, p := range m {
			out[n] = p
		}
	}
	return out
}

// oldToolVariables are the variables of the old tool (shared/seed-compat.md):
// an old .env may set any of them, and the compose files must not change
// what it says.
var oldToolVariables = []string{
	"EXPORTER_STATEFUL", "EXPORTER_STATEFUL_INITIAL_RANGE", "EXPORTER_CHANGELOG_EXPORT_ENABLED",
	"EXPORTER_LOGLEVEL", "EXPORTER_LOG_ETL_STATS", "EXPORTER_LOG_ETL_STATS_EACH_N_ITER",
	"EXPORTER_WORKDAYS", "EXPORTER_BUSINESS_HOURS_START", "EXPORTER_BUSINESS_HOURS_END",
	"EXPORTER_DATETIME_RESPONSE_FORMAT", "EXPORTER_DATETIME_QUERY_FORMAT", "EXPORTER_DATETIME_CLICKHOUSE_FORMAT",
	"EXPORTER_ETL_INTERVAL_MINUTES", "EXPORTER_CLOSED_ISSUE_STATUSES", "EXPORTER_NOT_NULLABLE_FIELDS",

	"EXPORTER_TRACKER__LOGLEVEL", "EXPORTER_TRACKER__TOKEN", "EXPORTER_TRACKER__IAM_TOKEN",
	"EXPORTER_TRACKER__ORG_ID", "EXPORTER_TRACKER__CLOUD_ORG_ID", "EXPORTER_TRACKER__TIMEOUT",
	"EXPORTER_TRACKER__MAX_RETRIES", "EXPORTER_TRACKER__LANGUAGE", "EXPORTER_TRACKER__TIMEZONE",
	"EXPORTER_TRACKER__SEARCH__QUERY", "EXPORTER_TRACKER__SEARCH__RANGE", "EXPORTER_TRACKER__SEARCH__QUEUES",
	"EXPORTER_TRACKER__SEARCH__PER_PAGE_LIMIT",

	"EXPORTER_CLICKHOUSE__ENABLE_UPLOAD", "EXPORTER_CLICKHOUSE__HOST", "EXPORTER_CLICKHOUSE__PROTO",
	"EXPORTER_CLICKHOUSE__PORT", "EXPORTER_CLICKHOUSE__CACERT_PATH", "EXPORTER_CLICKHOUSE__SERVERLESS_PROXY_ID",
	"EXPORTER_CLICKHOUSE__USERNAME", "EXPORTER_CLICKHOUSE__PASSWORD", "EXPORTER_CLICKHOUSE__DATABASE",
	"EXPORTER_CLICKHOUSE__ISSUES_TABLE", "EXPORTER_CLICKHOUSE__ISSUE_METRICS_TABLE",
	"EXPORTER_CLICKHOUSE__ISSUES_CHANGELOG_TABLE", "EXPORTER_CLICKHOUSE__AUTO_DEDUPLICATE",
	"EXPORTER_CLICKHOUSE__BACKOFF_BASE_DELAY", "EXPORTER_CLICKHOUSE__BACKOFF_EXPO_FACTOR",
	"EXPORTER_CLICKHOUSE__BACKOFF_MAX_TRIES", "EXPORTER_CLICKHOUSE__BACKOFF_JITTER",

	"EXPORTER_STATE__STORAGE", "EXPORTER_STATE__REDIS_DSN", "EXPORTER_STATE__JSONFILE_STRATEGY",
	"EXPORTER_STATE__JSONFILE_PATH", "EXPORTER_STATE__JSONFILE_S3_BUCKET", "EXPORTER_STATE__JSONFILE_S3_REGION",
	"EXPORTER_STATE__JSONFILE_S3_ENDPOINT", "EXPORTER_STATE__JSONFILE_S3_ACCESS_KEY",
	"EXPORTER_STATE__JSONFILE_S3_SECRET_KEY", "EXPORTER_STATE__CUSTOM_STORAGE_PARAMS",

	"EXPORTER_MONITORING__METRICS_ENABLED", "EXPORTER_MONITORING__METRICS_HOST", "EXPORTER_MONITORING__METRICS_PORT",
	"EXPORTER_MONITORING__METRICS_BASE_PREFIX", "EXPORTER_MONITORING__METRICS_BASE_LABELS",
	"EXPORTER_MONITORING__SENTRY_ENABLED", "EXPORTER_MONITORING__SENTRY_DSN",
}

// stageRoles maps the tracker-exporter services to the role their binary
// validates.
var stageRoles = map[string]config.Role{
	"extractor":        config.RoleExtractor,
	"transformer":      config.RoleTransformer,
	"loader":           config.RoleLoader,
	"migrate":          config.RoleLoader,
	"tracker-exporter": config.RoleAll,
}

func knownVariables() map[string]bool {
	known := map[string]bool{}
	for _, v := range config.Variables() {
		known[v.Name] = true
	}
	return known
}

var exporterVarRE = regexp.MustCompile(`\bEXPORTER_[A-Z0-9_]*[A-Z0-9]`)

func TestNamedVariablesAreKnown(t *testing.T) {
	t.Parallel()
	known := knownVariables()
	// Group names that the texts mention as prefixes ("__HOST/__PORT").
	prefixes := map[string]bool{"EXPORTER_CLICKHOUSE": true, "EXPORTER_STATE": true, "EXPORTER_TRACKER": true, "EXPORTER_MONITORING": true, "EXPORTER_NATS": true}
	for _, file := range append(slices.Clone(composeFiles), envExample) {
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
	for _, n := range oldToolVariables {
		if !known[n] {
			t.Errorf("old-tool variable %s is not in config.Variables", n)
		}
	}
}

// envAssignments returns the NAME=value lines of an env file, commented
// examples ("# NAME=value") apart.
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
	t.Parallel()
	set, commented := envAssignments(t, envExample)
	for _, need := range []string{
		"EXPORTER_TRACKER__TOKEN", "EXPORTER_TRACKER__ORG_ID", "EXPORTER_STATEFUL",
		"EXPORTER_CLICKHOUSE__USERNAME", "EXPORTER_CLICKHOUSE__PASSWORD", "EXPORTER_CLICKHOUSE__DATABASE",
		// The project name replaces the top-level name: that compose v1 rejects.
		"COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES",
	} {
		if _, ok := set[need]; !ok {
			t.Errorf("%s does not set %s", envExample, need)
		}
	}
	// A new install runs everything bundled, and Grafana.
	profiles := strings.Split(set["COMPOSE_PROFILES"], ",")
	for svc, p := range profiled() {
		if !slices.Contains(profiles, p) {
			t.Errorf("%s: COMPOSE_PROFILES=%s lacks %s: a new install would have no %s", envExample, set["COMPOSE_PROFILES"], p, svc)
		}
	}
	// Set in .env, these would have no effect.
	for owned := range deliberatelySet {
		if _, ok := set[owned]; ok {
			t.Errorf("%s sets %s, which the compose files set whatever .env says", envExample, owned)
		}
		if _, ok := commented[owned]; ok {
			t.Errorf("%s suggests %s, which the compose files set whatever .env says", envExample, owned)
		}
	}
	// Secrets are placeholders, never something that looks real.
	for _, s := range []string{"EXPORTER_TRACKER__TOKEN", "EXPORTER_CLICKHOUSE__PASSWORD", "GF_SECURITY_ADMIN_PASSWORD"} {
		if !strings.Contains(set[s], "REPLACE") {
			t.Errorf("%s=%q: want a REPLACE_... placeholder", s, set[s])
		}
	}
	// Every variable the compose files substitute, other than the
	// stages' own, is explained in the example. (env_file passes these to
	// the stages too; none starts with EXPORTER_, which they would warn
	// about as unknown.)
	for _, f := range composeFiles {
		walkStrings(rawModel(t, f), func(s string) {
			for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(s, -1) {
				name := m[1]
				if strings.HasPrefix(name, "EXPORTER_") {
					continue
				}
				_, s := set[name]
				_, c := commented[name]
				if !s && !c {
					t.Errorf("%s substitutes %s, which %s does not mention", f, name, envExample)
				}
			}
		})
	}
}

// rawModel returns a compose file as data, as compose v1 reads it (PyYAML,
// YAML 1.1, merge keys resolved), before interpolation; it skips when
// python3 with PyYAML is missing, except in CI.
func rawModel(t *testing.T, file string) map[string]any {
	t.Helper()
	modelsMu.Lock()
	defer modelsMu.Unlock()
	if b, ok := models[file]; ok {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	testenv.Integration(t, "starts python3 to read the YAML as compose v1 does")
	py := pythonWithYAML()
	if py == "" {
		// .ci/run installs python3-yaml: in CI this check never skips.
		if testenv.InCI() {
			t.Fatal("python3 with PyYAML (python3-yaml) is not installed")
		}
		t.Skip("python3 with PyYAML (python3-yaml) is not installed")
	}
	cmd := exec.Command(py, "-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s is not valid YAML: %v\n%s", file, err, stderr.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	models[file] = out
	return m
}

// models caches rawModel's JSON by file: every caller gets its own copy.
var (
	modelsMu sync.Mutex
	models   = map[string][]byte{}
)

// pythonWithYAML returns a python3 that can import yaml: the one on PATH
// or Debian's (python3-yaml installs there), else "". It asks once.
var pythonWithYAML = sync.OnceValue(func() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import yaml").Run() == nil {
			return py
		}
	}
	return ""
})

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

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// rawEnvironment returns a service's environment: entries as written,
// before interpolation; nil values (taken from the shell) are left out.
func rawEnvironment(svc map[string]any) map[string]string {
	env := map[string]string{}
	switch e := svc["environment"].(type) {
	case map[string]any:
		for k, v := range e {
			if v != nil {
				env[k] = fmt.Sprint(v)
			}
		}
	case []any:
		for _, kv := range e {
			if k, v, ok := strings.Cut(fmt.Sprint(kv), "="); ok {
				env[k] = v
			}
		}
	}
	return env
}

// interpolate substitutes variables as docker compose v1 and v2 both do:
// $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error} and
// ${VAR?error}. What only v2 knows (nesting, ${VAR:+x}, ${VAR+x}) is an
// error, and so is a required variable that is missing.
func interpolate(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%q: a lone $ at the end (write $$)", s)
		}
		switch c := s[i+1]; {
		case c == '$':
			b.WriteByte('$')
			i++
		case c == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("%q: unterminated ${", s)
			}
			expr := s[i+2 : i+2+end]
			if strings.Contains(expr, "$") {
				return "", fmt.Errorf("%q: nested substitution, which docker-compose v1 does not do", s)
			}
			v, err := expandExpr(expr, lookup)
			if err != nil {
				return "", fmt.Errorf("%q: %w", s, err)
			}
			b.WriteString(v)
			i += 2 + end
		case c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || 'A' <= s[j] && s[j] <= 'Z' || 'a' <= s[j] && s[j] <= 'z' || '0' <= s[j] && s[j] <= '9') {
				j++
			}
			v, _ := lookup(s[i+1 : j])
			b.WriteString(v)
			i = j - 1
		default:
			return "", fmt.Errorf("%q: invalid $ (write $$)", s)
		}
	}
	return b.String(), nil
}

var substRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])(.*))?$`)

func expandExpr(expr string, lookup func(string) (string, bool)) (string, error) {
	m := substRE.FindStringSubmatch(expr)
	if m == nil {
		return "", fmt.Errorf("${%s}: not a substitution docker-compose v1 knows (${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error})", expr)
	}
	name, op, arg := m[1], m[2], m[3]
	v, ok := lookup(name)
	switch op {
	case ":-":
		if v == "" {
			return arg, nil
		}
	case "-":
		if !ok {
			return arg, nil
		}
	case ":?":
		if v == "" {
			return "", fmt.Errorf("%s is required: %s", name, arg)
		}
	case "?":
		if !ok {
			return "", fmt.Errorf("%s is required: %s", name, arg)
		}
	}
	return v, nil
}

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// dotenv reads an env file as compose does, for env_file and for the
// substitutions.
func dotenv(t *testing.T, file string) map[string]string {
	t.Helper()
	m, err := godotenv.Read(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return m
}

// containerEnv returns what a service's process sees: its env_file (.env,
// here the given one) overlaid by its environment: entries, substituted
// from the same .env.
func containerEnv(t *testing.T, svc map[string]any, env map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if slices.Contains(strs(svc["env_file"]), ".env") {
		for k, v := range env {
			out[k] = v
		}
	}
	for k, raw := range rawEnvironment(svc) {
		v, err := interpolate(raw, mapLookup(env))
		if err != nil {
			t.Fatalf("environment %s: %v", k, err)
		}
		out[k] = v
	}
	return out
}

func environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// mount is one entry of a service's volumes, substituted.
type mount struct {
	source, target string
	named          bool // a volume of the top-level volumes:, not a host path
}

func mounts(t *testing.T, model, svc map[string]any, env map[string]string) []mount {
	t.Helper()
	var out []mount
	declared := obj(model["volumes"])
	for _, v := range svcVolumes(svc) {
		var src, dst string
		switch v := v.(type) {
		case string:
			s, err := interpolate(v, mapLookup(env))
			if err != nil {
				t.Fatalf("volume %q: %v", v, err)
			}
			parts := strings.Split(s, ":")
			if len(parts) < 2 {
				src, dst = "", parts[0] // an anonymous volume
			} else {
				src, dst = parts[0], parts[1]
			}
		case map[string]any:
			src, dst = fmt.Sprint(v["source"]), fmt.Sprint(v["target"])
		}
		_, named := declared[src]
		if !path.IsAbs(dst) {
			t.Errorf("volume %v: the container path %q is not absolute", v, dst)
		}
		out = append(out, mount{source: src, target: path.Clean(dst), named: named})
	}
	return out
}

func svcVolumes(svc map[string]any) []any {
	v, _ := svc["volumes"].([]any)
	return v
}

// onMount reports the mount that holds the file p of a process working in
// wd, following the image's symbolic links (aliases), or nil.
func onMount(p, wd string, ms []mount, aliases map[string]string) *mount {
	if !path.IsAbs(p) {
		p = path.Join(wd, p)
	}
	p = path.Clean(p)
	for link, target := range aliases {
		if p == link || strings.HasPrefix(p, link+"/") {
			p = target + strings.TrimPrefix(p, link)
		}
	}
	for i, m := range ms {
		if p == m.target || strings.HasPrefix(p, m.target+"/") {
			return &ms[i]
		}
	}
	return nil
}

// imageLinks returns the symbolic links the Dockerfile makes (ln -s TARGET
// LINK), link to target.
func imageLinks(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, m := range regexp.MustCompile(`ln -s[fn]*\s+(/\S+)\s+(/\S+)`).FindAllStringSubmatch(string(data), -1) {
		links[m[2]] = m[1]
	}
	return links
}

// imageWorkdir returns the last WORKDIR of the Dockerfile.
func imageWorkdir(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	all := regexp.MustCompile(`(?m)^WORKDIR\s+(\S+)`).FindAllStringSubmatch(string(data), -1)
	if len(all) == 0 {
		t.Fatal("the Dockerfile has no WORKDIR")
	}
	return all[len(all)-1][1]
}

// dependsOn returns a service's dependencies and their conditions
// (service_started for the short form).
func dependsOn(svc map[string]any) map[string]string {
	out := map[string]string{}
	switch d := svc["depends_on"].(type) {
	case []any:
		for _, n := range d {
			out[fmt.Sprint(n)] = "service_started"
		}
	case map[string]any:
		for n, c := range d {
			cond := "service_started"
			if c := obj(c)["condition"]; c != nil {
				cond = fmt.Sprint(c)
			}
			out[n] = cond
		}
	}
	return out
}

// active returns the services compose starts with these profiles enabled.
func active(services map[string]any, profiles []string) []string {
	var out []string
	for _, n := range sortedKeys(services) {
		ps := strs(obj(services[n])["profiles"])
		if len(ps) == 0 || slices.ContainsFunc(ps, func(p string) bool { return slices.Contains(profiles, p) }) {
			out = append(out, n)
		}
	}
	return out
}

// operationsSection returns the "## Docker compose" section of
// docs/operations.md.
func operationsSection(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "\n## Docker compose\n")
	if !ok {
		t.Fatalf("%s has no section \"## Docker compose\"", operationsDoc)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// TestPortableAcrossComposeVersions: the files are what both docker compose
// v2 and Debian's docker-compose 1.29 accept.
func TestPortableAcrossComposeVersions(t *testing.T) {
	t.Parallel()
	// Keys that docker-compose 1.29 rejects or that need a late v2.
	v2OnlyTop := []string{"name", "include", "models"}
	v2OnlyService := []string{"develop", "post_start", "pre_stop", "gpus", "models", "provider", "use_api_socket", "attach", "label_file"}
	for _, file := range append(slices.Clone(composeFiles), clusterFile) {
		t.Run(file, func(t *testing.T) {
			m := rawModel(t, file)
			for _, k := range sortedKeys(m) {
				if slices.Contains(v2OnlyTop, k) {
					t.Errorf("top-level %s: docker-compose v1 rejects it (set COMPOSE_PROJECT_NAME in .env instead of name:)", k)
				}
				if k == "version" {
					t.Errorf("top-level version: obsolete in compose v2 (it warns); compose v1 1.27+ reads files without it")
				}
				if k != "services" && k != "volumes" && k != "networks" && k != "configs" && k != "secrets" && !strings.HasPrefix(k, "x-") {
					t.Errorf("top-level %s: unknown to the compose specification", k)
				}
			}
			services := obj(m["services"])
			if len(services) == 0 {
				t.Fatal("no services")
			}
			for _, n := range sortedKeys(services) {
				svc := obj(services[n])
				for _, k := range v2OnlyService {
					if _, ok := svc[k]; ok {
						t.Errorf("%s: %s is docker compose v2 only", n, k)
					}
				}
				for dep, c := range obj(svc["depends_on"]) {
					for k := range obj(c) {
						if k != "condition" {
							t.Errorf("%s depends_on %s: %s is docker compose v2 only", n, dep, k)
						}
					}
				}
				if _, ok := obj(svc["healthcheck"])["start_interval"]; ok {
					t.Errorf("%s: healthcheck start_interval is docker compose v2 only", n)
				}
				if _, ok := svc["env_file"].([]any); ok {
					for _, e := range svc["env_file"].([]any) {
						if _, long := e.(map[string]any); long {
							t.Errorf("%s: the long env_file syntax (path:, required:) is docker compose v2 only", n)
						}
					}
				}
				// YAML 1.1 (PyYAML, compose v1) reads yes/no/on/off as
				// booleans, which compose rejects in an environment.
				if e, ok := svc["environment"].(map[string]any); ok {
					for k, v := range e {
						if _, isString := v.(string); !isString && v != nil {
							t.Errorf("%s: environment %s is %T %v, want a quoted string", n, k, v, v)
						}
					}
				}
			}
			// Every ${...} is one that compose v1 substitutes.
			walkStrings(m, func(s string) {
				if _, err := interpolate(s, func(string) (string, bool) { return "x", true }); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

func walkStrings(v any, f func(string)) {
	switch v := v.(type) {
	case string:
		f(v)
	case []any:
		for _, x := range v {
			walkStrings(x, f)
		}
	case map[string]any:
		for _, x := range v {
			walkStrings(x, f)
		}
	}
}

// TestDotEnvWins: an environment: entry would win over env_file, so every
// EXPORTER_ and GF_ variable the compose files set is ${VAR:-default} (the
// .env value wins, the default applies only when .env has none), or one of
// deliberatelySet, which the docs list. Grafana's are documented in
// docs/dashboards.md.
func TestDotEnvWins(t *testing.T) {
	t.Parallel()
	section := operationsSection(t)
	dashboardsDoc := string(readFile(t, dashboardsDocFile))
	old := map[string]bool{}
	for _, n := range oldToolVariables {
		old[n] = true
	}
	for n, why := range deliberatelySet {
		if old[n] {
			t.Errorf("%s is deliberately set (%s) but is an old-tool variable: an old .env would be overridden", n, why)
		}
		if !strings.Contains(section, "`"+n) {
			t.Errorf("docs/operations.md \"Docker compose\" does not list %s, which the compose files set whatever .env says", n)
		}
	}
	for _, file := range composeFiles {
		services := obj(rawModel(t, file)["services"])
		for _, n := range sortedKeys(services) {
			svc := obj(services[n])
			env := rawEnvironment(svc)
			for _, k := range sortedKeys(anyMap(env)) {
				grafana := strings.HasPrefix(k, "GF_")
				if !strings.HasPrefix(k, "EXPORTER_") && !grafana {
					continue
				}
				switch {
				case grafana && !strings.Contains(dashboardsDoc, "`"+k):
					t.Errorf("%s: %s sets %s, which %s does not mention", file, n, k, dashboardsDocFile)
				case !grafana && !strings.Contains(section, "`"+k):
					t.Errorf("%s: %s sets %s, which docs/operations.md \"Docker compose\" does not mention", file, n, k)
				}
				if _, ok := deliberatelySet[k]; ok {
					continue
				}
				if !regexp.MustCompile(`^\$\{` + k + `:-[^${}]*\}$`).MatchString(env[k]) {
					t.Errorf("%s: %s sets %s=%s: want ${%s:-default}, so that a value in .env wins", file, n, k, env[k], k)
				}
			}
		}
	}
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestBundledServicesAreOptional: the bundled ClickHouse and Redis run
// only with their profiles, and no service that runs without them depends
// on them (compose v1 and v2.18+ refuse that).
func TestBundledServicesAreOptional(t *testing.T) {
	t.Parallel()
	for _, file := range composeFiles {
		services := obj(rawModel(t, file)["services"])
		var all []string
		for _, n := range sortedKeys(services) {
			ps := strs(obj(services[n])["profiles"])
			all = append(all, ps...)
			want, isBundled := profiled()[n]
			switch {
			case isBundled && !slices.Equal(ps, []string{want}):
				t.Errorf("%s: service %s has profiles %v, want [%s]", file, n, ps, want)
			case !isBundled && len(ps) > 0:
				t.Errorf("%s: service %s has profiles %v: it would not start by default", file, n, ps)
			}
		}
		slices.Sort(all)
		all = slices.Compact(all)
		// Every combination of profiles makes a model compose accepts.
		for mask := 0; mask < 1<<len(all); mask++ {
			var on []string
			for i, p := range all {
				if mask&(1<<i) != 0 {
					on = append(on, p)
				}
			}
			act := active(services, on)
			for _, n := range act {
				for dep := range dependsOn(obj(services[n])) {
					if !slices.Contains(act, dep) {
						t.Errorf("%s with profiles %v: %s depends on %s, which does not run: compose refuses the project", file, on, n, dep)
					}
				}
			}
		}
	}
	// The example .env runs the whole stack, an old .env none of the
	// bundled services.
	services := obj(rawModel(t, composeFile)["services"])
	example := dotenv(t, envExample)
	if got, want := active(services, strings.Split(example["COMPOSE_PROFILES"], ",")), sortedKeys(services); !slices.Equal(got, want) {
		t.Errorf("with %s: services %v, want all of %v", envExample, got, want)
	}
	got := active(services, nil)
	for n := range profiled() {
		if slices.Contains(got, n) {
			t.Errorf("without COMPOSE_PROFILES %s starts: a user with an external ClickHouse runs one", n)
		}
	}
}

func TestComposeStructure(t *testing.T) {
	t.Parallel()
	m := rawModel(t, composeFile)
	services := obj(m["services"])
	names := sortedKeys(services)
	want := []string{"clickhouse", "extractor", "grafana", "loader", "migrate", "nats", "redis", "transformer"}
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
	if got, want := dependsOn(loader), map[string]string{"migrate": "service_completed_successfully", "nats": "service_healthy"}; !mapsEqual(got, want) {
		t.Errorf("loader depends_on %v, want %v (ClickHouse may be external: the loader waits for it itself)", got, want)
	}
	migrate := obj(services["migrate"])
	if got := strs(migrate["command"]); !slices.Equal(got, []string{"loader", "migrate"}) {
		t.Errorf("migrate command %v, want [loader migrate]", got)
	}
	if got := strs(obj(services["extractor"])["command"]); !slices.Equal(got, []string{"extractor"}) {
		t.Errorf("extractor command %v, want [extractor] (interval mode, no --run-once)", got)
	}

	// With the example .env, the stages use the bundled services and pass
	// their binary's validation without warnings.
	example := dotenv(t, envExample)
	for _, name := range []string{"extractor", "transformer", "loader", "migrate"} {
		t.Run(name, func(t *testing.T) {
			svc := obj(services[name])
			if !slices.Contains(strs(svc["env_file"]), ".env") {
				t.Errorf("env_file %v, want .env", svc["env_file"])
			}
			env := containerEnv(t, svc, example)
			if got := env["EXPORTER_NATS__URL"]; got != "nats://nats:4222" {
				t.Errorf("EXPORTER_NATS__URL=%q, want nats://nats:4222", got)
			}
			if got := env["EXPORTER_START_TIMEOUT"]; name != "migrate" && got != "0" {
				t.Errorf("EXPORTER_START_TIMEOUT=%q, want 0: wait for NATS and ClickHouse without restarts", got)
			}
			if name != "migrate" {
				checkProbe(t, svc, env)
			}
			if (name == "loader" || name == "migrate") && env["EXPORTER_CLICKHOUSE__HOST"] != "clickhouse" {
				t.Errorf("EXPORTER_CLICKHOUSE__HOST=%q, want the bundled clickhouse", env["EXPORTER_CLICKHOUSE__HOST"])
			}
			if name == "extractor" && (env["EXPORTER_STATE__STORAGE"] != "redis" || !strings.HasPrefix(env["EXPORTER_STATE__REDIS_DSN"], "redis://redis:")) {
				t.Errorf("extractor keeps its state in %q %q, want the bundled redis", env["EXPORTER_STATE__STORAGE"], env["EXPORTER_STATE__REDIS_DSN"])
			}
			validate(t, env, stageRoles[name])
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// checkProbe: the health check asks /healthz on EXPORTER_HEALTH_ADDR.
func checkProbe(t *testing.T, svc map[string]any, env map[string]string) {
	t.Helper()
	addr := env["EXPORTER_HEALTH_ADDR"]
	_, port, err := net.SplitHostPort(addr)
	probe := strings.Join(strs(obj(svc["healthcheck"])["test"]), " ")
	if err != nil || !strings.Contains(probe, "/"+port+" ") || !strings.Contains(probe, "/healthz") {
		t.Errorf("health check %q does not ask /healthz on EXPORTER_HEALTH_ADDR=%q", probe, addr)
	}
}

// validate runs the binary's configuration loading and validation on what
// the container sees; an empty env file stands in for ./.env.
func validate(t *testing.T, env map[string]string, role config.Role) config.Config {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(environ(env), empty)
	if err := config.Check(cfg, err, role); err != nil {
		t.Errorf("refused as %s:\n%s", role, config.FormatError(err))
	}
	for _, w := range cfg.Warnings {
		t.Errorf("warning: %s", w)
	}
	return cfg
}

func TestOneProcess(t *testing.T) {
	t.Parallel()
	m := rawModel(t, oneProcessFile)
	services := obj(m["services"])
	if got := sortedKeys(services); !slices.Equal(got, []string{"grafana", "tracker-exporter"}) {
		t.Fatalf("services %v, want [grafana tracker-exporter]", got)
	}
	// Grafana is docker-compose.yml's, less the bundled ClickHouse as the
	// default host (there is none here).
	distributed := obj(obj(rawModel(t, composeFile)["services"])["grafana"])
	genv := obj(distributed["environment"])
	if genv["EXPORTER_CLICKHOUSE__HOST"] != "${EXPORTER_CLICKHOUSE__HOST:-clickhouse}" {
		t.Errorf("%s: grafana's EXPORTER_CLICKHOUSE__HOST is %v", composeFile, genv["EXPORTER_CLICKHOUSE__HOST"])
	}
	delete(genv, "EXPORTER_CLICKHOUSE__HOST")
	if a, b := fmt.Sprint(distributed), fmt.Sprint(obj(services["grafana"])); a != b {
		t.Errorf("grafana differs between the files:\n%s: %s\n%s: %s", composeFile, a, oneProcessFile, b)
	}
	svc := obj(services["tracker-exporter"])
	if got := strs(svc["command"]); !slices.Equal(got, []string{"tracker-exporter"}) {
		t.Errorf("command %v, want [tracker-exporter]: interval mode, as the old tool ran", got)
	}
	if !slices.Contains(strs(svc["env_file"]), ".env") {
		t.Errorf("env_file %v, want .env", svc["env_file"])
	}
	if got := fmt.Sprint(svc["restart"]); got != "unless-stopped" {
		t.Errorf("restart %q", got)
	}
	if _, ok := svc["ports"]; ok {
		t.Error("it publishes ports: nothing outside needs them")
	}
	example := dotenv(t, envExample)
	env := containerEnv(t, svc, example)
	checkProbe(t, svc, env)
	if env["EXPORTER_START_TIMEOUT"] != "0" || env["EXPORTER_CLICKHOUSE__MIGRATE_ON_START"] != "true" {
		t.Errorf("EXPORTER_START_TIMEOUT=%q EXPORTER_CLICKHOUSE__MIGRATE_ON_START=%q, want 0 and true", env["EXPORTER_START_TIMEOUT"], env["EXPORTER_CLICKHOUSE__MIGRATE_ON_START"])
	}
	if _, ok := env["EXPORTER_NATS__URL"]; ok {
		t.Error("EXPORTER_NATS__URL is set: the one-process binary would not run its embedded server")
	}
	// The embedded NATS store, by default, is on the volume.
	cfg, _ := config.Load(environ(env), filepath.Join(t.TempDir(), "none.env"))
	wd := fmt.Sprint(svc["working_dir"])
	if mt := onMount(cfg.NATS.DataDir, wd, mounts(t, m, svc, example), imageLinks(t)); mt == nil || !mt.named {
		t.Errorf("the embedded NATS store %s (in %s) is not on a volume: messages in flight and raw snapshots die with the container", cfg.NATS.DataDir, wd)
	}
}

// oldEnv is the .env of a user of the old tool: a JSON-file watermark and
// an external ClickHouse over HTTPS with a private CA. The last line is
// the one compose needs in addition: the host directory of the CA file.
const oldEnv = `# .env of the old tracker-exporter
EXPORTER_TRACKER__TOKEN=y0_old_tool_token
EXPORTER_TRACKER__CLOUD_ORG_ID=bpf00000000000000000
EXPORTER_STATEFUL=true
EXPORTER_STATEFUL_INITIAL_RANGE=7d
EXPORTER_CHANGELOG_EXPORT_ENABLED=true
EXPORTER_ETL_INTERVAL_MINUTES=15
EXPORTER_STATE__STORAGE=jsonfile
EXPORTER_STATE__JSONFILE_PATH={{STATE}}
EXPORTER_CLICKHOUSE__HOST=my-clickhouse.example
EXPORTER_CLICKHOUSE__PROTO=https
EXPORTER_CLICKHOUSE__PORT=8443
EXPORTER_CLICKHOUSE__CACERT_PATH={{CA}}/RootCA.crt
EXPORTER_CLICKHOUSE__USERNAME=exporter
EXPORTER_CLICKHOUSE__PASSWORD="old secret"
EXPORTER_CLICKHOUSE__DATABASE=agile
TRACKER_EXPORTER_CA_DIR={{CA}}
`

// TestOldToolEnvKeepsItsValues: with an old tool's .env, every stage sees
// what that .env says, no bundled service runs, the state file is on a
// volume and the CA file on a mount.
func TestOldToolEnvKeepsItsValues(t *testing.T) {
	t.Parallel()
	// Whatever an old .env sets reaches every service unchanged.
	all := map[string]string{}
	for i, n := range oldToolVariables {
		all[n] = fmt.Sprintf("from-dotenv-%d", i)
	}
	for _, file := range composeFiles {
		services := obj(rawModel(t, file)["services"])
		for _, n := range sortedKeys(services) {
			svc := obj(services[n])
			if !slices.Contains(strs(svc["env_file"]), ".env") {
				continue
			}
			env := containerEnv(t, svc, all)
			for _, v := range oldToolVariables {
				if env[v] != all[v] {
					t.Errorf("%s: %s sees %s=%q, but .env says %q", file, n, v, env[v], all[v])
				}
			}
		}
	}

	links := imageLinks(t)
	for _, statePath := range []string{"./state.json", "state.json", "/opt/exporter/state.json", "/data/state/tracker.json"} {
		t.Run(strings.ReplaceAll(statePath, "/", "_"), func(t *testing.T) {
			caDir := filepath.Join(t.TempDir(), "Yandex")
			if err := os.MkdirAll(caDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(caDir, "RootCA.crt"), []byte("-----BEGIN CERTIFICATE-----\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			envFile := filepath.Join(t.TempDir(), ".env")
			text := strings.NewReplacer("{{STATE}}", statePath, "{{CA}}", caDir).Replace(oldEnv)
			if err := os.WriteFile(envFile, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			dot := dotenv(t, envFile)
			for _, file := range composeFiles {
				m := rawModel(t, file)
				services := obj(m["services"])
				started := active(services, strings.Split(dot["COMPOSE_PROFILES"], ","))
				for n := range profiled() {
					if slices.Contains(started, n) {
						t.Errorf("%s: %s starts with an old .env", file, n)
					}
				}
				for _, n := range started {
					role, isStage := stageRoles[n]
					if !isStage {
						continue
					}
					svc := obj(services[n])
					env := containerEnv(t, svc, dot)
					for _, v := range []string{"EXPORTER_CLICKHOUSE__HOST", "EXPORTER_CLICKHOUSE__PROTO", "EXPORTER_CLICKHOUSE__PORT",
						"EXPORTER_CLICKHOUSE__CACERT_PATH", "EXPORTER_CLICKHOUSE__PASSWORD", "EXPORTER_STATE__STORAGE",
						"EXPORTER_STATE__JSONFILE_PATH", "EXPORTER_ETL_INTERVAL_MINUTES"} {
						if env[v] != dot[v] {
							t.Errorf("%s: %s sees %s=%q, .env says %q", file, n, v, env[v], dot[v])
						}
					}
					cfg := validate(t, env, role)
					if cfg.State.Storage != state.StorageJSONFile || cfg.ClickHouse.Host != "my-clickhouse.example" || cfg.ClickHouse.Proto != clickhouse.ProtoHTTPS || cfg.ClickHouse.Port != 8443 {
						t.Errorf("%s: %s runs with state %q and ClickHouse %s://%s:%d, want jsonfile and https://my-clickhouse.example:8443",
							file, n, cfg.State.Storage, cfg.ClickHouse.Proto, cfg.ClickHouse.Host, cfg.ClickHouse.Port)
					}
					wd, _ := svc["working_dir"].(string)
					ms := mounts(t, m, svc, dot)
					if role == config.RoleExtractor || role == config.RoleAll {
						if wd != imageWorkdir(t) {
							t.Errorf("%s: %s works in %q, want the image's WORKDIR %s", file, n, wd, imageWorkdir(t))
						}
						if mt := onMount(cfg.State.JSONFilePath, wd, ms, links); mt == nil || !mt.named {
							t.Errorf("%s: %s keeps EXPORTER_STATE__JSONFILE_PATH=%s (in %s) off a volume: the watermark dies with the container", file, n, cfg.State.JSONFilePath, wd)
						}
					}
					if role == config.RoleLoader || role == config.RoleAll {
						if onMount(cfg.ClickHouse.CACertPath, wd, ms, links) == nil {
							t.Errorf("%s: %s cannot see EXPORTER_CLICKHOUSE__CACERT_PATH=%s: no mount holds it", file, n, cfg.ClickHouse.CACertPath)
						}
					}
				}
			}
		})
	}
}

// probeCommand returns the stages' health check command from a compose
// file; it is written as a one-line flow sequence, which is JSON.
func probeCommand(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
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
			t.Fatalf("%s: stage health check %q: %v", file, rest, err)
		}
		return cmd
	}
	t.Fatalf("%s has no stage health check (test: [...] with /dev/tcp/)", file)
	return nil
}

func TestStageHealthCheckAgainstHealthServer(t *testing.T) {
	t.Parallel()
	cmd := probeCommand(t, composeFile)
	if other := probeCommand(t, oneProcessFile); !slices.Equal(other, cmd) {
		t.Errorf("%s health check %q differs from %s's %q", oneProcessFile, other, composeFile, cmd)
	}
	if len(cmd) != 4 || cmd[0] != "CMD" || cmd[1] != "bash" || cmd[2] != "-c" || !strings.Contains(cmd[3], "/dev/tcp/127.0.0.1/8080 ") {
		t.Fatalf("health check %q: want [CMD bash -c \"...\"] on 127.0.0.1:8080", cmd)
	}
	testenv.Integration(t, "runs the health check in bash")
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
	t.Parallel()
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
	// The old tool's image worked in /opt/exporter; its paths land on the
	// working directory, where the compose files mount the volume.
	if got := imageLinks(t)["/opt/exporter"]; got != imageWorkdir(t) {
		t.Errorf("/opt/exporter links to %q, want the WORKDIR %s", got, imageWorkdir(t))
	}
}

// TestComposeCLIConfig has the installed compose (v2 plugin, v1 binary, or
// both) validate every file with the example .env and an old .env. Without
// one it skips: the tests above check the same from the YAML.
func TestComposeCLIConfig(t *testing.T) {
	t.Parallel()
	testenv.Integration(t, "runs docker compose")
	clis := composeCLIs()
	if len(clis) == 0 {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal("neither docker compose nor docker-compose is installed (.ci/run installs Debian's docker-compose)")
		}
		t.Skip("neither docker compose nor docker-compose is installed")
	}
	old := strings.NewReplacer("{{STATE}}", "./state.json", "{{CA}}", "/tmp").Replace(oldEnv)
	example, err := os.ReadFile(envExample)
	if err != nil {
		t.Fatal(err)
	}
	// Each run of the CLI takes a second or more (docker-compose v1 is
	// Python): the runs go in parallel, each in its own tree.
	for _, cli := range clis {
		for name, env := range map[string]string{"example": string(example), "old": old} {
			for _, file := range composeFiles {
				t.Run(strings.Join(cli, " ")+"/"+name+"/"+file, func(t *testing.T) {
					t.Parallel()
					dir := copyForCompose(t, env)
					c := exec.Command(cli[0], append(cli[1:], "-f", file, "config", "-q")...)
					c.Dir = dir
					c.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
						return strings.HasPrefix(kv, "EXPORTER_") || strings.HasPrefix(kv, "COMPOSE_") || strings.HasPrefix(kv, "TRACKER_EXPORTER_")
					})
					if out, err := c.CombinedOutput(); err != nil {
						t.Errorf("%s -f %s config with the %s .env: %v\n%s", strings.Join(cli, " "), file, name, err, out)
					}
				})
			}
		}
	}
}

// composeCLIs returns the compose commands installed, docker compose (v2)
// and docker-compose (v1), asked once.
var composeCLIs = sync.OnceValue(func() [][]string {
	var clis [][]string
	for _, cli := range [][]string{{"docker", "compose"}, {"docker-compose"}} {
		if exec.Command(cli[0], append(cli[1:], "version")...).Run() == nil {
			clis = append(clis, cli)
		}
	}
	return clis
})

// copyForCompose lays the compose directory out in a temporary tree with
// the given .env, as a user would, and returns the compose directory.
func copyForCompose(t *testing.T, env string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "deploy", "compose")
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"nats.conf": "nats.conf", dockerfile: "../Dockerfile"}
	for _, f := range composeFiles {
		files[f] = f
	}
	for src, dst := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
