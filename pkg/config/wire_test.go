package config_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Every column of the issue row that crosses the wire is reserved, so that
// a custom field can never shadow it.
func TestReservedColumnsCoverIssueRow(t *testing.T) {
	reserved := config.ReservedIssueColumns()
	typ := reflect.TypeOf(wire.IssueRow{})
	for i := range typ.NumField() {
		tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("msgpack"), ",")
		if tag == "" || tag == "-" || typ.Field(i).Type.Kind() == reflect.Map {
			continue // the custom fields themselves are not a column
		}
		if !slices.Contains(reserved, tag) {
			t.Errorf("wire.IssueRow column %q is not in ReservedIssueColumns", tag)
		}
	}
}

// configImports are the project packages pkg/config may import: leaves
// (pkg/wire names the tables, pkg/setting holds Secret and Problem,
// pkg/loadercfg and pkg/extractorcfg hold the stages' settings) and the
// components whose Config it maps variables onto. None of them imports
// pkg/config (Go refuses the cycle), and none pulls in a stage.
var configImports = []string{
	"github.com/tracker-exporter/tracker-exporter/pkg/wire",
	"github.com/tracker-exporter/tracker-exporter/pkg/setting",
	"github.com/tracker-exporter/tracker-exporter/pkg/tracker",
	"github.com/tracker-exporter/tracker-exporter/pkg/calendar",
	"github.com/tracker-exporter/tracker-exporter/pkg/clickhouse",
	"github.com/tracker-exporter/tracker-exporter/pkg/state",
	"github.com/tracker-exporter/tracker-exporter/pkg/loadercfg",
	"github.com/tracker-exporter/tracker-exporter/pkg/extractorcfg",
	"github.com/tracker-exporter/tracker-exporter/pkg/telemetry",
	"github.com/tracker-exporter/tracker-exporter/pkg/stream",
}

func TestPackageImportsOnlyLeavesAndComponentConfigs(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			if p := strings.Trim(imp.Path.Value, `"`); strings.HasPrefix(p, "github.com/tracker-exporter/") && !slices.Contains(configImports, p) {
				t.Errorf("%s imports the project package %s", name, p)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}

// Configuration is read in one place: no package but this one (and the
// test helpers of pkg/testenv) reads the environment, so a setting given
// as a flag or in an env file is never missed.
func TestEnvironmentReadOnlyHere(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if strings.HasPrefix(rel, filepath.Join("pkg", "config")) || strings.HasPrefix(rel, filepath.Join("pkg", "testenv")) {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv" || sel.Sel.Name == "Environ") {
				t.Errorf("%s: os.%s outside pkg/config: read settings through the configuration", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d files checked: the walk missed the tree", checked)
	}
}
