package clickhouse

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/migrations"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// renderedDDL is every statement the migrations send for cluster k to
// database agile with the default table names, one per paragraph.
func renderedDDL(t *testing.T, k cluster) string {
	t.Helper()
	c := &Client{db: "agile", tables: DefaultTableNames(), cluster: k}
	ms, err := loadMigrations(migrations.FS, c.templateData())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("-- schema_migrations\n" + c.migrationsTableDDL() + ";\n\n")
	for _, m := range ms {
		b.WriteString("-- " + m.name + "\n")
		for _, s := range m.statements {
			for _, r := range c.cluster.statements(s, c.replicatedTables()) {
				b.WriteString(r + ";\n\n")
			}
		}
	}
	return b.String()
}

// TestClusterDDLGolden pins the DDL: for one server it must stay
// byte-for-byte what it was before clusters existed; for a cluster of one
// and of two shards it shows the rewriting.
func TestClusterDDLGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		k    cluster
	}{
		{"single", cluster{}},
		{"replicated", cluster{name: "tracker_cluster", zkPath: DefaultZooKeeperPath, replica: DefaultReplicaName}},
		{"sharded", cluster{name: "tracker_two_shards", zkPath: DefaultZooKeeperPath, replica: DefaultReplicaName, sharded: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderedDDL(t, tc.k)
			file := filepath.Join("testdata", "ddl", tc.name+".sql")
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -run TestClusterDDLGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("DDL for %s differs from %s (go test -run TestClusterDDLGolden -update, then review the diff)", tc.name, file)
			}
		})
	}
}

// TestMigrationsEnginePath: schema_migrations is one replicated table over
// every shard, whatever the shard macro of the path is called.
func TestMigrationsEnginePath(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{DefaultZooKeeperPath, "'/clickhouse/tables/all/db/schema_migrations'"},
		{"/clickhouse/tables/{two_shards_shard}/{database}/{table}", "'/clickhouse/tables/all/db/schema_migrations'"},
		{"/ch/{cluster}/{shard_name}/{table}", "'/ch/{cluster}/all/schema_migrations'"},
	} {
		k := cluster{name: "c", zkPath: tt.path, replica: DefaultReplicaName}
		if got := k.migrationsEngine("db"); !strings.Contains(got, tt.want) {
			t.Errorf("path %s: migrationsEngine = %s, want the path %s", tt.path, got, tt.want)
		}
	}
}
