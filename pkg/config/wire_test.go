package config_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tracker-exporter/tracker-exporter/pkg/config"
	"github.com/tracker-exporter/tracker-exporter/pkg/wire"
)

// Every column of the issue row that crosses the wire is reserved, so that
// a custom field can never shadow it. (Only this test imports wire; the
// package itself imports no project package.)
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

func TestPackageImportsNoProjectPackage(t *testing.T) {
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
			if p := strings.Trim(imp.Path.Value, `"`); strings.HasPrefix(p, "github.com/tracker-exporter/") {
				t.Errorf("%s imports the project package %s", name, p)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}
