package clickhouse

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// conversionSection is the procedure of docs/operations.md that converts a
// one-server database to replicated tables.
func conversionSection(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, "Converting a one-server database to replicated tables")
	if i < 0 {
		t.Fatal("docs/operations.md: no section \"Converting a one-server database to replicated tables\"")
	}
	s = s[i:]
	if j := strings.Index(s, "\n#"); j >= 0 {
		s = s[:j]
	}
	return s
}

// docStatement returns the backquoted statement of the procedure that
// contains marker, as a function of the database and table: the doc
// writes them db.t and db.t_single.
func docStatement(t *testing.T, section, marker string) func(db, table string) string {
	t.Helper()
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(section, -1) {
		if strings.Contains(m[1], marker) {
			stmt := m[1]
			return func(db, table string) string {
				s := strings.ReplaceAll(stmt, "db.t_single", "`"+db+"`.`"+table+"_single`")
				return regexp.MustCompile(`\bdb\.t\b`).ReplaceAllString(s, "`"+db+"`.`"+table+"`")
			}
		}
	}
	t.Fatalf("docs/operations.md, conversion procedure: no statement with %q", marker)
	return nil
}

// tableState is the row count and a hash of every row of a table or view.
type tableState struct {
	rows uint64
	hash uint64
}

func stateOf(t *testing.T, c *Client, from string) tableState {
	t.Helper()
	var s tableState
	if err := c.Conn().QueryRow(context.Background(), "SELECT count(), sum(cityHash64(*)) FROM "+from).Scan(&s.rows, &s.hash); err != nil {
		t.Fatalf("read %s: %v", from, err)
	}
	return s
}

// objectsOf lists the tables (engine not View) and views of db on c,
// sorted, without schema_migrations.
func objectsOf(t *testing.T, c *Client, db string) (tables, views []string) {
	t.Helper()
	all, _ := schemaOf(t, c, db)
	for name, engine := range all {
		switch {
		case name == migrationsTable:
		case engine == "View":
			views = append(views, name)
		default:
			tables = append(tables, name)
		}
	}
	slices.Sort(tables)
	slices.Sort(views)
	return tables, views
}

