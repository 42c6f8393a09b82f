package compose

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/testenv"
)

const (
	clusterDir  = "cluster"
	clusterFile = "cluster/docker-compose.yml"
	clusterEnv  = "cluster/.env.example"
)

// clusterServices returns the services of the cluster file whose names
// start with prefix, sorted.
func clusterServices(services map[string]any, prefix string) []string {
	var out []string
	for _, n := range sortedKeys(services) {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// remoteServers is the part of clickhouse/cluster.xml the test reads.
type remoteServers struct {
	Remote struct {
		Clusters []clusterXML `xml:",any"`
	} `xml:"remote_servers"`
	ZooKeeper []string `xml:"zookeeper>node>host"`
}

type clusterXML struct {
	XMLName xml.Name
	Shards  []struct {
		Replicas []struct {
			Host string `xml:"host"`
			Port int    `xml:"port"`
		} `xml:"replica"`
	} `xml:"shard"`
}

// The cluster variant: three NATS servers in one JetStream cluster, two
// ClickHouse replicas of the cluster its config names with ZooKeeper,
// two loaders, one transformer, two extractor shards that split the
// queues, keep their own watermarks and share one limit through Redis.
func TestClusterCompose(t *testing.T) {
	t.Parallel()
	m := rawModel(t, clusterFile)
	env := dotenv(t, clusterEnv)
	services := obj(m["services"])
	known := knownVariables()
	walkStrings(m, func(s string) {
		for _, n := range exporterVarRE.FindAllString(s, -1) {
			if !known[n] {
				t.Errorf("%s names %s, which no binary reads", clusterFile, n)
			}
		}
	})
	for _, k := range sortedKeys(m) {
		if k != "services" && k != "volumes" && !strings.HasPrefix(k, "x-") {
			t.Errorf("top-level %s: unexpected", k)
		}
	}

	// NATS: three servers, JetStream, one cluster whose routes name them all.
	nats := clusterServices(services, "nats-")
	if len(nats) != 3 {
		t.Fatalf("NATS servers %v, want 3", nats)
	}
	var routes []string
	for _, n := range nats {
		routes = append(routes, "nats://"+n+":6222")
	}
	for _, n := range nats {
		cmd := strs(obj(services[n])["command"])
		if !slices.Contains(cmd, "-js") || !hasPair(cmd, "-n", n) || !hasPair(cmd, "--cluster_name", "tracker") ||
			!hasPair(cmd, "--routes", strings.Join(routes, ",")) {
			t.Errorf("%s: command %q, want -js, -n %s, --cluster_name tracker and --routes to every server", n, cmd, n)
		}
	}

	// ClickHouse: two servers of the official image, ZooKeeper, and the
	// cluster of cluster.xml with one replica per server.
	chs := clusterServices(services, "clickhouse-")
	if len(chs) != 2 {
		t.Fatalf("ClickHouse servers %v, want 2", chs)
	}
	for _, n := range chs {
		if img := obj(services[n])["image"]; !strings.HasPrefix(img.(string), "clickhouse/clickhouse-server:") {
			t.Errorf("%s: image %v, want clickhouse/clickhouse-server", n, img)
		}
	}
	if img, _ := obj(services["zookeeper"])["image"].(string); !strings.HasPrefix(img, "zookeeper:") {
		t.Errorf("zookeeper: image %q, want the official zookeeper", img)
	}
	data, err := os.ReadFile(filepath.Join(clusterDir, "clickhouse", "cluster.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var rs remoteServers
	if err := xml.Unmarshal(data, &rs); err != nil {
		t.Fatalf("cluster.xml: %v", err)
	}
	if len(rs.Remote.Clusters) != 1 || len(rs.Remote.Clusters[0].Shards) != 1 {
		t.Fatalf("cluster.xml: %d clusters, want 1 of one shard", len(rs.Remote.Clusters))
	}
	cluster := rs.Remote.Clusters[0].XMLName.Local
	var hosts []string
	for _, r := range rs.Remote.Clusters[0].Shards[0].Replicas {
		hosts = append(hosts, r.Host)
		if r.Port != 9000 {
			t.Errorf("cluster.xml: replica %s port %d, want 9000", r.Host, r.Port)
		}
	}
	if !slices.Equal(hosts, chs) {
		t.Errorf("cluster.xml replicas %v, want the ClickHouse services %v", hosts, chs)
	}
	if !slices.Equal(rs.ZooKeeper, []string{"zookeeper"}) {
		t.Errorf("cluster.xml ZooKeeper %v, want [zookeeper]", rs.ZooKeeper)
	}
	macros := map[string]bool{}
	for _, n := range chs {
		var mf string
		for _, v := range strs(obj(services[n])["volumes"]) {
			src, dst, _ := strings.Cut(v, ":")
			if strings.HasSuffix(strings.TrimSuffix(dst, ":ro"), "config.d/macros.xml") {
				mf = src
			}
			if strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") {
				if _, err := os.Stat(filepath.Join(clusterDir, src)); err != nil {
					t.Errorf("%s mounts %s: %v", n, src, err)
				}
			}
		}
		b, err := os.ReadFile(filepath.Join(clusterDir, mf))
		if err != nil {
			t.Fatalf("%s: macros %q: %v", n, mf, err)
		}
		var mac struct {
			Replica string `xml:"macros>replica"`
			Shard   string `xml:"macros>shard"`
			Host    string `xml:"interserver_http_host"`
		}
		if err := xml.Unmarshal(b, &mac); err != nil {
			t.Fatalf("%s: %v", mf, err)
		}
		if mac.Replica == "" || mac.Shard == "" || macros[mac.Replica] || mac.Host != n {
			t.Errorf("%s: macros replica %q shard %q interserver host %q: want a replica name of its own and host %s", n, mac.Replica, mac.Shard, mac.Host, n)
		}
		macros[mac.Replica] = true
	}

	// The stages: what each is and the servers it names.
	loaders := clusterServices(services, "loader-")
	extractors := clusterServices(services, "extractor-")
	if len(loaders) != 2 || len(extractors) != 2 || services["transformer"] == nil || services["redis"] == nil {
		t.Fatalf("loaders %v, extractors %v, transformer and redis: want 2, 2, 1 and 1", loaders, extractors)
	}
	wantNATS := strings.Join(slices.Collect(func(yield func(string) bool) {
		for _, n := range nats {
			if !yield("nats://" + n + ":4222") {
				return
			}
		}
	}), ",")
	for _, n := range slices.Concat(loaders, extractors, []string{"transformer", "migrate"}) {
		e := containerEnv(t, obj(services[n]), env)
		if e["EXPORTER_NATS__URL"] != wantNATS || e["EXPORTER_NATS__REPLICAS"] != "3" {
			t.Errorf("%s: NATS %q replicas %q, want %q and 3", n, e["EXPORTER_NATS__URL"], e["EXPORTER_NATS__REPLICAS"], wantNATS)
		}
	}
	for _, n := range append(slices.Clone(loaders), "migrate") {
		e := containerEnv(t, obj(services[n]), env)
		if e["EXPORTER_CLICKHOUSE__HOST"] != strings.Join(chs, ",") || e["EXPORTER_CLICKHOUSE__CLUSTER"] != cluster {
			t.Errorf("%s: ClickHouse hosts %q cluster %q, want %q and %q (cluster.xml)", n, e["EXPORTER_CLICKHOUSE__HOST"], e["EXPORTER_CLICKHOUSE__CLUSTER"], strings.Join(chs, ","), cluster)
		}
		if deps := dependsOn(obj(services[n])); n != "migrate" && deps["migrate"] != "service_completed_successfully" {
			t.Errorf("%s: depends on %v, want migrate completed", n, deps)
		}
	}

	// The shards: queues split, own watermarks, one shared limit in the
	// Redis of the file, each valid as an extractor.
	seenQueue, seenKey := map[string]string{}, map[string]bool{}
	var rateKeys []string
	for _, n := range extractors {
		e := containerEnv(t, obj(services[n]), env)
		queues := strings.Split(e["EXPORTER_TRACKER__SEARCH__QUEUES"], ",")
		for _, q := range queues {
			if q == "" || strings.HasPrefix(q, "!") {
				t.Errorf("%s: queues %q, want a list of queues", n, e["EXPORTER_TRACKER__SEARCH__QUEUES"])
			}
			if other, dup := seenQueue[q]; dup {
				t.Errorf("queue %s in both %s and %s", q, other, n)
			}
			seenQueue[q] = n
		}
		if k := e["EXPORTER_STATE__KEY"]; k == "" || seenKey[k] {
			t.Errorf("%s: state key %q, want one of its own", n, k)
		} else {
			seenKey[k] = true
		}
		if e["EXPORTER_STATE__STORAGE"] != "redis" || e["EXPORTER_STATE__REDIS_DSN"] != "redis://redis:6379/0" || e["EXPORTER_TRACKER__RATE_LIMIT_SHARED"] != "true" {
			t.Errorf("%s: storage %q DSN %q shared %q, want the shared limit and watermarks in the redis service",
				n, e["EXPORTER_STATE__STORAGE"], e["EXPORTER_STATE__REDIS_DSN"], e["EXPORTER_TRACKER__RATE_LIMIT_SHARED"])
		}
		if r, err := strconv.ParseFloat(e["EXPORTER_TRACKER__RATE_LIMIT"], 64); err != nil || r <= 0 {
			t.Errorf("%s: rate limit %q, want the organisation's rate", n, e["EXPORTER_TRACKER__RATE_LIMIT"])
		}
		if dependsOn(obj(services[n]))["redis"] != "service_healthy" {
			t.Errorf("%s: does not wait for redis", n)
		}
		e["EXPORTER_TRACKER__TOKEN"], e["EXPORTER_TRACKER__ORG_ID"] = "token", "42"
		cfg := validate(t, e, config.RoleExtractor)
		rateKeys = append(rateKeys, cfg.Tracker.SharedRateKey())
	}
	if len(rateKeys) == 2 && rateKeys[0] != rateKeys[1] {
		t.Errorf("shared limit keys %v: the shards would not share one limit", rateKeys)
	}
}

func hasPair(args []string, flag, value string) bool {
	i := slices.Index(args, flag)
	return i >= 0 && i+1 < len(args) && args[i+1] == value
}

// docker compose (or docker-compose) accepts the cluster file with its
// example .env.
func TestClusterComposeCLIConfig(t *testing.T) {
	t.Parallel()
	testenv.Integration(t, "runs docker compose")
	clis := composeCLIs()
	if len(clis) == 0 {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal("neither docker compose nor docker-compose is installed (.ci/run installs Debian's docker-compose)")
		}
		t.Skip("neither docker compose nor docker-compose is installed")
	}
	example, err := os.ReadFile(clusterEnv)
	if err != nil {
		t.Fatal(err)
	}
	compose := copyForCompose(t, "")
	dir := filepath.Join(compose, clusterDir)
	for _, f := range []string{"docker-compose.yml", "clickhouse/cluster.xml", "clickhouse/macros-1.xml", "clickhouse/macros-2.xml"} {
		b, err := os.ReadFile(filepath.Join(clusterDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), example, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cli := range clis {
		c := exec.Command(cli[0], append(cli[1:], "config", "-q")...)
		c.Dir = dir
		c.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
			return strings.HasPrefix(kv, "EXPORTER_") || strings.HasPrefix(kv, "COMPOSE_") || strings.HasPrefix(kv, "TRACKER_EXPORTER_")
		})
		if out, err := c.CombinedOutput(); err != nil {
			t.Errorf("%s config in cluster/: %v\n%s", strings.Join(cli, " "), err, out)
		}
	}
}
