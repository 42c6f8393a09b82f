package grafana

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse"
	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
)

const (
	entrypoint     = "entrypoint.sh"
	datasourceFile = "provisioning/datasources/clickhouse.yaml"
	providerFile   = "provisioning/dashboards/tracker-exporter.yaml"
)

// runEntrypoint runs entrypoint.sh with env (and nothing else) up to the
// point where it would start Grafana, and returns what it exported.
func runEntrypoint(t *testing.T, env map[string]string) (map[string]string, string, error) {
	t.Helper()
	testenv.Integration(t, "runs entrypoint.sh in sh")
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	script := string(readFile(t, entrypoint))
	const start = `exec /run.sh "$@"`
	if strings.Count(script, start) != 1 {
		t.Fatalf("%s does not end with %s", entrypoint, start)
	}
	probe := filepath.Join(t.TempDir(), "entrypoint.sh")
	if err := os.WriteFile(probe, []byte(strings.Replace(script, start, "env", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh, probe)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "TRACKER_CH_") {
			got[k] = v
		}
	}
	return got, string(out), err
}

// TestEntrypointMapsTheExporterSettings: the data source reads the
// ClickHouse of EXPORTER_CLICKHOUSE__*, with the binaries' defaults, in
// the protocol the exporter uses.
func TestEntrypointMapsTheExporterSettings(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "RootCA.crt")
	const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
	if err := os.WriteFile(ca, []byte(pem+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	def := config.Default().ClickHouse
	tests := []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{"binaries' defaults", nil, map[string]string{
			"TRACKER_CH_HOST": def.Host, "TRACKER_CH_PORT": strconv.Itoa(def.Port), "TRACKER_CH_PROTOCOL": "http", "TRACKER_CH_SECURE": "false",
			"TRACKER_CH_USERNAME": def.Username, "TRACKER_CH_DATABASE": def.Database, "TRACKER_CH_PASSWORD": "", "TRACKER_CH_TLS_WITH_CA": "false"}},
		{"bundled, native", map[string]string{"EXPORTER_CLICKHOUSE__HOST": "clickhouse", "EXPORTER_CLICKHOUSE__PROTO": clickhouse.ProtoNative,
			"EXPORTER_CLICKHOUSE__USERNAME": "tracker", "EXPORTER_CLICKHOUSE__PASSWORD": "p a$s", "EXPORTER_CLICKHOUSE__DATABASE": "tracker_db"},
			map[string]string{"TRACKER_CH_HOST": "clickhouse", "TRACKER_CH_PORT": "9000", "TRACKER_CH_PROTOCOL": "native", "TRACKER_CH_SECURE": "false",
				"TRACKER_CH_USERNAME": "tracker", "TRACKER_CH_PASSWORD": "p a$s", "TRACKER_CH_DATABASE": "tracker_db"}},
		{"native over TLS on another port", map[string]string{"EXPORTER_CLICKHOUSE__PROTO": clickhouse.ProtoNativeTLS, "EXPORTER_CLICKHOUSE__PORT": "19440"},
			map[string]string{"TRACKER_CH_PORT": "19440", "TRACKER_CH_PROTOCOL": "native", "TRACKER_CH_SECURE": "true"}},
		{"http", map[string]string{"EXPORTER_CLICKHOUSE__PROTO": clickhouse.ProtoHTTP},
			map[string]string{"TRACKER_CH_PORT": "8123", "TRACKER_CH_PROTOCOL": "http", "TRACKER_CH_SECURE": "false"}},
		{"managed ClickHouse over https with its CA", map[string]string{"EXPORTER_CLICKHOUSE__HOST": "rc1a.mdb.example", "EXPORTER_CLICKHOUSE__PROTO": clickhouse.ProtoHTTPS,
			"EXPORTER_CLICKHOUSE__CACERT_PATH": ca},
			map[string]string{"TRACKER_CH_HOST": "rc1a.mdb.example", "TRACKER_CH_PORT": "8443", "TRACKER_CH_PROTOCOL": "http", "TRACKER_CH_SECURE": "true",
				"TRACKER_CH_TLS_WITH_CA": "true", "TRACKER_CH_TLS_CA": "-----BEGIN CERTIFICATE-----"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, out, err := runEntrypoint(t, tt.env)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s=%q, want %q", k, got[k], v)
				}
			}
		})
	}
	// What the exporter refuses, Grafana refuses, naming the variable.
	for _, env := range []map[string]string{
		{"EXPORTER_CLICKHOUSE__PROTO": "grpc"},
		{"EXPORTER_CLICKHOUSE__PROTO": clickhouse.ProtoHTTPS, "EXPORTER_CLICKHOUSE__CACERT_PATH": filepath.Join(t.TempDir(), "missing.crt")},
	} {
		_, out, err := runEntrypoint(t, env)
		if err == nil || !strings.Contains(out, "EXPORTER_CLICKHOUSE__") {
			t.Errorf("%v: exit %v, output %q: want a failure that names the variable", env, err, out)
		}
	}
}

// pluginJSONData are the jsonData settings of grafana-clickhouse-datasource
// (pkg/plugin/settings.go) that the provisioning may set.
var pluginJSONData = []string{
	"host", "port", "protocol", "secure", "path", "username", "defaultDatabase", "tlsSkipVerify", "tlsAuth",
	"tlsAuthWithCACert", "dialTimeout", "queryTimeout", "connMaxLifetime", "maxIdleConns", "maxOpenConns", "validateSql",
}

// TestDatasourceProvisioning: one data source, the one the dashboards
// name, set from what entrypoint.sh exports, with settings the plugin has.
func TestDatasourceProvisioning(t *testing.T) {
	ds := string(readFile(t, datasourceFile))
	for _, want := range []string{"apiVersion: 1\n", "  - name: Tracker ClickHouse\n", "    uid: " + datasourceUID + "\n", "    type: " + datasourceType + "\n", "    editable: false\n"} {
		if !strings.Contains(ds, want) {
			t.Errorf("%s lacks %q", datasourceFile, want)
		}
	}
	if n := strings.Count(ds, "\n  - name:"); n != 1 {
		t.Errorf("%s has %d data sources, want 1", datasourceFile, n)
	}
	exported, _, err := runEntrypoint(t, map[string]string{"EXPORTER_CLICKHOUSE__PROTO": clickhouse.ProtoNative})
	if err != nil {
		t.Fatal(err)
	}
	referenced := regexp.MustCompile(`\$\{?(\w+)\}?`).FindAllStringSubmatch(ds, -1)
	if len(referenced) == 0 {
		t.Fatalf("%s references no variable", datasourceFile)
	}
	for _, m := range referenced {
		if _, ok := exported[m[1]]; !ok {
			t.Errorf("%s uses $%s, which %s does not export", datasourceFile, m[1], entrypoint)
		}
	}
	section := ""
	for _, line := range strings.Split(ds, "\n") {
		if strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "      ") {
			section = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), ":"))
			continue
		}
		key, _, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && section == "jsonData" && strings.HasPrefix(line, "      ") && !slices.Contains(pluginJSONData, key) {
			t.Errorf("%s: jsonData.%s is not a setting of the plugin", datasourceFile, key)
		}
	}
	provider := string(readFile(t, providerFile))
	for _, want := range []string{"type: file\n", "allowUiUpdates: false\n", "path: /etc/grafana/dashboards/tracker-exporter\n"} {
		if !strings.Contains(provider, want) {
			t.Errorf("%s lacks %q", providerFile, want)
		}
	}
}