// TestClusterConvertOneServer follows the conversion procedure of
// docs/operations.md against the test cluster: a database migrated and
// loaded as on one server on replica r1, then converted; every row is on
// both replicas and the views read the same as before. Then a newer
// version of an issue, loaded through the cluster, replaces the converted
// one on both replicas.
func TestClusterConvertOneServer(t *testing.T) {
	section := conversionSection(t)
	rename := docStatement(t, section, "RENAME TABLE db.t TO db.t_single")
	attach := docStatement(t, section, "ATTACH PARTITION tuple() FROM")
	syncStmt := docStatement(t, section, "SYSTEM SYNC REPLICA")
	countFinal := docStatement(t, section, "count() FROM db.t FINAL")

	cfg, addrs := clusterTestConfig(t)
	ctx := context.Background()
	db := cfg.Database

	// A one-server user's database, on what becomes the first replica.
	single := cfg
	single.Host, single.Cluster = addrs[0], ""
	one, err := Open(ctx, single)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = one.Close() })
	// The cluster client drops the database on every host at the end.
	cluster := openClusterTest(t, cfg)
	if _, err := one.Migrate(ctx); err != nil {
		t.Fatalf("one-server Migrate: %v", err)
	}
	const issues = 40
	var batch []*wire.IssueRows
	for i := range issues {
		r := sample(fmt.Sprintf("id%02d", i), fmt.Sprintf("DEV-%d", i), 1, t0, "g1", []string{"open", "inProgress", "closed"}, 3, 4)
		batch = append(batch, withEntities(r, fmt.Sprint(i)))
	}
	if err := one.InsertRows(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// Newer versions of some issues: duplicates that only FINAL removes.
	for i := range issues / 4 {
		r := sample(fmt.Sprintf("id%02d", i), fmt.Sprintf("DEV-%d", i), 2, t0.Add(time.Hour), "g2", []string{"open", "closed"}, 2, 5)
		if err := one.InsertRows(ctx, []*wire.IssueRows{withEntities(r, fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	dir := &wire.DirectoryRows{SourceVersion: 1,
		Boards:  []wire.BoardRow{{BoardID: "1", Name: "Team"}},
		Sprints: []wire.SprintRow{{SprintID: "10", Name: "S1", BoardID: "1", BoardName: "Team", Status: "released", StartDate: t0, EndDate: t0.Add(14 * 24 * time.Hour)}}}
	if err := one.InsertDirectory(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := one.InsertForecasts(ctx, []ForecastRow{{ScopeKind: "queue", Scope: "DEV", Question: "when", HorizonWeeks: 4, ComputedAt: t0, Version: 1}}); err != nil {
		t.Fatal(err)
	}
	tables, views := objectsOf(t, one, db)
	before := map[string]tableState{}
	for _, name := range views {
		before[name] = stateOf(t, one, one.qualified(name))
	}
	for _, name := range tables {
		before[name+" FINAL"] = stateOf(t, one, one.qualified(name)+" FINAL")
	}
	if before["issues_view"].rows != issues {
		t.Fatalf("issues_view holds %d issues before the conversion, want %d", before["issues_view"].rows, issues)
	}

	// Step 1: rename every table t to t_single, schema_migrations too;
	// drop the views.
	for _, name := range append(slices.Clone(tables), migrationsTable) {
		if err := one.Conn().Exec(ctx, rename(db, name)); err != nil {
			t.Fatalf("step 1: %s: %v", rename(db, name), err)
		}
	}
	for _, name := range views {
		if err := one.Conn().Exec(ctx, "DROP TABLE "+one.qualified(name)); err != nil {
			t.Fatalf("step 1: drop view %s: %v", name, err)
		}
	}
	// Step 2: migrate with the cluster set.
	start := time.Now()
	if _, err := cluster.Migrate(ctx); err != nil {
		t.Fatalf("step 2: Migrate on cluster %s: %v", cfg.Cluster, err)
	}
	t.Logf("step 2: migrations ON CLUSTER in %s", time.Since(start).Round(time.Millisecond))
	// Step 3: on the old server, ATTACH PARTITION tuple() FROM every
	// t_single; SYSTEM SYNC REPLICA on the others.
	for _, name := range tables {
		if err := one.Conn().Exec(ctx, attach(db, name)); err != nil {
			t.Fatalf("step 3: %s: %v", attach(db, name), err)
		}
	}
	replicas := make([]*Client, len(addrs))
	for i, addr := range addrs {
		replicas[i] = openReplica(t, cfg, addr)
		if i == 0 {
			continue
		}
		for _, name := range tables {
			if err := replicas[i].Conn().Exec(ctx, syncStmt(db, name)); err != nil {
				t.Fatalf("step 3 on %s: %s: %v", addr, syncStmt(db, name), err)
			}
		}
	}
	// Step 4: every host has the rows of the _single tables; the views
	// read what they read on one server.
	var total uint64
	for i, r := range replicas {
		gotTables, gotViews := objectsOf(t, r, db)
		wantTables := slices.Clone(tables)
		if i == 0 {
			for _, name := range tables {
				wantTables = append(wantTables, name+"_single")
			}
			wantTables = append(wantTables, migrationsTable+"_single")
			slices.Sort(wantTables)
		}
		if !slices.Equal(gotTables, wantTables) || !slices.Equal(gotViews, views) {
			t.Errorf("replica %s: tables %v, views %v; want %v and %v", addrs[i], gotTables, gotViews, wantTables, views)
		}
		for _, name := range tables {
			var final uint64
			if err := r.Conn().QueryRow(ctx, countFinal(db, name)).Scan(&final); err != nil {
				t.Fatalf("step 4 on %s: %s: %v", addrs[i], countFinal(db, name), err)
			}
			if want := before[name+" FINAL"].rows; final != want {
				t.Errorf("replica %s: %s FINAL has %d rows, the one-server table %d", addrs[i], name, final, want)
			}
			// Every row the one-server table showed with FINAL, and no
			// other. (Not the raw rows: a merge after the ATTACH may
			// already have dropped replaced versions, as on one server.)
			if got, want := stateOf(t, r, r.qualified(name)+" FINAL"), before[name+" FINAL"]; got != want {
				t.Errorf("replica %s: %s FINAL holds %d rows (hash %x), the one-server table %d (hash %x)", addrs[i], name, got.rows, got.hash, want.rows, want.hash)
			}
			if i == 0 {
				total += before[name+" FINAL"].rows
			}
		}
		for _, name := range views {
			got, want := stateOf(t, r, r.qualified(name)), before[name]
			if name == one.tables.Issues+"_wip_ageing" {
				// Ages count from now(): compare the rows only.
				got.hash, want.hash = 0, 0
			}
			if got != want {
				t.Errorf("replica %s: view %s reads %d rows (hash %x), on one server %d (hash %x)", addrs[i], name, got.rows, got.hash, want.rows, want.hash)
			}
		}
	}
	t.Logf("converted %d tables (%d rows after FINAL, %d issues) and %d views; both replicas hold every row", len(tables), total, issues, len(views))

	// Then drop the _single tables and load through the cluster: a newer
	// version replaces the converted one on both replicas.
	for _, name := range append(slices.Clone(tables), migrationsTable) {
		if err := one.Conn().Exec(ctx, "DROP TABLE "+one.qualified(name+"_single")); err != nil {
			t.Fatalf("drop %s_single: %v", name, err)
		}
	}
	if applied, err := cluster.Migrate(ctx); err != nil || len(applied) != 0 {
		t.Errorf("Migrate after the conversion = %q, %v; want nothing to do", applied, err)
	}
	newer := sample("id00", "DEV-0", 3, t0.Add(2*time.Hour), "g3", []string{"closed"}, 1, 1)
	if err := cluster.InsertRows(ctx, []*wire.IssueRows{newer}); err != nil {
		t.Fatal(err)
	}
	for i, r := range replicas {
		syncReplicas(t, r, db)
		if n, err := r.Count(ctx, "issues_view"); err != nil || n != issues {
			t.Errorf("replica %s after a newer version: issues_view has %d rows (%v), want %d", addrs[i], n, err, issues)
		}
		var gen string
		if err := r.Conn().QueryRow(ctx, "SELECT toString(_version) FROM "+r.qualified("issues_view")+" WHERE issue_id = 'id00'").Scan(&gen); err != nil || gen != "3" {
			t.Errorf("replica %s: id00 in issues_view has _version %q (%v), want 3", addrs[i], gen, err)
		}
	}
}
