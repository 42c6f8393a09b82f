package compose

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dashboardsMount is where the grafana service mounts ../grafana/dashboards;
// the dashboard provider of ../grafana/provisioning reads it.
const dashboardsMount = "/etc/grafana/dashboards/tracker-exporter"

// TestGrafana: the grafana service is the official image with the official
// ClickHouse plugin, provisioned from ../grafana, read-only for anonymous
// visitors, its admin password from .env, reading the ClickHouse that .env
// names for the loaders, and published on loopback only.
func TestGrafana(t *testing.T) {
	t.Parallel()
	for _, file := range composeFiles {
		t.Run(file, func(t *testing.T) {
			m := rawModel(t, file)
			svc := obj(obj(m["services"])["grafana"])
			if svc == nil {
				t.Fatal("no grafana service")
			}
			image := fmt.Sprint(svc["image"])
			if !regexp.MustCompile(`^\$\{GRAFANA_IMAGE:-grafana/grafana:\d+\.\d+\.\d+\}$`).MatchString(image) {
				t.Errorf("image %s: want ${GRAFANA_IMAGE:-grafana/grafana:X.Y.Z}, the official image at a pinned version", image)
			}
			if deps := dependsOn(svc); len(deps) > 0 {
				t.Errorf("depends_on %v: ClickHouse may be external or off, Grafana waits for nothing", deps)
			}
			if !slices.Contains(strs(svc["env_file"]), ".env") {
				t.Errorf("env_file %v, want .env: entrypoint.sh reads EXPORTER_CLICKHOUSE__* from it", svc["env_file"])
			}
			ports := strs(svc["ports"])
			if len(ports) != 1 || !strings.HasPrefix(ports[0], "127.0.0.1:") || !strings.HasSuffix(ports[0], ":3000") {
				t.Errorf("ports %v, want one on 127.0.0.1 to 3000", ports)
			}

			example := dotenv(t, envExample)
			env := containerEnv(t, svc, example)
			if p := env["GF_INSTALL_PLUGINS"]; !regexp.MustCompile(`^grafana-clickhouse-datasource \d+\.\d+\.\d+$`).MatchString(p) {
				t.Errorf("GF_INSTALL_PLUGINS=%q, want the official ClickHouse plugin at a pinned version", p)
			}
			if env["GF_AUTH_ANONYMOUS_ENABLED"] != "true" || env["GF_AUTH_ANONYMOUS_ORG_ROLE"] != "Viewer" || env["GF_USERS_ALLOW_SIGN_UP"] != "false" {
				t.Errorf("anonymous %q as %q, sign-up %q: want read-only anonymous viewers by default",
					env["GF_AUTH_ANONYMOUS_ENABLED"], env["GF_AUTH_ANONYMOUS_ORG_ROLE"], env["GF_USERS_ALLOW_SIGN_UP"])
			}
			if env["GF_SECURITY_ADMIN_PASSWORD"] != example["GF_SECURITY_ADMIN_PASSWORD"] || example["GF_SECURITY_ADMIN_PASSWORD"] == "" {
				t.Errorf("GF_SECURITY_ADMIN_PASSWORD=%q, .env says %q", env["GF_SECURITY_ADMIN_PASSWORD"], example["GF_SECURITY_ADMIN_PASSWORD"])
			}
			for _, k := range []string{"EXPORTER_CLICKHOUSE__PROTO", "EXPORTER_CLICKHOUSE__PORT", "EXPORTER_CLICKHOUSE__USERNAME",
				"EXPORTER_CLICKHOUSE__PASSWORD", "EXPORTER_CLICKHOUSE__DATABASE"} {
				if env[k] != example[k] {
					t.Errorf("%s=%q, .env says %q", k, env[k], example[k])
				}
			}
			if want := map[string]string{composeFile: "clickhouse", oneProcessFile: ""}[file]; env["EXPORTER_CLICKHOUSE__HOST"] != want {
				t.Errorf("EXPORTER_CLICKHOUSE__HOST=%q, want %q", env["EXPORTER_CLICKHOUSE__HOST"], want)
			}
			checkGrafanaMounts(t, m, svc, example, env)
		})
	}
}

// checkGrafanaMounts: the entrypoint, the provisioning and the dashboards
// are mounted from ../grafana where Grafana and the provider look; the CA
// directory as for the stages; Grafana's data on a volume.
func checkGrafanaMounts(t *testing.T, m, svc map[string]any, dot, env map[string]string) {
	t.Helper()
	byTarget := map[string]mount{}
	for _, mt := range mounts(t, m, svc, dot) {
		byTarget[mt.target] = mt
	}
	entry := strs(svc["entrypoint"])
	if len(entry) != 2 || entry[0] != "sh" {
		t.Fatalf("entrypoint %v, want [sh /path/of/entrypoint.sh]", entry)
	}
	for target, src := range map[string]string{
		entry[1]:                    filepath.Join(grafanaDir, "entrypoint.sh"),
		"/etc/grafana/provisioning": filepath.Join(grafanaDir, "provisioning"),
		dashboardsMount:             filepath.Join(grafanaDir, "dashboards"),
	} {
		mt, ok := byTarget[target]
		if !ok || filepath.Clean(mt.source) != filepath.Clean(src) {
			t.Errorf("%s is mounted from %q, want %s", target, mt.source, src)
		}
		if _, err := os.Stat(src); err != nil {
			t.Error(err)
		}
	}
	if mt, ok := byTarget["/var/lib/grafana"]; !ok || !mt.named {
		t.Errorf("/var/lib/grafana is not on a volume: users, preferences and the plugin would go with the container")
	}
	caDir := "/certs"
	if _, ok := byTarget[caDir]; !ok {
		t.Errorf("the CA directory %s is not mounted as for the stages", caDir)
	}
	// The provider reads the mounted dashboards; the home dashboard is one.
	provider := string(readFile(t, filepath.Join(grafanaDir, "provisioning", "dashboards", "tracker-exporter.yaml")))
	if !strings.Contains(provider, "path: "+dashboardsMount+"\n") {
		t.Errorf("the dashboard provider does not read %s", dashboardsMount)
	}
	home := env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
	if dir, name := path.Split(home); path.Clean(dir) != dashboardsMount {
		t.Errorf("home dashboard %s is not one of %s", home, dashboardsMount)
	} else if _, err := os.Stat(filepath.Join(grafanaDir, "dashboards", name)); err != nil {
		t.Errorf("home dashboard: %v", err)
	}
}
